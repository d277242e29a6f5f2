// Package scgi is lighttpd's mod_scgi: requests handed to SCGI or uwsgi
// backends (scgi.server, scgi.protocol) by extension or URL prefix, with
// the same backend options, balancing, bin-path processes and X-Sendfile
// as mod_fastcgi.
package scgi

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http/httputil"
	"sync"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/modules/internal/gw"
	"github.com/golighty/golighty/modules/internal/scgi"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_scgi", New: func() core.Module { return &Module{} }})
}

// conf is the per-request view of the scgi.* keys.
type conf struct {
	gw    gw.Conf
	uwsgi bool
}

// Module is one loaded mod_scgi.
type Module struct {
	table *core.Table[conf]
	gw    gw.Gateway
}

var (
	_ core.URICleanHook        = (*Module)(nil)
	_ core.SubrequestStartHook = (*Module)(nil)
	_ core.Closer              = (*Module)(nil)
)

// Setup binds the scgi.* keys. bin-path runs through /bin/sh -c "exec
// ...", as lighttpd does for SCGI only.
func (m *Module) Setup(sc *core.SetupContext) error {
	m.gw.ShellExec = true
	m.gw.CheckLocal = true
	keys := gw.Keys(&m.gw, sc, "scgi", func(c *conf) *gw.Conf { return &c.gw })
	keys = append(keys, core.Key[conf]{Name: "scgi.protocol", Type: core.TypeString, Bind: func(v core.Value) (func(*conf), error) {
		var uwsgi bool
		switch v.String() {
		case "scgi":
		case "uwsgi":
			uwsgi = true
		default:
			return nil, errors.New("unexpected type for key: scgi.protocolexpected \"scgi\" or \"uwsgi\"")
		}
		return func(c *conf) { c.uwsgi = uwsgi }, nil
	}})
	var err error
	m.table, err = gw.Bind(&m.gw, sc, conf{}, keys)
	return err
}

// Close stops bin-path backends.
func (m *Module) Close() error { return m.gw.Close() }

// URIClean matches the URL path for backends with check-local disabled.
func (m *Module) URIClean(rc *core.Request) core.Result { return m.check(rc, true) }

// SubrequestStart matches the physical path (check-local enabled).
func (m *Module) SubrequestStart(rc *core.Request) core.Result { return m.check(rc, false) }

func (m *Module) check(rc *core.Request, uriPath bool) core.Result {
	c := m.table.Resolve(rc)
	ch, ok, res := gw.Check(rc, &c.gw, uriPath)
	if !ok {
		return res
	}
	rc.SetHandler("mod_scgi", &handler{conf: c, ch: ch})
	return core.GoOn
}

type handler struct {
	conf conf
	ch   gw.Choice

	// While the request waits suspended (Resume): its body and the wait.
	body  *gw.Body
	be    gw.Backend
	susp  gw.Suspension
	watch gw.ClientWatch
}

var (
	envPool = sync.Pool{New: func() any { return new(scgi.Env) }}
	readers = gw.NewReaderPool(32 << 10)
)

// waits lets 64 requests wait for their answer in goroutines at once;
// more wait suspended. (A variable: tests make every request suspend.)
var waits = gw.NewWaitGate(64)

// Serve sends the request (CGI variables and body) to a backend and
// answers with its CGI-style response.
func (h *handler) Serve(rc *core.Request) (res core.Result) {
	// A chunked body is read whole first, also when request bodies
	// stream: CONTENT_LENGTH needs its length (lighttpd answers 411 unless
	// the whole body arrived with the head).
	body, err := gw.ReadBody(rc, gw.StreamAbove(rc))
	if err != nil {
		return gw.BodyFailed(rc, err)
	}
	defer func() {
		if res != core.Suspended {
			body.Close()
		}
	}()
	env := envPool.Get().(*scgi.Env)
	defer envPool.Put(env)
	env.Reset(h.conf.uwsgi)
	hc := &h.ch.Host.Conf
	rc.CGIEnv(env, &core.CGIOptions{DocRoot: hc.DocRoot, XSendfile: hc.XSendfile})
	head, err := env.Bytes()
	switch {
	case errors.Is(err, scgi.ErrTooLarge):
		return rc.Status(431)
	case err != nil:
		rc.Logf("%v for %s", err, rc.URI.Path)
		return rc.Status(400)
	}
	be := &h.be
	if err := gw.Connect(context.Background(), be, h.ch.Ext, h.ch.Host, h.conf.gw.Balance, &h.ch.SI, true); err != nil {
		return rc.Status(503)
	}
	defer func() {
		if res != core.Suspended {
			be.Release(false)
		}
	}()
	res = h.exchange(rc, be, head, body)
	if res == core.Suspended {
		h.body = body
	}
	return res
}

