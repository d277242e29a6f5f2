package core

import (
	"crypto/tls"
	"errors"
	"net/netip"
	"time"

	"github.com/golighty/golighty/core/h1"
	"github.com/golighty/golighty/core/proxyhdr"
)

// The connection start (lighttpd's handle_connection_accept): before a
// connection's first request, ConnStartHooks run with a connection-phase
// Request. Only rc.Snap, rc.Conn and rc.URI.Scheme are set, and only
// $SERVER["socket"] and $HTTP["remoteip"] conditions can be true, as in
// lighttpd; Table.Resolve works as usual. What the hooks set with
// SetRemoteAddr and SetScheme, and the PROXY header read with
// ReadProxyHeader, last for the whole connection. Transports call
// Server.connStart; the HTTP/1.x engine does so through h1.Server.OnConnect.

// errNotConnStart is a ReadProxyHeader outside a ConnStart hook, or a second one.
var errNotConnStart = errors.New("core: PROXY header read outside a connection start")

// ReadProxyHeader reads the PROXY protocol header (v1 or v2) the connection
// must start with, consuming exactly its bytes, and keeps it in rc.Conn.Proxy
// for every request of the connection; the caller decides what of it to
// apply. Only a ConnStart hook may call it, once. The header must be
// complete within server.max-read-idle (at most the 30 s the HTTP/1.x engine
// gives a request head).
func (rc *Request) ReadProxyHeader() (*proxyhdr.Header, error) {
	nc := rc.startConn
	if nc == nil || rc.Conn.Proxy != nil {
		return nil, errNotConnStart
	}
	if t, ok := nc.(*tls.Conn); ok {
		nc = t.NetConn() // the header comes before the TLS handshake
	}
	h, err := proxyhdr.Read(nc, rc.startDeadline)
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

// connStart runs the ConnStartHooks of the current snapshot for a new
// connection and writes what they decided back into ci. false: close it.
func (s *Server) connStart(ci *h1.ConnInfo) bool {
	snap := s.rt.Acquire()
	if snap == nil {
		return false
	}
	defer snap.release()
	if len(snap.hooks.connStart) == 0 {
		return true
	}
	rc := s.reqs.Get().(*Request)
	defer func() {
		rc.reset()
		s.reqs.Put(rc)
	}()
	rc.Snap, rc.srvLog = snap, s.log
	rc.fillConn(ci)
	rc.startConn = ci.Conn
	rc.startDeadline = time.Now().Add(proxyHeaderTimeout(snap))
	rc.resetConditions()
	rc.Conf = snap.Core.Table.Resolve(rc)
	rc.log = snap.loggerFor(rc.Conf.ErrorLog, s.log)
	for _, m := range snap.hooks.connStart {
		if !m.ConnStart(rc) {
			return false
		}
	}
	if rc.Conn.RemoteIP != ci.RemoteIP || rc.Conn.RemotePort != ci.RemotePort {
		ci.RemoteIP, ci.RemotePort = rc.Conn.RemoteIP, rc.Conn.RemotePort
		ci.Remote = netip.AddrPort{}
		if a, err := netip.ParseAddr(ci.RemoteIP); err == nil {
			ci.Remote = netip.AddrPortFrom(a, uint16(ci.RemotePort))
		}
	}
	ci.ProxyTLS = !ci.TLS && rc.URI.Scheme == "https"
	if rc.Conn.Proxy != nil {
		ci.Data = rc.Conn.Proxy
	}
	return true
}
