// Package rawpoll watches sockets that golighty opens and closes itself,
// with no system call that passes through the Go scheduler's bookkeeping.
//
// A connection per request to a local backend (php-cgi without keep-conn,
// as lighttpd talks to it) made through *os.File or net.Conn costs two
// such calls per request, fcntl(2) in os.NewFile and close(2), and each
// one wakes the runtime's sysmon thread from its deep sleep whenever the
// server was idle waiting for the backend (see core/rawsys). Measured on
// PHP hello with server and php-cgi on one core: sysmon took 13% of
// golighty's CPU, 14 µs per request, and its context switches more.
//
// Here every call is raw: socket(2) and connect(2) by the caller, reads,
// writes and close(2) by Conn. To wait, a Conn borrows a slot from a pool:
// an epoll set of its own, registered with the Go netpoller once when the
// slot was made, into which the socket is added (edge-triggered) with a
// raw epoll_ctl(2). The netpoller then wakes the waiting goroutine
// directly when the set reports the socket ready; close(2) takes the
// socket out of the set and the slot goes back to the pool.
package rawpoll

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/golighty/golighty/core/freelist"
	"github.com/golighty/golighty/core/rawsys"
	"golang.org/x/sys/unix"
)

// Conn is a non-blocking socket. It implements net.Conn (with CloseWrite)
// and syscall.Conn; errors are *os.PathError with os.ErrDeadlineExceeded
// and os.ErrClosed, as os.File reports them.
//
// A Conn is a handle: the socket's state (sock, a few hundred bytes) is
// reused by later connections once this one is closed and its last call
// returned, and every call checks the handle's generation against the
// state's, so a call made through a Conn after its Close (a second Close,
// a late deadline) finds it closed and can never reach the socket that
// uses the state now. A connection per request to php-cgi allocated its
// state each time; reused, PHP hello cost 3.5% less CPU.
type Conn struct {
	s   *sock
	gen uint64
}

type sock struct {
	fd     int
	name   string
	remote net.Addr // set by Target.Dial

	// mu guards gen, refs, closing and the directions' slots and
	// deadlines: an operation holds a reference for its whole duration,
	// so the descriptor number is not closed (and reused by another
	// socket) while a call may still use it.
	mu      sync.Mutex
	gen     uint64 // the current handle's; advanced when the state is let go
	refs    int
	closing bool

	rd, wr dir
}

// dir is one direction: its waiting slot, deadline and raw call state.
type dir struct {
	events   uint32 // what the slot watches for
	s        *slot  // borrowed at the first wait, returned by destroy
	watched  bool   // the socket is in s's set
	deadline time.Time

	// The wait in progress: called is set by its first callback (which
	// runs before any wake-up, the others after one), await marks
	// AwaitReadable's wait, and addErr is a failed registration.
	called bool
	await  bool
	addErr error

	// The state of one raw call: a caller's function, or (nil) the Conn's
	// own read or write of p, or its connect's check (connecting). No
	// function value is made per Conn or per call: the slot's callback
	// (bound once per slot) calls sock.step.
	cur        func(fd uintptr) bool
	connecting bool
	p          []byte
	n          int
	errno      syscall.Errno
}

var socks = sync.Pool{New: func() any { return new(sock) }}

// Open takes fd, a non-blocking socket: the Conn owns it from now on
// (Close closes it). name appears in errors.
func Open(fd int, name string) *Conn { return open(fd, name, nil) }

func open(fd int, name string, remote net.Addr) *Conn {
	s := socks.Get().(*sock)
	// Set under the lock, which a stale Conn may be taking to find it
	// closed (so mu itself is never overwritten).
	s.mu.Lock()
	s.fd, s.name, s.remote, s.refs, s.closing = fd, name, remote, 0, false
	s.rd = dir{events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET}
	s.wr = dir{events: unix.EPOLLOUT | unix.EPOLLET}
	c := &Conn{s: s, gen: s.gen}
	s.mu.Unlock()
	return c
}

// Name is the name given to Open ("" once the Conn is closed and gone).
func (c *Conn) Name() string {
	if !c.incref() {
		return ""
	}
	defer c.s.decref()
	return c.s.name
}

