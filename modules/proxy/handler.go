package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http/httputil"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/ascii"
	"github.com/golighty/golighty/modules/internal/gw"
)

// handler is one request's backend choice, and the exchange it runs.
type handler struct {
	conf conf
	ch   gw.Choice
	x    exchange
	// watch is the client watch of the exchange's waits. The goroutine
	// that checks watches may hold a pointer to it after Stop, and looks at
	// it only under its lock: it is never cleared by assignment, only
	// restarted (Start).
	watch gw.ClientWatch
}

// handlers are reused from one request to the next (core.HandlerReleaser):
// a handler was a quarter of a proxied request's allocated bytes.
var handlers = sync.Pool{New: func() any { return new(handler) }}

var _ core.HandlerReleaser = (*handler)(nil)

// ReleaseHandler readies h for another request once its own ended: its
// exchange was released then (attempts, Resume), and no goroutine of the
// exchange refers to the handler (the copier and the client watch hold the
// request and the backend connection, not h).
func (h *handler) ReleaseHandler() {
	if h.x.hp != nil || h.x.body != nil {
		return // not at rest (no request that ended leaves it so): left to the collector
	}
	h.conf, h.ch, h.x = conf{}, gw.Choice{}, exchange{}
	handlers.Put(h)
}

// exchange is a request's state across its attempts, kept in the handler
// so that a request waiting for its backend's answer without a goroutine
// (core.Request.Suspend) goes on with it in Resume.
type exchange struct {
	hp               *[]byte // the request head (headPool)
	body             *gw.Body
	chunked, upgrade bool
	rm               remap
	fresh            bool // connect anew: a kept connection was found dead

	// The current attempt: its backend connection, its wait, and the
	// answer's readers (held here, so an exchange allocates none).
	be   gw.Backend
	susp gw.Suspension
	rt   readTimeout
	er   gw.ErrReader
	lim  io.LimitedReader
	peer gw.Peer
}

// release lets go of the request's body and head.
func (x *exchange) release() {
	x.body.Close()
	x.dropHead()
	*x = exchange{}
}

// dropHead returns the request head's buffer to the pool: once the head
// went out on a new connection, nothing sends it again (only a reused
// connection found dead does), and a request waiting for its answer (a
// long poll) then holds no 4 KiB buffer.
func (x *exchange) dropHead() {
	if x.hp != nil {
		headPool.Put(x.hp)
		headsOut.Add(-1)
		x.hp = nil
	}
}

// waits lets 64 requests wait for their answer in goroutines at once;
// more wait suspended. (A variable: tests make every request suspend.)
var waits = gw.NewWaitGate(64)

var readers = gw.NewReaderPool(32 << 10)

var headPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// headsOut counts the head buffers requests hold now.
var headsOut atomic.Int32

// Serve forwards the request: the body is read first (lighttpd's
// server.stream-request-body = 0) or streamed, the request goes to a
// backend chosen as gw_backend.c does (moving on after refused connects),
// and the response comes back through the core's backend rules.
func (h *handler) Serve(rc *core.Request) core.Result {
	if rc.Method == "CONNECT" {
		return h.connect(rc)
	}
	hc := &h.ch.Host.Conf
	chunked := rc.BodyLength < 0 && rc.Conf.StreamRequestBody != 0
	if chunked && h.conf.header.forceHTTP10 {
		rc.KeepAlive = false
		return rc.Status(411)
	}
	var body *gw.Body
	if chunked {
		body = &gw.Body{} // empty: the copier streams the chunked body
	} else {
		var err error
		if body, err = gw.ReadBody(rc, gw.StreamAbove(rc)); err != nil {
			return gw.BodyFailed(rc, err)
		}
	}
	bodyLen := body.N
	if chunked {
		bodyLen = -1
	}
	upgrade := h.conf.header.upgrade && rc.Proto == 11 && rc.Header.Has("Upgrade")
	keep := hc.KeepConn > 0 && !upgrade
	hp := headPool.Get().(*[]byte)
	headsOut.Add(1)
	h.x = exchange{hp: hp, body: body, chunked: chunked, upgrade: upgrade,
		rm: remap{o: &h.conf.header, httpHost: rc.URI.Authority, httpsRemap: h.conf.header.httpsRemap && rc.URI.Scheme == "https"}}
	*hp = h.buildRequest((*hp)[:0], rc, &h.x.rm, bodyLen, keep)
	return h.attempts(rc)
}

