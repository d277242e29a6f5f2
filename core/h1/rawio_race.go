//go:build race

package h1

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Under the race detector socket I/O goes through syscall.Read and Write:
// they tell the detector that I/O orders the goroutines on both ends, as
// net.Conn's Read and Write do, so tests that hand state over through a
// connection are not reported.
const raceEnabled = true

func sysRead(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Read(int(fd), p)
	return errnoOf(n, err)
}

func sysWritev(fd uintptr, iov []unix.Iovec) (int, syscall.Errno) {
	b := unsafe.Slice(iov[0].Base, iov[0].Len)
	n, err := syscall.Write(int(fd), b)
	return errnoOf(n, err)
}

func errnoOf(n int, err error) (int, syscall.Errno) {
	if e, ok := err.(syscall.Errno); ok {
		return 0, e
	}
	return max(n, 0), 0
}
