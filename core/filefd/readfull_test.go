package filefd

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReadFull: a small body is read whole from the page cache, from the
// disk when its pages were dropped (the raw read finds none and the
// ordinary one waits), from an offset, and a file shorter than the body is
// an error, not a body with a hole.
func TestReadFull(t *testing.T) {
	want := bytes.Repeat([]byte("0123456789abcdef"), 1024) // 16 KiB
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	read := func(n int, off int64) ([]byte, error) {
		p := make([]byte, n)
		return p, Of(f).ReadFull(p, off)
	}
	if got, err := read(len(want), 0); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("cached: %v", err)
	}
	if got, err := read(100, 1000); err != nil || !bytes.Equal(got, want[1000:1100]) {
		t.Fatalf("at an offset: %q, %v", got, err)
	}
	// Dropped pages (written back first, or they stay): the ordinary read.
	f2, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f2.Sync()
	f2.Close()
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	if got, err := read(len(want), 0); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("after the pages were dropped: %v", err)
	}
	if _, err := read(200, int64(len(want))-100); !errors.Is(err, io.EOF) {
		t.Fatalf("past the end: %v, want EOF", err)
	}
}

// TestReadFullOffsets: a file's bytes come whole from any offset (through
// the page cache's raw reads or ReadAt), and a read past the end fails.
func TestReadFullOffsets(t *testing.T) {
	data := make([]byte, 200_000)
	for i := range data {
		data[i] = byte(rand.Uint32())
	}
	f, err := os.CreateTemp(t.TempDir(), "f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ off, n int }{{0, 1}, {0, 16384}, {12345, 70000}, {199_999, 1}, {100_000, 100_000}} {
		p := bytes.Repeat([]byte{0xAA}, r.n)
		if err := Of(f).ReadFull(p, int64(r.off)); err != nil || !bytes.Equal(p, data[r.off:r.off+r.n]) {
			t.Fatalf("at %d, %d bytes: %v, equal %v", r.off, r.n, err, bytes.Equal(p, data[r.off:r.off+r.n]))
		}
	}
	if err := Of(f).ReadFull(make([]byte, 10), 199_995); err == nil {
		t.Error("a read past the end succeeded")
	}
}
