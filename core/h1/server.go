package h1

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/golighty/golighty/core/bufpoison"
	"github.com/golighty/golighty/core/monoclock"
	"github.com/golighty/golighty/core/workpool"
)

// Config holds the per-listener limits (lighttpd's server.* keys). The core
// fills one per listener and may replace it on reload with SetConfig; each
// request reads the current one.
type Config struct {
	MaxKeepAliveRequests int           // server.max-keep-alive-requests; 0 disables keep-alive
	MaxKeepAliveIdle     time.Duration // server.max-keep-alive-idle; 0 disables keep-alive
	MaxReadIdle          time.Duration // server.max-read-idle
	MaxWriteIdle         time.Duration // server.max-write-idle
	// HeadTimeout bounds the whole request head from its first byte (golighty
	// is stricter than lighttpd here: a client dripping bytes is cut off).
	HeadTimeout         time.Duration
	MaxRequestFieldSize int // server.max-request-field-size (bytes)
	// MaxRequestSize is server.max-request-size in bytes (0 = unlimited):
	// Content-Length above it → 413 at parse time; a chunked body above it
	// → 413 BodyError while reading. It overrides Parse.MaxRequestSize.
	MaxRequestSize int64
	Parse          ParseOptions
	ServerTag      string // server.tag; empty: no Server header
	// LingerTimeout bounds reading (and discarding) what the client still
	// sends after the server decided to close, so the response is not lost
	// to a TCP reset.
	LingerTimeout time.Duration
	// H2Prior hands a clear connection that opens with the HTTP/2 preface
	// to Server.Handoff (lighttpd's server.h2proto); H2Upgrade does the same
	// for an HTTP/1.1 request asking for "Upgrade: h2c" (server.h2c).
	H2Prior, H2Upgrade bool
	// IdleGrace is how long a connection waiting for a request keeps its
	// goroutine before it is parked (idle.go); 0 means 1 s, negative never.
	IdleGrace time.Duration
}

// DefaultConfig returns lighttpd 1.4.69's defaults.
func DefaultConfig() Config {
	return Config{
		MaxKeepAliveRequests: 1000,
		MaxKeepAliveIdle:     5 * time.Second,
		MaxReadIdle:          60 * time.Second,
		MaxWriteIdle:         360 * time.Second,
		HeadTimeout:          30 * time.Second,
		MaxRequestFieldSize:  8192,
		Parse:                DefaultParseOptions(),
		ServerTag:            "lighttpd/1.4.69",
		LingerTimeout:        5 * time.Second,
	}
}

// tlsConn is a TLS connection: *tls.Conn, or a type embedding it.
type tlsConn interface {
	ConnectionState() tls.ConnectionState
}

// ConnInfo describes the connection a request arrived on.
type ConnInfo struct {
	Conn       net.Conn
	RemoteAddr net.Addr
	LocalAddr  net.Addr
	// Remote is the peer as an AddrPort for TCP connections (zero otherwise).
	Remote netip.AddrPort
	// RemoteIP/RemotePort and LocalIP/LocalPort are computed once per
	// connection (IPv4-mapped addresses unmapped) so requests need not
	// format them again; empty / 0 for non-TCP connections.
	RemoteIP   string
	RemotePort int
	LocalIP    string
	LocalPort  int
	TLS        bool
	Token      any // Server.Token: identifies the listener ($SERVER["socket"])
	// ProxyTLS: a PROXY protocol header the listener read says the client
	// reached the proxy over TLS (scheme https, default port 443).
	ProxyTLS bool
}

// proxyTLSConn is a connection whose PROXY protocol header may say the
// client used TLS (core/connstart.go).
type proxyTLSConn interface{ ProxyTLS() bool }

