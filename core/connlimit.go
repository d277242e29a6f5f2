package core

import (
	"net"
	"sync"
	"sync/atomic"

	"github.com/golighty/golighty/core/rawaccept"
)

// connLimiter caps open client connections across every listener
// (server.max-connections). At the limit, accept waits: new clients queue
// in the kernel's backlog, as they do when lighttpd stops accepting.
type connLimiter struct{ sem chan struct{} }

func newConnLimiter(n int) *connLimiter {
	if n <= 0 {
		return nil
	}
	return &connLimiter{sem: make(chan struct{}, n)}
}

// limitedListener takes a slot before Accept and gives it back when the
// connection closes.
type limitedListener struct {
	net.Listener
	lim  *connLimiter
	done chan struct{}
	once sync.Once
}

func (l *connLimiter) wrap(ln net.Listener) net.Listener {
	if l == nil {
		return ln
	}
	return &limitedListener{Listener: ln, lim: l, done: make(chan struct{})}
}

func (l *limitedListener) Accept() (net.Conn, error) {
	select {
	case l.lim.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.lim.sem
		return nil, err
	}
	// Keep the concrete connection type visible: the engine needs the
	// socket's descriptor for sendfile(2).
	switch cc := c.(type) {
	case *rawaccept.Conn:
		return &limitedRawConn{Conn: cc, slot: slot{lim: l.lim}}, nil
	case *net.TCPConn:
		return &limitedTCPConn{TCPConn: cc, slot: slot{lim: l.lim}}, nil
	case *net.UnixConn:
		return &limitedUnixConn{UnixConn: cc, slot: slot{lim: l.lim}}, nil
	}
	return &limitedConn{Conn: c, slot: slot{lim: l.lim}}, nil
}

func (l *limitedListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// slot is a connection's place under the limit, given back at its first
// Close.
type slot struct {
	lim      *connLimiter
	released atomic.Bool
}

func (s *slot) release() {
	if s.released.CompareAndSwap(false, true) {
		<-s.lim.sem
	}
}

type limitedConn struct {
	net.Conn
	slot slot
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.slot.release()
	return err
}

type limitedRawConn struct {
	*rawaccept.Conn
	slot slot
}

func (c *limitedRawConn) Close() error {
	err := c.Conn.Close()
	c.slot.release()
	return err
}

type limitedTCPConn struct {
	*net.TCPConn
	slot slot
}

func (c *limitedTCPConn) Close() error {
	err := c.TCPConn.Close()
	c.slot.release()
	return err
}

type limitedUnixConn struct {
	*net.UnixConn
	slot slot
}

func (c *limitedUnixConn) Close() error {
	err := c.UnixConn.Close()
	c.slot.release()
	return err
}

// RawSocket marks the wrappers as adding no buffering: the wire engine may
// wait for an idle connection's bytes on its descriptor.
func (c *limitedTCPConn) RawSocket()  {}
func (c *limitedUnixConn) RawSocket() {}
