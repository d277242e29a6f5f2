package core

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/golighty/golighty/core/filefd"
	"github.com/golighty/golighty/core/h1"
	"github.com/golighty/golighty/core/h2"
	"github.com/golighty/golighty/core/monoclock"
	"github.com/golighty/golighty/core/urinorm"
)

// Server runs snapshots on listeners. Listeners and their accept loops live
// here, outside any snapshot, so a reload swaps one pointer and keeps them.
type Server struct {
	rt      Runtime
	pool    *ListenerPool
	log     *slog.Logger
	mu      sync.Mutex
	engines map[string]*h1.Server // by listener key
	tls     map[string]*atomic.Pointer[listenerTLS]
	wrapped map[string]net.Listener
	wg      sync.WaitGroup
	reqs    sync.Pool
	limit   *connLimiter // server.max-connections, fixed at start
	stopped atomic.Bool
	stats   Stats
	sampler sync.Once
	done    chan struct{} // closed when the server stops
	// accepting is closed by Start (or a stop): accept loops wait for it.
	accepting  chan struct{}
	acceptOnce sync.Once
	bound      bool

	// HTTP/2 engines by listener key (and "conn:"+token for connections
	// served through ServeConn/ServeH2Conn without a listener of ours)
	h2engines map[string]*h2.Server
}

// NewServer returns a server that will run snap once Start is called.
func NewServer(snap *Snapshot, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{pool: NewListenerPool(), log: log, engines: map[string]*h1.Server{}, tls: map[string]*atomic.Pointer[listenerTLS]{},
		h2engines: map[string]*h2.Server{}, wrapped: map[string]net.Listener{}, done: make(chan struct{})}
	s.accepting = make(chan struct{})
	s.reqs.New = func() any { return &Request{} }
	s.limit = newConnLimiter(snap.Core.Server.MaxConnections)
	s.stats.started = time.Now()
	s.stats.conns = s.OpenConns
	s.stats.listeners = s.eachListener
	s.rt.Swap(snap)
	return s
}

// Stats returns the server's counters.
func (s *Server) Stats() *Stats { return &s.stats }

// Runtime gives access to the current snapshot.
func (s *Server) Runtime() *Runtime { return &s.rt }

// Start opens the listeners of the current snapshot and serves them.
func (s *Server) Start() error {
	if err := s.Bind(); err != nil {
		return err
	}
	s.sampler.Do(func() { go s.sampleStats() })
	s.acceptOnce.Do(func() { close(s.accepting) })
	return nil
}

// Bind opens the current snapshot's listeners without accepting
// connections yet, so a process started as root can drop its privileges
// before it serves anything (lighttpd binds, then setuid()s, then serves).
// Start accepts; it binds first if Bind was not called.
func (s *Server) Bind() error {
	if s.bound {
		return nil
	}
	if err := s.reconcile(s.rt.Current()); err != nil {
		return err
	}
	s.bound = true
	return nil
}

// sampleStats notes the traffic totals once a second until the server
// stops (Stats.Recent).
func (s *Server) sampleStats() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	s.stats.sample()
	for {
		select {
		case <-t.C:
			s.stats.sample()
		case <-s.done:
			return
		}
	}
}

// stop marks the server stopping and ends its background work.
func (s *Server) stop() {
	if !s.stopped.Swap(true) {
		close(s.done)
	}
}

// Reload installs next: it opens the sockets next adds (failing without any
// change if one cannot be opened), swaps the snapshot, then closes removed
// sockets after their connections finish.
func (s *Server) Reload(next *Snapshot) error {
	if s.stopped.Load() {
		return errors.New("server is stopping")
	}
	if err := s.reconcile(next); err != nil {
		return err
	}
	s.rt.Swap(next)
	return nil
}

