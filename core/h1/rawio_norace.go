//go:build !race

package h1

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const raceEnabled = false

func sysRead(fd uintptr, p []byte) (int, syscall.Errno) {
	r, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(r), e
}

func sysWritev(fd uintptr, iov []unix.Iovec) (int, syscall.Errno) {
	r, _, e := unix.RawSyscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	return int(r), e
}
