package h2

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golighty/golighty/core/h1"
	"github.com/golighty/golighty/core/workpool"
)

// Config holds the limits of one listener (lighttpd's server.* keys). The
// core may replace it on reload with SetConfig; each connection reads the
// current one when a stream starts.
type Config struct {
	// MaxConcurrentStreams is advertised in SETTINGS and enforced (lighttpd
	// 1.4.69 advertises 8).
	MaxConcurrentStreams uint32
	// MaxRequestFieldSize bounds the decoded request header fields, counted
	// as lighttpd does (name + value + 4 per field); more gives 431.
	MaxRequestFieldSize int
	// MaxRequestSize is server.max-request-size in bytes (0 = unlimited).
	MaxRequestSize int64
	// MaxKeepAliveIdle closes a connection without streams after this
	// long; MaxReadIdle bounds waiting for request body data; MaxWriteIdle
	// bounds a blocked socket write and a stream that the client's flow
	// control window keeps from sending.
	MaxKeepAliveIdle time.Duration
	MaxReadIdle      time.Duration
	MaxWriteIdle     time.Duration
	// HeadTimeout bounds the connection preface and each header block from
	// its first frame (as core/h1 bounds a request head).
	HeadTimeout time.Duration
	ServerTag   string // server.tag; empty: no server header
	// Inline runs the handler of a stream without a body on the
	// connection's reader goroutine (inline.go): for handlers that call
	// ResponseWriter.Detach before anything slow.
	Inline bool
	Parse  h1.ParseOptions
}

// DefaultConfig returns lighttpd 1.4.69's defaults.
func DefaultConfig() Config {
	return Config{
		MaxConcurrentStreams: 8,
		MaxRequestFieldSize:  8192,
		MaxKeepAliveIdle:     5 * time.Second,
		MaxReadIdle:          60 * time.Second,
		MaxWriteIdle:         360 * time.Second,
		HeadTimeout:          30 * time.Second,
		ServerTag:            "lighttpd/1.4.69",
		Parse:                h1.DefaultParseOptions(),
	}
}

// Handler serves one request. When r.Status != 0 the request was refused
// by lighttpd's rules: the handler renders the error response for that
// status. The handler must not keep r or w after returning.
type Handler interface {
	ServeH2(w *ResponseWriter, r *Request)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(w *ResponseWriter, r *Request)

// ServeH2 calls f(w, r).
func (f HandlerFunc) ServeH2(w *ResponseWriter, r *Request) { f(w, r) }

// Server runs HTTP/2 connections for one listener.
type Server struct {
	Handler Handler
	Token   any // identifies the listener ($SERVER["socket"]); copied to ConnInfo
	// OnPanic, if set, receives a value recovered from a panicking handler
	// (the stream is then reset).
	OnPanic func(v any)

	cfg      atomic.Pointer[Config]
	closing  atomic.Bool
	open     atomic.Int64
	requests atomic.Uint64

	mu    sync.Mutex
	conns map[*conn]struct{}

	workers workpool.Pool[*stream] // idle handler goroutines
}

// run serves s on the idle worker that finished last, or on a new one
// (core/workpool). Reusing goroutines keeps their grown stacks: a new
// goroutine per stream spends measurable time growing its stack through
// the pipeline. Idle workers retire by themselves within two seconds.
func (srv *Server) run(s *stream) { srv.workers.Dispatch((*runner)(srv), s) }

// runner is the Server as its worker pool's workpool.Runner.
type runner Server

// RunJob runs the stream's handler.
func (r *runner) RunJob(s *stream) { s.c.runHandler(s) }

// SetConfig installs c for streams that start from now on.
func (s *Server) SetConfig(c Config) {
	if strings.TrimSpace(c.ServerTag) == "" {
		c.ServerTag = ""
	}
	if c.MaxConcurrentStreams == 0 {
		c.MaxConcurrentStreams = 8
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

// OpenConns is the number of HTTP/2 connections being served, less those
// handed over by the HTTP/1.x engine (which counts them).
func (s *Server) OpenConns() int64 { return s.open.Load() }

// Requests is the number of streams handed to the handler.
func (s *Server) Requests() uint64 { return s.requests.Load() }

// ConnOptions describe how a connection reached the engine.
type ConnOptions struct {
	// Info describes the connection (addresses, TLS); when nil it is
	// computed from the net.Conn.
	Info *h1.ConnInfo
	// Buffered holds bytes already read from the connection: the preface
	// (prior knowledge through core/h1) or bytes that followed an upgrade
	// request.
	Buffered []byte
	// Upgrade is the HTTP/1.1 request that asked for "Upgrade: h2c": it is
	// answered with 101 and served as stream 1. Settings is its decoded
	// HTTP2-Settings payload.
	Upgrade  *h1.Request
	Settings []byte
	// HandedOver: the HTTP/1.x engine passed the connection on and still
	// counts it, so OpenConns leaves it out.
	HandedOver bool
}

// ServeConn serves nc as an HTTP/2 connection until it ends, then closes
// it. With opts.Upgrade it first answers "101 Switching Protocols".
func (s *Server) ServeConn(nc net.Conn, opts ConnOptions) {
	if s.closing.Load() {
		nc.Close()
		return
	}
	c := newConn(s, nc, &opts)
	s.track(c, true)
	if !opts.HandedOver {
		s.open.Add(1)
		defer s.open.Add(-1)
	}
	defer s.track(c, false)
	c.serve(&opts)
}

func (s *Server) track(c *conn, add bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.conns == nil {
			s.conns = make(map[*conn]struct{})
		}
		s.conns[c] = struct{}{}
		return
	}
	delete(s.conns, c)
}

// Shutdown sends GOAWAY on every connection (RFC 9113 §6.8's two steps, so
// streams in flight are still served), lets open streams finish and closes
// each connection once it has none. It returns when no connection is left
// or ctx ends; then the remaining ones are closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		for c := range s.conns {
			c.beginShutdown()
		}
		n := len(s.conns)
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
	s.mu.Lock()
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	return nil
}

// ErrStreamClosed is returned by writes and body reads on a stream that was
// reset (by the client, a limit or a protocol error) or whose connection is
// gone.
var ErrStreamClosed = errors.New("h2: stream closed")
