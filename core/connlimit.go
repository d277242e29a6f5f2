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
//
// The count is an atomic counter: a channel used as a semaphore cost a
// select over two channels per accept and a channel receive per close,
// with their locks (1.5% of the user time of a connection per request).
type connLimiter struct {
	max  int64
	open atomic.Int64
	// freed holds a token when a slot may have come free: an acceptor
	// waiting at the limit takes it and tries again.
	freed chan struct{}
}

func newConnLimiter(n int) *connLimiter {
	if n <= 0 {
		return nil
	}
	return &connLimiter{max: int64(n), freed: make(chan struct{}, 1)}
}

// acquire takes a slot, waiting while none is free; false once done is
// closed.
func (l *connLimiter) acquire(done <-chan struct{}) bool {
	waited := false
	for {
		if l.open.Add(1) <= l.max {
			if waited && l.open.Load() < l.max {
				// Slots freed while two acceptors were between their
				// count and their wait left one token: pass the turn on.
				l.signal()
			}
			return true
		}
		l.open.Add(-1)
		// A release between the Add and here left its token in freed.
		select {
		case <-l.freed:
			waited = true
		case <-done:
			return false
		}
	}
}

// release gives a slot back. It signals whatever the count: an acceptor
// that just found the limit reached counts itself until it backs off, so
// the count may read full though this release freed the slot it waits for.
func (l *connLimiter) release() {
	l.open.Add(-1)
	l.signal()
}

// signal leaves a token for a waiting acceptor (one is enough: it passes
// the turn on). Without a waiter the token stays, and the send finds the
// channel full without taking its lock.
func (l *connLimiter) signal() {
	select {
	case l.freed <- struct{}{}:
	default:
	}
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
	if !l.lim.acquire(l.done) {
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		l.lim.release()
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
		s.lim.release()
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
