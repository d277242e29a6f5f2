package fastcgi

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/modules/internal/fcgi"
	"github.com/golighty/golighty/modules/internal/gw"
)

const (
	// maxParams is the most lighttpd puts in its one PARAMS record; more is
	// a 400.
	maxParams = fcgi.MaxRecordContent
	// maxReconnects is how often lighttpd retries a request whose connect
	// failed on another proc or host.
	maxReconnects = 5
	// smallBody is the largest request body read into memory up front, so
	// it can be replayed on another proc after a connect failure (the
	// FastCGI client reads such bodies before dialing); larger ones of
	// known length are streamed, chunked ones spooled (their length must
	// be known for CONTENT_LENGTH before the backend is contacted).
	smallBody = 16 << 10
)

// handler is one request's backend choice. Handlers are reused from one
// request to the next (ReleaseHandler): all but the client watch is in
// handlerState, which one assignment clears.
type handler struct {
	handlerState
	// watch is the client watch (the handler is its Aborter). The goroutine
	// that checks watches may hold a pointer to it after Stop, and looks at
	// it only under its lock: it is never cleared by assignment, only
	// restarted (Start).
	watch gw.ClientWatch
}

type handlerState struct {
	m    *Module
	conf conf
	ext  *gw.Ext
	host *gw.Host
	si   gw.SelectInfo

	fresh bool // send on a connection that carried no earlier request

	// The current attempt's response: kept here, not in values of its
	// own, so reading it allocates nothing per request (the handler is
	// the core's BackendState and the watch's Aborter). resp is respBuf
	// while an answer is read, nil otherwise.
	resp    *fcgi.Response
	respBuf fcgi.Response
	br      *bufio.Reader
	er      gw.ErrReader
	lim     io.LimitedReader

	body    *gw.Body
	waiting atomic.Bool // suspended: the engine watches the backend socket
	entered bool        // suspend declined and counted response's wait in the gate
	susp    suspended
}

// suspended is what a request waiting for its backend without a goroutine
// goes on with (Resume).
type suspended struct {
	host    *gw.Host
	proc    *gw.Proc
	resp    *fcgi.Response
	sent    int64
	attempt int
	until   time.Time
}

// handlers are reused from one request to the next (core.HandlerReleaser):
// a handler was a third of a PHP request's allocated bytes, and the
// collector's pace follows those bytes.
var handlers = sync.Pool{New: func() any { return new(handler) }}

var _ core.HandlerReleaser = (*handler)(nil)

// ReleaseHandler readies h for another request once its own ended: the
// client watch is stopped (a no-op unless a path left it running) and the
// rest cleared.
func (h *handler) ReleaseHandler() {
	h.watch.Stop()
	if h.waiting.Load() || h.body != nil || h.br != nil || h.resp != nil {
		return // not at rest (no request that ended leaves it so): left to the collector
	}
	h.handlerState = handlerState{}
	handlers.Put(h)
}

// Ready reports whether the response body has bytes at hand (core.BackendState).
func (h *handler) Ready() bool { return h.br.Buffered() > 0 || h.resp.Ready() }

// Abort ends the response's reads from another goroutine (core.BackendState,
// gw.Aborter). While the request is suspended the engine watches the socket,
// which must stay open: shut down, it reads as ended and the request goes on.
func (h *handler) Abort() {
	if h.waiting.Load() {
		h.resp.Shutdown()
		return
	}
	h.resp.Abort()
}

var readers = gw.NewReaderPool(32 << 10)

// Serve runs the request on the chosen host, moving to another proc or host
// when a connect fails (gw_write_error / gw_reconnect).
func (h *handler) Serve(rc *core.Request) (res core.Result) {
	body, err := newBody(rc, h.ext.Mode == gw.Authorizer)
	if err != nil {
		rc.Logf("reading request body for %s: %v", rc.URI.Path, err)
		if rc.Resp.Status == 0 {
			rc.Resp.Status = 400
		}
		return core.Finished
	}
	h.body = body
	defer h.done(&res)
	return h.attempts(rc, h.host, 0)
}

