// Package wstunnel is lighttpd's mod_wstunnel: the server ends the
// WebSocket (RFC 6455, and draft hybi-00) itself and tunnels the payloads
// to a plain TCP or unix-socket backend (wstunnel.server), wrapping what
// the backend sends in text or binary frames (wstunnel.frame-type), with
// an Origin allow-list (wstunnel.origins) and server pings
// (wstunnel.ping-interval).
package wstunnel

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/h1"
	"github.com/golighty/golighty/modules/internal/gw"
	"github.com/golighty/golighty/modules/internal/websocket"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_wstunnel", New: func() core.Module { return &Module{} }})
}

// conf is the per-request view of the wstunnel.* keys.
type conf struct {
	gw      gw.Conf
	binary  bool
	origins []string
	ping    time.Duration
}

// Module is one loaded mod_wstunnel.
type Module struct {
	table *core.Table[conf]
	gw    gw.Gateway
}

var (
	_ core.URICleanHook = (*Module)(nil)
	_ core.Closer       = (*Module)(nil)
)

// Setup binds the wstunnel.* keys.
func (m *Module) Setup(sc *core.SetupContext) error {
	m.gw.NoAuthorizer = true
	keys := gw.Keys(&m.gw, sc, "wstunnel", func(c *conf) *gw.Conf { return &c.gw })
	keys = append(keys,
		core.Key[conf]{Name: "wstunnel.frame-type", Type: core.TypeString, Bind: func(v core.Value) (func(*conf), error) {
			// Anything but "binary" means text.
			b := strings.EqualFold(v.String(), "binary")
			return func(c *conf) { c.binary = b }, nil
		}},
		core.Key[conf]{Name: "wstunnel.origins", Type: core.TypeList, Bind: func(v core.Value) (func(*conf), error) {
			l := v.List()
			for _, o := range l {
				if o == "" {
					return nil, errors.New("unexpected empty string in wstunnel.origins")
				}
			}
			return func(c *conf) { c.origins = l }, nil
		}},
		core.Key[conf]{Name: "wstunnel.ping-interval", Type: core.TypeShort, Bind: func(v core.Value) (func(*conf), error) {
			d := time.Duration(v.Int()) * time.Second
			return func(c *conf) { c.ping = d }, nil
		}},
	)
	var err error
	m.table, err = gw.Bind(&m.gw, sc, conf{}, keys)
	return err
}

// Close stops bin-path backends.
func (m *Module) Close() error { return m.gw.Close() }

// URIClean claims WebSocket handshakes (an HTTP/1.1 GET with "Upgrade:
// websocket" and "Connection: upgrade") for a wstunnel.server path and
// checks version, Host and Origin as lighttpd's wstunnel_check_request.
func (m *Module) URIClean(rc *core.Request) core.Result {
	if rc.Handler != nil || rc.Method != "GET" || rc.Proto != 11 ||
		!h1.HasToken(rc.Header.Get("Upgrade"), "websocket") || !h1.HasToken(rc.Header.Get("Connection"), "upgrade") {
		return core.GoOn
	}
	c := m.table.Resolve(rc)
	ch, ok, res := gw.Check(rc, &c.gw, true)
	if !ok {
		return res
	}
	h := &handler{conf: c, ch: ch}
	version := 0
	if v := rc.Header.Get("Sec-WebSocket-Version"); v != "" {
		n, ok := leadingInt(v)
		if !ok {
			return rc.Status(400)
		}
		version = n
	}
	h.version = version
	if rc.URI.Authority == "" {
		return rc.Status(400)
	}
	if st := h.originStatus(rc); st != 0 {
		return rc.Status(st)
	}
	h.binary = c.binary
	if !h.binary {
		// A "binary" subprotocol asks for binary frames; "base64" is
		// echoed (and means base64 payloads for hybi-00 only).
		for _, p := range strings.Split(rc.Header.Get("Sec-WebSocket-Protocol"), ",") {
			switch strings.ToLower(strings.Trim(p, " \t\r\n")) {
			case "binary":
				h.binary, h.subproto = true, "binary"
			case "base64":
				h.subproto = "base64"
			default:
				continue
			}
			break
		}
	}
	rc.SetHandler("mod_wstunnel", h)
	return core.GoOn
}

