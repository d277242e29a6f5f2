package h1

import (
	"net"
	"sync/atomic"
	"time"
)

// Hijack hands the connection over to the handler after the response head,
// for lighttpd's transparent-proxy modes: an Upgrade answered 101 (the head
// then carries "Connection: upgrade"), a CONNECT answered 2xx, a WebSocket
// tunnel. The head is written as it stands, without body framing, and
// flushed; the returned connection first yields the bytes the client sent
// past the request head. The engine closes the connection once the handler
// returns (no keep-alive, no lingering), so the handler must stop using it
// before then. Deadlines are cleared: the handler owns them now.
func (w *ResponseWriter) Hijack(upgrade bool) (net.Conn, error) {
	c := w.c
	if c.hijacked != nil {
		return c.hijacked, nil
	}
	if !w.wroteHead {
		w.req.KeepAlive = false
		w.tunnel, w.upgrade = true, upgrade
		w.writeHead(-1)
	}
	if err := c.flush(); err != nil {
		return nil, err
	}
	c.rwc.SetDeadline(time.Time{})
	c.rdl, c.wdl = time.Time{}, time.Time{}
	t := &tunnelConn{Conn: c.rwc, w: w}
	if c.r < c.w {
		t.rest = append([]byte(nil), c.buf[c.r:c.w]...)
		c.r = c.w
	}
	c.hijacked = t
	return t, nil
}

// tunnelConn is a hijacked client connection: buffered request bytes are
// read first, and bytes written count as the response body (access log).
type tunnelConn struct {
	net.Conn
	rest []byte
	w    *ResponseWriter
	sent atomic.Int64
}

func (t *tunnelConn) Read(p []byte) (int, error) {
	if len(t.rest) > 0 {
		n := copy(p, t.rest)
		t.rest = t.rest[n:]
		return n, nil
	}
	return t.Conn.Read(p)
}

func (t *tunnelConn) Write(p []byte) (int, error) {
	n, err := t.Conn.Write(p)
	t.sent.Add(int64(n))
	return n, err
}

// CloseWrite half-closes a TCP connection (a tunnel whose client side
// ended); other connections are closed.
func (t *tunnelConn) CloseWrite() error {
	if cw, ok := t.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return t.Conn.Close()
}

// ConnAcceptor is implemented by a Handler that may take whole connections
// before any request is read (lighttpd's mod_sockproxy): AcceptConn serves
// the connection and reports true, or returns false for HTTP.
type ConnAcceptor interface {
	AcceptConn(info *ConnInfo) bool
}