// attempts sends the request to a backend and answers the client with its
// response (or suspends the request until the answer starts), once more on
// a new connection when a kept one turned out dead.
func (h *handler) attempts(rc *core.Request) (res core.Result) {
	x := &h.x
	defer func() {
		if res != core.Suspended {
			x.release()
		}
	}()
	for {
		be := &x.be
		if err := gw.Connect(context.Background(), be, h.ch.Ext, h.ch.Host, h.conf.gw.Balance, &h.ch.SI, x.fresh); err != nil {
			return rc.Status(503)
		}
		res, again := h.exchange(rc, be)
		if !again {
			return res
		}
		// A kept connection the backend had closed: send again on a new
		// one (the request had not been answered).
		x.fresh = true
	}
}

// Resume goes on with a request that waited for its backend's answer
// without a goroutine (core.Resumer): the answer started, the read limit
// passed, the client went (the watch shut the socket down) or the server
// stops.
func (h *handler) Resume(rc *core.Request) (res core.Result) {
	x := &h.x
	be, err := x.susp.Resume()
	res, again := h.answer(rc, be, nil, err)
	if !again {
		x.release()
		return res
	}
	x.fresh = true
	return h.attempts(rc)
}

// replayable reports whether the request may be sent a second time: a
// body, if any, held in memory or a file.
func replayable(body *gw.Body, chunked bool) bool { return !chunked && !body.Streamed() }

// exchange sends the request on be and waits for the backend's answer, in
// the goroutine or, beyond the first requests waiting at once, suspended
// (core.Suspended). again asks for the request to be sent once more on a
// new connection (a reused one was dead).
func (h *handler) exchange(rc *core.Request, be *gw.Backend) (res core.Result, again bool) {
	x := &h.x
	hc := &be.Host.Conf
	if hc.WriteTimeout > 0 {
		be.SetWriteDeadline(time.Now().Add(time.Duration(hc.WriteTimeout) * time.Second))
	}
	// The head and a body held in memory go out at once; a streamed or
	// spooled body is copied in the background, so the backend may answer
	// before it read all of it.
	var cp *copier
	head, src := *x.hp, x.body.Reader()
	switch {
	case x.chunked:
		cp = startCopy(rc, be.Conn, head, &chunkedReader{r: rc.Body}, hc.WriteTimeout)
	case src == nil:
		if _, err := be.Write(head); err != nil {
			defer be.Release(false)
			return h.writeFailed(rc, be, err, replayable(x.body, x.chunked))
		}
	case x.body.Bytes() != nil:
		bufs := net.Buffers{head, x.body.Bytes()}
		if _, err := bufs.WriteTo(be.Conn); err != nil {
			defer be.Release(false)
			return h.writeFailed(rc, be, err, replayable(x.body, x.chunked))
		}
	default:
		cp = startCopy(rc, be.Conn, head, src, hc.WriteTimeout)
		if x.body.Streamed() {
			cp.client = rc
		}
	}
	if cp == nil && !be.Reused {
		x.dropHead()
	}
	d := time.Duration(hc.ReadTimeout) * time.Second
	if cp == nil && x.susp.Suspend(rc, waits, be, d, &h.watch) {
		return core.Suspended, false
	}
	// The read buffer is taken once the backend answers: requests waiting
	// on a slow backend (long polls) hold none meanwhile.
	err := x.susp.Await(rc, waits, be, d, &h.watch)
	return h.answer(rc, be, cp, err)
}

