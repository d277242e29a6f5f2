package rawsys

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Readable reports whether a read of the socket behind rc would return at
// once, with data, the end of the stream or an error, rather than wait: a
// one-byte non-blocking MSG_PEEK, which consumes nothing. err is set when
// rc itself fails (the connection is closed).
func Readable(rc syscall.RawConn) (readable bool, err error) {
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1, unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
		readable = e != unix.EAGAIN
		return true
	})
	return readable, err
}

// AwaitReadable waits, through rc's poller and its read deadline, until a
// read of the socket behind rc would return at once (data, the end of the
// stream or an error), without reading: a caller holds no buffer while it
// waits.
//
// It is meant for an answer just asked for, which is not there yet: where
// rc can start watching before its first check (core/rawpoll's ReadLater),
// the check that could only fail is skipped.
func AwaitReadable(rc syscall.RawConn) error {
	if l, ok := rc.(laterReader); ok {
		return l.ReadLater(peekReadable)
	}
	return rc.Read(peekReadable)
}

// laterReader is a RawConn whose ReadLater calls f only once the socket is
// watched.
type laterReader interface {
	ReadLater(f func(fd uintptr) bool) error
}

// peekReadable is the RawConn callback of AwaitReadable: done unless a
// one-byte MSG_PEEK finds nothing to read yet.
func peekReadable(fd uintptr) bool {
	var b [1]byte
	_, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1, unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
	return e != unix.EAGAIN
}

// AwaitInput is AwaitReadable for a descriptor that is not a socket (a
// pipe from a CGI script, where MSG_PEEK does not apply): a zero-timeout
// poll(2) checks it instead.
func AwaitInput(rc syscall.RawConn) error { return rc.Read(pollReadable) }

// pollReadable is AwaitInput's callback: done unless poll(2) finds nothing
// to read (POLLIN, POLLHUP and POLLERR all end the wait).
func pollReadable(fd uintptr) bool {
	pfd := unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	r, _, e := unix.RawSyscall(unix.SYS_POLL, uintptr(unsafe.Pointer(&pfd)), 1, 0)
	return e != 0 || r != 0
}
