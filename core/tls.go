package core

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/golighty/golighty/core/h1"
)

// TLSHook is implemented by the TLS module (mod_openssl and the names it
// also answers to): the crypto/tls configuration of a listener whose
// ssl.engine is enabled. The core owns the handshake and hands the
// connection to the engine the client negotiated by ALPN; modules see the
// result through Request.TLS. ListenerTLS runs when a snapshot goes live,
// so everything that can fail should have failed in Setup (-tt).
type TLSHook interface {
	ListenerTLS(snap *Snapshot, sp ListenSpec) (*tls.Config, error)
}

// ALPN protocol identifiers the core knows.
const (
	ALPNHTTP11 = "http/1.1"
	ALPNHTTP10 = "http/1.0"
	// ALPNAcme is the ACME tls-alpn-01 challenge: the handshake is the whole
	// exchange, the connection closes right after it (as lighttpd).
	ALPNAcme = "acme-tls/1"
)

// ALPNH2 is HTTP/2 over TLS.
const ALPNH2 = "h2"

var (
	alpnHTTP1 = []string{ALPNHTTP11, ALPNHTTP10}
	alpnAll   = []string{ALPNH2, ALPNHTTP11, ALPNHTTP10}
)

// ALPNProtocols lists the application protocols TLS listeners of s serve:
// h2 unless server.feature-flags turns server.h2proto off. The TLS module
// picks the first one of the client's list found here (the client's order
// wins, as in lighttpd); dispatchTLS hands the connection to the engine
// for it.
func (s *Snapshot) ALPNProtocols() []string {
	if s.Core.Server.H2Proto {
		return alpnAll
	}
	return alpnHTTP1
}

// TLSConn is a client connection after its TLS handshake, as the engines
// and Request.TLS see it.
type TLSConn struct {
	*tls.Conn
	state tls.ConnectionState
	data  any
}

// State is the connection's TLS state after the handshake (read-only).
func (c *TLSConn) State() *tls.ConnectionState { return &c.state }

// Data is what the TLS module attached to the connection during its
// handshake (SetTLSData), e.g. the client certificate's verification.
func (c *TLSConn) Data() any { return c.data }

// tlsSocket is the socket crypto/tls reads and writes. It carries the
// connection being set up so the TLS module's callbacks, which receive it
// as ClientHelloInfo.Conn, can attach per-connection data.
type tlsSocket struct {
	net.Conn
	owner *TLSConn
}

// NetConn is the socket under the TLS layer (a connection-start wrapper
// holding a PROXY header's client address, or the TCP socket).
func (s *tlsSocket) NetConn() net.Conn { return s.Conn }

// SetTLSData attaches v to the connection whose handshake is running on c
// (the ClientHelloInfo.Conn of a GetConfigForClient callback); it is a
// no-op for any other net.Conn.
func SetTLSData(c net.Conn, v any) {
	if s, ok := c.(*tlsSocket); ok {
		s.owner.data = v
	}
}

// listenerTLS is the TLS side of one listener, replaced on reload.
type listenerTLS struct {
	cfg     *tls.Config
	timeout time.Duration // the whole handshake (server.max-read-idle)
}

// tlsConfigs asks the TLS module for the configuration of every TLS
// listener of snap, before anything changes.
func tlsConfigs(snap *Snapshot, specs []ListenSpec) (map[string]*listenerTLS, error) {
	out := map[string]*listenerTLS{}
	timeout := time.Duration(snap.Core.Table.Defaults().MaxReadIdle) * time.Second
	for _, sp := range specs {
		if !sp.TLS {
			continue
		}
		if snap.hooks.tls == nil {
			return nil, fmt.Errorf("ssl.engine is enabled for %s, but no TLS module (mod_openssl) is loaded", sp.Token)
		}
		cfg, err := snap.hooks.tls.ListenerTLS(snap, sp)
		if err != nil {
			return nil, err
		}
		out[sp.Key()] = &listenerTLS{cfg: cfg, timeout: timeout}
	}
	return out, nil
}

// serveTLS completes the handshake of an accepted connection and serves it
// with the engine the client negotiated. A failed handshake closes the
// socket without a byte of HTTP (plain HTTP sent to a TLS port included).
func (s *Server) serveTLS(e *h1.Server, c net.Conn, t *listenerTLS) {
	tc := &TLSConn{}
	tc.Conn = tls.Server(&tlsSocket{Conn: c, owner: tc}, t.cfg)
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("panic in TLS handshake", "panic", v)
			c.Close()
		}
	}()
	if t.timeout > 0 {
		c.SetDeadline(time.Now().Add(t.timeout))
	}
	if err := tc.HandshakeContext(context.Background()); err != nil {
		if !quietHandshakeError(err) {
			s.log.Error(fmt.Sprintf("SSL: %v (%s)", err, remoteIP(c)))
		}
		c.Close()
		return
	}
	c.SetDeadline(time.Time{})
	tc.state = tc.Conn.ConnectionState()
	s.dispatchTLS(e, tc)
}

// dispatchTLS is the one place a negotiated protocol picks its engine; e
// is the listener's HTTP/1.x engine (its Token names the listener).
func (s *Server) dispatchTLS(e *h1.Server, tc *TLSConn) {
	switch tc.state.NegotiatedProtocol {
	case ALPNAcme:
		tc.Close() // the certificate was the answer
	case ALPNH2:
		token, _ := e.Token.(string)
		s.ServeH2Conn(tc, token, &tc.state)
	default: // "http/1.1", "http/1.0", or no ALPN
		e.ServeConn(tc)
	}
}

// quietHandshakeError reports handshake failures not worth a log line: the
// client went away, timed out, or refused our certificate (its alert).
func quietHandshakeError(err error) bool {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, net.ErrClosed):
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "remote error" {
		return true
	}
	return false
}

func remoteIP(c net.Conn) string {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap().String()
	}
	return c.RemoteAddr().String()
}

// TLS returns the TLS connection the request arrived on (HTTP/1.x or
// HTTP/2), nil on a plain one.
func (rc *Request) TLS() *TLSConn { return rc.tlsConn }

// ConnFacts are what is known of a connection before its first request, for
// settings a TLS handshake needs.
type ConnFacts struct {
	Socket   string // $SERVER["socket"] token of the listener
	RemoteIP string
	// SNI is the lower-cased server name the client sent ("" when none).
	SNI string
}

var connReqs = sync.Pool{New: func() any { return &Request{} }}

// ResolveConn returns t's settings for a connection during its TLS
// handshake, as lighttpd patches mod_openssl's config there: only
// $SERVER["socket"] and $HTTP["remoteip"] conditions are known, plus
// $HTTP["scheme"] ("https") and $HTTP["host"] (the SNI name) when the
// client sent a name. Blocks with any other condition are not applied, and
// neither are else branches after them.
func ResolveConn[T any](snap *Snapshot, t *Table[T], f ConnFacts) T {
	rc := connReqs.Get().(*Request)
	defer func() {
		rc.reset()
		connReqs.Put(rc)
	}()
	rc.Snap = snap
	rc.Conn.Socket, rc.Conn.RemoteIP, rc.Conn.TLS = f.Socket, f.RemoteIP, true
	rc.condValid = 1<<fieldSocket | 1<<fieldRemoteIP
	if f.SNI != "" {
		rc.URI.Scheme, rc.URI.Authority = "https", f.SNI
		rc.condValid |= 1<<fieldScheme | 1<<fieldHost
	}
	rc.resetConditions()
	return t.Resolve(rc)
}
