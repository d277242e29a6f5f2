package gw

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golighty/golighty/core"
)

// Peer names the backend of a response in log lines.
type Peer struct {
	Proto string // "fastcgi", "scgi", "proxy", "ajp13", "cgi"
	Addr  string // lighttpd's connection name ("unix:/tmp/php.sock-0") or the script
	PID   int
}

// TransferBody moves a backend's response body from src to the client after
// rc.BackendHeaders accepted the head. cl is the backend's Content-Length
// (-1: none; shorter bodies are errors). See Transfer.
func TransferBody(rc *core.Request, src io.Reader, cl int64, peer *Peer, timedOut func(error) bool) core.Result {
	return Transfer(rc, core.BackendBody{R: src, ContentLength: cl}, peer, timedOut)
}

// Transfer moves a backend's response body to the client the way
// server.stream-response-body asks (core.SendBackendBody): buffered whole,
// in memory and then in a temporary file, with Content-Length and Range
// (0, the default); streamed with the backend read ahead (1); streamed with
// backpressure (2). A body b knows to be ready with its head (b.Ready) is
// sent whole in every mode. A failure before anything was sent is a 502
// (504 when timedOut says so); after, the connection is cut so the client
// sees the truncation.
func Transfer(rc *core.Request, b core.BackendBody, peer *Peer, timedOut func(error) bool) core.Result {
	err := rc.SendBackendBody(b)
	switch {
	case err == nil:
	case rc.Resp.Started():
		rc.Logf("response already sent out, but backend returned error on socket: %s for %s?%s, terminating connection: %v", peer.Addr, rc.URI.Path, rc.URI.Query, err)
	default:
		return bodyError(rc, err, peer, timedOut)
	}
	return core.Finished
}

// bodyError turns a failure while buffering the body into an error
// response: 504 for a read timeout, else 502 (lighttpd would send the
// truncated body as if complete).
func bodyError(rc *core.Request, err error, peer *Peer, timedOut func(error) bool) core.Result {
	status := 502
	if IsTimeout(err) || (timedOut != nil && timedOut(err)) {
		rc.Logf("read timeout on socket: %s", peer.Addr)
		status = 504
	} else {
		rc.Logf("unexpected end-of-file (perhaps the %s process died):pid: %d socket: %s", peer.Proto, peer.PID, peer.Addr)
		rc.Logf("response body incomplete on socket: %s for %s?%s: %v", peer.Addr, rc.URI.Path, rc.URI.Query, err)
	}
	rc.Resp.Header.Reset()
	rc.Resp.Dynamic = false
	rc.Resp.Status = status
	return core.Finished
}

// ErrReader remembers the last error of a backend stream, so a failure
// inside the core's header parser can still be told apart (timeout: 504).
type ErrReader struct {
	R   io.Reader
	Err error
}

func (e *ErrReader) Read(p []byte) (int, error) {
	n, err := e.R.Read(p)
	if err != nil {
		e.Err = err
	}
	return n, err
}

// TimedOut reports whether the last error was a timeout.
func (e *ErrReader) TimedOut(error) bool { return e.Err != nil && IsTimeout(e.Err) }

// ClientCheckInterval is how often requests waiting for their backend's
// first byte check that their client is still there (nanoseconds; tests
// shorten it).
var ClientCheckInterval atomic.Int64

func init() { ClientCheckInterval.Store(int64(time.Second)) }

// ClientWatch aborts a backend request when the client resets its
// connection before the backend has answered (a slow script for a client
// that gave up); lighttpd learns the same from its event loop. One
// goroutine checks every waiting request once per interval, and only while
// some request waits, so a fast request costs a list insert and removal,
// not a timer. The zero value is ready for Start; a handler embeds one, so
// a request allocates nothing for it.
type ClientWatch struct {
	mu      sync.Mutex
	done    bool // the waiting ended: rc may be recycled, touch nothing
	aborted bool
	rc      *core.Request
	abort   Aborter

	// The waiting list's links, guarded by waiting.mu.
	prev, next *ClientWatch
	listed     bool
}

// Aborter ends a backend request from another goroutine (closes its
// connection, or moves its read deadline into the past).
type Aborter interface{ Abort() }

// AbortFunc makes a function an Aborter.
type AbortFunc func()

// Abort calls f.
func (f AbortFunc) Abort() { f() }

var waiting struct {
	mu      sync.Mutex
	head    *ClientWatch // a doubly linked list: a map cost 0.3 µs a request
	checker bool         // the checking goroutine runs
}

// WatchClient starts watching rc's client in a new ClientWatch (see Start).
func WatchClient(rc *core.Request, abort func()) *ClientWatch {
	w := new(ClientWatch)
	w.Start(rc, AbortFunc(abort))
	return w
}

// Start watches rc's client: abort runs (once, from another goroutine) if
// the client resets its connection before Stop. A stopped watch may be
// started again.
func (w *ClientWatch) Start(rc *core.Request, abort Aborter) {
	w.mu.Lock()
	w.done, w.aborted, w.rc, w.abort = false, false, rc, abort
	w.mu.Unlock()
	waiting.mu.Lock()
	w.prev, w.next, w.listed = nil, waiting.head, true
	if w.next != nil {
		w.next.prev = w
	}
	waiting.head = w
	if !waiting.checker {
		waiting.checker = true
		go checkClients()
	}
	waiting.mu.Unlock()
}

// checkClients runs while requests wait, checking each once per interval.
func checkClients() {
	var batch []*ClientWatch
	for {
		time.Sleep(time.Duration(ClientCheckInterval.Load()))
		waiting.mu.Lock()
		if waiting.head == nil {
			waiting.checker = false
			waiting.mu.Unlock()
			return
		}
		batch = batch[:0]
		for w := waiting.head; w != nil; w = w.next {
			batch = append(batch, w)
		}
		waiting.mu.Unlock()
		for _, w := range batch {
			w.check()
		}
		clear(batch)
	}
}

func (w *ClientWatch) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done && !w.aborted && w.rc.ClientReset() {
		w.aborted = true
		w.abort.Abort()
	}
}

// Stop ends the watch and reports whether it aborted the request.
func (w *ClientWatch) Stop() bool {
	waiting.mu.Lock()
	if w.listed {
		if w.prev != nil {
			w.prev.next = w.next
		} else {
			waiting.head = w.next
		}
		if w.next != nil {
			w.next.prev = w.prev
		}
		w.prev, w.next, w.listed = nil, nil, false
	}
	waiting.mu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	w.rc, w.abort = nil, nil
	return w.aborted
}

// ErrClientGone is what a backend read returns after the watch aborted it.
var ErrClientGone = errors.New("client reset the connection")
