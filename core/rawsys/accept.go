package rawsys

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Accept4 is accept4(2) of a non-blocking listening socket, the new socket
// non-blocking and close-on-exec, raw: it never blocks (EAGAIN when no
// connection waits), and the client's address is written to sa with no
// allocation.
func Accept4(fd uintptr, sa *unix.RawSockaddrAny) (int, syscall.Errno) {
	n := uint32(unix.SizeofSockaddrAny)
	r, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, fd, uintptr(unsafe.Pointer(sa)), uintptr(unsafe.Pointer(&n)),
		unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	return int(r), e
}

// Close is close(2) of a socket, which does not block while no SO_LINGER
// is set.
func Close(fd int) syscall.Errno {
	_, _, e := unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
	return e
}
