package core

import (
	"crypto/tls"
	"net"
	"time"

	"github.com/golighty/golighty/core/filefd"
	"github.com/golighty/golighty/core/h1"
	"github.com/golighty/golighty/core/h2"
)

// ServeH2Conn serves c, whose TLS handshake negotiated ALPN "h2", as an
// HTTP/2 connection of the listener with the given $SERVER["socket"]
// token. state may be nil for a clear connection speaking HTTP/2 from its
// first byte. It returns when the connection has ended.
func (s *Server) ServeH2Conn(c net.Conn, token string, state *tls.ConnectionState) {
	e := s.h2Engine(token)
	ci := h2ConnInfo(c, token, state != nil)
	e.ServeConn(c, h2.ConnOptions{Info: &ci})
}

// h2ConnInfo describes c as the HTTP/1.x engine would (addresses computed
// once per connection).
func h2ConnInfo(c net.Conn, token string, tlsConn bool) h1.ConnInfo {
	ci := h1.ConnInfo{Conn: c, RemoteAddr: c.RemoteAddr(), LocalAddr: c.LocalAddr(), Token: token, TLS: tlsConn}
	if ta, ok := ci.RemoteAddr.(*net.TCPAddr); ok {
		ci.Remote = ta.AddrPort()
		ci.RemoteIP, ci.RemotePort = ci.Remote.Addr().Unmap().String(), ta.Port
	}
	if la, ok := ci.LocalAddr.(*net.TCPAddr); ok {
		ci.LocalIP, ci.LocalPort = la.AddrPort().Addr().Unmap().String(), la.Port
	}
	return ci
}

// h2Engine returns the HTTP/2 engine of a listener (one per listener, so
// that a removed listener's connections are shut down with it), or a
// detached one for connections of unknown listeners.
func (s *Server) h2Engine(token string) *h2.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.h2engines {
		if e.Token == token {
			return e
		}
	}
	e := s.newH2Engine(token)
	e.SetConfig(h2ConfigFor(s.rt.Current()))
	if s.h2engines == nil {
		s.h2engines = map[string]*h2.Server{}
	}
	s.h2engines["conn:"+token] = e
	return e
}

func (s *Server) newH2Engine(token string) *h2.Server {
	e := &h2.Server{Handler: s, Token: token}
	e.OnPanic = func(v any) { s.stats.recordPanic(s.log, v) }
	return e
}

// h2Handoff is the HTTP/1.x engine's hook for connections that switch to
// HTTP/2 (prior knowledge or Upgrade: h2c).
func h2Handoff(e *h2.Server) func(net.Conn, *h1.ConnInfo, []byte, *h1.Request, []byte) {
	return func(nc net.Conn, ci *h1.ConnInfo, buffered []byte, up *h1.Request, settings []byte) {
		e.ServeConn(nc, h2.ConnOptions{Info: ci, Buffered: buffered, Upgrade: up, Settings: settings, HandedOver: true})
	}
}

// h2ConfigFor maps the global core settings onto the HTTP/2 engine.
func h2ConfigFor(snap *Snapshot) h2.Config {
	c := h2.DefaultConfig()
	h := h1ConfigFor(snap)
	c.MaxRequestFieldSize = h.MaxRequestFieldSize
	c.MaxRequestSize = h.MaxRequestSize
	c.MaxKeepAliveIdle = h.MaxKeepAliveIdle
	c.MaxReadIdle = h.MaxReadIdle
	c.MaxWriteIdle = h.MaxWriteIdle
	c.ServerTag = h.ServerTag
	c.Parse = h.Parse
	c.Inline = snap.H2Inline()
	return c
}

// h2Writer adapts an HTTP/2 stream to the core's ResponseWriter.
type h2Writer struct{ w *h2.ResponseWriter }

func (x h2Writer) WriteHead(status int, h *Headers, bodyLen int64, body []byte) error {
	x.w.SetStatus(status)
	for i := 0; i < h.Len(); i++ {
		kv := h.At(i)
		x.w.AddHeader(kv.Name, kv.Value)
	}
	return x.w.WriteHead(bodyLen, body)
}
func (x h2Writer) Write(p []byte) (int, error)               { return x.w.Write(p) }
func (x h2Writer) SendFile(fd filefd.FD, off, n int64) error { return x.w.SendFile(fd, off, n) }
func (x h2Writer) Flush() error                              { return x.w.Flush() }
func (x h2Writer) SetServerTag(tag string)                   { x.w.SetServerTag(tag) }