// RemoteAddr is the address dialed (nil for a Conn made by Open, or once
// it is closed and gone).
func (c *Conn) RemoteAddr() net.Addr {
	if !c.incref() {
		return nil
	}
	defer c.s.decref()
	return c.s.remote
}

// LocalAddr is the socket's own address, asked for when needed.
func (c *Conn) LocalAddr() net.Addr {
	var sa unix.Sockaddr
	c.rawControl(func(fd uintptr) { sa, _ = unix.Getsockname(int(fd)) })
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)))
	case *unix.SockaddrInet6:
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)))
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: "unix"}
	}
	return nil
}

// CloseWrite shuts down the sending side (the peer reads EOF).
func (c *Conn) CloseWrite() error {
	var e syscall.Errno
	if err := c.rawControl(func(fd uintptr) {
		e = rawsys.Shutdown(fd, unix.SHUT_WR)
	}); err != nil {
		return c.pathError("shutdown", err)
	}
	if e != 0 {
		return c.pathError("shutdown", e)
	}
	return nil
}

// incref takes a reference for a call through c: false if c is closed
// (or its state serves a later Conn).
func (c *Conn) incref() bool {
	s := c.s
	s.mu.Lock()
	ok := s.gen == c.gen && !s.closing
	if ok {
		s.refs++
	}
	s.mu.Unlock()
	return ok
}

func (s *sock) decref() {
	s.mu.Lock()
	s.refs--
	last := s.closing && s.refs == 0
	s.mu.Unlock()
	if last {
		s.destroy()
	}
}

// Close closes the socket; blocked reads and writes return os.ErrClosed.
// The descriptor is closed once the last call using it has returned.
func (c *Conn) Close() error {
	s := c.s
	s.mu.Lock()
	if s.gen != c.gen || s.closing {
		s.mu.Unlock()
		return c.pathError("close", os.ErrClosed)
	}
	s.closing = true
	last := s.refs == 0
	if !last {
		// A call is in flight and may be waiting: wake it. With none, no
		// wait can start any more (closing), and a deadline set and reset
		// per close cost 0.8 µs per PHP request.
		for _, d := range []*dir{&s.rd, &s.wr} {
			if d.s != nil {
				d.s.setDeadline(time.Unix(1, 0))
			}
		}
	}
	s.mu.Unlock()
	if last {
		s.destroy()
	}
	return nil
}

// destroy closes the socket after the last call returned, and lets the
// state go to a later Conn: the generation moves on first, so no call
// through this Conn gets past its check any more.
func (s *sock) destroy() {
	// close(2) of a socket does not block (no SO_LINGER is set); the
	// kernel takes it out of the slots' sets.
	unix.RawSyscall(unix.SYS_CLOSE, uintptr(s.fd), 0, 0)
	for _, d := range []*dir{&s.rd, &s.wr} {
		if d.s != nil {
			d.s.release()
			d.s = nil
		}
	}
	s.mu.Lock()
	s.gen++
	s.mu.Unlock()
	socks.Put(s)
}

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline bounds the waits of reads from now on, and of a read
// waiting now.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.setDeadline(&c.s.rd, t) }

// SetWriteDeadline bounds the waits of writes.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.setDeadline(&c.s.wr, t) }

func (c *Conn) setDeadline(d *dir, t time.Time) error {
	s := c.s
	s.mu.Lock()
	if s.gen != c.gen || s.closing {
		s.mu.Unlock()
		return c.pathError("set deadline", os.ErrClosed)
	}
	d.deadline = t
	if d.s != nil {
		d.s.setDeadline(t)
	}
	s.mu.Unlock()
	return nil
}

// wait calls d's step through the slot's RawConn.Read until it reports done.
// The netpoller clears the slot's readiness before the first call (as it
// does before any read of its own), so the check that finds the socket not
// ready must be made inside it: readiness that arrives after that check is
// then never lost. On a newly borrowed slot the check is the socket's
// registration itself (slotStep). Events left in the set need no
// draining: each new one wakes the netpoller again. The caller holds a
// reference.
func (c *sock) wait(d *dir) error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return os.ErrClosed
	}
	if d.s == nil {
		s, err := getSlot()
		if err != nil {
			c.mu.Unlock()
			return err
		}
		s.setDeadline(d.deadline)
		s.c, s.d = c, d
		d.s, d.watched = s, false
	}
	s := d.s
	c.mu.Unlock()
	d.called, d.addErr = false, nil
	err := s.rc.Read(s.call)
	if err == nil && d.addErr != nil {
		err = d.addErr
		d.addErr = nil
		c.mu.Lock()
		d.s = nil
		c.mu.Unlock()
		s.release()
	}
	if err != nil {
		c.mu.Lock()
		closing := c.closing
		c.mu.Unlock()
		if closing {
			return os.ErrClosed
		}
	}
	return err
}