// Resume goes on with a request that waited for its backend without a
// goroutine (core.Resumer).
func (h *handler) Resume(rc *core.Request) (res core.Result) {
	defer h.done(&res)
	st := h.susp
	h.susp = suspended{}
	h.waiting.Store(false)
	res, dropped := h.response(rc, st.proc, st.resp, st.sent, st.until, true)
	st.host.Release(st.proc, &h.si)
	if dropped && !h.fresh {
		h.fresh = true
		res = h.attempts(rc, st.host, st.attempt)
	}
	return res
}

// done (deferred) lets go of the request body unless the request waits
// suspended (a panic included).
func (h *handler) done(res *core.Result) {
	if *res != core.Suspended {
		h.body.Close()
		h.body = nil
	}
}

// attempts sends the request to host, from the given attempt on, and reads
// the answer (or suspends the request until it comes).
func (h *handler) attempts(rc *core.Request, host *gw.Host, attempt int) core.Result {
	auth := h.ext.Mode == gw.Authorizer
	for ; ; attempt++ {
		params := fcgi.NewParams()
		hc := &host.Conf
		rc.CGIEnv(params, &core.CGIOptions{
			DocRoot:              hc.DocRoot,
			StripRequestURI:      hc.StripRequestURI,
			BrokenScriptFilename: hc.BrokenScriptFilename,
			Authorizer:           auth,
			XSendfile:            hc.XSendfile && !auth,
		})
		if params.Len() > maxParams {
			rc.Logf("FastCGI params too large for %s: %d bytes (max %d)", rc.URI.Path, params.Len(), maxParams)
			params.Release()
			return rc.Status(400)
		}
		n := sent(h.body, params)
		proc, resp, err := h.send(rc, host, params, h.body)
		// The params went out with the request: their buffer is not held
		// while the backend works (a burst of requests queued on PHP).
		params.Release()
		if err == nil {
			until := resp.Deadline()
			if h.suspend(rc, resp, until) {
				h.susp = suspended{host: host, proc: proc, resp: resp, sent: n, attempt: attempt, until: until}
				return core.Suspended
			}
			res, dropped := h.response(rc, proc, resp, n, until, false)
			host.Release(proc, &h.si)
			if dropped && !h.fresh {
				// A kept connection the backend closed unanswered (a
				// php-cgi child retiring): send again on a new one.
				h.fresh = true
				attempt--
				continue
			}
			return res
		}
		var retry bool
		switch {
		case errors.Is(err, errNoProc):
			retry = true
		case isDialError(err):
			proc.ConnectFailed(err, rc.Logf)
			// A connect that timed out already cost connect-timeout: retry
			// once only, as lighttpd does.
			retry = !isTimeout(err) || attempt == 0
			host.Release(proc, &h.si)
		default:
			rc.Logf("connection was dropped after accept() (perhaps the gw process died), write-offset: 0 socket: %s: %v", proc.Addr, err)
			host.Release(proc, &h.si)
			return rc.Status(503)
		}
		if !retry || attempt+1 >= maxReconnects {
			return rc.Status(503)
		}
		if host = h.ext.Select(h.conf.balance, &h.si); host == nil {
			return rc.Status(503)
		}
	}
}

// waits lets 64 requests wait for their backend in goroutines at once;
// more wait suspended (gw.WaitGate). Measured on PHP hello with 64
// clients and keep-conn, every request suspending: 35.2 -> 43.3 µs of CPU
// per request (the engine's watch of the socket and the hand-over to a
// worker, where a kept connection's wait costs a park); without keep-conn
// no difference (56.2 / 56.7). 64 waiting goroutines hold about 0.5 MB of
// stacks. (A variable: tests make every request suspend.)
var waits = gw.NewWaitGate(64)

