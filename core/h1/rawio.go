package h1

import (
	"io"
	"net"
	"os"
	"syscall"

	"github.com/golighty/golighty/core/rawsys"
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
		if IsRawSocket(c.rwc) {
			c.rawc, _ = c.rwc.(syscall.Conn).SyscallConn()
		}
	}
	return c.rawc
}

// rawState is the state of one raw read or write, kept in the conn: the
// functions handed to RawConn.Read and Write are bound to the conn once
// (conns are pooled), so a call captures nothing and allocates nothing.
type rawState struct {
	readFn, writeFn func(fd uintptr) bool
	moreFn          func(fd uintptr) bool // flushMore's send
	shutFn          func(fd uintptr)      // closeWrite's shutdown
	nowFn           func(fd uintptr)      // readNow's read
	rp              []byte
	n               int
	errno           syscall.Errno
	bufs            [][]byte
	one             [1][]byte
	iov             [2]unix.Iovec
}

// release drops the buffers the last call referred to.
func (s *rawState) release() {
	s.rp, s.bufs, s.one[0] = nil, nil, nil
	s.iov = [2]unix.Iovec{}
}

// read is c.rwc.Read.
func (c *conn) read(p []byte) (int, error) {
	rc := c.sock()
	if rc == nil || len(p) == 0 {
		return c.rwc.Read(p)
	}
	s := &c.raw
	if s.readFn == nil {
		s.readFn = c.rawRead
	}
	s.rp, s.n, s.errno = p, 0, 0
	err := rc.Read(s.readFn)
	n, errno := s.n, s.errno
	s.release()
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

func (c *conn) rawRead(fd uintptr) bool {
	s := &c.raw
	for {
		r, e := rawsys.Read(fd, s.rp)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		s.n, s.errno = int(r), e
		return true
	}
}

// write is c.rwc.Write (all of p, or an error).
func (c *conn) write(p []byte) (int, error) {
	rc := c.sock()
	if rc == nil || len(p) == 0 {
		return c.rwc.Write(p)
	}
	c.raw.one[0] = p
	return c.rawWrite(rc, c.raw.one[:])
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
	s := &c.raw
	if s.writeFn == nil {
		s.writeFn = c.rawWritev
	}
	s.bufs, s.n, s.errno = bufs, 0, 0
	err := rc.Write(s.writeFn)
	total, errno := s.n, s.errno
	s.release()
	if err == nil && errno != 0 {
		err = &net.OpError{Op: "write", Net: "tcp", Source: c.info.LocalAddr, Addr: c.info.RemoteAddr, Err: os.NewSyscallError("writev", errno)}
	}
	return total, err
}

// rawWritev writes s.bufs (at most two at a time), counting in s.n.
func (c *conn) rawWritev(fd uintptr) bool {
	s := &c.raw
	for {
		n := 0
		for _, b := range s.bufs {
			if len(b) > 0 && n < len(s.iov) {
				s.iov[n] = unix.Iovec{Base: &b[0]}
				s.iov[n].SetLen(len(b))
				n++
			}
		}
		if n == 0 {
			return true
		}
		r, e := rawsys.Writev(fd, s.iov[:n])
		switch e {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			c.closeDeferred()    // the client may take long to make room
			c.setWriteDeadline() // the wait's limit (beforeWrite)
			return false
		default:
			s.errno = e
			return true
		}
		s.n += int(r)
		for left := int(r); left > 0 && len(s.bufs) > 0; {
			k := min(left, len(s.bufs[0]))
			s.bufs[0], left = s.bufs[0][k:], left-k
			if len(s.bufs[0]) == 0 {
				s.bufs = s.bufs[1:]
			}
		}
		for len(s.bufs) > 0 && len(s.bufs[0]) == 0 {
			s.bufs = s.bufs[1:]
		}
	}
}

// closeWrite half-closes the connection (cw is c.rwc): a plain socket's
// shutdown(2) is raw too; through net.TCPConn's CloseWrite it paid the
// scheduler's system-call bookkeeping, 0.4 µs of a connection per request.
func (c *conn) closeWrite(cw interface{ CloseWrite() error }) error {
	rc := c.sock()
	if rc == nil {
		return cw.CloseWrite()
	}
	if c.raw.shutFn == nil {
		c.raw.shutFn = c.shutdownRaw
	}
	c.raw.errno = 0
	if err := rc.Control(c.raw.shutFn); err != nil {
		return err
	}
	if c.raw.errno != 0 {
		return os.NewSyscallError("shutdown", c.raw.errno)
	}
	return nil
}

func (c *conn) shutdownRaw(fd uintptr) {
	c.raw.errno = rawsys.Shutdown(fd, unix.SHUT_WR)
}

// nowRead is what a read without waiting found.
type nowRead int

const (
	readSome   nowRead = iota // bytes, appended to c.buf
	nothingYet                // the socket has none for now
	readEnd                   // the end of the stream or an error (a read reports it)
)

// readNow reads what the socket holds into c.buf[c.w:] without waiting.
func (c *conn) readNow() nowRead {
	rc := c.sock()
	if rc == nil { // a connection start that refused it: the read reports that
		return readEnd
	}
	s := &c.raw
	if s.nowFn == nil {
		s.nowFn = c.readNowRaw
	}
	s.rp, s.n, s.errno = c.buf[c.w:], 0, 0
	err := rc.Control(s.nowFn)
	n, errno := s.n, s.errno
	s.release()
	switch {
	case err != nil || errno != 0 && errno != unix.EAGAIN || errno == 0 && n == 0:
		return readEnd
	case errno == unix.EAGAIN:
		return nothingYet
	}
	c.w += n
	return readSome
}

// readNowRaw is rawRead once, with its EAGAIN kept (Control does not wait).
func (c *conn) readNowRaw(fd uintptr) {
	if !c.rawRead(fd) {
		c.raw.errno = unix.EAGAIN
	}
}
