package rawsys

import (
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Connect is connect(2) on a non-blocking socket. Connecting to a local
// backend wakes its accept(2), and the woken process may run before the
// call returns (both pinned to one core, say), which is what the
// scheduler's bookkeeping must not see (see the package comment).
func Connect(fd int, sa unix.Sockaddr) syscall.Errno {
	var buf [unsafe.Sizeof(unix.RawSockaddrAny{})]byte
	p := unsafe.Pointer(&buf[0])
	var n uintptr
	switch sa := sa.(type) {
	case *unix.SockaddrUnix:
		rsa := (*unix.RawSockaddrUnix)(p)
		name := sa.Name
		abstract := len(name) > 0 && name[0] == '@'
		if len(name) > len(rsa.Path) || len(name) == len(rsa.Path) && !abstract {
			return unix.EINVAL
		}
		rsa.Family = unix.AF_UNIX
		for i := 0; i < len(name); i++ {
			rsa.Path[i] = int8(name[i])
		}
		n = unsafe.Offsetof(rsa.Path)
		if len(name) > 0 {
			n += uintptr(len(name)) + 1 // the name and its NUL
		}
		if abstract { // the name starts with a NUL and has none at its end
			rsa.Path[0] = 0
			n--
		}
	case *unix.SockaddrInet4:
		rsa := (*unix.RawSockaddrInet4)(p)
		rsa.Family = unix.AF_INET
		rsa.Port = htons(sa.Port)
		rsa.Addr = sa.Addr
		n = unix.SizeofSockaddrInet4
	case *unix.SockaddrInet6:
		rsa := (*unix.RawSockaddrInet6)(p)
		rsa.Family = unix.AF_INET6
		rsa.Port = htons(sa.Port)
		rsa.Addr = sa.Addr
		rsa.Scope_id = sa.ZoneId
		n = unix.SizeofSockaddrInet6
	default:
		return unix.EAFNOSUPPORT
	}
	_, _, e := unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(p), n)
	return e
}

// Socket is socket(2), which never blocks: unix.Socket goes through the
// scheduler's system-call bookkeeping (0.15 µs of a PHP request's user time
// with a connection per request).
func Socket(domain, typ, proto int) (int, syscall.Errno) {
	fd, _, e := unix.RawSyscall(unix.SYS_SOCKET, uintptr(domain), uintptr(typ), uintptr(proto))
	return int(fd), e
}

// Shutdown is shutdown(2), which never blocks: raw, as the other socket
// calls here (a half-close after each response with a connection per
// request; the end of a backend connection a handler gives up on).
func Shutdown(fd uintptr, how int) syscall.Errno {
	_, _, e := unix.RawSyscall(unix.SYS_SHUTDOWN, fd, uintptr(how), 0)
	return e
}

// htons puts a port in network byte order as the raw sockaddr stores it.
func htons(port int) uint16 {
	b := [2]byte{byte(port >> 8), byte(port)}
	return *(*uint16)(unsafe.Pointer(&b[0]))
}

// SetsockoptInt is setsockopt(2) of an int option.
func SetsockoptInt(fd, level, opt, value int) syscall.Errno {
	v := int32(value)
	_, _, e := unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt), uintptr(unsafe.Pointer(&v)), 4, 0)
	return e
}

// GetsockoptInt is getsockopt(2) of an int option.
func GetsockoptInt(fd, level, opt int) (int, syscall.Errno) {
	var v int32
	n := uint32(4)
	_, _, e := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt), uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&n)), 0)
	return int(v), e
}

// Connected reports whether the socket has a peer (getpeername(2)
// succeeds), without decoding its address: x/sys/unix's Getpeername
// allocates the address and asks the socket's protocol with a second call.
func Connected(fd int) bool {
	var sa unix.RawSockaddrAny
	n := uint32(unsafe.Sizeof(sa))
	_, _, e := unix.RawSyscall(unix.SYS_GETPEERNAME, uintptr(fd), uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&n)))
	return e == 0
}

// EpollCtl is epoll_ctl(2), which never blocks: raw, so changing what an
// epoll set watches costs no trip through the scheduler.
func EpollCtl(epfd, op, fd int, ev *unix.EpollEvent) error {
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	if e != 0 {
		return os.NewSyscallError("epoll_ctl", e)
	}
	return nil
}

// EpollReady is epoll_wait(2) with a zero timeout: the events ready now,
// without waiting (callers wait for the set's descriptor through the
// netpoller), and raw like EpollCtl.
func EpollReady(epfd int, events []unix.EpollEvent) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, os.NewSyscallError("epoll_pwait", e)
	}
	return int(r), nil
}
