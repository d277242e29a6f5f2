package fastcgi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http/httputil"
	"os"
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
	// FastCGI client reads such bodies before dialing).
	smallBody = 16 << 10
	// spoolMem is how much of a chunked upload stays in memory before it
	// spills to a temporary file (its length must be known for
	// CONTENT_LENGTH before the backend is contacted, as in lighttpd).
	spoolMem = 64 << 10
)

// handler is one request's backend choice.
type handler struct {
	m    *Module
	conf conf
	ext  *gw.Ext
	host *gw.Host
	si   gw.SelectInfo

	fresh bool // send on a connection that carried no earlier request
}

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 32<<10) }}

// Serve runs the request on the chosen host, moving to another proc or host
// when a connect fails (gw_write_error / gw_reconnect).
func (h *handler) Serve(rc *core.Request) core.Result {
	auth := h.ext.Mode == gw.Authorizer
	body, err := newBody(rc, auth)
	if err != nil {
		rc.Logf("reading request body for %s: %v", rc.URI.Path, err)
		if rc.Resp.Status == 0 {
			rc.Resp.Status = 400
		}
		return core.Finished
	}
	defer body.close()

	params := fcgi.NewParams()
	defer params.Release()
	host := h.host
	for attempt := 0; ; attempt++ {
		params.Reset()
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
			return rc.Status(400)
		}
		proc, resp, err := h.send(rc, host, params, body)
		if err == nil {
			res, dropped := h.response(rc, proc, resp, body.sent(params))
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

// send connects to a proc of host and writes the request. On error the
// returned proc (if any) is still acquired.
func (h *handler) send(rc *core.Request, host *gw.Host, params *fcgi.Params, body *reqBody) (*gw.Proc, *fcgi.Response, error) {
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
		Stderr: func(line []byte) { rc.Logf("FastCGI-stderr:%s", line) },
	}
	if h.ext.Mode == gw.Authorizer {
		req.Role = fcgi.RoleAuthorizer
	} else {
		req.Stdin, req.ContentLength = body.reader()
	}
	d := proc.Client.(*fcgi.Dialer)
	resp, err := d.Do(context.Background(), req)
	return proc, resp, err
}

// replayable: the request may go on a reused connection, because sending it
// again after the backend dropped that connection is harmless — a GET or
// HEAD whose body, if any, is held in memory.
func replayable(rc *core.Request, body *reqBody) bool {
	return (rc.Method == "GET" || rc.Method == "HEAD") && (body.n == 0 || body.r == nil)
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// errReader remembers the last error of the backend stream, so a failure
// inside the core's header parser can still be told apart (timeout: 504).
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

// response reads the backend's answer into rc.Resp: headers through the
// core's CGI rules (X-Sendfile included), then the body, buffered when it
// fits maxBuffered and streamed otherwise. It reports dropped when a reused
// connection closed before any answer: rc is untouched then, and the
// caller may send the request again.
func (h *handler) response(rc *core.Request, proc *gw.Proc, resp *fcgi.Response, sent int64) (res core.Result, dropped bool) {
	defer func() {
		// The backend answered before reading the whole body: the copy
		// may wait on the client, and must end before the request does.
		if resp.StdinPending() {
			rc.InterruptBody()
		}
		resp.Close()
	}()
	er := &errReader{r: resp}
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(er)
	defer func() {
		br.Reset(nil)
		readerPool.Put(br)
	}()
	hc := &h.host.Conf
	w := watchClient(rc, resp)
	_, err := br.Peek(1)
	if w.stop() {
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
		if er.err != nil && isTimeout(er.err) {
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
		src = io.LimitReader(br, bh.ContentLength)
	}
	err = rc.SendBackendBody(core.BackendBody{
		R:             src,
		ContentLength: bh.ContentLength,
		Ready:         func() bool { return br.Buffered() > 0 || resp.Ready() },
		Abort:         resp.Abort,
	})
	switch {
	case err == nil:
	case rc.Resp.Started():
		rc.Logf("response already sent out, but backend returned error on socket: %s for %s?%s, terminating connection: %v", proc.Addr, rc.URI.Path, rc.URI.Query, err)
	default:
		return h.bodyError(rc, proc, err, er), false
	}
	return core.Finished, false
}

// clientCheckInterval is how often requests waiting for their backend's
// first byte check that their client is still there (nanoseconds; tests
// shorten it).
var clientCheckInterval atomic.Int64

func init() { clientCheckInterval.Store(int64(time.Second)) }

// clientWatch aborts the backend request when the client resets its
// connection before the backend has answered (a slow script for a client
// that gave up); lighttpd learns the same from its event loop. One
// goroutine checks every waiting request once per interval, and only
// while some request waits, so a fast request costs a map insert and
// delete, not a timer.
type clientWatch struct {
	mu      sync.Mutex
	done    bool // the waiting ended: rc may be recycled, touch nothing
	aborted bool
	rc      *core.Request
	resp    *fcgi.Response
}

var waiting struct {
	mu      sync.Mutex
	set     map[*clientWatch]struct{}
	checker bool // the checking goroutine runs
}

func watchClient(rc *core.Request, resp *fcgi.Response) *clientWatch {
	w := &clientWatch{rc: rc, resp: resp}
	waiting.mu.Lock()
	if waiting.set == nil {
		waiting.set = make(map[*clientWatch]struct{})
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
	var batch []*clientWatch
	for {
		time.Sleep(time.Duration(clientCheckInterval.Load()))
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

func (w *clientWatch) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done && !w.aborted && w.rc.ClientReset() {
		w.aborted = true
		w.resp.Abort()
	}
}

// stop ends the watch and reports whether it aborted the request.
func (w *clientWatch) stop() bool {
	waiting.mu.Lock()
	delete(waiting.set, w)
	waiting.mu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	return w.aborted
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

// bodyError turns a failure while buffering the body into an error
// response: 504 for a read timeout, else 502 (lighttpd would send the
// truncated body as if complete).
func (h *handler) bodyError(rc *core.Request, proc *gw.Proc, err error, er *errReader) core.Result {
	status := 502
	if isTimeout(err) || (er.err != nil && isTimeout(er.err)) {
		rc.Logf("read timeout on socket: %s", proc.Addr)
		status = 504
	} else {
		rc.Logf("unexpected end-of-file (perhaps the fastcgi process died):pid: %d socket: %s", proc.PID(), proc.Addr)
		rc.Logf("response body incomplete on socket: %s for %s?%s: %v", proc.Addr, rc.URI.Path, rc.URI.Query, err)
	}
	rc.Resp.Header.Reset()
	rc.Resp.Dynamic = false
	rc.Resp.Status = status
	return core.Finished
}

// reqBody is the request body as sent to the backend.
type reqBody struct {
	mem  []byte   // small or spooled-in-memory body
	file *os.File // spooled chunked body
	n    int64
	r    io.Reader // large body of known length: the FastCGI client only
	// reads it once connected, so a failed connect leaves it untouched
}

func newBody(rc *core.Request, auth bool) (*reqBody, error) {
	b := &reqBody{}
	if auth || rc.Body == nil || rc.BodyLength == 0 {
		return b, nil
	}
	switch {
	case rc.BodyLength > 0 && rc.BodyLength <= smallBody:
		b.mem = make([]byte, rc.BodyLength)
		if _, err := io.ReadFull(rc.Body, b.mem); err != nil {
			return nil, err
		}
		b.n = rc.BodyLength
	case rc.BodyLength > 0:
		b.r, b.n = rc.Body, rc.BodyLength
	default:
		if err := b.spool(rc); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// spool reads a chunked body to learn its length (CONTENT_LENGTH), in
// memory up to spoolMem, then in a temporary file in server.upload-dirs.
func (b *reqBody) spool(rc *core.Request) error {
	var mem bytes.Buffer
	n, err := io.CopyN(&mem, rc.Body, spoolMem+1)
	if err == io.EOF {
		b.mem, b.n = mem.Bytes(), n
		rc.BodyRead = n
		return nil
	}
	if err != nil {
		return err
	}
	dir := ""
	if d := rc.Snap.Core.Server.UploadDirs; len(d) > 0 {
		dir = d[0]
	}
	f, err := os.CreateTemp(dir, "golighty-upload-")
	if err != nil {
		return err
	}
	os.Remove(f.Name()) // the open file is all we need
	b.file = f
	if _, err := f.Write(mem.Bytes()); err != nil {
		return err
	}
	m, err := io.Copy(f, rc.Body)
	if err != nil {
		return err
	}
	b.n = n + m
	rc.BodyRead = b.n
	return nil
}

// reader returns the body for one attempt.
func (b *reqBody) reader() (io.Reader, int64) {
	switch {
	case b.n == 0:
		return nil, 0
	case b.file != nil:
		return io.NewSectionReader(b.file, 0, b.n), b.n
	case b.mem != nil:
		return bytes.NewReader(b.mem), b.n
	}
	return b.r, b.n
}

// sent approximates the bytes written to the backend for lighttpd's
// "request sent: N" log: records headers, params and body.
func (b *reqBody) sent(p *fcgi.Params) int64 {
	n := int64(16 + 8 + p.Len() + 8 + 8)
	if b.n > 0 {
		n += b.n + 8*((b.n+fcgi.MaxRecordContent-1)/fcgi.MaxRecordContent)
	}
	return n
}

func (b *reqBody) close() {
	if b.file != nil {
		b.file.Close()
	}
}