func (s *Server) reconcile(snap *Snapshot) error {
	specs, err := snap.ListenSpecs()
	if err != nil {
		return err
	}
	tlsConfs, err := tlsConfigs(snap, specs)
	if err != nil {
		return err
	}
	added, removed, err := s.pool.Reconcile(specs)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := h1ConfigFor(snap)
	cfg2 := h2ConfigFor(snap)
	for k, e := range s.engines {
		e.SetConfig(cfg)
		s.tls[k].Store(tlsConfs[k]) // ssl.engine may change on reload
	}
	for _, e := range s.h2engines {
		e.SetConfig(cfg2)
	}
	for _, l := range added {
		e2 := s.newH2Engine(l.Spec.Token)
		e2.SetConfig(cfg2)
		s.h2engines[l.Spec.Key()] = e2
		e := &h1.Server{Handler: s, Token: l.Spec.Token, Handoff: h2Handoff(e2)}
		e.OnPanic = func(v any) { s.stats.recordPanic(s.log, v) }
		e.SetConfig(cfg)
		t := new(atomic.Pointer[listenerTLS])
		t.Store(tlsConfs[l.Spec.Key()])
		e.Accepted = func(c net.Conn) {
			if lt := t.Load(); lt != nil {
				s.serveTLS(e, c, lt)
				return
			}
			e.ServeConn(c)
		}
		s.engines[l.Spec.Key()] = e
		s.tls[l.Spec.Key()] = t
		wl := s.startWrap(s.limit.wrap(l), l.Spec.Token)
		s.wrapped[l.Spec.Key()] = wl
		s.wg.Add(1)
		go func(l *Listener) {
			defer s.wg.Done()
			<-s.accepting
			if err := e.Serve(wl); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, h1.ErrServerClosed) {
				s.log.Error("accept loop ended", "socket", l.Spec.Token, "err", err)
			}
		}(l)
	}
	for _, l := range removed {
		s.wrapped[l.Spec.Key()].Close()
		delete(s.wrapped, l.Spec.Key())
		e := s.engines[l.Spec.Key()]
		delete(s.engines, l.Spec.Key())
		delete(s.tls, l.Spec.Key())
		e2 := s.h2engines[l.Spec.Key()]
		delete(s.h2engines, l.Spec.Key())
		go e2.Shutdown(context.Background())
		go e.Shutdown(context.Background())
	}
	return nil
}

// OpenConns is the number of client connections being served.
func (s *Server) OpenConns() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, e := range s.engines {
		n += e.OpenConns()
	}
	for _, e := range s.h2engines {
		n += e.OpenConns()
	}
	return n
}

// eachListener reports every listening socket's connections and requests
// (HTTP/1.x and HTTP/2 on it together).
func (s *Server) eachListener(visit func(ListenerStat)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, e := range s.engines {
		tok, _ := e.Token.(string)
		st := ListenerStat{Socket: tok, Conns: e.OpenConns(), Requests: e.Requests()}
		if e2 := s.h2engines[key]; e2 != nil {
			st.Conns += e2.OpenConns()
			st.Requests += e2.Requests()
		}
		visit(st)
	}
}

// ServeConn serves one already-accepted connection as if it came from the
// listener with the given $SERVER["socket"] token (tests, socket activation
// of single connections).
func (s *Server) ServeConn(c net.Conn, token string) {
	e := &h1.Server{Handler: s, Token: token, Handoff: h2Handoff(s.h2Engine(token))}
	e.SetConfig(h1ConfigFor(s.rt.Current()))
	e.ServeConn(s.startConnFor(c, token))
}

// Addrs lists the bound addresses (useful with port 0 in tests).
func (s *Server) Addrs() []net.Addr {
	var out []net.Addr
	for _, l := range s.pool.All() {
		out = append(out, l.Addr())
	}
	return out
}

// Shutdown stops accepting, lets in-flight requests finish until ctx ends,
// then closes what is left (SIGINT).
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	s.closeListeners()
	s.mu.Lock()
	engines := make([]interface{ Shutdown(context.Context) error }, 0, len(s.engines)+len(s.h2engines))
	for _, e := range s.engines {
		engines = append(engines, e)
	}
	for _, e := range s.h2engines {
		engines = append(engines, e)
	}
	s.mu.Unlock()
	// Concurrently: an HTTP/1.x engine waits for the connections it handed
	// to HTTP/2, which its HTTP/2 engine winds down.
	errs := make(chan error, len(engines))
	for _, e := range engines {
		go func() { errs <- e.Shutdown(ctx) }()
	}
	var first error
	for range engines {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	s.wg.Wait()
	s.rt.retire(first != nil)
	return first
}

