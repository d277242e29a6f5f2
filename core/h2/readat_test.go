package h2

import (
	"bytes"
	"os"
	"testing"
)

// TestReadAt: a file's bytes come whole from any offset (through the
// page cache's raw reads or ReadAt), a read past the end fails, and other
// readers go through ReadAt.
func TestReadAt(t *testing.T) {
	path, data := writeTemp(t, 200_000)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, r := range []struct{ off, n int }{{0, 1}, {0, 16384}, {12345, 70000}, {199_999, 1}, {100_000, 100_000}} {
		for _, src := range []interface {
			ReadAt([]byte, int64) (int, error)
		}{f, bytes.NewReader(data)} {
			p := bytes.Repeat([]byte{0xAA}, r.n)
			if err := readAt(src, p, int64(r.off)); err != nil || !bytes.Equal(p, data[r.off:r.off+r.n]) {
				t.Fatalf("%T at %d, %d bytes: %v, equal %v", src, r.off, r.n, err, bytes.Equal(p, data[r.off:r.off+r.n]))
			}
		}
	}
	if err := readAt(f, make([]byte, 10), 199_995); err == nil {
		t.Error("a read past the end succeeded")
	}
}