// slotStep is a wait's callback (a slot's call). Its first call on a slot
// just borrowed adds the socket to the slot's set and reports not done:
// added edge-triggered after the netpoller cleared the slot's readiness, a
// socket that is ready already reports at once and wakes the wait, so the
// system call that could only find EAGAIN (the read, write or peek that
// would have been made here) is not made. Later calls run d's step, or
// for AwaitReadable end the wait: the set reported the socket.
func (c *sock) slotStep(d *dir) bool {
	first := !d.called
	d.called = true
	switch {
	case !d.watched:
		if err := d.s.add(c.fd, d.events); err != nil {
			d.addErr = err
			return true
		}
		d.watched = true
		return false
	case d.await && first:
		return peekReadable(uintptr(c.fd))
	case d.await:
		return true
	}
	return c.step(d)
}

// peekReadable checks a watched socket at the start of AwaitReadable (a
// variable: tests count its calls).
var peekReadable = rawsys.PeekReadable

// Read reads up to len(p) bytes, waiting for them; io.EOF at the end.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := c.transfer(&c.s.rd, p)
	switch {
	case err != nil:
		return 0, c.pathError("read", err)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// transfer runs d's raw call on p: the bytes moved, and the error of the
// call or of the wait.
func (c *Conn) transfer(d *dir, p []byte) (int, error) {
	if !c.incref() {
		return 0, os.ErrClosed
	}
	defer c.s.decref()
	d.p, d.n, d.errno = p, 0, 0
	err := c.s.run(d, nil)
	n := d.n
	if err == nil && d.errno != 0 {
		err = d.errno
	}
	d.p = nil
	return n, err
}

func (c *sock) readRaw(fd uintptr) bool {
	d := &c.rd
	for {
		n, e := rawsys.Read(fd, d.p)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		d.n, d.errno = n, e
		return true
	}
}

// Write writes all of p, waiting for room, or returns an error.
func (c *Conn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := c.transfer(&c.s.wr, p)
	if err != nil {
		return n, c.pathError("write", err)
	}
	return n, nil
}

func (c *sock) writeRaw(fd uintptr) bool {
	d := &c.wr
	for d.n < len(d.p) {
		n, e := rawsys.Write(fd, d.p[d.n:])
		switch e {
		case 0:
			d.n += n
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			d.errno = e
			return true
		}
	}
	return true
}

// do calls f (nil: d's own call) until it reports done, waiting for d's
// readiness between calls (f returns false after EAGAIN).
func (c *Conn) do(d *dir, f func(fd uintptr) bool) error {
	if !c.incref() {
		return os.ErrClosed
	}
	defer c.s.decref()
	return c.s.run(d, f)
}

// run is do for a caller holding a reference.
func (c *sock) run(d *dir, f func(fd uintptr) bool) error {
	d.cur = f
	if c.step(d) {
		d.cur = nil
		return nil
	}
	err := c.wait(d)
	d.cur = nil
	return err
}

// step makes d's current call once on the socket.
func (c *sock) step(d *dir) bool {
	switch {
	case d.cur != nil:
		return d.cur(uintptr(c.fd))
	case d.connecting:
		return c.connectRaw(uintptr(c.fd))
	case d == &c.rd:
		return c.readRaw(uintptr(c.fd))
	default:
		return c.writeRaw(uintptr(c.fd))
	}
}

// pathError names c's socket in err, as os.File's errors do (with no name
// once c is closed and its state serves a later Conn).
func (c *Conn) pathError(op string, err error) error {
	s := c.s
	s.mu.Lock()
	name := ""
	if s.gen == c.gen {
		name = s.name
	}
	s.mu.Unlock()
	return &os.PathError{Op: op, Path: name, Err: err}
}

// SyscallConn gives raw access to the socket, with the semantics of
// syscall.RawConn: Read and Write call f until it returns true, waiting
// for readiness in between.
func (c *Conn) SyscallConn() (syscall.RawConn, error) { return rawConn{c}, nil }

type rawConn struct{ c *Conn }

func (r rawConn) Control(f func(fd uintptr)) error { return r.c.rawControl(f) }

func (c *Conn) rawControl(f func(fd uintptr)) error {
	if !c.incref() {
		return os.ErrClosed
	}
	defer c.s.decref()
	f(uintptr(c.s.fd))
	return nil
}

func (r rawConn) Read(f func(fd uintptr) bool) error  { return r.c.do(&r.c.s.rd, f) }
func (r rawConn) Write(f func(fd uintptr) bool) error { return r.c.do(&r.c.s.wr, f) }

// AwaitReadable waits until a read of the socket would return at once
// (data, the end of the stream or an error), reading nothing
// (rawsys.AwaitReadable). It is meant for an answer just asked for: it
// goes straight to the wait, and where that wait registers the socket
// (the first one of a Conn) it makes no check of its own; a wake-up of
// the wait ends it without one either. A wake-up left over from the
// slot's previous borrower can end it early: the caller's read then
// waits as reads do.
func (r rawConn) AwaitReadable() error { return r.c.awaitReadable() }

func (c *Conn) awaitReadable() error {
	if !c.incref() {
		return os.ErrClosed
	}
	s := c.s
	defer s.decref()
	d := &s.rd
	d.await = true
	err := s.wait(d)
	d.await = false
	return err
}

// A slot is an epoll set registered with the Go netpoller, which a Conn
// borrows to wait on one direction of its socket.
type slot struct {
	epfd int
	f    *os.File // epfd, as the netpoller knows it; its read deadline is the wait's
	rc   syscall.RawConn
	// The borrower and direction, set while lent; call (made once per
	// slot) runs their step when the netpoller reports the set ready.
	c    *sock
	d    *dir
	call func(uintptr) bool
	// timed: f has a read deadline, which release must clear for the
	// slot's next user. Only the Conn holding the slot sets it, under its
	// mutex.
	timed bool
}

// setDeadline sets the slot's wait deadline (zero: none).
func (s *slot) setDeadline(t time.Time) {
	if t.IsZero() && !s.timed {
		return
	}
	s.f.SetReadDeadline(t)
	s.timed = !t.IsZero()
}

// maxIdleSlots bounds the pool: a burst of waits beyond it closes the
// extra slots afterwards.
const maxIdleSlots = 256

var slots = freelist.List[*slot]{Max: maxIdleSlots}

func getSlot() (*slot, error) {
	if s, ok := slots.Get(); ok {
		return s, nil
	}
	f, rc, err := NewEpoll("rawpoll")
	if err != nil {
		return nil, err
	}
	s := &slot{f: f, rc: rc}
	s.call = func(uintptr) bool { return s.c.slotStep(s.d) }
	rc.Control(func(fd uintptr) { s.epfd = int(fd) }) // not f.Fd(): it makes the file blocking
	return s, nil
}

// NewEpoll makes an epoll set registered with the Go netpoller: its
// descriptor is readable while the set has events, so a goroutine waits
// for them through the returned RawConn's Read with no thread blocked in
// epoll_wait. Closing the File closes the set.
func NewEpoll(name string) (*os.File, syscall.RawConn, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, rc, nil
}

// add puts fd in the set. Added edge-triggered, a socket that is ready
// already reports at once. (EEXIST: an entry of the same number survived
// in a pooled slot's set, see release.)
func (s *slot) add(fd int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	err := rawsys.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, fd, &ev)
	if errors.Is(err, unix.EEXIST) {
		err = rawsys.EpollCtl(s.epfd, unix.EPOLL_CTL_MOD, fd, &ev)
	}
	return err
}

// release returns the slot to the pool once its socket is closed, which
// took the socket out of the set. (Should a forked child still hold the
// socket, its stale entry can only cause a spurious wake-up, after which
// the waiting call tries its I/O again.)
func (s *slot) release() {
	s.c, s.d = nil, nil
	s.setDeadline(time.Time{})
	if !slots.Put(s) {
		s.f.Close()
	}
}