// answer answers the client with the backend's response, once its wait
// (err) ended with the client watch running, and lets go of be: kept for
// another request if the exchange ended exactly.
func (h *handler) answer(rc *core.Request, be *gw.Backend, cp *copier, err error) (res core.Result, again bool) {
	x := &h.x
	keep := false
	defer func() {
		if cp != nil {
			cp.stop()
		}
		be.Release(keep)
	}()
	x.peer = gw.Peer{Proto: "proxy", Addr: be.Proc.Name}
	x.rt = readTimeout{c: be.Conn, d: time.Duration(be.Host.Conf.ReadTimeout) * time.Second}
	x.er = gw.ErrReader{R: &x.rt}
	peer, er := &x.peer, &x.er
	br := readers.Get(er)
	defer readers.Put(br)
	if err == nil {
		_, err = br.Peek(1)
	}
	if h.watch.Stop() {
		rc.AbortStream()
		return core.Finished, false
	}
	if err != nil {
		if cp != nil && cp.err() != nil && !gw.IsTimeout(err) {
			return h.writeFailed(rc, be, cp.err(), false)
		}
		if be.Reused && replayable(x.body, x.chunked) && !gw.IsTimeout(err) {
			return 0, true
		}
		return h.noResponse(rc, be, err), false
	}
	bh, err := rc.BackendHeaders(br, &core.BackendOpts{Kind: core.BackendProxy})
	if err != nil {
		if er.TimedOut(err) {
			rc.Logf("read timeout on socket: %s", peer.Addr)
			rc.Resp.Status = 504
		}
		return core.Finished, false
	}
	h.remapResponse(rc, &x.rm)
	if rc.Resp.Status == 101 && x.upgrade && rc.Resp.Header.Has("Upgrade") {
		return h.tunnel(rc, be, br, cp), false
	}
	if bh.ContentLength < 0 {
		rc.Resp.Header.Del("Content-Length")
	}
	var bsrc io.Reader = br
	switch {
	case bh.Chunked:
		bsrc = httputil.NewChunkedReader(br)
	case bh.ContentLength >= 0:
		x.lim = io.LimitedReader{R: br, N: bh.ContentLength}
		bsrc = &x.lim
	case rc.Method == "HEAD", rc.Resp.Status == 204, rc.Resp.Status == 304, rc.Resp.Status < 200:
		bsrc = eofReader{}
	}
	res = gw.TransferBody(rc, bsrc, bh.ContentLength, peer, er.TimedOut)
	// The connection can carry another request only if this exchange
	// ended exactly: framed body read to its end, request fully sent.
	keep = be.Proc.Pool() != nil && !bh.Close && (bh.Chunked || bh.ContentLength >= 0 || bsrc == (eofReader{})) &&
		br.Buffered() == 0 && rc.Resp.Status != 0 && !rc.Aborted && (cp == nil || cp.done())
	return res, false
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// writeFailed is gw_write_error after the connect: the backend dropped the
// connection while the request was sent. A reused connection is retried
// on a new one; otherwise 503.
func (h *handler) writeFailed(rc *core.Request, be *gw.Backend, err error, replay bool) (core.Result, bool) {
	if be.Reused && replay {
		return 0, true
	}
	rc.Logf("connection was dropped after accept() (perhaps the gw process died), write-offset: 0 socket: %s: %v", be.Proc.Addr, err)
	return rc.Status(503), false
}

// noResponse answers a backend that sent nothing: 504 after read-timeout,
// else 500 with lighttpd's log line.
func (h *handler) noResponse(rc *core.Request, be *gw.Backend, err error) core.Result {
	if gw.IsTimeout(err) {
		rc.Logf("read timeout on socket: %s", be.Proc.Addr)
		return rc.Status(504)
	}
	rc.Logf("response not received, request sent on socket: %s for %s?%s, closing connection: %v", be.Proc.Addr, rc.URI.Path, rc.URI.Query, err)
	return rc.Status(500)
}

// remapResponse maps Location, Content-Location and Set-Cookie back
// (map-urlpath, map-host-response).
func (h *handler) remapResponse(rc *core.Request, rm *remap) {
	o := rm.o
	if o.urlPaths == nil && o.hostsResp == nil {
		return
	}
	hd := &rc.Resp.Header
	for i := 0; i < hd.Len(); i++ {
		e := hd.At(i)
		var v string
		switch {
		case ascii.EqualFold(e.Name, "Location"), ascii.EqualFold(e.Name, "Content-Location"):
			v = rm.uri(e.Value, false)
		case ascii.EqualFold(e.Name, "Set-Cookie"):
			v = rm.setCookie(e.Value)
		default:
			continue
		}
		if v != e.Value {
			hd.SetAt(i, v)
		}
	}
}

// tunnel serves an Upgrade the backend accepted with 101: bytes flow both
// ways until the backend closes.
func (h *handler) tunnel(rc *core.Request, be *gw.Backend, br *bufio.Reader, cp *copier) core.Result {
	if cp != nil {
		cp.stop()
	}
	conn, err := rc.Tunnel()
	if err != nil {
		rc.Logf("upgrade of %s: %v", rc.URI.Path, err)
		return core.Finished
	}
	be.SetDeadline(time.Time{})
	gw.Tunnel(conn, be.Conn, br, h.tunnelOpts(rc, be))
	return core.Finished
}

func (h *handler) tunnelOpts(rc *core.Request, be *gw.Backend) *gw.TunnelOpts {
	o := &gw.TunnelOpts{
		ReadIdle:  time.Duration(rc.Conf.MaxReadIdle) * time.Second,
		WriteIdle: time.Duration(rc.Conf.MaxWriteIdle) * time.Second,
		Abort:     func() { be.Conn.Close() },
	}
	if be.Host.Conf.TCPFinPropagate {
		if cw, ok := be.Conn.(interface{ CloseWrite() error }); ok {
			o.CloseUp = cw.CloseWrite
		}
	}
	return o
}

// connect serves CONNECT (proxy.header "connect"): a connection to the
// backend, a 200 to the client, and a raw tunnel between them.
func (h *handler) connect(rc *core.Request) core.Result {
	be := &h.x.be
	if err := gw.Connect(context.Background(), be, h.ch.Ext, h.ch.Host, h.conf.gw.Balance, &h.ch.SI, true); err != nil {
		return rc.Status(503)
	}
	defer be.Release(false)
	rc.Resp.Status = 200
	conn, err := rc.Tunnel()
	if err != nil {
		rc.Logf("CONNECT %s: %v", rc.Target, err)
		return core.Finished
	}
	gw.Tunnel(conn, be.Conn, be.Conn, h.tunnelOpts(rc, be))
	return core.Finished
}

// readTimeout bounds each read of the backend (read-timeout).
type readTimeout struct {
	c net.Conn
	d time.Duration
}

func (r *readTimeout) Read(p []byte) (int, error) {
	if r.d > 0 {
		r.c.SetReadDeadline(time.Now().Add(r.d))
	}
	return r.c.Read(p)
}

// copier sends the request (head and body) in the background.
type copier struct {
	conn   net.Conn
	fin    chan struct{}
	e      error
	client *core.Request // set while the copy reads the client's body
}

func startCopy(rc *core.Request, c net.Conn, head []byte, body io.Reader, writeTimeout int) *copier {
	cp := &copier{conn: c, fin: make(chan struct{})}
	if _, ok := body.(*chunkedReader); ok {
		cp.client = rc
	}
	go func() {
		defer close(cp.fin)
		var w io.Writer = c
		if writeTimeout > 0 {
			w = &writeTimeoutW{c: c, d: time.Duration(writeTimeout) * time.Second}
		}
		if _, err := w.Write(head); err != nil {
			cp.e = err
			return
		}
		if _, err := io.Copy(w, body); err != nil {
			cp.e = err
		}
	}()
	return cp
}

func (cp *copier) done() bool {
	select {
	case <-cp.fin:
		return cp.e == nil
	default:
		return false
	}
}

func (cp *copier) err() error {
	select {
	case <-cp.fin:
		return cp.e
	default:
		return nil
	}
}

// stop ends the copy and waits for it: nothing may read the client's body
// once the handler returned.
func (cp *copier) stop() {
	select {
	case <-cp.fin:
		return
	default:
	}
	if cp.client != nil {
		cp.client.InterruptBody()
	}
	cp.conn.SetWriteDeadline(time.Unix(1, 0))
	<-cp.fin
}

type writeTimeoutW struct {
	c net.Conn
	d time.Duration
}

func (w *writeTimeoutW) Write(p []byte) (int, error) {
	w.c.SetWriteDeadline(time.Now().Add(w.d))
	return w.c.Write(p)
}

// chunkedReader re-frames a client body of unknown length with chunked
// encoding for the backend (server.stream-request-body with a chunked
// request).
type chunkedReader struct {
	r    io.Reader
	buf  []byte
	out  []byte
	done bool
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.done {
			return 0, io.EOF
		}
		if c.buf == nil {
			c.buf = make([]byte, 16<<10)
		}
		n, err := c.r.Read(c.buf)
		if n > 0 {
			c.out = strconv.AppendInt(c.out[:0], int64(n), 16)
			c.out = append(c.out, "\r\n"...)
			c.out = append(c.out, c.buf[:n]...)
			c.out = append(c.out, "\r\n"...)
		}
		if err == io.EOF {
			c.out = append(c.out, "0\r\n\r\n"...)
			c.done = true
		} else if err != nil {
			return 0, err
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}