// h2Stream is what AbortStream closes and ClientReset asks on HTTP/2: the
// stream, not the connection.
type h2Stream struct{ w *h2.ResponseWriter }

func (x h2Stream) Close() error      { x.w.Abort(); return nil }
func (x h2Stream) ClientReset() bool { return x.w.ClientReset() }

// ServeH2 runs one HTTP/2 stream through the same pipeline as ServeH1.
func (s *Server) ServeH2(w *h2.ResponseWriter, r *h2.Request) {
	snap := s.rt.Acquire()
	if snap == nil { // stopped: the configuration is gone
		w.SetStatus(503)
		return
	}
	defer snap.release()
	rc := s.reqs.Get().(*Request)
	s.stats.inFlight.Add(1)
	defer func() {
		s.stats.inFlight.Add(-1)
		// HTTP/2 heads are HPACK-compressed: bytes out count the bodies.
		s.stats.record(rc.Method, w.Status(), int64(rc.HeadLen)+rc.BodyRead, w.Written(), time.Since(rc.Start))
		if v := recover(); v != nil {
			s.stats.recordPanic(s.log, v)
			// A 500 while nothing went out, else the stream is reset.
			if w.Discard() {
				w.SetStatus(500)
				w.AddHeader("Content-Type", "text/html")
				page := errorPage(500)
				w.WriteHead(int64(len(page)), page)
			} else {
				w.Abort()
			}
			return // rc's state is unknown: it is not pooled again
		}
		rc.reset()
		s.reqs.Put(rc)
	}()
	rc.Snap = snap
	rc.stats = &s.stats
	rc.srvLog = s.log
	rc.srv = s
	rc.w = h2Writer{w}
	rc.Start = r.Arrived
	rc.fillFromH2(r, w)
	rc.resetConditions()
	rc.Conf = snap.Core.Table.Resolve(rc)
	rc.log = snap.loggerFor(rc.Conf.ErrorLog, s.log)

	if r.Status != 0 {
		rc.Resp.Status = r.Status
		if snap.Core.Server.LogRequestHeaderOnErr && r.Reason != "" {
			rc.Logf("%s", r.Reason)
		}
		if rc.Target != "" {
			_ = rc.setTarget(rc.Target) // only for the access log's %U
		}
	} else if err := rc.setTarget(rc.Target); err != nil {
		rc.Resp.Status = 400
	} else {
		rc.runPhases()
	}
	rc.prepareResponse()
	if rc.dropped {
		w.Abort() // lighttpd resets the stream of a request it drops
		return
	}
	if rc.failedLog {
		if snap.Core.Server.AuthDelayInvalidCreds {
			w.Detach()
			now := time.Now()
			time.Sleep(now.Truncate(time.Second).Add(time.Second).Sub(now))
		}
		// lighttpd ends the connection after a failed login: GOAWAY, and
		// at a second failed login on it, at once (ENHANCE_YOUR_CALM).
		w.EndConn()
	}
	if rc.Conf.ServerTag != snap.Core.Table.Defaults().ServerTag {
		w.SetServerTag(rc.Conf.ServerTag) // set in a conditional
	}
	if err := rc.writeResponse(); err != nil || rc.Aborted {
		rc.Aborted = true
	}
	rc.KeepAlive = true
	rc.Resp.written = w.Written()
	if r.Body != nil {
		rc.BodyRead = r.Body.Len()
	}
	for _, m := range snap.hooks.requestDone {
		m.RequestDone(rc)
	}
}

func (rc *Request) fillFromH2(r *h2.Request, w *h2.ResponseWriter) {
	rc.Proto = 20
	rc.fillHead(r.Method, r.Target, r.HeadLen, r.Headers, r.Host)
	rc.KeepAlive = true
	rc.BodyLength = r.ContentLength
	if r.Body != nil {
		rc.Body = r.Body
	}
	rc.netConn = h2Stream{w}
	if ci := r.Conn; ci != nil {
		rc.fillConn(ci)
	}
	rc.Conn.Requests = r.Seq - 1
}

// leaveReader moves an HTTP/2 request that runs on its connection's reader
// goroutine off it (h2.ResponseWriter.Detach) before a handler that may
// wait; other requests are left alone.
func (rc *Request) leaveReader() {
	if x, ok := rc.w.(h2Writer); ok {
		x.w.Detach()
	}
}