// Resume goes on with a request that waited for its backend's answer
// without a goroutine (core.Resumer).
func (h *handler) Resume(rc *core.Request) core.Result {
	be, err := h.susp.Resume()
	defer func() {
		h.body.Close()
		h.body = nil
		be.Release(false)
	}()
	return h.answer(rc, be, err)
}

// exchange sends the request on be and waits for the backend's answer, in
// the goroutine or, beyond the first requests waiting at once, suspended
// (core.Suspended).
func (h *handler) exchange(rc *core.Request, be *gw.Backend, head []byte, body *gw.Body) core.Result {
	hc := &be.Host.Conf
	if hc.WriteTimeout > 0 {
		be.SetWriteDeadline(time.Now().Add(time.Duration(hc.WriteTimeout) * time.Second))
	}
	var copyDone chan error
	switch {
	case body.N == 0:
		if _, err := be.Write(head); err != nil {
			return h.dropped(rc, be, err)
		}
	case body.Bytes() != nil:
		bufs := net.Buffers{head, body.Bytes()}
		if _, err := bufs.WriteTo(be.Conn); err != nil {
			return h.dropped(rc, be, err)
		}
	default:
		// A spooled or streamed body goes in the background: the
		// backend may answer before reading all of it.
		copyDone = make(chan error, 1)
		src := body.Reader()
		go func() {
			_, err := be.Write(head)
			if err == nil {
				_, err = io.Copy(be.Conn, src)
			}
			copyDone <- err
		}()
		defer func() {
			select {
			case <-copyDone:
			default:
				if body.Streamed() {
					rc.InterruptBody()
				}
				be.SetWriteDeadline(time.Unix(1, 0))
				<-copyDone
			}
		}()
	}
	d := time.Duration(hc.ReadTimeout) * time.Second
	if copyDone == nil && h.susp.Suspend(rc, waits, be, d, &h.watch) {
		return core.Suspended
	}
	// The read buffer is taken once the backend answers.
	err := h.susp.Await(rc, waits, be, d, &h.watch)
	return h.answer(rc, be, err)
}

// answer answers the client with the backend's response once its wait
// (err) ended; the client watch is stopped then.
func (h *handler) answer(rc *core.Request, be *gw.Backend, err error) core.Result {
	hc := &be.Host.Conf
	peer := &gw.Peer{Proto: "scgi", Addr: be.Proc.Name}
	dr := &deadlineReader{c: be.Conn, d: time.Duration(hc.ReadTimeout) * time.Second}
	er := &gw.ErrReader{R: dr}
	br := readers.Get(er)
	defer readers.Put(br)
	if err == nil {
		_, err = br.Peek(1)
	}
	if h.watch.Stop() {
		rc.AbortStream()
		return core.Finished
	}
	if err != nil {
		if gw.IsTimeout(err) {
			rc.Logf("read timeout on socket: %s", be.Proc.Addr)
			return rc.Status(504)
		}
		rc.Logf("response not received, request sent on socket: %s for %s?%s, closing connection: %v", be.Proc.Addr, rc.URI.Path, rc.URI.Query, err)
		return rc.Status(500)
	}
	bh, err := rc.BackendHeaders(br, &core.BackendOpts{
		Kind:              core.BackendSCGI,
		XSendfile:         hc.XSendfile,
		XSendfileDocroots: hc.XSendfileDocroots,
	})
	if err != nil {
		if er.TimedOut(err) {
			rc.Logf("read timeout on socket: %s", be.Proc.Addr)
			rc.Resp.Status = 504
		}
		return core.Finished
	}
	if bh.Handoff {
		return core.Finished
	}
	if bh.ContentLength < 0 {
		rc.Resp.Header.Del("Content-Length")
	}
	var src io.Reader = br
	switch {
	case bh.Chunked:
		src = httputil.NewChunkedReader(br)
	case bh.ContentLength >= 0:
		src = io.LimitReader(br, bh.ContentLength)
	}
	return gw.TransferBody(rc, src, bh.ContentLength, peer, er.TimedOut)
}

// dropped: the backend closed the connection before the request was sent.
func (h *handler) dropped(rc *core.Request, be *gw.Backend, err error) core.Result {
	rc.Logf("connection was dropped after accept() (perhaps the gw process died), write-offset: 0 socket: %s: %v", be.Proc.Addr, err)
	return rc.Status(503)
}

// deadlineReader bounds each read of the backend (read-timeout).
type deadlineReader struct {
	c net.Conn
	d time.Duration
}

func (r *deadlineReader) Read(p []byte) (int, error) {
	if r.d > 0 {
		r.c.SetReadDeadline(time.Now().Add(r.d))
	}
	return r.c.Read(p)
}

// InlineHooks marks the module for HTTP/2 requests on the reader
// (core.InlineHooks): its hooks only match and pick a host (its handler runs
// off the reader).
func (*Module) InlineHooks() {}
