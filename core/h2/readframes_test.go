package h2

import (
	"bytes"
	"os"
	"testing"

	"github.com/golighty/golighty/core/filefd"
)

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
