package core

import (
	"errors"
	"net"
)

// ErrNoTunnel is returned by Tunnel when the transport cannot hand its
// connection over (HTTP/2 streams).
var ErrNoTunnel = errors.New("the client connection cannot be taken over on this transport")

// Hijacker is implemented by a ResponseWriter whose transport can hand the
// client connection over after the response head (HTTP/1.x).
type Hijacker interface {
	// Hijack writes status and h as the head, without body framing and
	// with "Connection: upgrade" when upgrade is set, flushes it and
	// returns the connection; bytes the client already sent past the
	// request head are read first. head false writes nothing (a
	// connection taken over before any request was read). The transport
	// closes the connection after the handler returns.
	Hijack(status int, h *Headers, upgrade, head bool) (net.Conn, error)
}

// Tunnel sends the response head now and hands the client connection to
// the handler, lighttpd's transparent-proxy mode: a 101 Switching
// Protocols after an Upgrade (mod_proxy, mod_cgi, mod_wstunnel) or a 200
// to CONNECT. response_start hooks run first. The handler owns the
// connection (deadlines included) until it returns, then the core closes
// it; it must not return while a goroutine of its own still uses it. For a
// connection taken over before any request (ConnAcceptHook), no head is
// written.
func (rc *Request) Tunnel() (net.Conn, error) {
	hj, ok := rc.w.(Hijacker)
	if !ok {
		return nil, ErrNoTunnel
	}
	r := &rc.Resp
	rc.KeepAlive = false
	if rc.rawConn {
		r.started = true
		return hj.Hijack(0, nil, false, false)
	}
	if r.Status == 0 {
		r.Status = 200
	}
	if !r.started {
		for _, m := range rc.Snap.hooks.responseStart {
			m.ResponseStart(rc)
		}
	}
	r.kind = bodyStream
	r.started = true
	upgrade := rc.Proto == 11 && r.Header.Has("Upgrade")
	return hj.Hijack(r.Status, &r.Header, upgrade, true)
}

// Hijack implements Hijacker for the HTTP/1.x engine.
func (x h1Writer) Hijack(status int, h *Headers, upgrade, head bool) (net.Conn, error) {
	x.w.SetStatus(status)
	for i := 0; i < h.Len(); i++ {
		kv := h.At(i)
		x.w.AddHeader(kv.Name, kv.Value)
	}
	return x.w.Hijack(upgrade)
}
