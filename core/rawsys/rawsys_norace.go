//go:build !race

package rawsys

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// RaceEnabled reports whether the calls go through package syscall (a
// race-detector build); paths with no syscall fallback check it.
const RaceEnabled = false

// Read is read(2).
func Read(fd uintptr, p []byte) (int, syscall.Errno) {
	r, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(r), e
}

// Write is write(2).
func Write(fd uintptr, p []byte) (int, syscall.Errno) {
	r, _, e := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(r), e
}

// Writev is writev(2).
func Writev(fd uintptr, iov []unix.Iovec) (int, syscall.Errno) {
	r, _, e := unix.RawSyscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	return int(r), e
}

// PreadNowait is preadv2(2) with RWF_NOWAIT: it reads only what the page
// cache holds (EAGAIN when the first byte is not there), so the call never
// waits for a disk.
func PreadNowait(fd uintptr, p []byte, off int64) (int, syscall.Errno) {
	iov := [1]unix.Iovec{{Base: &p[0]}}
	iov[0].SetLen(len(p))
	return PreadvNowait(fd, iov[:], off)
}

// PreadvNowait is preadv2(2) with RWF_NOWAIT into several buffers.
func PreadvNowait(fd uintptr, iov []unix.Iovec, off int64) (int, syscall.Errno) {
	r, _, e := unix.RawSyscall6(unix.SYS_PREADV2, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)),
		uintptr(off), uintptr(off>>32), unix.RWF_NOWAIT)
	return int(r), e
}
