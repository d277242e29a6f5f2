package h2

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// engine is a Server on a loopback listener.
type engine struct {
	srv  *Server
	ln   net.Listener
	addr string
	wg   sync.WaitGroup
}

func startEngine(t testing.TB, h Handler, adjust func(*Config)) *engine {
	t.Helper()
	cfg := DefaultConfig()
	cfg.ServerTag = "test"
	if os.Getenv("H2_INLINE") == "1" {
		// Every stream starts on the reader and hands the reader on at
		// once: the engine's tests then exercise the hand-over (their
		// handlers wait without detaching, which inline handlers may not).
		cfg.Inline = true
		inner := h
		h = HandlerFunc(func(w *ResponseWriter, r *Request) {
			w.Detach()
			inner.ServeH2(w, r)
		})
	}
	if adjust != nil {
		adjust(&cfg)
	}
	e := &engine{srv: &Server{Handler: h, Token: "test"}}
	e.srv.SetConfig(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.ln, e.addr = ln, ln.Addr().String()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				e.srv.ServeConn(c, ConnOptions{})
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		e.srv.Close()
		done := make(chan struct{})
		go func() { e.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("a connection was still served 10 s after the engine closed")
		}
	})
	return e
}

// client speaks raw HTTP/2 frames to the engine.
type client struct {
	t      testing.TB
	c      net.Conn
	fr     *http2.Framer
	encBuf bytes.Buffer
	enc    *hpack.Encoder
	dec    *hpack.Decoder
	fields []hpack.HeaderField
	// settings the server sent
	settings map[http2.SettingID]uint32
}

// dial connects, exchanges prefaces and SETTINGS (acknowledging the
// server's), with extra client settings.
func dial(t testing.TB, addr string, settings ...http2.Setting) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	cl := &client{t: t, c: nc, settings: map[http2.SettingID]uint32{}}
	cl.fr = http2.NewFramer(nc, nc)
	cl.fr.SetMaxReadFrameSize(1 << 24)
	cl.enc = hpack.NewEncoder(&cl.encBuf)
	cl.dec = hpack.NewDecoder(4096, func(f hpack.HeaderField) { cl.fields = append(cl.fields, f) })
	if _, err := io.WriteString(nc, clientPreface); err != nil {
		t.Fatal(err)
	}
	if err := cl.fr.WriteSettings(settings...); err != nil {
		t.Fatal(err)
	}
	f := cl.read()
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		t.Fatalf("first frame %v, want SETTINGS", f)
	}
	sf.ForeachSetting(func(s http2.Setting) error { cl.settings[s.ID] = s.Val; return nil })
	if err := cl.fr.WriteSettingsAck(); err != nil {
		t.Fatal(err)
	}
	return cl
}

// read returns the next frame (failing the test after 5 s).
func (cl *client) read() http2.Frame {
	cl.t.Helper()
	f, err := cl.readErr(5 * time.Second)
	if err != nil {
		cl.t.Fatalf("reading frame: %v", err)
	}
	return f
}

func (cl *client) readErr(d time.Duration) (http2.Frame, error) {
	cl.c.SetReadDeadline(time.Now().Add(d))
	return cl.fr.ReadFrame()
}

// block encodes fields given as name, value pairs.
func (cl *client) block(kv ...string) []byte {
	cl.encBuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		cl.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return bytes.Clone(cl.encBuf.Bytes())
}

// get is a GET request's fields for path.
func get(path string, extra ...string) []string {
	return append([]string{":method", "GET", ":scheme", "http", ":authority", "example.org", ":path", path}, extra...)
}

func (cl *client) headers(id uint32, end bool, kv ...string) {
	cl.t.Helper()
	if err := cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: cl.block(kv...), EndStream: end, EndHeaders: true}); err != nil {
		cl.t.Fatal(err)
	}
}

// response is what came back on one stream.
type response struct {
	status  string
	header  map[string]string
	names   []string
	body    []byte
	ended   bool
	rst     http2.ErrCode
	gotRST  bool
	frames  int
	dataMax int
}

// collect reads frames until stream id ends (or is reset), acknowledging
// DATA with WINDOW_UPDATE frames when ack is set. Frames of other streams
// are handed to other (may be nil).
func (cl *client) collect(id uint32, ack bool, other func(http2.Frame)) *response {
	cl.t.Helper()
	r := &response{header: map[string]string{}}
	for !r.ended && !r.gotRST {
		f := cl.read()
		if f.Header().StreamID != id {
			if other != nil {
				other(f)
			}
			continue
		}
		r.frames++
		switch f := f.(type) {
		case *http2.HeadersFrame:
			cl.fields = cl.fields[:0]
			if _, err := cl.dec.Write(f.HeaderBlockFragment()); err != nil {
				cl.t.Fatal(err)
			}
			for _, hf := range cl.fields {
				if hf.Name == ":status" {
					r.status = hf.Value
					continue
				}
				r.header[hf.Name] = hf.Value
				r.names = append(r.names, hf.Name)
			}
			r.ended = f.StreamEnded()
		case *http2.DataFrame:
			r.body = append(r.body, f.Data()...)
			r.dataMax = max(r.dataMax, len(f.Data()))
			r.ended = f.StreamEnded()
			if ack && len(f.Data()) > 0 {
				cl.fr.WriteWindowUpdate(0, uint32(len(f.Data())))
				cl.fr.WriteWindowUpdate(id, uint32(len(f.Data())))
			}
		case *http2.RSTStreamFrame:
			r.gotRST, r.rst = true, f.ErrCode
		}
	}
	return r
}

// expectGoAway reads until a GOAWAY (returning its code) or the connection
// ends (returning ok=false).
func (cl *client) expectGoAway(d time.Duration) (http2.ErrCode, bool) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		f, err := cl.readErr(time.Until(deadline))
		if err != nil {
			return 0, false
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			return g.ErrCode, true
		}
	}
	return 0, false
}

// closedSoon reports whether the server closes the connection within d.
func (cl *client) closedSoon(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		_, err := cl.readErr(time.Until(deadline))
		if err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout())
		}
	}
	return false
}

// text answers every request with a fixed body.
func text(body string) Handler {
	return HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.AddHeader("Content-Type", "text/plain")
		w.WriteHead(int64(len(body)), []byte(body))
	})
}

func hasName(names []string, n string) bool {
	for _, x := range names {
		if strings.EqualFold(x, n) {
			return true
		}
	}
	return false
}

// pipe returns the two ends of a loopback TCP connection.
func pipe(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ch <- c
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-ch
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func newDecoder(cl *client) *hpack.Decoder {
	return hpack.NewDecoder(4096, func(f hpack.HeaderField) { cl.fields = append(cl.fields, f) })
}
