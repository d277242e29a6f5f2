package core

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// ClientReset reports whether the client connection was reset (TCP RST or
// another socket error): lighttpd's error state, in which it abandons the
// request and closes its backend connection. A half-close (FIN) is not a
// reset: lighttpd answers such a request, and so does golighty. It peeks at
// the socket without consuming anything, so a backend module may call it
// from a timer goroutine while the request waits on the backend.
func (rc *Request) ClientReset() bool {
	if st, ok := rc.netConn.(interface{ ClientReset() bool }); ok {
		return st.ClientReset() // an HTTP/2 stream
	}
	sc, ok := rc.netConn.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return true // closed
	}
	var b [1]byte
	var rerr error
	if err := raw.Control(func(fd uintptr) {
		_, _, rerr = unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	}); err != nil {
		return true
	}
	return rerr != nil && rerr != unix.EAGAIN && rerr != unix.EINTR
}