// leadingInt is strtol over the leading digits (at least one) of v.
func leadingInt(v string) (int, bool) {
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[:i], 10, 32)
	if err != nil {
		return 0, false
	}
	return int(n), true
}

// originStatus applies wstunnel.origins: a suffix match on a '.'
// boundary; no Origin (nor Sec-WebSocket-Origin) is 400, no match 403.
func (h *handler) originStatus(rc *core.Request) int {
	if len(h.conf.origins) == 0 {
		return 0
	}
	o := rc.Header.Get("Origin")
	if o == "" {
		o = rc.Header.Get("Sec-WebSocket-Origin")
	}
	if o == "" {
		return 400
	}
	for _, a := range h.conf.origins {
		switch {
		case len(o) > len(a) && strings.HasSuffix(o, a) && o[len(o)-len(a)-1] == '.':
			return 0
		case o == a:
			return 0
		}
	}
	return 403
}

// handler is one WebSocket tunnel.
type handler struct {
	conf     conf
	ch       gw.Choice
	be       gw.Backend
	version  int
	binary   bool
	subproto string
	// hybi-00: the numbers of Sec-WebSocket-Key1 and -Key2
	key1, key2 uint32
}

// Serve connects to the backend, completes the handshake and runs the
// tunnel until either side ends it.
func (h *handler) Serve(rc *core.Request) core.Result {
	be := &h.be
	if err := gw.Connect(context.Background(), be, h.ch.Ext, h.ch.Host, h.conf.gw.Balance, &h.ch.SI, true); err != nil {
		return rc.Status(503)
	}
	defer be.Release(false)
	switch {
	case h.version >= 8:
		key := rc.Header.Get("Sec-WebSocket-Key")
		if key == "" {
			rc.Logf("Sec-WebSocket-Key is invalid")
			return rc.Status(400)
		}
		rc.Resp.Header.Set("Upgrade", "websocket")
		rc.Resp.Header.Set("Sec-WebSocket-Accept", websocket.Accept(key))
	case h.version == 0:
		if err := h.hybi00(rc); err != nil {
			rc.Logf("%v", err)
			return rc.Status(400)
		}
	default:
		rc.Logf("not supported WebSocket Version")
		return rc.Status(503)
	}
	if h.binary {
		rc.Resp.Header.Set("Sec-WebSocket-Protocol", "binary")
	} else if h.subproto == "base64" {
		rc.Resp.Header.Set("Sec-WebSocket-Protocol", "base64")
	}
	rc.Resp.Status = 101
	conn, err := rc.Tunnel()
	if err != nil {
		rc.Logf("websocket %s: %v", rc.URI.Path, err)
		return core.Finished
	}
	h.run(rc, conn, be.Conn)
	return core.Finished
}

// hybi00 is the draft hybi-00 handshake: Origin and the keys are needed,
// the third key is the 8 bytes the client sends after its head, and the
// answer is the MD5 sent after the response head (by run, once the key
// arrived).
func (h *handler) hybi00(rc *core.Request) error {
	if rc.Header.Get("Origin") == "" && rc.Header.Get("Sec-WebSocket-Origin") == "" {
		return errors.New("Origin header is invalid")
	}
	k1, ok1 := websocket.Hybi00Key(rc.Header.Get("Sec-WebSocket-Key1"))
	k2, ok2 := websocket.Hybi00Key(rc.Header.Get("Sec-WebSocket-Key2"))
	if !ok1 || !ok2 {
		return errors.New("Sec-WebSocket-Key is invalid")
	}
	scheme := "ws://"
	if rc.URI.Scheme == "https" {
		scheme = "wss://"
	}
	rc.Resp.Header.Set("Upgrade", "websocket")
	rc.Resp.Header.Set("Sec-WebSocket-Location", scheme+rc.URI.Authority+rc.URI.Path)
	h.key1, h.key2 = k1, k2
	return nil
}

