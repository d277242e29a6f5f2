// Package ajp13 is lighttpd's mod_ajp13: requests forwarded to an
// AJP/1.3 container such as Tomcat (ajp13.server), balanced as the other
// gateways, with the container's response through the core's backend
// rules.
package ajp13

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/modules/internal/ajp"
	"github.com/golighty/golighty/modules/internal/gw"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_ajp13", New: func() core.Module { return &Module{} }})
}

type conf struct{ gw gw.Conf }

// Module is one loaded mod_ajp13.
type Module struct {
	table *core.Table[conf]
	gw    gw.Gateway
}

var (
	_ core.URICleanHook = (*Module)(nil)
	_ core.Closer       = (*Module)(nil)
)

// Setup binds the ajp13.* keys.
func (m *Module) Setup(sc *core.SetupContext) error {
	keys := gw.Keys(&m.gw, sc, "ajp13", func(c *conf) *gw.Conf { return &c.gw })
	var err error
	m.table, err = gw.Bind(&m.gw, sc, conf{}, keys)
	return err
}

// Close stops bin-path backends.
func (m *Module) Close() error { return m.gw.Close() }

// URIClean takes requests whose URL path matches ajp13.server.
func (m *Module) URIClean(rc *core.Request) core.Result {
	c := m.table.Resolve(rc)
	ch, ok, res := gw.Check(rc, &c.gw, true)
	if !ok {
		return res
	}
	rc.SetHandler("mod_ajp13", &handler{conf: c, ch: ch})
	return core.GoOn
}

type handler struct {
	conf conf
	ch   gw.Choice
	be   gw.Backend
}

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}

// Serve sends the FORWARD_REQUEST and the body the container asks for,
// and answers with its response.
func (h *handler) Serve(rc *core.Request) core.Result {
	method := ajp.Methods[rc.Method]
	body, err := gw.ReadBody(rc, gw.StreamAbove(rc))
	if err != nil {
		return gw.BodyFailed(rc, err)
	}
	defer body.Close()
	fwd, err := ajp.AppendForwardRequest(nil, h.request(rc, body.N))
	if err != nil || method == 0 {
		return rc.Status(400)
	}
	be := &h.be
	if err := gw.Connect(context.Background(), be, h.ch.Ext, h.ch.Host, h.conf.gw.Balance, &h.ch.SI, true); err != nil {
		return rc.Status(503)
	}
	defer be.Release(false)
	hc := &be.Host.Conf
	peer := &gw.Peer{Proto: "ajp13", Addr: be.Proc.Name}
	cs := &container{c: be.Conn, body: body.Reader(), left: body.N, writeTimeout: time.Duration(hc.WriteTimeout) * time.Second}
	// The request and a first body packet go together; more body goes
	// when the container asks for it (GET_BODY_CHUNK).
	if err := cs.send(fwd, ajp.MaxBodyData); err != nil {
		rc.Logf("connection was dropped after accept() (perhaps the gw process died), write-offset: 0 socket: %s: %v", be.Proc.Addr, err)
		return rc.Status(503)
	}
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(&deadlineReader{c: be.Conn, d: time.Duration(hc.ReadTimeout) * time.Second})
	defer func() {
		br.Reset(nil)
		readerPool.Put(br)
	}()
	cs.br = br
	w := gw.WatchClient(rc, func() { be.SetReadDeadline(time.Unix(1, 0)) })
	head, err := cs.head()
	if w.Stop() {
		rc.AbortStream()
		return core.Finished
	}
	if err != nil {
		switch {
		case gw.IsTimeout(err):
			rc.Logf("read timeout on socket: %s", be.Proc.Addr)
			return rc.Status(504)
		case errors.Is(err, ajp.ErrPrefix):
			rc.Logf("invalid packet prefix sent from container:pid: %d socket: %s", be.Proc.PID(), be.Proc.Addr)
		case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
			rc.Logf("unexpected end-of-file (perhaps the ajp13 process died):pid: %d socket: %s", be.Proc.PID(), be.Proc.Addr)
		default:
			rc.Logf("%v (socket: %s)", err, be.Proc.Addr)
		}
		return rc.Status(500)
	}
	bh, err := rc.BackendHeaders(bufio.NewReader(bytes.NewReader(head)), &core.BackendOpts{
		Kind:              core.BackendAJP13,
		XSendfile:         hc.XSendfile,
		XSendfileDocroots: hc.XSendfileDocroots,
	})
	if err != nil || bh.Handoff {
		return core.Finished
	}
	if bh.ContentLength < 0 {
		rc.Resp.Header.Del("Content-Length")
	}
	var src io.Reader = cs
	if bh.ContentLength >= 0 {
		src = io.LimitReader(cs, bh.ContentLength)
	}
	return gw.TransferBody(rc, src, bh.ContentLength, peer, nil)
}