// Handler serves one request. When r.Status != 0 the request was invalid:
// the handler renders the error response for that status (h1 then closes
// the connection). The handler must not keep r or w after returning.
type Handler interface {
	ServeH1(w *ResponseWriter, r *Request)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(w *ResponseWriter, r *Request)

// ServeH1 calls f(w, r).
func (f HandlerFunc) ServeH1(w *ResponseWriter, r *Request) { f(w, r) }

// Server runs the HTTP/1.x engine for one listener.
type Server struct {
	Handler Handler
	Token   any
	// OnPanic, if set, receives a value recovered from a panic in the
	// engine or a handler, called from the deferred recovery so the
	// panicking frames are still on the stack. The client gets a 500 if
	// nothing of its response was written yet; the connection is closed.
	OnPanic func(v any)
	// Accepted, if set, takes each connection Serve accepts (in its own
	// goroutine) instead of ServeConn: the core completes a TLS handshake
	// first and picks the engine the client negotiated.
	Accepted func(net.Conn)
	// Handoff, if set, takes over a connection that switches to HTTP/2 (see
	// Config.H2Prior and H2Upgrade) and serves it to its end, closing nc.
	// buffered holds the bytes read but not consumed: the whole preface for
	// prior knowledge, else what followed the upgrade request. upgrade is
	// the request that asked for "Upgrade: h2c" (nil for prior knowledge)
	// and settings its decoded HTTP2-Settings; both are valid until Handoff
	// returns.
	Handoff func(nc net.Conn, info *ConnInfo, buffered []byte, upgrade *Request, settings []byte)

	cfg      atomic.Pointer[Config]
	open     atomic.Int64
	requests atomic.Uint64
	closing  atomic.Bool
	localIP  atomic.Pointer[ipText] // the text of the last local address (ipTextOf)
	remoteIP atomic.Pointer[ipText] // the text of the last client address

	mu    sync.Mutex
	conns connList // the connections served now (not the parked ones)

	parking atomic.Bool // Serve runs: idle connections may be parked
	idleMu  sync.Mutex
	idle    *idlePoller // started by the first park

	workers workpool.Pool[job] // idle goroutines that serve connections (workers.go)
}

// SetConfig installs c for requests that start from now on. A
// whitespace-only ServerTag means no Server header, as in lighttpd.
func (s *Server) SetConfig(c Config) {
	if strings.TrimSpace(c.ServerTag) == "" {
		c.ServerTag = ""
	}
	s.cfg.Store(&c)
}

func (s *Server) config() *Config {
	if c := s.cfg.Load(); c != nil {
		return c
	}
	c := DefaultConfig()
	s.cfg.CompareAndSwap(nil, &c)
	return s.cfg.Load()
}

// OpenConns is the number of connections being served.
func (s *Server) OpenConns() int64 { return s.open.Load() }

// Requests is the number of requests handled (including invalid ones).
func (s *Server) Requests() uint64 { return s.requests.Load() }

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("h1: server closed")

// Serve accepts connections on ln and serves each in its own goroutine.
// Closing ln (the listener owner's job) ends Serve.
func (s *Server) Serve(ln net.Listener) error {
	s.parking.Store(true)
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// e.g. EMFILE: back off as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		s.dispatch(job{c: c})
	}
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// ServeConn serves c until the client or a limit ends it, then closes it.
func (s *Server) ServeConn(nc net.Conn) {
	s.open.Add(1)
	s.run(getConn(s, nc))
}

// run serves c until it is closed or parked.
func (s *Server) run(c *conn) {
	s.track(c, true)
	if c.serve() {
		return
	}
	s.letGo(c)
}

// letGo lets go of a connection that was closed or parked idle.
func (s *Server) letGo(c *conn) {
	if !c.parked {
		s.open.Add(-1)
	}
	s.track(c, false)
	putConn(c)
}

// resumeTail goes on with a connection whose deferred file waited for room
// in the idle poller (or whose wait ended: its limit, a shutdown).
func (s *Server) resumeTail(c *conn) {
	if c.continueTail() {
		return
	}
	s.letGo(c)
}

// poller returns the idle poller, starting it on first use; nil when
// connections are not parked (no Serve, shutting down, or no epoll).
func (s *Server) poller() *idlePoller {
	s.idleMu.Lock()
	defer s.idleMu.Unlock()
	if s.idle == nil && s.parking.Load() && !s.closing.Load() {
		p, err := newIdlePoller(s)
		if err != nil {
			s.parking.Store(false)
			return nil
		}
		s.idle = p
	}
	return s.idle
}

// stopParking closes the parked connections and stops the poller.
func (s *Server) stopParking() {
	s.parking.Store(false)
	s.idleMu.Lock()
	p := s.idle
	s.idleMu.Unlock()
	if p != nil {
		p.stop()
	}
}

// resume serves a parked connection whose socket became readable.
func (s *Server) resume(pc *parkedConn) {
	c := attachConn(s, pc.rwc)
	c.info = pc.info
	c.seq, c.kaIdle, c.wdl, c.armed = pc.seq, pc.kaIdle, pc.wdl, pc.armed
	// The poller took pc out of its table: no one else has it.
	putParked(pc)
	c.rdl = time.Unix(1, 0) // the grace deadline that expired is still set
	// Bytes (or a hang-up) are waiting: read them before any grace limit
	// can send the connection back (a read whose deadline has passed
	// fails without trying).
	c.resumed = true
	s.run(c)
}

func (s *Server) closeParked(pc *parkedConn) {
	pc.rwc.Close()
	s.open.Add(-1)
}

func (s *Server) track(c *conn, add bool) {
	s.mu.Lock()
	if add {
		s.conns.add(c)
	} else {
		s.conns.remove(c)
	}
	s.mu.Unlock()
}

// Shutdown closes idle keep-alive connections now and lets in-flight
// requests finish (their connections close afterwards). It returns when no
// connection is left or ctx ends; then remaining connections are closed.
// Stopping the accept loop (closing the listener) is the caller's job.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.stopParking()
	s.stopWorkers()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		s.conns.each(func(c *conn) {
			if c.idle.Load() {
				// Wake the blocked read; the loop sees closing and exits.
				c.rwc.SetReadDeadline(time.Unix(1, 0))
			}
		})
		n := s.conns.n
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			s.Close()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Close closes every connection at once.
func (s *Server) Close() error {
	s.closing.Store(true)
	s.stopParking()
	s.stopWorkers()
	s.mu.Lock()
	s.conns.each(func(c *conn) { c.rwc.Close() })
	s.mu.Unlock()
	return nil
}

// conn is one client connection; pooled with its buffers. Its flags are
// kept together, after the fields of their groups, so that no padding
// pushes it past the allocator's 3,456-byte size class (the next one is
// 4,096: TestConnSizeClass).
type conn struct {
	srv        *Server
	rwc        net.Conn
	prev, next *conn // Server.conns
	cfg        *Config
	opts       ParseOptions
	info       ConnInfo

	buf        []byte // read buffer: [0:bodyBase) current head, [r:w) unread bytes
	bigArr     *[minReadBuf]byte
	small      [smallReadBuf]byte
	r, w       int
	bodyBase   int
	wbuf       []byte          // output buffer, only held while a response is being written
	wbufArr    *[wbufSize]byte // wbuf's pooled backing array
	werr       error
	seq        int
	readLimit  time.Time // total head deadline (zero: none)
	rdl, wdl   time.Time // read and write deadlines last set on rwc
	idle       atomic.Bool
	bodyStop   atomic.Bool   // Body.Interrupt was called for the current request
	sends      uint64        // writes to rwc so far (ResponseWriter.Discard)
	kaIdle     time.Duration // keep-alive idle limit chosen for the last response
	hijacked   *tunnelConn   // the handler took the connection over (Hijack)
	closeLater []io.Closer   // closed once the response is out (ResponseWriter.DeferClose)

	tailUntil time.Time // a deferred file waiting for room fails after this (zero: never)

	// Parking (idle.go): a head wait with nothing buffered lasts at most
	// Config.IdleGrace in the goroutine, then the connection is parked
	// until idleUntil (the flags canPark to armed below).
	idleUntil time.Time

	sf         sendState          // the running sendfileChunks (sendfile.go)
	mss        mssCache           // the socket's segment size for chunk alignment
	sendfileFn func(uintptr) bool // c.sendfileStep, bound once

	rawc   syscall.RawConn // a plain socket's descriptor access (rawio.go), once made
	raw    rawState
	linger lingerArm // closeLingering's hand-off to the poller (linger.go)

	onSmall     bool // buf is the small inline one (idle, or a head that fits)
	handling    bool // c.req is being parsed or served (a panic gets a 500)
	noKeepAlive bool
	h2prior     bool // the connection opened with the HTTP/2 preface
	rawTried    bool // rawc was asked for
	canPark     bool // the socket can be watched by descriptor
	graceWait   bool // the read deadline set is the grace limit
	parked      bool // handed to the idle poller: this goroutine lets go
	resumed     bool // woken by the poller: the next read waits in full
	armed       bool // the descriptor is in the poller's epoll set

	need int32 // read buffer size the current Config requires (beside the flags: no padding)

	req  Request
	body Body
	rw   ResponseWriter
}

const (
	minReadBuf   = 16 << 10
	smallReadBuf = 2 << 10
	wbufSize     = 16 << 10
	// chunkRoom is the room a chunked body needs behind its head for a
	// chunk-size line (lighttpd refuses lines of 1024 bytes or more).
	chunkRoom = 1025
)

var connPool = sync.Pool{New: func() any {
	c := new(conn)
	c.buf, c.onSmall = c.small[:], true
	return c
}}

// Read buffers are pooled apart from connections: a connection reads into
// its small inline buffer and takes a full one only when a head does not
// fit (or a chunked body needs room behind it), so idle connections and
// long downloads of ordinary requests hold no read buffer.
var rbufPool = sync.Pool{New: func() any { return new([minReadBuf]byte) }}

// bigBuf makes c.buf a full-size read buffer, keeping unread bytes.
func (c *conn) bigBuf() {
	if !c.onSmall && len(c.buf) >= int(c.need) {
		return
	}
	var nb []byte
	old := c.bigArr
	if c.need <= minReadBuf {
		if old == nil {
			c.bigArr = rbufPool.Get().(*[minReadBuf]byte)
		}
		nb = c.bigArr[:]
	} else {
		nb = make([]byte, c.need)
		c.bigArr = nil
	}
	n := copy(nb, c.buf[c.r:c.w])
	if old != nil && c.bigArr == nil {
		bufpoison.Fill(old[:])
		rbufPool.Put(old)
	}
	c.buf, c.r, c.w, c.onSmall = nb, 0, n, false
}

// smallBuf returns a pooled read buffer while nothing is buffered.
func (c *conn) smallBuf() {
	if c.bigArr != nil {
		bufpoison.Fill(c.bigArr[:])
		rbufPool.Put(c.bigArr)
		c.bigArr = nil
	}
	c.buf, c.r, c.w, c.onSmall = c.small[:], 0, 0, true
}

// Output buffers are pooled apart from connections so an idle keep-alive
// connection holds only its read buffer.
var wbufPool = sync.Pool{New: func() any { return new([wbufSize]byte) }}

func (c *conn) acquireW() {
	if c.wbufArr == nil {
		c.wbufArr = wbufPool.Get().(*[wbufSize]byte)
		c.wbuf = c.wbufArr[:0]
	}
}

// releaseW returns the output buffer once everything was written.
func (c *conn) releaseW() {
	if c.wbufArr != nil && len(c.wbuf) == 0 {
		wbufPool.Put(c.wbufArr)
		c.wbufArr, c.wbuf = nil, nil
	}
}

func getConn(s *Server, nc net.Conn) *conn {
	c := attachConn(s, nc)
	c.rdl, c.wdl = time.Time{}, time.Time{} // a new socket has none set
	c.info = ConnInfo{Conn: nc, RemoteAddr: nc.RemoteAddr(), LocalAddr: nc.LocalAddr(), Token: s.Token}
	if ta, ok := c.info.RemoteAddr.(*net.TCPAddr); ok {
		c.info.Remote = ta.AddrPort()
		c.info.RemoteIP, c.info.RemotePort = ipTextOf(&s.remoteIP, c.info.Remote.Addr().Unmap()), ta.Port
	}
	if la, ok := c.info.LocalAddr.(*net.TCPAddr); ok {
		c.info.LocalIP, c.info.LocalPort = ipTextOf(&s.localIP, la.AddrPort().Addr().Unmap()), la.Port
	}
	_, c.info.TLS = nc.(tlsConn)
	if p, ok := nc.(proxyTLSConn); ok {
		c.info.ProxyTLS = p.ProxyTLS()
	}
	return c
}

// ipText is an address with its text.
type ipText struct {
	ip   netip.Addr
	text string
}

// ipTextOf returns ip's text, reusing the last one made in last: the local
// address of a server's connections is nearly always the same, and so is
// the client address behind a reverse proxy or a load balancer's health
// checks (formatting it was 0.3-0.5 us of a connection); a miss costs one
// small allocation more.
func ipTextOf(last *atomic.Pointer[ipText], ip netip.Addr) string {
	if t := last.Load(); t != nil && t.ip == ip {
		return t.text
	}
	t := &ipText{ip: ip, text: ip.String()}
	last.Store(t)
	return t.text
}

// attachConn takes a pooled conn for nc.
func attachConn(s *Server, nc net.Conn) *conn {
	c := connPool.Get().(*conn)
	c.srv, c.rwc = s, nc
	c.canPark = IsRawSocket(nc)
	c.req.Conn = &c.info
	c.req.Body = &c.body
	c.rw.c = c
	return c
}

func putConn(c *conn) {
	c.srv, c.rwc, c.cfg = nil, nil, nil
	c.info = ConnInfo{}
	c.r, c.w, c.bodyBase, c.seq = 0, 0, 0, 0
	c.rw.doneAt = 0 // a reading of this connection's, stale for the next
	c.wbuf = c.wbuf[:0]
	c.releaseW()
	c.werr = nil
	c.handling = false
	c.hijacked = nil
	c.closeDeferred()
	c.bodyStop.Store(false)
	c.noKeepAlive = false
	c.h2prior = false
	c.parked, c.armed, c.graceWait, c.resumed = false, false, false, false
	c.rawc, c.rawTried = nil, false
	c.idle.Store(false)
	c.req.reset()
	c.rw.tail, c.rw.tailState, c.tailUntil = fileSpan{}, nil, time.Time{}
	c.mss = mssCache{}
	c.body = Body{}
	c.smallBuf()
	bufpoison.Fill(c.small[:])
	connPool.Put(c)
}

// serve serves c to its end; true when c was handed to the idle poller to
// wait for room for a deferred file (another goroutine owns it from then on).
func (c *conn) serve() (handedOff bool) {
	defer c.recoverPanic()
	// A resumed connection was offered when it was accepted.
	if ca, ok := c.srv.Handler.(ConnAcceptor); ok && !c.resumed && ca.AcceptConn(&c.info) {
		c.rwc.Close()
		return false
	}
	return c.loop()
}

// recoverPanic answers a panic of the engine or a handler (deferred).
func (c *conn) recoverPanic() {
	if v := recover(); v != nil {
		c.closeDeferred()
		if c.srv.OnPanic != nil {
			c.srv.OnPanic(v)
		}
		c.answerPanic()
		c.rwc.Close()
	}
}

// continueTail sends more of a deferred file after a wait in the poller,
// then serves the connection's next requests; true as for serve.
func (c *conn) continueTail() (handedOff bool) {
	defer c.recoverPanic()
	if c.runTail() {
		return true
	}
	if !c.afterHandle() {
		c.closeLingering()
		return false
	}
	return c.loop()
}

// loop reads and serves requests until the connection ends or is parked.
func (c *conn) loop() (handedOff bool) {
	for {
		c.cfg = c.srv.config()
		// Room for a whole head plus a chunk-size line behind it.
		// The key is 32-bit unsigned: past 2 GiB a head is unbounded anyway.
		c.need = int32(min(max(c.cfg.MaxRequestFieldSize+1+2048, minReadBuf), math.MaxInt32))
		if !c.onSmall {
			c.bigBuf()
		}
		c.opts = c.cfg.Parse
		if c.info.TLS || c.info.ProxyTLS {
			c.opts.SchemePort = 443
		}
		c.opts.MaxRequestSize = c.cfg.MaxRequestSize
		ok := c.readRequest()
		if !ok {
			if !c.parked {
				c.rwc.Close()
			}
			return false
		}
		if c.handoffH2() {
			return false
		}
		keep, handedOff := c.handle()
		if handedOff {
			return true
		}
		if !keep {
			c.closeLingering()
			return false
		}
	}
}

// readRequest reads and parses the next head. false: close silently.
func (c *conn) readRequest() bool {
	if c.r > 0 { // move pipelined bytes to the front
		c.w = copy(c.buf, c.buf[c.r:c.w])
		c.r = 0
	}
	c.bodyBase = 0
	c.seq++
	req := &c.req
	discarded := false
	c.readLimit = time.Time{}
	for {
		if c.w > 0 {
			hl, lines := FindHead(c.buf[:c.w])
			if n := max(hl, c.w*boolInt(hl == 0)); n > c.cfg.MaxRequestFieldSize || lines >= maxHeadLines {
				c.headError(431, "oversized request-header -> sending Status 431")
				return true
			}
			if hl > 0 {
				if c.seq == 1 && hl == len(h2Preface) && c.wantsPrior() && string(c.buf[:hl]) == h2Preface {
					c.h2prior = true
					return true
				}
				if lines > 0 {
					// The head deadline stays armed: every later read
					// (body, next head) sets its own first.
					c.handling, c.rw.wroteHead = true, false
					ParseRequest(c.buf[:hl], req, &c.opts)
					if c.onSmall && req.Chunked && len(c.buf)-hl < chunkRoom {
						// Chunk-size lines are read behind the head.
						c.bigBuf()
						ParseRequest(c.buf[:hl], req, &c.opts)
					}
					c.r = hl
					c.bodyBase = hl
					return true
				}
				if c.seq > 1 && !discarded {
					if hl == c.w {
						goto read
					}
					if ch := c.buf[hl]; ch != '\r' && ch != '\n' {
						c.w = copy(c.buf, c.buf[hl:c.w])
						discarded = true
						continue
					}
				}
			}
			if c.buf[0] < 0x20 {
				why := "invalid request-line -> sending Status 400"
				if c.buf[0] == 0x16 {
					why = "unexpected TLS ClientHello on clear port"
				}
				c.headError(400, why)
				return true
			}
		}
	read:
		if c.w == 0 && c.bigArr != nil {
			c.smallBuf()
		}
		if c.w == 0 && c.seq > 1 {
			// Keep-alive connection waiting for its next request: idle.
			c.idle.Store(true)
			if c.srv.closing.Load() {
				return false
			}
		}
		if c.parksFirst() {
			switch c.readNow() {
			case nothingYet:
				if p := c.srv.poller(); p != nil && p.park(c, c.headDeadline(monoclock.Now())) {
					c.parked = true
					return false
				}
			case readSome:
				if c.onSmall && c.w == len(c.buf) {
					c.bigBuf()
				}
				continue
			} // the end of the stream or an error: the read below reports it
		}
		c.setHeadDeadline()
		n, err := c.read(c.buf[c.w:])
		c.idle.Store(false)
		c.w += n
		if err != nil && n == 0 {
			if c.graceWait && c.w == 0 && errors.Is(err, os.ErrDeadlineExceeded) && !c.srv.closing.Load() {
				if now := time.Now(); c.idleUntil.IsZero() || now.Before(c.idleUntil) {
					if p := c.srv.poller(); p != nil && p.park(c, c.idleUntil) {
						c.parked = true
						return false
					}
					c.canPark = false // wait here for the rest of the idle limit
					continue
				}
			}
			return false
		}
		if c.onSmall && c.w == len(c.buf) {
			c.bigBuf()
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// parksFirst reports whether c, a new connection, is parked (idle.go) at
// once if its request is not there yet, rather than waiting in its
// goroutine: lighttpd's event loop waits for it the same way, and a socket
// that package rawaccept has not put in the netpoller need not enter it
// (with a connection per request that saved 2 µs of the server's 25 per
// request; with 64 clients, two thirds of the connections were accepted
// before their request came).
func (c *conn) parksFirst() bool {
	return c.seq == 1 && c.w == 0 && !c.resumed && c.canPark && c.cfg.idleGrace() > 0 &&
		c.srv.parking.Load() && !c.srv.closing.Load()
}

// headDeadline is when the wait for a request head ends: the idle limit
// from now, or the head's own limit if that is sooner (zero: none). The
// head's limit runs from the first wait for a head that has begun (any
// head of a new connection, a later one once its first bytes came), so a
// head that arrives whole reads no clock for it.
func (c *conn) headDeadline(now time.Time) time.Time {
	if c.readLimit.IsZero() && c.cfg.HeadTimeout > 0 && (c.w > 0 || c.seq == 1) {
		c.readLimit = now.Add(c.cfg.HeadTimeout)
	}
	idle := c.cfg.MaxReadIdle
	if c.seq > 1 {
		idle = c.kaIdle
	}
	var d time.Time
	if idle > 0 {
		d = now.Add(idle)
	}
	if !c.readLimit.IsZero() && (d.IsZero() || c.readLimit.Before(d)) {
		d = c.readLimit
	}
	return d
}

func (c *conn) setHeadDeadline() {
	now := c.rw.takeDone()
	d := c.headDeadline(now)
	c.graceWait = false
	resumed := c.resumed
	c.resumed = false
	if grace := c.cfg.idleGrace(); c.w == 0 && c.canPark && !resumed && grace > 0 && c.srv.parking.Load() {
		if g := now.Add(grace); d.IsZero() || g.Before(d) {
			// Wait here only briefly, then park (idle.go). The deadline
			// may lag by a quarter of the grace: timers are not reset
			// on every request of a busy connection.
			c.idleUntil, c.graceWait = d, true
			if c.rdl.IsZero() || c.rdl.After(g) || g.Sub(c.rdl) >= grace/4 {
				c.rwc.SetReadDeadline(g)
				c.rdl = g
			}
			return
		}
	}
	c.setReadDeadline(d)
}

// deadlineSlack is how far a deadline already set may lag the wanted one
// before it is reset: lighttpd checks its timeouts once a second, and
// resetting the runtime's timers twice per request costs measurable time
// on the keep-alive path.
const deadlineSlack = time.Second

// closeEnough reports whether the deadline set (cur) can stand for want: both
// unset, or cur at most deadlineSlack earlier than want (never later).
func closeEnough(cur, want time.Time) bool {
	return closeWithin(cur, want, deadlineSlack)
}

// closeWithin is closeEnough with the given slack.
func closeWithin(cur, want time.Time, slack time.Duration) bool {
	if cur.IsZero() || want.IsZero() {
		return cur.IsZero() && want.IsZero()
	}
	return !cur.After(want) && want.Sub(cur) < slack
}

func (c *conn) setReadDeadline(d time.Time) {
	if !closeEnough(c.rdl, d) {
		c.rwc.SetReadDeadline(d)
		c.rdl = d
	}
}

func (c *conn) headError(status int, why string) {
	c.req.reset()
	c.req.Status, c.req.Reason = status, why
	c.r, c.w = 0, 0 // the rest of the stream is not trusted
	c.setReadDeadline(time.Time{})
}

// handle runs the handler for c.req and reports whether to keep the
// connection, or that it was handed to the poller (runTail).
func (c *conn) handle() (keep, handedOff bool) {
	req := &c.req
	req.Seq = c.seq
	c.srv.requests.Add(1)
	if req.Status == 0 {
		if c.seq > c.cfg.MaxKeepAliveRequests || c.cfg.MaxKeepAliveIdle <= 0 || c.srv.closing.Load() {
			req.KeepAlive = false
		}
		c.body.reset(c, req, c.cfg.MaxRequestSize)
	} else {
		c.body.reset(c, req, 0)
	}
	c.rw.reset(req)
	c.kaIdle = c.cfg.MaxKeepAliveIdle
	c.handling = true
	c.srv.Handler.ServeH1(&c.rw, req)
	c.handling = false
	return c.afterServe()
}

// afterServe goes on once the handler returned: a suspended handler waits
// in the poller (handedOff), a tunnel ends the connection, a deferred file
// is sent, then the exchange completes (afterHandle).
func (c *conn) afterServe() (keep, handedOff bool) {
	if c.rw.susp.rc != nil || c.hijacked != nil || c.rw.tail.fd.Valid() {
		// What follows may wait long: nothing holds a backend meanwhile.
		c.closeDeferred()
	}
	if c.rw.susp.rc != nil {
		if c.suspend() {
			return false, true
		}
		c.resumeHandler() // it waits here instead
	}
	if c.hijacked != nil {
		// A tunnel ended: the connection carries no more HTTP.
		c.hijacked = nil
		c.werr = net.ErrClosed
		c.rwc.Close()
		return false, false
	}
	if c.rw.tail.fd.Valid() && c.runTail() {
		return false, true
	}
	return c.afterHandle(), false
}

// afterHandle completes the exchange once the response is out (its framing,
// a flush) and reports whether to keep the connection. The closes deferred
// by the handler run last, before anything else (a pipelined request) can
// ask the same backend for a connection.
func (c *conn) afterHandle() bool {
	keep := c.completeExchange()
	c.closeDeferred()
	return keep
}

// closeDeferred closes what ResponseWriter.DeferClose was given.
func (c *conn) closeDeferred() {
	for i, x := range c.closeLater {
		x.Close()
		c.closeLater[i] = nil
	}
	c.closeLater = c.closeLater[:0]
}

func (c *conn) completeExchange() bool {
	if c.bodyStop.Swap(false) {
		c.rdl = time.Unix(1, 0) // what Interrupt set on the socket
	}
	c.rw.finish()
	if bufpoison.Enabled() {
		c.poisonConsumed()
	}
	if c.werr != nil {
		return false
	}
	if !c.rw.keepAlive || c.noKeepAlive {
		// The output buffer is not held through the lingering close: with
		// a connection per request, dozens wait there for the client's FIN.
		c.flush()
		c.releaseW()
		return false
	}
	// Batch responses to pipelined requests: flush only when no complete
	// head is waiting (or the buffer is getting full).
	if len(c.wbuf) > wbufSize/2 || !c.headBuffered() {
		c.flush()
		c.releaseW()
	}
	return c.werr == nil
}

// poisonConsumed overwrites the bytes of the request that just ended (its
// head and the body bytes read from the buffer), keeping pipelined ones:
// every string the request handed out now reads as garbage (bufpoison).
func (c *conn) poisonConsumed() {
	c.w = copy(c.buf, c.buf[c.r:c.w])
	c.r, c.bodyBase = 0, 0
	bufpoison.Fill(c.buf[c.w:])
}

// panicResponse is what a client gets when serving its request panicked
// before any of the response was sent (lighttpd answers an internal error
// with 500, never with silence).
const panicResponse = "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

// answerPanic sends panicResponse for the current request unless part of
// its response already went out (then the close truncates it).
func (c *conn) answerPanic() {
	if !c.handling || c.werr != nil || !c.rw.Discard() {
		return
	}
	c.acquireW()
	c.wbuf = append(c.wbuf, panicResponse...)
	c.flush()
}

func (c *conn) headBuffered() bool {
	if c.r >= c.w {
		return false
	}
	return bytes.Contains(c.buf[c.r:c.w], []byte("\r\n\r\n"))
}

// readBody serves body bytes: buffered ones first, else straight from the
// socket into p.
func (c *conn) readBody(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if c.r < c.w {
		n := copy(p, c.buf[c.r:c.w])
		c.r += n
		return n, nil
	}
	c.r, c.w = c.bodyBase, c.bodyBase
	if c.werr != nil {
		return 0, c.werr
	}
	c.setReadIdle()
	if c.bodyStop.Load() { // checked after the deadline: Interrupt's wins
		return 0, ErrBodyInterrupted
	}
	n, err := c.read(p)
	if n > 0 {
		err = nil
	}
	return n, err
}

// fill makes at least n unread bytes available in buf[c.r:c.w].
func (c *conn) fill(n int) error {
	for c.w-c.r < n {
		if len(c.buf)-c.r < n || c.w == len(c.buf) {
			c.w = c.bodyBase + copy(c.buf[c.bodyBase:], c.buf[c.r:c.w])
			c.r = c.bodyBase
		}
		c.setReadIdle()
		if c.bodyStop.Load() {
			return ErrBodyInterrupted
		}
		m, err := c.read(c.buf[c.w:])
		c.w += m
		if err != nil && c.w-c.r < n {
			return err
		}
	}
	return nil
}

// chunkLine returns the next chunk-size line (through its LF) without
// consuming it; lighttpd refuses lines of 1024 bytes or more.
func (c *conn) chunkLine() ([]byte, error) {
	for {
		avail := c.buf[c.r:c.w]
		if i := bytes.IndexByte(avail, '\n'); i >= 0 {
			if i+1 >= 1024 {
				return nil, &BodyError{400, "chunked header line too long -> 400"}
			}
			return avail[:i+1], nil
		}
		if len(avail) >= 1024 {
			return nil, &BodyError{400, "chunked header line too long -> 400"}
		}
		if err := c.fill(len(avail) + 1); err != nil {
			return nil, ErrBodyTruncated
		}
	}
}

// maybeContinue sends "100 Continue" before the first body read when the
// client asked for it and has sent no body byte yet.
func (c *conn) maybeContinue() error {
	req := &c.req
	if !req.Expect100 || req.Proto != HTTP11 || c.rw.wroteHead || c.r < c.w || len(c.wbuf) > 0 {
		return nil
	}
	req.Expect100 = false
	c.acquireW()
	c.wbuf = append(c.wbuf, "HTTP/1.1 100 Continue\r\n\r\n"...)
	return c.flush()
}

// flush writes the buffered output.
func (c *conn) flush() error {
	if c.werr != nil || len(c.wbuf) == 0 {
		c.wbuf = c.wbuf[:0]
		return c.werr
	}
	c.beforeWrite()
	c.sends++
	_, err := c.write(c.wbuf)
	c.wbuf = c.wbuf[:0]
	if err != nil {
		c.werr = err
	}
	return err
}

func (c *conn) setReadIdle() {
	var d time.Time
	if c.cfg.MaxReadIdle > 0 {
		d = time.Now().Add(c.cfg.MaxReadIdle)
	}
	c.setReadDeadline(d)
}

// beforeWrite readies the write deadline for a write of c's. A raw write
// sets it only once it must wait (rawWritev, rawSendMore), so a response
// that the socket takes at once, nearly every small one, costs no clock
// reads and no runtime timer (a connection per request read the clock
// three times and armed a timer for it, 2% of its user time). A deadline
// set before is renewed as it was: one that passed would fail the next
// write at once.
func (c *conn) beforeWrite() {
	if c.sock() == nil || !c.wdl.IsZero() {
		c.setWriteDeadline()
	}
}

func (c *conn) setWriteDeadline() {
	c.rw.doneAt = 0 // the write may wait: the handler's end time goes stale
	if c.cfg.MaxWriteIdle <= 0 {
		return
	}
	// A download sets this before every chunk: the timer is reset at
	// most every slack, and the limit holds to within a quarter.
	slack := min(deadlineSlack, c.cfg.MaxWriteIdle/4)
	if d := monoclock.Now().Add(c.cfg.MaxWriteIdle); !closeWithin(c.wdl, d, slack) {
		c.rwc.SetWriteDeadline(d)
		c.wdl = d
	}
}

// writeBufs writes wbuf followed by p with one writev where possible.
func (c *conn) writeBufs(p []byte) error {
	if c.werr != nil {
		return c.werr
	}
	c.acquireW()
	if len(c.wbuf)+len(p) <= cap(c.wbuf) {
		c.wbuf = append(c.wbuf, p...)
		return nil
	}
	c.beforeWrite()
	c.sends++
	_, err := c.writev([][]byte{c.wbuf, p})
	c.wbuf = c.wbuf[:0]
	if err != nil {
		c.werr = err
	}
	return err
}

// EachConn calls f with every open connection of s and whether it waits
// for a keep-alive request, until f returns false. f must not keep ci.
func (s *Server) EachConn(f func(ci *ConnInfo, idle bool) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := s.conns.head; c != nil; c = c.next {
		if !f(&c.info, c.idle.Load()) {
			return
		}
	}
}
