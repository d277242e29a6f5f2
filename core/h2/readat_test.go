package h2

import (
	"bytes"
	"os"
	"testing"

	"github.com/golighty/golighty/core/filefd"
)

// TestReadAt: a file's bytes come whole from any offset (through the
// page cache's raw reads or ReadAt), and a read past the end fails.
func TestReadAt(t *testing.T) {
	path, data := writeTemp(t, 200_000)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, r := range []struct{ off, n int }{{0, 1}, {0, 16384}, {12345, 70000}, {199_999, 1}, {100_000, 100_000}} {
		p := bytes.Repeat([]byte{0xAA}, r.n)
		if err := readAt(filefd.Of(f), p, int64(r.off)); err != nil || !bytes.Equal(p, data[r.off:r.off+r.n]) {
			t.Fatalf("at %d, %d bytes: %v, equal %v", r.off, r.n, err, bytes.Equal(p, data[r.off:r.off+r.n]))
		}
	}
	if err := readAt(filefd.Of(f), make([]byte, 10), 199_995); err == nil {
		t.Error("a read past the end succeeded")
	}
}

// TestReadFrames: consecutive frames of one file region get their payloads
// (one read into several buffers), the bytes between them (frame headers)
// stay, and a region past the end fails.
func TestReadFrames(t *testing.T) {
	path, data := writeTemp(t, 200_000)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := &conn{}
	s := &stream{file: fileSeg{fd: filefd.Of(f)}}
	buf := bytes.Repeat([]byte{0xAA}, 3*(9+16384))
	var rs []fileRead
	off := int64(50_000)
	for i := 0; i < 3; i++ {
		rs = append(rs, fileRead{s: s, at: i*(9+16384) + 9, n: 16384, off: off})
		off += 16384
	}
	if err := c.readFrames(buf, rs); err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if !bytes.Equal(buf[r.at:r.at+r.n], data[r.off:r.off+int64(r.n)]) || buf[r.at-1] != 0xAA {
			t.Fatalf("frame at %d wrong", r.at)
		}
	}
	rs[2].off, rs[1].off, rs[0].off = 199_000, 199_000-16384, 199_000-2*16384
	if err := c.readFrames(buf, rs); err == nil {
		t.Error("a region past the end was read")
	}
}
