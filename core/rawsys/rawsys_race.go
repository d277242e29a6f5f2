//go:build race

package rawsys

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// RaceEnabled reports whether the calls go through package syscall (a
// race-detector build); paths with no syscall fallback check it.
const RaceEnabled = true

// Read is read(2).
func Read(fd uintptr, p []byte) (int, syscall.Errno) {
	return errnoOf(syscall.Read(int(fd), p))
}

// Write is write(2).
func Write(fd uintptr, p []byte) (int, syscall.Errno) {
	return errnoOf(syscall.Write(int(fd), p))
}

// Writev writes the first buffer only: callers loop until all is written.
func Writev(fd uintptr, iov []unix.Iovec) (int, syscall.Errno) {
	return Write(fd, unsafe.Slice(iov[0].Base, iov[0].Len))
}

func errnoOf(n int, err error) (int, syscall.Errno) {
	if e, ok := err.(syscall.Errno); ok {
		return 0, e
	}
	return max(n, 0), 0
}

// PreadNowait is preadv2(2) with RWF_NOWAIT.
func PreadNowait(fd uintptr, p []byte, off int64) (int, syscall.Errno) {
	return errnoOf(unix.Preadv2(int(fd), [][]byte{p}, off, unix.RWF_NOWAIT))
}

// PreadvNowait is preadv2(2) with RWF_NOWAIT into several buffers.
func PreadvNowait(fd uintptr, iov []unix.Iovec, off int64) (int, syscall.Errno) {
	bufs := make([][]byte, len(iov))
	for i, v := range iov {
		bufs[i] = unsafe.Slice(v.Base, v.Len)
	}
	return errnoOf(unix.Preadv2(int(fd), bufs, off, unix.RWF_NOWAIT))
}
