package h1

import (
	"io"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Plain sockets are read and written with raw system calls through their
// RawConn (the netpoller still does the waiting, and deadlines apply). The
// calls cannot block on a non-blocking socket and take microseconds, so
// the scheduler's system-call bookkeeping buys nothing here, and it costs:
// each entersyscall after an idle spell wakes the runtime's sysmon thread,
// which then polls every 20 µs for a while (measured on the keep-alive
// path: about 1.7 sysmon wake-ups per request with net.Conn's Read and
// Write). Other connections (TLS, pipes, wrappers that buffer) use their
// Read and Write.

// sock returns the socket's descriptor access for raw I/O, made once per
// connection; nil when the connection is not a plain socket.
func (c *conn) sock() syscall.RawConn {
	if c.rawc == nil && !c.rawTried {
		c.rawTried = true
		if parkable(c.rwc) {
			c.rawc, _ = c.rwc.(syscall.Conn).SyscallConn()
		}
	}
	return c.rawc
}

// read is c.rwc.Read.
func (c *conn) read(p []byte) (int, error) {
	rc := c.sock()
	if rc == nil || len(p) == 0 {
		return c.rwc.Read(p)
	}
	var n int
	var errno syscall.Errno
	err := rc.Read(func(fd uintptr) bool {
		for {
			r, e := sysRead(fd, p)
			switch e {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false
			}
			n, errno = int(r), e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.info.LocalAddr, Addr: c.info.RemoteAddr, Err: os.NewSyscallError("read", errno)}
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// write is c.rwc.Write (all of p, or an error).
func (c *conn) write(p []byte) (int, error) {
	rc := c.sock()
	if rc == nil || len(p) == 0 {
		return c.rwc.Write(p)
	}
	return c.rawWrite(rc, [][]byte{p})
}

// writev writes the buffers in order, with one writev(2) where the socket
// takes them.
func (c *conn) writev(bufs [][]byte) (int, error) {
	rc := c.sock()
	if rc == nil {
		nb := net.Buffers(bufs)
		n, err := nb.WriteTo(c.rwc)
		return int(n), err
	}
	return c.rawWrite(rc, bufs)
}

func (c *conn) rawWrite(rc syscall.RawConn, bufs [][]byte) (int, error) {
	var iov [2]unix.Iovec
	total := 0
	var errno syscall.Errno
	err := rc.Write(func(fd uintptr) bool {
		for {
			n := 0
			for _, b := range bufs {
				if len(b) > 0 && n < len(iov) {
					iov[n] = unix.Iovec{Base: &b[0]}
					iov[n].SetLen(len(b))
					n++
				}
			}
			if n == 0 {
				return true
			}
			r, e := sysWritev(fd, iov[:n])
			switch e {
			case 0:
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false
			default:
				errno = e
				return true
			}
			total += int(r)
			for left := int(r); left > 0 && len(bufs) > 0; {
				k := min(left, len(bufs[0]))
				bufs[0], left = bufs[0][k:], left-k
				if len(bufs[0]) == 0 {
					bufs = bufs[1:]
				}
			}
			for len(bufs) > 0 && len(bufs[0]) == 0 {
				bufs = bufs[1:]
			}
		}
	})
	if err == nil && errno != 0 {
		err = &net.OpError{Op: "write", Net: "tcp", Source: c.info.LocalAddr, Addr: c.info.RemoteAddr, Err: os.NewSyscallError("writev", errno)}
	}
	return total, err
}
