package h1

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/golighty/golighty/core/filefd"
)

// TestReadSmall: a small body is read whole from the page cache, from the
// disk when its pages were dropped (the raw read finds none and the
// ordinary one waits), from an offset, and a file shorter than the body is
// an error, not a body with a hole.
func TestReadSmall(t *testing.T) {
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
		return p, readSmall(filefd.Of(f), p, off)
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
