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
	release := func() { <-l.lim.sem }
	// Keep the concrete connection type visible: the engine needs the
	// socket's descriptor for sendfile(2).
	switch cc := c.(type) {
	case *net.TCPConn:
		return &limitedTCPConn{TCPConn: cc, release: release}, nil
	case *net.UnixConn:
		return &limitedUnixConn{UnixConn: cc, release: release}, nil
	}
	return &limitedConn{Conn: c, release: release}, nil
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

type limitedTCPConn struct {
	*net.TCPConn
	once    sync.Once
	release func()
}

func (c *limitedTCPConn) Close() error {
	err := c.TCPConn.Close()
	c.once.Do(c.release)
	return err
}

type limitedUnixConn struct {
	*net.UnixConn
	once    sync.Once
	release func()
}

func (c *limitedUnixConn) Close() error {
	err := c.UnixConn.Close()
	c.once.Do(c.release)
	return err
}

// RawSocket marks the wrappers as adding no buffering: the wire engine may
// wait for an idle connection's bytes on its descriptor.
func (c *limitedTCPConn) RawSocket()  {}
func (c *limitedUnixConn) RawSocket() {}
