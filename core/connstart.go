package core

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/golighty/golighty/core/h1"
	"github.com/golighty/golighty/core/proxyhdr"
)

// The connection start (lighttpd's handle_connection_accept) belongs to the
// listener layer: whatever engine serves a connection (HTTP/1.x, HTTP/2,
// either behind TLS), its first bytes may be a PROXY protocol header, and
// the client address it names must hold for every request. When the
// current snapshot has ConnStartHooks, the listener hands out connections
// that run them on first use (their first Read, Write or RemoteAddr, which
// every engine makes in the connection's own goroutine, so a slow header
// never holds the accept loop). The hooks get a connection-phase Request:
// only rc.Snap, rc.Conn and rc.URI.Scheme are set, and only
// $SERVER["socket"] and $HTTP["remoteip"] conditions can be true, as in
// lighttpd; Table.Resolve works as usual. What they set with SetRemoteAddr
// and SetScheme, and the header read with ReadProxyHeader, last for the
// connection; applyConnStart gives them to each request.

// errNotConnStart is a ReadProxyHeader outside a ConnStart hook, or a second one.
var errNotConnStart = errors.New("core: PROXY header read outside a connection start")

// errConnRefused is what a connection refused by a ConnStart hook returns.
var errConnRefused = errors.New("core: connection refused at its start")

// ReadProxyHeader reads the PROXY protocol header (v1 or v2) the connection
// must start with, consuming exactly its bytes, and keeps it in rc.Conn.Proxy
// for every request of the connection; the caller decides what of it to
// apply. Only a ConnStart hook may call it, once. The header must be
// complete within server.max-read-idle (at most the 30 s the HTTP/1.x engine
// gives a request head), or an earlier deadline the engine set.
func (rc *Request) ReadProxyHeader() (*proxyhdr.Header, error) {
	sc := rc.starting
	if sc == nil || rc.Conn.Proxy != nil {
		return nil, errNotConnStart
	}
	deadline := time.Now().Add(proxyHeaderTimeout(rc.Snap))
	engine := sc.readDeadline()
	if !engine.IsZero() && engine.Before(deadline) {
		deadline = engine
	}
	h, err := proxyhdr.Read(sc.Conn, deadline)
	if !engine.IsZero() {
		// Read cleared the read deadline: put back the engine's (a TLS
		// handshake's, say).
		sc.Conn.SetReadDeadline(engine)
	}
	if err != nil {
		return nil, err
	}
	rc.Conn.Proxy = h
	return h, nil
}

// SetRemoteAddr makes ip and port the client address: a trusted proxy said
// who the client is (mod_extforward). $HTTP["remoteip"] conditions are
// evaluated anew; REMOTE_ADDR, REMOTE_PORT and the access log follow. In a
// ConnStart hook the change lasts for the connection, else until the
// request ends. ip must stay valid that long (a view of a request header
// is fine for a request).
func (rc *Request) SetRemoteAddr(ip string, port int) {
	rc.Conn.RemoteIP, rc.Conn.RemotePort = ip, port
	rc.resetConditionsOn(fieldRemoteIP)
}

// SetScheme sets the request's scheme ("http" or "https") as a trusted proxy
// reported it; $HTTP["scheme"] conditions are evaluated anew, and HTTPS /
// REQUEST_SCHEME follow. In a ConnStart hook it lasts for the connection.
func (rc *Request) SetScheme(scheme string) {
	rc.URI.Scheme = scheme
	rc.resetConditionsOn(fieldScheme)
}

// proxyHeaderTimeout bounds the wait for a PROXY header: server.max-read-idle
// (lighttpd's limit for a connection that sends nothing), at most the HTTP/1.x
// engine's deadline for a whole request head.
func proxyHeaderTimeout(snap *Snapshot) time.Duration {
	limit := h1.DefaultConfig().HeadTimeout
	if idle := time.Duration(snap.Core.Table.Defaults().MaxReadIdle) * time.Second; idle > 0 && idle < limit {
		limit = idle
	}
	return limit
}

// startListener hands out connections that run the ConnStartHooks.
type startListener struct {
	net.Listener
	srv   *Server
	token string
}

func (s *Server) startWrap(ln net.Listener, token string) net.Listener {
	return &startListener{Listener: ln, srv: s, token: token}
}

func (l *startListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.srv.startConnFor(c, l.token), nil
}

// startConnFor wraps c when the current snapshot has ConnStartHooks.
func (s *Server) startConnFor(c net.Conn, token string) net.Conn {
	if snap := s.rt.Current(); snap == nil || len(snap.hooks.connStart) == 0 {
		return c // nothing to run: the socket as it is
	}
	sc := &startConn{Conn: c, srv: s, token: token}
	_, isSock := c.(syscall.Conn)
	_, halfClose := c.(interface{ CloseWrite() error })
	switch {
	case !isSock || !halfClose:
		return sc
	case h1.IsRawSocket(c):
		return &startRawConn{startSockConn{sc}}
	}
	return &startSockConn{sc}
}

// startConn is an accepted connection whose ConnStartHooks run on first use.
type startConn struct {
	net.Conn
	srv   *Server
	token string

	once   sync.Once
	failed bool
	rdl    atomic.Int64 // the engine's read deadline in Unix ns (0: none), restored after a header
	// What the hooks decided, for every request of the connection.
	remoteIP   string
	remotePort int
	https      bool
	proxy      *proxyhdr.Header
	remote     net.Addr
}