// suspend lets the request wait for resp without its goroutine when enough
// others wait already, the engine can watch the backend socket and the
// whole request went out (a body still being copied keeps its goroutine).
// The client watch runs meanwhile (Abort).
func (h *handler) suspend(rc *core.Request, resp *fcgi.Response, until time.Time) bool {
	if resp.StdinPending() {
		return false
	}
	if waits.EnterBelow() {
		h.entered = true // response's wait is counted already
		return false
	}
	sc, err := resp.SyscallConn()
	if err != nil || !rc.Suspend(sc, until) {
		return false
	}
	h.resp = resp
	h.waiting.Store(true)
	h.watch.Start(rc, h)
	return true
}

// send connects to a proc of host and writes the request. On error the
// returned proc (if any) is still acquired.
func (h *handler) send(rc *core.Request, host *gw.Host, params *fcgi.Params, body *gw.Body) (*gw.Proc, *fcgi.Response, error) {
	proc := host.Acquire(&h.si)
	if proc == nil {
		return nil, nil, errNoProc
	}
	if sp := host.Spawner; sp != nil {
		if err := sp.Ensure(); err != nil {
			rc.Logf("[ERROR]: spawning gw failed: %v", err)
			host.Release(proc, &h.si)
			for _, p := range host.Procs {
				p.Disable()
			}
			return nil, nil, errNoProc
		}
	}
	req := &fcgi.Request{
		Fresh:  h.fresh || !replayable(rc, body),
		Params: params,
		Stderr: stderrLog{rc},
	}
	if h.ext.Mode == gw.Authorizer {
		req.Role = fcgi.RoleAuthorizer
	} else {
		req.Stdin, req.ContentLength = body.Reader(), body.N
	}
	d := proc.Client.(*fcgi.Dialer)
	// The handler's own Response: the last one it held was closed when its
	// answer was read (response), or never made.
	if err := d.DoInto(context.Background(), req, &h.respBuf); err != nil {
		return proc, nil, err
	}
	requests.Add(1)
	proc.Connected()
	return proc, &h.respBuf, nil
}

// stderrLog logs a backend's STDERR lines on the request, as lighttpd
// does. A struct of one pointer goes into an interface without an
// allocation.
type stderrLog struct{ rc *core.Request }

func (l stderrLog) StderrLine(line []byte) { l.rc.Logf("FastCGI-stderr:%s", line) }