// Close stops at once (SIGTERM).
func (s *Server) Close() {
	s.stop()
	s.closeListeners()
	s.mu.Lock()
	for _, e := range s.engines {
		e.Close()
	}
	for _, e := range s.h2engines {
		e.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.rt.retire(true)
}

// closeListeners stops every accept loop (also one waiting for a free
// connection slot) and closes the sockets.
func (s *Server) closeListeners() {
	s.acceptOnce.Do(func() { close(s.accepting) }) // loops not started end at once
	s.mu.Lock()
	for k, wl := range s.wrapped {
		wl.Close()
		delete(s.wrapped, k)
	}
	s.mu.Unlock()
	s.pool.CloseAll()
}

// h1ConfigFor maps the global core settings onto the wire engine's limits.
func h1ConfigFor(snap *Snapshot) h1.Config {
	c := h1.DefaultConfig()
	def := snap.Core.Table.Defaults()
	srv := &snap.Core.Server
	c.MaxKeepAliveRequests = def.MaxKeepAliveRequests
	c.MaxKeepAliveIdle = time.Duration(def.MaxKeepAliveIdle) * time.Second
	c.MaxReadIdle = time.Duration(def.MaxReadIdle) * time.Second
	// The whole head must arrive within the read idle time as well, and
	// never more than 30 s (golighty's bound against clients dripping a
	// byte at a time, which an idle timer alone would never cut off).
	if c.MaxReadIdle > 0 && c.MaxReadIdle < c.HeadTimeout {
		c.HeadTimeout = c.MaxReadIdle
	}
	c.MaxWriteIdle = time.Duration(def.MaxWriteIdle) * time.Second
	c.MaxRequestFieldSize = srv.MaxRequestFieldSize
	c.MaxRequestSize = def.MaxRequestSize
	c.ServerTag = def.ServerTag
	c.H2Prior, c.H2Upgrade = srv.H2Proto, srv.H2C
	p := &srv.ParseOpts
	c.Parse.HeaderStrict = p.HeaderStrict
	c.Parse.HostStrict = p.HostStrict
	c.Parse.HostNormalize = p.HostNormalize
	c.Parse.MethodGetBody = p.MethodGetBody
	c.Parse.MaxRequestSize = def.MaxRequestSize
	c.Parse.ProtocolHTTP11 = def.ProtocolHTTP11
	// A malformed target must win over later whole-request errors (a
	// missing Host, a missing Content-Length), as in lighttpd's order.
	opts := *p
	rejects := opts.Path2FReject || opts.PathDotsegReject
	c.Parse.CheckTarget = func(target []byte) bool {
		if !rejects && plainTarget(target) {
			return true // nothing in it can be refused; setTarget normalizes later
		}
		var buf [512]byte
		_, _, err := urinorm.NormalizeTarget(buf[:0], target, &opts)
		return err == nil
	}
	return c
}

// h1Writer adapts the wire engine's writer to the core's ResponseWriter.
type h1Writer struct{ w *h1.ResponseWriter }

func (x h1Writer) DeferClose(c io.Closer) { x.w.DeferClose(c) }

var (
	_ fileDeferrer   = h1Writer{}
	_ closeDeferrer  = h1Writer{}
	_ h1.TailHandler = (*Server)(nil)
)

func (x h1Writer) WriteHead(status int, h *Headers, bodyLen int64, body []byte) error {
	x.w.SetStatus(status)
	for i := 0; i < h.Len(); i++ {
		kv := h.At(i)
		x.w.AddHeader(kv.Name, kv.Value)
	}
	if len(body) > 0 || bodyLen == 0 {
		return x.w.Respond(body)
	}
	return nil
}
func (x h1Writer) Write(p []byte) (int, error)               { return x.w.Write(p) }
func (x h1Writer) SendFile(fd filefd.FD, off, n int64) error { return x.w.SendFile(fd, off, n) }
func (x h1Writer) Flush() error                              { return x.w.Flush() }
func (x h1Writer) DeferFile(fd filefd.FD, off, n int64) bool { return x.w.DeferFile(fd, off, n) }
func (x h1Writer) SetServerTag(tag string)                   { x.w.SetServerTag(tag) }

// ServeH1 runs one request from the HTTP/1.x engine through the pipeline.
func (s *Server) ServeH1(w *h1.ResponseWriter, r *h1.Request) {
	snap := s.rt.Acquire()
	if snap == nil { // stopped: the configuration is gone
		w.SetStatus(503)
		r.KeepAlive = false
		return
	}
	rc := s.reqs.Get().(*Request)
	s.stats.inFlight.Add(1)
	ended := false
	defer func() {
		if !ended {
			s.panicked(rc, snap, w, r, recover())
		}
	}()
	rc.Snap = snap
	rc.stats = &s.stats
	rc.srvLog = s.log
	rc.srv = s
	rc.w = h1Writer{w}
	rc.Start = monoclock.Time() // one clock read, not time.Now's two
	rc.fillFromH1(r)
	rc.resetConditions()
	rc.Conf = snap.Core.Table.Resolve(rc)
	rc.log = snap.loggerFor(rc.Conf.ErrorLog, s.log)

	if r.Status != 0 {
		rc.KeepAlive = false
		rc.Resp.Status = r.Status
		if snap.Core.Server.LogRequestHeaderOnErr && r.Reason != "" {
			rc.Logf("%s", r.Reason)
		}
		if rc.Target != "" {
			_ = rc.setTarget(rc.Target) // only for the access log's %U
		}
	} else if err := rc.setTarget(rc.Target); err != nil {
		rc.Resp.Status = 400
		rc.KeepAlive = false
	} else {
		rc.canSuspend = true
		rc.runPhases()
		rc.canSuspend = false
		if rc.suspended {
			w.SetTailState(rc) // for ResumeH1
			ended = true
			return
		}
	}
	s.respondH1(rc, w, r)
	ended = true
}

// respondH1 writes rc's response and ends the request (the end of ServeH1
// and ResumeH1).
func (s *Server) respondH1(rc *Request, w *h1.ResponseWriter, r *h1.Request) {
	snap := rc.Snap
	rc.prepareResponse()
	// No pass through the pipeline comes any more: what the handler
	// closes after the response goes to the engine, which closes it after
	// the flush or as soon as a write would wait.
	rc.handCloses()
	if rc.dropped {
		w.Drop()
		s.endH1(rc, w, r, nil, false)
		return
	}
	// The core's decisions (a backend's Connection: close, per-condition
	// keep-alive limits, protocol-http11) reach the wire engine before the
	// head is written.
	if r.Seq > rc.Conf.MaxKeepAliveRequests || rc.Conf.MaxKeepAliveIdle == 0 {
		rc.KeepAlive = false
	}
	r.KeepAlive = r.KeepAlive && rc.KeepAlive
	if rc.failedLog && snap.Core.Server.AuthDelayInvalidCreds {
		// lighttpd sends it when its once-a-second timer next runs.
		now := time.Now()
		time.Sleep(now.Truncate(time.Second).Add(time.Second).Sub(now))
	}
	w.SetKeepAliveIdle(time.Duration(rc.Conf.MaxKeepAliveIdle) * time.Second)
	if rc.Conf.ServerTag != snap.Core.Table.Defaults().ServerTag {
		w.SetServerTag(rc.Conf.ServerTag) // set in a conditional
	}
	err := rc.writeResponse()
	if rc.Resp.deferred {
		// The engine sends the file and calls FinishTail. The handler is
		// done (the body is a file of the core's): it goes back to its
		// module now, not when the download ends, so a thousand long
		// X-Sendfile downloads do not keep a thousand FastCGI handlers.
		rc.releaseHandler()
		w.SetTailState(rc)
		return
	}
	s.endH1(rc, w, r, err, true)
}

// FinishTail ends a request whose file the engine sent after ServeH1
// returned (h1.ResponseWriter.DeferFile); err is how that ended.
func (s *Server) FinishTail(w *h1.ResponseWriter, r *h1.Request, err error) {
	rc, _ := w.TailState().(*Request)
	if rc == nil {
		return
	}
	ended := false
	defer func() {
		if !ended {
			s.panicked(rc, rc.Snap, w, r, recover())
		}
	}()
	s.endH1(rc, w, r, err, true)
	ended = true
}

// endH1 ends a request once its response is out (sent says a response was
// written at all): the request-done hooks (the access log) see what went
// out, then the request's state goes back to its pool.
func (s *Server) endH1(rc *Request, w *h1.ResponseWriter, r *h1.Request, err error, sent bool) {
	snap := rc.Snap
	if sent {
		if err != nil || rc.Aborted {
			rc.KeepAlive = false
			rc.Aborted = true
		} else {
			rc.KeepAlive = w.KeepAlive()
		}
		rc.Resp.written = w.Written()
		rc.RespHeadLen = w.HeadLen()
		if r.Body != nil {
			rc.BodyRead = r.Body.Len()
		}
		for _, m := range snap.hooks.requestDone {
			m.RequestDone(rc)
		}
	}
	s.stats.inFlight.Add(-1)
	end := monoclock.Time()
	s.stats.record(rc.Method, rc.Resp.Status, int64(rc.HeadLen)+rc.BodyRead, int64(rc.RespHeadLen)+rc.Resp.written, end.Sub(rc.Start))
	w.Done(end) // the connection's next wait counts from it: no clock read of its own
	rc.reset()
	s.reqs.Put(rc)
	snap.release()
}

// panicked ends a request whose serving (or ending) panicked with v; rc's
// state is unknown, so it is not pooled again.
func (s *Server) panicked(rc *Request, snap *Snapshot, w *h1.ResponseWriter, r *h1.Request, v any) {
	rc.closeDeferred()
	s.stats.inFlight.Add(-1)
	defer snap.release()
	if v == nil {
		return
	}
	s.stats.recordPanic(s.log, v)
	answerPanic(rc, w, r)
	s.stats.record(rc.Method, w.Status(), int64(rc.HeadLen), int64(w.HeadLen())+w.Written(), time.Since(rc.Start))
}

// answerPanic ends a request whose serving panicked: a 500 with lighttpd's
// error page when none of the response went out yet, else the connection is
// cut, so the client cannot take a truncated body for a whole one. Either
// way the connection is not kept: the request's state is unknown.
func answerPanic(rc *Request, w *h1.ResponseWriter, r *h1.Request) {
	r.KeepAlive = false
	if !w.Discard() {
		if r.Conn != nil {
			r.Conn.Conn.Close()
		}
		return
	}
	w.SetStatus(500)
	w.AddHeader("Content-Type", "text/html")
	w.Respond(errorPage(500))
}

func (rc *Request) fillFromH1(r *h1.Request) {
	rc.Proto = 10
	if r.Proto == h1.HTTP11 {
		rc.Proto = 11
	}
	rc.fillHead(r.Method, r.Target, r.HeadLen, r.Headers, r.Host)
	rc.KeepAlive = r.KeepAlive
	rc.BodyLength = r.ContentLength
	if r.Body != nil && (r.ContentLength != 0 || r.Chunked) {
		rc.Body = r.Body
	}
	if ci := r.Conn; ci != nil {
		rc.netConn = ci.Conn
		rc.fillConn(ci)
	}
	rc.Conn.Requests = r.Seq - 1
}

// fillHead takes the request line and headers from an engine's parsed
// head. The strings are views of the engine's buffers: valid until the
// request ends (modules copy what they keep), and free of allocation on
// the keep-alive path.
func (rc *Request) fillHead(method string, target []byte, headLen int, headers []h1.Header, host []byte) {
	rc.Method = method
	rc.Target = bytesView(target)
	rc.HeadLen = headLen
	for _, h := range headers {
		rc.Header.Append(bytesView(h.Name), bytesView(h.Value))
	}
	rc.URI.Scheme = "http"
	rc.URI.Authority = bytesView(host)
}

// fillConn takes what the connection tells each of its requests: the
// addresses, the listener, TLS, and what the connection's start decided
// (a PROXY header).
func (rc *Request) fillConn(ci *h1.ConnInfo) {
	rc.tlsConn, _ = ci.Conn.(*TLSConn)
	rc.Conn.TLS = ci.TLS
	if ci.TLS {
		rc.URI.Scheme = "https"
	}
	if tok, ok := ci.Token.(string); ok {
		rc.Conn.Socket = tok
	}
	rc.Conn.RemoteIP, rc.Conn.RemotePort = ci.RemoteIP, ci.RemotePort
	rc.Conn.LocalIP, rc.Conn.LocalPort = ci.LocalIP, ci.LocalPort
	rc.applyConnStart(ci.Conn)
}

// bytesView is b as a string without copying; b must outlive the string.
func bytesView(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// plainTarget reports a target of printable ASCII without escapes: the
// normalizer cannot refuse it under the reject-free options.
func plainTarget(t []byte) bool {
	for _, c := range t {
		if c <= ' ' || c >= 0x7f || c == '%' {
			return false
		}
	}
	return true
}
