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
		readable = PeekReadable(fd)
		return true
	})
	return readable, err
}

// AwaitReadable waits, through rc's poller and its read deadline, until a
// read of the socket behind rc would return at once (data, the end of the
// stream or an error), without reading: a caller holds no buffer while it
// waits.
//
// It is meant for an answer just asked for, which is not there yet. A
// RawConn that can wait on its own (core/rawpoll's) skips the checks that
// its poller makes unnecessary, and may then return on a stale wake-up
// before the answer: the caller's read waits for it. Others peek before
// and after each wait.
func AwaitReadable(rc syscall.RawConn) error {
	if a, ok := rc.(awaiter); ok {
		return a.AwaitReadable()
	}
	return rc.Read(PeekReadable)
}

// awaiter is a RawConn with a wait of its own for AwaitReadable.
type awaiter interface {
	AwaitReadable() error
}

// PeekReadable reports whether the socket fd has something to read (data,
// its end or an error): a one-byte non-blocking MSG_PEEK, which consumes
// nothing. As a RawConn callback it is done unless nothing is there yet.
func PeekReadable(fd uintptr) bool {
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