// request builds the FORWARD_REQUEST fields as lighttpd's ajp13_create_env.
func (h *handler) request(rc *core.Request, bodyLen int64) *ajp.Request {
	r := &ajp.Request{
		Method:     ajp.Methods[rc.Method],
		Protocol:   "HTTP/1.0",
		URI:        rc.URI.Path,
		RemoteAddr: rc.Conn.RemoteIP,
		ServerPort: uint16(rc.Conn.LocalPort),
		SSL:        rc.URI.Scheme == "https",
	}
	if rc.Proto == 11 {
		r.Protocol = "HTTP/1.1"
	}
	name := rc.Conf.ServerName
	if name == "" {
		name = rc.URI.Authority
	}
	r.ServerName = stripPort(name)
	if rc.Header.Get("Content-Length") == "" {
		// Content-Length first when the client sent none (a chunked body
		// read whole, or no body at all: "0").
		r.Headers = append(r.Headers, [2]string{"Content-Length", strconv.FormatInt(bodyLen, 10)})
	}
	for i := 0; i < rc.Header.Len(); i++ {
		hd := rc.Header.At(i)
		if hd.Value != "" {
			r.Headers = append(r.Headers, [2]string{hd.Name, hd.Value})
		}
	}
	if rc.RemoteUser != "" {
		r.Attrs = append(r.Attrs, ajp.Attr{Code: ajp.AttrRemoteUser, Value: rc.RemoteUser})
	}
	if rc.AuthType != "" {
		r.Attrs = append(r.Attrs, ajp.Attr{Code: ajp.AttrAuthType, Value: rc.AuthType})
	}
	if rc.URI.Query != "" {
		r.Attrs = append(r.Attrs, ajp.Attr{Code: ajp.AttrQueryString, Value: rc.URI.Query})
	}
	if r.SSL {
		// lighttpd fills the request environment only over https, so
		// only then do the TLS attributes and AJP13_SECRET (mod_setenv)
		// reach the container. It asks for SSL_CIPHER_USE_KEYSIZE, which
		// mod_openssl names SSL_CIPHER_USEKEYSIZE: never sent, as here.
		rc.RequestEnv()
		for _, a := range [...]struct {
			code byte
			name string
		}{{0x07, "SSL_CLIENT_CERT"}, {0x08, "SSL_CIPHER"}, {0x0B, "SSL_CIPHER_USE_KEYSIZE"}} {
			if v := rc.Env.Get(a.name); v != "" {
				r.Attrs = append(r.Attrs, ajp.Attr{Code: a.code, Value: v})
			}
		}
		if s := rc.Env.Get("AJP13_SECRET"); s != "" {
			r.Attrs = append(r.Attrs, ajp.Attr{Code: ajp.AttrSecret, Value: s})
		}
	}
	return r
}

// stripPort removes ":port" from a host ("[::1]:80" keeps its brackets).
func stripPort(h string) string {
	if len(h) > 0 && h[0] == '[' {
		for i := 0; i+1 < len(h); i++ {
			if h[i] == ']' && h[i+1] == ':' {
				return h[:i+1]
			}
		}
		return h
	}
	for i := 0; i < len(h); i++ {
		if h[i] == ':' {
			return h[:i]
		}
	}
	return h
}

// container is one request's exchange with the container.
type container struct {
	c            net.Conn
	br           *bufio.Reader
	body         io.Reader
	left         int64 // body bytes not yet sent
	writeTimeout time.Duration
	ended        bool   // END_RESPONSE seen
	pending      []byte // body data of a packet not yet read
	buf          []byte
}

// send writes pre (a packet or nil) and up to n body bytes in packets;
// with no body left, an empty packet marks its end, as lighttpd.
func (cs *container) send(pre []byte, n int) error {
	out := append(cs.buf[:0], pre...)
	if cs.left == 0 {
		out = ajp.AppendBodyPacket(out, nil)
	}
	for n > 0 && cs.left > 0 {
		k := min(int64(n), cs.left, ajp.MaxBodyData)
		start := len(out)
		out = ajp.AppendBodyPacket(out, make([]byte, k))
		if _, err := io.ReadFull(cs.body, out[start+4:]); err != nil {
			return err
		}
		cs.left -= k
		n -= int(k)
	}
	cs.buf = out[:0]
	if cs.writeTimeout > 0 {
		cs.c.SetWriteDeadline(time.Now().Add(cs.writeTimeout))
	}
	_, err := cs.c.Write(out)
	return err
}

// head reads packets until SEND_HEADERS and returns the response head as
// text for the core's parser (body requests are served on the way).
func (cs *container) head() ([]byte, error) {
	for {
		typ, p, err := ajp.ReadPacket(cs.br)
		if err != nil {
			return nil, err
		}
		switch typ {
		case ajp.SendHeaders:
			if len(p) < 2 {
				return nil, errors.New("AJP13: headers packet received with invalid length")
			}
			return ajp.HeadText(nil, p)
		case ajp.SendBodyChunk:
			return nil, errors.New("AJP13: body received before headers")
		case ajp.GetBodyChunk:
			if err := cs.more(p); err != nil {
				return nil, err
			}
		case ajp.EndResponse:
			return nil, io.ErrUnexpectedEOF
		}
	}
}

func (cs *container) more(p []byte) error {
	n, err := ajp.Requested(p)
	if err != nil {
		return err
	}
	return cs.send(nil, n)
}

// Read yields the response body from SEND_BODY_CHUNK packets until
// END_RESPONSE (io.EOF); a connection that ends first is an error.
func (cs *container) Read(b []byte) (int, error) {
	for {
		if len(cs.pending) > 0 {
			n := copy(b, cs.pending)
			cs.pending = cs.pending[n:]
			return n, nil
		}
		if cs.ended {
			return 0, io.EOF
		}
		typ, p, err := ajp.ReadPacket(cs.br)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		switch typ {
		case ajp.SendBodyChunk:
			data, err := ajp.BodyChunk(p)
			if err != nil {
				return 0, err
			}
			cs.pending = data // empty: a flush
		case ajp.GetBodyChunk:
			if err := cs.more(p); err != nil {
				return 0, err
			}
		case ajp.EndResponse:
			cs.ended = true
		}
	}
}

// deadlineReader bounds each read of the container (read-timeout).
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
// (core.InlineHooks): its hook only matches (its handler runs off the
// reader).
func (*Module) InlineHooks() {}
