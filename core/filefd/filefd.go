// Package filefd is an open file's descriptor as a plain number: what the
// stat cache keeps for each file it sends and what a response's file parts
// and the wire engines carry.
//
// An *os.File costs two heap objects, a cleanup record and an fcntl(2) when
// it wraps a descriptor, and reaching its number from a request took two
// dependent cache misses: serving 10,000 files at random, os.File.Fd was
// 7.5% of golighty's user time and the cache's files 1 MB of its heap.
//
// An FD does not own its descriptor. Whoever opened it (the stat cache's
// reference-counted entry, a response's temporary file) keeps it open for
// as long as a response uses it, as lighttpd's chunks rely on its stat
// cache's references.
package filefd

import (
	"io"
	"os"
	"syscall"

	"github.com/golighty/golighty/core/rawsys"
	"golang.org/x/sys/unix"
)

// FD is a descriptor of an open file, or none (the zero value).
type FD struct {
	n int32 // the descriptor plus one, so that the zero value is none
}

// New returns the FD of descriptor fd (none for a negative fd).
func New(fd int) FD {
	if fd < 0 || fd >= 1<<31-1 {
		return FD{}
	}
	return FD{n: int32(fd) + 1}
}

// Of returns f's descriptor (none for nil). f must stay open while the FD
// is used.
func Of(f *os.File) FD {
	if f == nil {
		return FD{}
	}
	return New(int(f.Fd()))
}

// Valid reports whether the FD names a descriptor.
func (d FD) Valid() bool { return d.n > 0 }

// Int returns the descriptor (-1 for none).
func (d FD) Int() int { return int(d.n) - 1 }

// ReadAt is pread(2) until p is full, with io.ReaderAt's contract: fewer
// bytes than len(p) come with an error, io.EOF at the end of the file. The
// call may wait for a disk: it goes through the scheduler's system-call
// bookkeeping, so other goroutines run meanwhile.
func (d FD) ReadAt(p []byte, off int64) (int, error) {
	if !d.Valid() {
		return 0, os.ErrInvalid
	}
	done := 0
	for done < len(p) {
		n, err := syscall.Pread(d.Int(), p[done:], off+int64(done))
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return done, &os.PathError{Op: "read", Path: "fd", Err: err}
		case n == 0:
			return done, io.EOF
		}
		done += n
	}
	return done, nil
}

// ReadFull fills p from off. What the page cache holds is read with raw
// preadv2(RWF_NOWAIT) calls, which cannot wait for a disk and skip the
// scheduler's system-call bookkeeping (a file not held in the stat cache's
// memory costs one such read per small response: os.File's ReadAt, with
// its descriptor lock and that bookkeeping, was a tenth of the server's
// user time); the rest, if any, with ReadAt (a disk wait then lets other
// goroutines run). A file shorter than off+len(p) is an error.
func (d FD) ReadFull(p []byte, off int64) error {
	for len(p) > 0 {
		n, e := rawsys.PreadNowait(uintptr(d.Int()), p, off)
		if e == unix.EINTR {
			continue
		}
		if e != 0 || n <= 0 {
			break // not cached, at the end, or an error: ReadAt says which
		}
		p, off = p[n:], off+int64(n)
	}
	if len(p) == 0 {
		return nil
	}
	_, err := d.ReadAt(p, off)
	return err
}
