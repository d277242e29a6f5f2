package rawaccept

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/golighty/golighty/core/monoclock"
	"github.com/golighty/golighty/core/rawsys"
	"golang.org/x/sys/unix"
)

// Conn is an accepted TCP connection. It implements net.Conn (with
// CloseWrite) and syscall.Conn, whose RawConn makes the caller's call
// first and waits through the netpoller only if that call reports it
// would block. Errors are *net.OpError, with net.ErrClosed and
// os.ErrDeadlineExceeded as net's connections report them.
//
// Deadlines apply to waits: a call that need not wait succeeds even if
// its deadline has passed since it was set (net's connections would fail
// it), but one whose deadline was already past when set fails at once.
type Conn struct {
	fd     int
	remote *net.TCPAddr // raddr, or nil for a family other than IPv4 and IPv6
	// The client's address and its IP's bytes live in the Conn: made apart,
	// they were two more allocations per connection.
	raddr net.TCPAddr
	rip   [16]byte
	local atomic.Pointer[net.TCPAddr] // the listener's address, or getsockname's once asked

	// refs counts the calls using fd, plus closedBit from Close on: the
	// descriptor is closed when both hold (destroy), so no call can use a
	// number that was closed and given to another socket meanwhile.
	refs      atomic.Int64
	destroyed atomic.Bool

	mu     sync.Mutex // guards the deadlines, and registering
	rd, wr deadline
	reg    atomic.Pointer[registration] // set once, at the first wait
}

const closedBit = 1 << 62

// deadline is one direction's deadline. expired is read without the
// mutex: whether a call that has not registered fails at once.
type deadline struct {
	t       time.Time
	expired atomic.Bool
}

// registration is the socket as an *os.File in the netpoller.
type registration struct {
	f  *os.File
	rc syscall.RawConn
}

// RawSocket marks Conn as a socket the HTTP/1.x engine may read, write
// and watch by its descriptor (h1.IsRawSocket).
func (c *Conn) RawSocket() {}

// RemoteAddr is the client's address.
func (c *Conn) RemoteAddr() net.Addr {
	if c.remote == nil {
		return nil // not a nil *net.TCPAddr in an interface
	}
	return c.remote
}

// LocalAddr is the connection's own address: the listener's, or on a
// wildcard listener what getsockname(2) reports (asked for once).
func (c *Conn) LocalAddr() net.Addr {
	if a := c.local.Load(); a != nil {
		return a
	}
	var sa unix.RawSockaddrAny
	if err := c.control(func(fd uintptr) { getsockname(fd, &sa) }); err != nil {
		return nil
	}
	a := tcpAddr(&sa)
	if a == nil {
		return nil
	}
	c.local.Store(a)
	return a
}

func getsockname(fd uintptr, sa *unix.RawSockaddrAny) {
	n := uint32(unix.SizeofSockaddrAny)
	unix.RawSyscall(unix.SYS_GETSOCKNAME, fd, uintptr(unsafe.Pointer(sa)), uintptr(unsafe.Pointer(&n)))
}

func (c *Conn) incref() bool {
	if c.refs.Add(1)&closedBit != 0 {
		c.decref()
		return false
	}
	return true
}

func (c *Conn) decref() {
	if c.refs.Add(-1) == closedBit {
		c.destroy()
	}
}

func (c *Conn) closed() bool { return c.refs.Load()&closedBit != 0 }

// Close closes the connection; calls waiting now return net.ErrClosed. The
// descriptor is closed when the last call using it has returned.
func (c *Conn) Close() error {
	old := c.refs.Or(closedBit)
	switch {
	case old&closedBit != 0:
		return c.opError("close", net.ErrClosed)
	case old == 0:
		c.destroy()
		return nil
	}
	// Calls are in flight: wake those that wait. A call registering after
	// this sees the bit (register checks it under the same mutex).
	c.mu.Lock()
	r := c.reg.Load()
	c.mu.Unlock()
	if r != nil {
		r.f.SetDeadline(time.Unix(1, 0))
	}
	return nil
}

func (c *Conn) destroy() {
	if !c.destroyed.CompareAndSwap(false, true) {
		return
	}
	if r := c.reg.Load(); r != nil {
		r.f.Close() // takes it out of the netpoller too
		return
	}
	rawsys.Close(c.fd)
}

// register puts the socket in the netpoller, once, with the deadlines set
// so far.
func (c *Conn) register() (*registration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.reg.Load(); r != nil {
		return r, nil
	}
	if c.closed() {
		return nil, net.ErrClosed
	}
	f := os.NewFile(uintptr(c.fd), "tcp")
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	if !c.rd.t.IsZero() {
		f.SetReadDeadline(c.rd.t)
	}
	if !c.wr.t.IsZero() {
		f.SetWriteDeadline(c.wr.t)
	}
	r := &registration{f: f, rc: rc}
	c.reg.Store(r)
	return r, nil
}

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// SetReadDeadline bounds the waits of reads from now on, and of a read
// waiting now.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.setDeadline(&c.rd, t, true) }

// SetWriteDeadline bounds the waits of writes.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.setDeadline(&c.wr, t, false) }

