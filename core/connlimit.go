package core

import (
	"net"
	"sync"
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
	return &limitedConn{Conn: c, release: func() { <-l.lim.sem }}, nil
}

func (l *limitedListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