// replayable: the request may go on a reused connection, because sending it
// again after the backend dropped that connection is harmless — a GET or
// HEAD whose body, if any, is held in memory.
func replayable(rc *core.Request, body *gw.Body) bool {
	return (rc.Method == "GET" || rc.Method == "HEAD") && !body.Streamed()
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func isTimeout(err error) bool { return gw.IsTimeout(err) }

// response reads the backend's answer into rc.Resp: headers through the
// core's CGI rules (X-Sendfile included), then the body, buffered when it
// fits maxBuffered and streamed otherwise. It reports dropped when a reused
// connection closed before any answer: rc is untouched then, and the
// caller may send the request again. until bounds the wait for the first
// byte; resumed says the request waited suspended (its client watch runs,
// its socket is readable unless the limit passed).
func (h *handler) response(rc *core.Request, proc *gw.Proc, resp *fcgi.Response, sent int64, until time.Time, resumed bool) (res core.Result, dropped bool) {
	defer func() {
		// The backend answered before reading the whole body: the copy
		// may wait on the client, and must end before the request does.
		if resp.StdinPending() {
			rc.InterruptBody()
		}
		resp.CloseAfter(rc)
		// The handler lives as long as the request (through an
		// X-Sendfile download): it must not keep the response alive.
		h.resp, h.er = nil, gw.ErrReader{}
	}()
	h.er = gw.ErrReader{R: resp}
	er := &h.er
	hc := &h.host.Conf
	var err error
	if !resumed {
		// (A resumed request's watch, which reads h.resp, runs already.)
		h.resp = resp
		h.watch.Start(rc, h)
	}
	switch {
	case !resumed:
		// The read buffer is taken once the backend answers: a thousand
		// requests queued on four PHP children hold none meanwhile.
		if !h.entered {
			waits.Enter()
		}
		h.entered = false
		err = resp.WaitUntil(until)
		waits.Leave()
	case !until.IsZero() && !time.Now().Before(until):
		err = resp.WaitUntil(until) // its limit passed: the timeout's error
	}
	br := readers.Get(er)
	h.br = br
	defer func() {
		h.br = nil
		readers.Put(br)
	}()
	if err == nil {
		_, err = br.Peek(1)
	}
	if h.watch.Stop() {
		// The client reset the connection while the backend worked: drop
		// the request as lighttpd does in its error state.
		rc.AbortStream()
		return core.Finished, false
	}
	if err != nil {
		if resp.Dropped(err) {
			return core.Finished, true
		}
		return h.noResponse(rc, proc, err, sent), false
	}
	auth := h.ext.Mode == gw.Authorizer
	bh, err := rc.BackendHeaders(br, &core.BackendOpts{
		Kind:              core.BackendFastCGI,
		Authorizer:        auth,
		XSendfile:         hc.XSendfile,
		XSendfileDocroots: hc.XSendfileDocroots,
	})
	if err != nil {
		if er.TimedOut(err) {
			rc.Logf("read timeout on socket: %s", proc.Addr)
			rc.Resp.Status = 504
		}
		return core.Finished, false
	}
	if auth && bh.Approved {
		// The authorizer's body is not for the client; the request
		// restarts and goes to the next handler.
		h.m.authorized.Set(rc, &authState{docroot: hc.DocRoot})
		rc.Resp.Status = 0
		rc.Resp.Header.Reset()
		rc.Resp.Dynamic = false
		return core.Comeback, false
	}
	if bh.Handoff {
		return core.Finished, false
	}
	if bh.ContentLength < 0 {
		// An unparsable Content-Length would frame the client's response
		// wrongly (lighttpd forwards it and "hopes for the best"): the
		// core computes the real one, or the body is streamed.
		rc.Resp.Header.Del("Content-Length")
	}
	var src io.Reader = br
	switch {
	case bh.Chunked:
		src = httputil.NewChunkedReader(br)
	case bh.ContentLength >= 0:
		// Bytes beyond the backend's Content-Length are dropped.
		h.lim = io.LimitedReader{R: br, N: bh.ContentLength}
		src = &h.lim
	}
	peer := &gw.Peer{Proto: "fastcgi", Addr: proc.Name, PID: proc.PID()}
	return gw.Transfer(rc, core.BackendBody{
		R:             src,
		ContentLength: bh.ContentLength,
		Backend:       h,
	}, peer, er.TimedOut), false
}

// noResponse handles a backend that ended or failed before the first byte
// of its response: 504 on read timeout, else 500 as lighttpd.
func (h *handler) noResponse(rc *core.Request, proc *gw.Proc, err error, sent int64) core.Result {
	switch {
	case isTimeout(err):
		rc.Logf("read timeout on socket: %s", proc.Addr)
		return rc.Status(504)
	case errors.Is(err, io.EOF):
		// END_REQUEST without any output.
		return rc.Status(500)
	}
	rc.Logf("unexpected end-of-file (perhaps the fastcgi process died):pid: %d socket: %s", proc.PID(), proc.Addr)
	rc.Logf("response not received, request sent: %d on socket: %s for %s?%s, closing connection", sent, proc.Addr, rc.URI.Path, rc.URI.Query)
	return rc.Status(500)
}

func newBody(rc *core.Request, auth bool) (*gw.Body, error) {
	if auth {
		return &gw.Body{}, nil
	}
	return gw.ReadBody(rc, smallBody)
}

// sent approximates the bytes written to the backend for lighttpd's
// "request sent: N" log: records headers, params and body.
func sent(b *gw.Body, p *fcgi.Params) int64 {
	n := int64(16 + 8 + p.Len() + 8 + 8)
	if b.N > 0 {
		n += b.N + 8*((b.N+fcgi.MaxRecordContent-1)/fcgi.MaxRecordContent)
	}
	return n
}