// startSockConn keeps what the engine needs of a socket visible: its
// descriptor (sendfile, peeking for a client reset) and its half-close.
type startSockConn struct{ *startConn }

// SyscallConn runs the hooks first: what is read through the descriptor
// comes after a PROXY header.
func (c *startSockConn) SyscallConn() (syscall.RawConn, error) {
	if c.start(); c.failed {
		return nil, errConnRefused
	}
	return c.Conn.(syscall.Conn).SyscallConn()
}

func (c *startSockConn) CloseWrite() error {
	return c.Conn.(interface{ CloseWrite() error }).CloseWrite()
}

// startRawConn is a startSockConn over a plain socket. Once its hooks ran
// (on the first Read, Write, RemoteAddr or SyscallConn) it reads and
// writes straight through (a PROXY header is consumed to its last byte and
// no further), so it is an h1.RawSocket: the engine does raw I/O on it,
// and parks it while idle or waiting to send a file, as it does a socket
// that has no hooks to run. Without that, loading mod_extforward kept a
// goroutine per idle connection (6.6–8.1 KB against 2.1–2.8 KB each).
type startRawConn struct{ startSockConn }

func (*startRawConn) RawSocket() {}

func (c *startConn) start() {
	c.once.Do(func() {
		if !c.srv.connStart(c) {
			c.failed = true
			c.Conn.Close()
		}
	})
}

func (c *startConn) Read(p []byte) (int, error) {
	if c.start(); c.failed {
		return 0, errConnRefused
	}
	return c.Conn.Read(p)
}

func (c *startConn) Write(p []byte) (int, error) {
	if c.start(); c.failed {
		return 0, errConnRefused
	}
	return c.Conn.Write(p)
}

// RemoteAddr is the client a PROXY header named, else the peer.
func (c *startConn) RemoteAddr() net.Addr {
	if c.start(); c.remote != nil {
		return c.remote
	}
	return c.Conn.RemoteAddr()
}

// ProxyTLS reports a client that reached the proxy over TLS (h1 uses port
// 443 as the default of Host then).
func (c *startConn) ProxyTLS() bool {
	c.start()
	return c.https
}

func (c *startConn) SetDeadline(t time.Time) error {
	c.noteReadDeadline(t)
	return c.Conn.SetDeadline(t)
}

func (c *startConn) SetReadDeadline(t time.Time) error {
	c.noteReadDeadline(t)
	return c.Conn.SetReadDeadline(t)
}

func (c *startConn) noteReadDeadline(t time.Time) {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	c.rdl.Store(ns)
}

func (c *startConn) readDeadline() time.Time {
	if ns := c.rdl.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// connStart runs the ConnStartHooks of the current snapshot for c and keeps
// what they decided. false: close the connection without a response.
func (s *Server) connStart(c *startConn) bool {
	snap := s.rt.Acquire()
	if snap == nil {
		return false
	}
	defer snap.release()
	rc := s.reqs.Get().(*Request)
	defer func() {
		rc.reset()
		s.reqs.Put(rc)
	}()
	rc.Snap, rc.srvLog = snap, s.log
	rc.starting = c
	rc.URI.Scheme = "http"
	rc.Conn.Socket = c.token
	if ta, ok := c.Conn.RemoteAddr().(*net.TCPAddr); ok {
		rc.Conn.RemoteIP, rc.Conn.RemotePort = ta.AddrPort().Addr().Unmap().String(), ta.Port
	}
	rc.condValid = 1<<fieldSocket | 1<<fieldRemoteIP
	rc.resetConditions()
	rc.Conf = snap.Core.Table.Resolve(rc)
	rc.log = snap.loggerFor(rc.Conf.ErrorLog, s.log)
	peerIP, peerPort := rc.Conn.RemoteIP, rc.Conn.RemotePort
	for _, m := range snap.hooks.connStart {
		if !m.ConnStart(rc) {
			return false
		}
	}
	c.https, c.proxy = rc.URI.Scheme == "https", rc.Conn.Proxy
	if rc.Conn.RemoteIP != peerIP || rc.Conn.RemotePort != peerPort {
		c.remoteIP, c.remotePort = rc.Conn.RemoteIP, rc.Conn.RemotePort
		if a, err := netip.ParseAddr(c.remoteIP); err == nil {
			c.remote = net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, uint16(c.remotePort)))
		} else {
			c.remote = &net.UnixAddr{Name: c.remoteIP, Net: "unix"}
		}
	}
	return true
}

// connStartOf finds the startConn under an engine's connection (nil when the
// listener handed out the socket as it was).
func connStartOf(nc net.Conn) *startConn {
	for nc != nil {
		switch c := nc.(type) {
		case *startConn:
			return c
		case *startSockConn:
			return c.startConn
		case *startRawConn:
			return c.startConn
		case interface{ NetConn() net.Conn }: // crypto/tls
			nc = c.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// applyConnStart gives a request what the connection's start decided.
func (rc *Request) applyConnStart(nc net.Conn) {
	c := connStartOf(nc)
	if c == nil {
		return
	}
	c.start() // long done: orders what it wrote before what is read here
	if c.remote != nil {
		rc.Conn.RemoteIP, rc.Conn.RemotePort = c.remoteIP, c.remotePort
	}
	if c.https {
		rc.URI.Scheme = "https"
	}
	rc.Conn.Proxy = c.proxy
}