func (c *Conn) setDeadline(d *deadline, t time.Time, read bool) error {
	if c.closed() {
		return c.opError("set", net.ErrClosed)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d.t = t
	if r := c.reg.Load(); r != nil {
		if read {
			return r.f.SetReadDeadline(t)
		}
		return r.f.SetWriteDeadline(t)
	}
	d.expired.Store(!t.IsZero() && !t.After(monoclock.Time())) // one clock read, not two
	return nil
}

// begin starts a call on direction d, holding a reference until the
// caller's decref; it fails when the call must not run (closed, or not in
// the netpoller yet and the deadline already past).
func (c *Conn) begin(d *deadline, op string) error {
	if !c.incref() {
		return c.opError(op, net.ErrClosed)
	}
	if c.reg.Load() == nil && d.expired.Load() {
		c.decref()
		return c.opError(op, os.ErrDeadlineExceeded)
	}
	return nil
}

// Read reads up to len(p) bytes, waiting for them; io.EOF at the end.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := c.begin(&c.rd, "read"); err != nil {
		return 0, err
	}
	defer c.decref()
	r := c.reg.Load()
	if r == nil {
		for {
			n, e := rawsys.Read(uintptr(c.fd), p)
			switch {
			case e == unix.EINTR:
				continue
			case e == unix.EAGAIN:
			case e != 0:
				return 0, c.opError("read", os.NewSyscallError("read", e))
			case n == 0:
				return 0, io.EOF
			default:
				return n, nil
			}
			break
		}
		var err error
		if r, err = c.register(); err != nil {
			return 0, c.opError("read", err)
		}
	}
	n, err := r.f.Read(p)
	if err != nil && err != io.EOF {
		err = c.opError("read", err)
	}
	return n, err
}

// Write writes all of p, waiting for room, or returns an error.
func (c *Conn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := c.begin(&c.wr, "write"); err != nil {
		return 0, err
	}
	defer c.decref()
	var n int
	r := c.reg.Load()
	if r == nil {
		for n < len(p) {
			m, e := rawsys.Write(uintptr(c.fd), p[n:])
			switch e {
			case 0:
				n += m
				continue
			case unix.EINTR:
				continue
			case unix.EAGAIN:
			default:
				return n, c.opError("write", os.NewSyscallError("write", e))
			}
			break
		}
		if n == len(p) {
			return n, nil
		}
		var err error
		if r, err = c.register(); err != nil {
			return n, c.opError("write", err)
		}
	}
	m, err := r.f.Write(p[n:])
	if err != nil {
		err = c.opError("write", err)
	}
	return n + m, err
}

// CloseWrite shuts down the sending side (the client reads the end).
func (c *Conn) CloseWrite() error {
	var e syscall.Errno
	if err := c.control(func(fd uintptr) { e = rawsys.Shutdown(fd, unix.SHUT_WR) }); err != nil {
		return err
	}
	if e != 0 {
		return c.opError("close", os.NewSyscallError("shutdown", e))
	}
	return nil
}

func (c *Conn) control(f func(fd uintptr)) error {
	if !c.incref() {
		return c.opError("raw-control", net.ErrClosed)
	}
	f(uintptr(c.fd))
	c.decref()
	return nil
}

// opError reports err as net's connections do. A call that fails because
// the connection was closed under it says net.ErrClosed, whatever the
// file or the wait reported.
func (c *Conn) opError(op string, err error) error {
	var pe *os.PathError
	switch {
	case c.closed() || errors.Is(err, os.ErrClosed):
		err = net.ErrClosed
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = os.ErrDeadlineExceeded
	case errors.As(err, &pe):
		err = os.NewSyscallError(op, pe.Err)
	}
	var local net.Addr
	if a := c.local.Load(); a != nil {
		local = a
	}
	return &net.OpError{Op: op, Net: "tcp", Source: local, Addr: c.remote, Err: err}
}

// SyscallConn gives raw access to the socket (syscall.RawConn).
func (c *Conn) SyscallConn() (syscall.RawConn, error) { return rawConn{c}, nil }

type rawConn struct{ c *Conn }

// Control calls f with the descriptor, which stays open meanwhile.
func (r rawConn) Control(f func(fd uintptr)) error { return r.c.control(f) }

// Read calls f until it returns true, waiting for the socket to be
// readable between calls; the first call is made before any wait.
func (r rawConn) Read(f func(fd uintptr) bool) error { return r.c.raw(&r.c.rd, "raw-read", f) }

// Write is Read for writability.
func (r rawConn) Write(f func(fd uintptr) bool) error { return r.c.raw(&r.c.wr, "raw-write", f) }

func (c *Conn) raw(d *deadline, op string, f func(fd uintptr) bool) error {
	if err := c.begin(d, op); err != nil {
		return err
	}
	defer c.decref()
	r := c.reg.Load()
	if r == nil {
		if f(uintptr(c.fd)) {
			return nil
		}
		var err error
		if r, err = c.register(); err != nil {
			return c.opError(op, err)
		}
	}
	var err error
	if d == &c.rd {
		err = r.rc.Read(f)
	} else {
		err = r.rc.Write(f)
	}
	if err != nil {
		return c.opError(op, err)
	}
	return nil
}