// run is the tunnel: client frames become backend bytes, backend bytes
// become frames. A client close or bad frame is answered with a close
// frame carrying "1000" (as text, as lighttpd), a backend error with
// "1001"; a backend that closes ends the tunnel without one; a client idle
// past server.max-read-idle gets an empty close frame.
func (h *handler) run(rc *core.Request, client net.Conn, backend net.Conn) {
	var wmu sync.Mutex
	writeTimeout := time.Duration(rc.Conf.MaxWriteIdle) * time.Second
	send := func(b []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		if writeTimeout > 0 {
			client.SetWriteDeadline(time.Now().Add(writeTimeout))
		}
		_, err := client.Write(b)
		return err
	}
	frame := func(op byte, payload []byte) error {
		if h.version == 0 {
			if op == websocket.OpClose {
				return send(websocket.AppendHybi00(nil, nil, false, true))
			}
			if op != websocket.OpText && op != websocket.OpBin {
				return nil
			}
			return send(websocket.AppendHybi00(nil, payload, h.binary, false))
		}
		return send(websocket.AppendFrame(make([]byte, 0, len(payload)+10), op, payload))
	}
	dataOp := byte(websocket.OpText)
	if h.binary {
		dataOp = websocket.OpBin
	}

	done := make(chan struct{})
	var wg sync.WaitGroup
	if h.conf.ping > 0 && h.version != 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(h.conf.ping)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					frame(websocket.OpPing, []byte("ping"))
				}
			}
		}()
	}
	// Client to backend.
	var clientEnded sync.Once
	endClient := func(payload []byte) {
		clientEnded.Do(func() {
			frame(websocket.OpClose, payload)
			backend.Close() // ends the backend reader below
		})
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		readIdle := time.Duration(rc.Conf.MaxReadIdle) * time.Second
		dec := websocket.Decoder{Before: dataOp}
		hdec := websocket.Hybi00Decoder{Binary: h.binary}
		toBackend := func(p []byte) error { _, err := backend.Write(p); return err }
		pong := func(p []byte) error { return frame(websocket.OpPong, p) }
		buf := make([]byte, 32<<10)
		if h.version == 0 {
			// The hybi-00 key3 is the first 8 bytes after the head.
			if _, err := io.ReadFull(client, buf[:8]); err != nil {
				endClient(nil)
				return
			}
			sum := websocket.Hybi00Response(h.key1, h.key2, buf[:8])
			if send(sum[:]) != nil {
				endClient(nil)
				return
			}
		}
		for {
			if readIdle > 0 {
				client.SetReadDeadline(time.Now().Add(readIdle))
			}
			n, err := client.Read(buf)
			if n > 0 {
				var derr error
				if h.version == 0 {
					derr = hdec.Decode(buf[:n], toBackend)
				} else {
					derr = dec.Decode(buf[:n], toBackend, pong)
				}
				if derr != nil {
					if !errors.Is(derr, websocket.ErrClose) {
						rc.Logf("websocket %s: %v", rc.URI.Path, derr)
					}
					endClient([]byte("1000"))
					return
				}
			}
			if err != nil {
				select {
				case <-done: // the backend side ended the tunnel
				default:
					if gw.IsTimeout(err) {
						endClient(nil) // idle past server.max-read-idle
					} else {
						endClient([]byte("1000"))
					}
				}
				return
			}
		}
	}()
	// Backend to client.
	buf := make([]byte, 32<<10)
	for {
		n, err := backend.Read(buf)
		if n > 0 {
			if frame(dataOp, buf[:n]) != nil {
				break
			}
		}
		if err != nil {
			if err != io.EOF && !errors.Is(err, net.ErrClosed) {
				clientEnded.Do(func() { frame(websocket.OpClose, []byte("1001")) })
			}
			break
		}
	}
	close(done)
	client.SetReadDeadline(time.Unix(1, 0))
	wg.Wait()
}

// InlineHooks marks the module for HTTP/2 requests on the reader
// (core.InlineHooks): its hook only matches (its handler runs off the
// reader).
func (*Module) InlineHooks() {}
