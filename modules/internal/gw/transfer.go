package gw

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golighty/golighty/core"
)

// MaxBuffered bounds a response body kept in memory: a body that ends
// within it gets Content-Length, Range and HEAD handling from the core like
// lighttpd's buffered default; a larger one is streamed, so a big download
// costs this much per request, not its size.
const MaxBuffered = 1 << 20

// Peer names the backend of a response in log lines.
type Peer struct {
	Proto string // "fastcgi", "scgi", "proxy", "ajp13", "cgi"
	Addr  string // lighttpd's connection name ("unix:/tmp/php.sock-0") or the script
	PID   int
}

// TransferBody moves a backend's response body from src to the client after
// rc.BackendHeaders accepted the head. cl is the backend's Content-Length
// (-1: none; shorter bodies are errors). The body becomes rc.Resp's complete
// body when it ends within MaxBuffered (and server.stream-response-body is
// 0); otherwise the head goes out and the body is streamed, flushed after
// every read when streaming is configured. A failure before anything was
// sent is a 502 (504 when timedOut says so); after, the connection is cut
// so the client sees the truncation.
func TransferBody(rc *core.Request, src io.Reader, cl int64, peer *Peer, timedOut func(error) bool) core.Result {
	sp := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(sp)
	scratch := *sp
	stream := rc.Conf.StreamResponseBody != 0
	var buf []byte
	var err error
	inScratch := false
	if !stream && cl >= 0 && cl <= MaxBuffered {
		// The length is known: one buffer of that size, one copy.
		buf = make([]byte, cl)
		n, rerr := io.ReadFull(src, buf)
		if rerr != nil && !(rc.Method == "HEAD" && (rerr == io.EOF || rerr == io.ErrUnexpectedEOF)) {
			if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
				rerr = fmt.Errorf("backend sent %d of %d bytes (Content-Length)", n, cl)
			}
			return bodyError(rc, rerr, peer, timedOut)
		}
		rc.Resp.SetBody(buf[:n])
		return core.Finished
	}
	// A body known to be too large to hold is streamed from the start.
	if !stream && cl <= MaxBuffered {
		// Most bodies end within the pooled scratch buffer and are copied
		// out at their exact size; only larger ones grow a buffer.
		var n int
		n, err = readUntil(src, scratch)
		buf = scratch[:n]
		inScratch = err != nil
		if !inScratch {
			buf = make([]byte, n, 2*n)
			copy(buf, scratch)
			for err == nil && len(buf) <= MaxBuffered {
				if len(buf) == cap(buf) {
					buf = append(buf, 0)[:len(buf)]
				}
				var m int
				m, err = src.Read(buf[len(buf):min(cap(buf), MaxBuffered+1)])
				buf = buf[:len(buf)+m]
			}
		}
		switch {
		case err == io.EOF:
			// A HEAD response may announce a length it does not send.
			if cl >= 0 && int64(len(buf)) < cl && rc.Method != "HEAD" {
				return bodyError(rc, fmt.Errorf("backend sent %d of %d bytes (Content-Length)", len(buf), cl), peer, timedOut)
			}
			if inScratch {
				buf = append([]byte(nil), buf...)
			}
			rc.Resp.SetBody(buf)
			return core.Finished
		case err != nil:
			return bodyError(rc, err, peer, timedOut)
		}
	}
	w, werr := rc.StartStream(cl)
	if werr != nil {
		return core.Finished // client gone
	}
	if len(buf) > 0 {
		if _, err := w.Write(buf); err != nil {
			return core.Finished
		}
	}
	if stream {
		rc.FlushStream()
	}
	for {
		n, rerr := src.Read(scratch)
		if n > 0 {
			if _, err := w.Write(scratch[:n]); err != nil {
				return core.Finished
			}
			if stream {
				if err := rc.FlushStream(); err != nil {
					return core.Finished
				}
			}
		}
		if rerr == io.EOF {
			return core.Finished
		}
		if rerr != nil {
			rc.Logf("response already sent out, but backend returned error on socket: %s for %s?%s, terminating connection: %v", peer.Addr, rc.URI.Path, rc.URI.Query, rerr)
			rc.AbortStream() // the client must see the truncation
			return core.Finished
		}
	}
}

var scratchPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// readUntil reads into p until it is full (nil error) or src fails (io.EOF
// included).
func readUntil(src io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := src.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
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
// some request waits, so a fast request costs a map insert and delete, not
// a timer.
type ClientWatch struct {
	mu      sync.Mutex
	done    bool // the waiting ended: rc may be recycled, touch nothing
	aborted bool
	rc      *core.Request
	abort   func()
}

var waiting struct {
	mu      sync.Mutex
	set     map[*ClientWatch]struct{}
	checker bool // the checking goroutine runs
}

// WatchClient starts watching rc's client; abort runs (once, from another
// goroutine) if the client resets its connection before Stop.
func WatchClient(rc *core.Request, abort func()) *ClientWatch {
	w := &ClientWatch{rc: rc, abort: abort}
	waiting.mu.Lock()
	if waiting.set == nil {
		waiting.set = make(map[*ClientWatch]struct{})
	}
	waiting.set[w] = struct{}{}
	if !waiting.checker {
		waiting.checker = true
		go checkClients()
	}
	waiting.mu.Unlock()
	return w
}

// checkClients runs while requests wait, checking each once per interval.
func checkClients() {
	var batch []*ClientWatch
	for {
		time.Sleep(time.Duration(ClientCheckInterval.Load()))
		waiting.mu.Lock()
		if len(waiting.set) == 0 {
			waiting.checker = false
			waiting.mu.Unlock()
			return
		}
		batch = batch[:0]
		for w := range waiting.set {
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
		w.abort()
	}
}

// Stop ends the watch and reports whether it aborted the request.
func (w *ClientWatch) Stop() bool {
	waiting.mu.Lock()
	delete(waiting.set, w)
	waiting.mu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	return w.aborted
}

// ErrClientGone is what a backend read returns after the watch aborted it.
var ErrClientGone = errors.New("client reset the connection")
