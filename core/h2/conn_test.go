package h2

import (
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"net"

	"github.com/golighty/golighty/core/filefd"
	"github.com/golighty/golighty/core/h1"
	"golang.org/x/net/http2"
)

func TestServerSettings(t *testing.T) {
	e := startEngine(t, text("x"), nil)
	cl := dial(t, e.addr)
	want := map[http2.SettingID]uint32{
		http2.SettingMaxConcurrentStreams: 8,
		http2.SettingInitialWindowSize:    65536,
		http2.SettingMaxHeaderListSize:    65535,
		9:                                 1, // SETTINGS_NO_RFC7540_PRIORITIES
	}
	for id, v := range want {
		if got, ok := cl.settings[id]; !ok || got != v {
			t.Errorf("setting %v = %d (present %v), want %d", id, got, ok, v)
		}
	}
	// The connection window is raised to 256 KiB at once, and our SETTINGS
	// are acknowledged.
	sawWU, sawAck := false, false
	for !sawWU || !sawAck {
		switch f := cl.read().(type) {
		case *http2.WindowUpdateFrame:
			if f.StreamID != 0 || f.Increment != 262144-65535 {
				t.Errorf("window update %v", f)
			}
			sawWU = true
		case *http2.SettingsFrame:
			sawAck = f.IsAck()
		}
	}
}

func TestResponseHeaders(t *testing.T) {
	e := startEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.SetStatus(404)
		w.AddHeader("Content-Type", "text/html")
		for _, h := range []string{"Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection",
			"X-Sendfile", "X-Sendfile2", "X-LIGHTTPD-send-file", "X-send-response-body"} {
			w.AddHeader(h, "x")
		}
		w.AddHeader("X-Split", "a\r\nb: c")
		w.AddHeader("X-Empty", "")
		w.AddHeader("X-App", "kept")
		w.WriteHead(5, []byte("gone\n"))
	}), nil)
	cl := dial(t, e.addr)
	cl.headers(1, true, get("/x")...)
	r := cl.collect(1, false, nil)
	if r.status != "404" || string(r.body) != "gone\n" || !r.ended {
		t.Fatalf("got %q %q ended=%v", r.status, r.body, r.ended)
	}
	for _, n := range r.names {
		if n != "content-type" && n != "x-app" && n != "date" && n != "server" {
			t.Errorf("field %q sent", n)
		}
	}
	if r.header["server"] != "test" || r.header["date"] == "" || r.header["x-app"] != "kept" {
		t.Errorf("header %v", r.header)
	}
}

// TestLargeResponseHead: a head larger than the client's frame size goes
// out as HEADERS and CONTINUATION frames of at most that size, END_HEADERS
// on the last, END_STREAM on the HEADERS frame alone.
func TestLargeResponseHead(t *testing.T) {
	big := strings.Repeat("v", 20000)
	for _, withBody := range []bool{false, true} {
		e := startEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
			w.AddHeader("X-One", big)
			w.AddHeader("X-Two", big)
			if withBody {
				w.WriteHead(3, []byte("ok\n"))
			} else {
				w.WriteHead(0, nil)
			}
		}), nil)
		cl := dial(t, e.addr)
		cl.headers(1, true, get("/x")...)
		var block []byte
		frames, ended, endHeaders := 0, false, false
		for !endHeaders {
			f := cl.read()
			if f.Header().StreamID != 1 {
				continue
			}
			frames++
			if f.Header().Length > 16384 {
				t.Errorf("frame of %d bytes", f.Header().Length)
			}
			switch f := f.(type) {
			case *http2.HeadersFrame:
				if frames != 1 {
					t.Fatalf("HEADERS as frame %d", frames)
				}
				block, ended, endHeaders = append(block, f.HeaderBlockFragment()...), f.StreamEnded(), f.HeadersEnded()
			case *http2.ContinuationFrame:
				if frames == 1 || f.Header().Flags&^http2.FlagContinuationEndHeaders != 0 {
					t.Fatalf("CONTINUATION as frame %d, flags %v", frames, f.Header().Flags)
				}
				block, endHeaders = append(block, f.HeaderBlockFragment()...), f.HeadersEnded()
			default:
				t.Fatalf("%v inside the header block", f)
			}
		}
		cl.fields = cl.fields[:0]
		if _, err := cl.dec.Write(block); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, f := range cl.fields {
			got[f.Name] = f.Value
		}
		if frames != 3 || ended == withBody || got["x-one"] != big || got["x-two"] != big || got[":status"] != "200" {
			t.Errorf("body %v: %d frames, END_STREAM %v, fields %d", withBody, frames, ended, len(got))
		}
		if withBody {
			if r := cl.collect(1, false, nil); string(r.body) != "ok\n" || !r.ended {
				t.Errorf("body %q ended %v", r.body, r.ended)
			}
		}
	}
}

func TestHeadAndBodyless(t *testing.T) {
	for _, tc := range []struct {
		name, method string
		status       int
	}{
		{"HEAD", "HEAD", 200},
		{"204", "GET", 204},
		{"304", "GET", 304},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
				w.SetStatus(tc.status)
				w.AddHeader("Content-Length", "10")
				w.WriteHead(10, nil)
				w.Write([]byte("0123456789"))
			}), nil)
			cl := dial(t, e.addr)
			cl.headers(1, true, ":method", tc.method, ":scheme", "http", ":authority", "a", ":path", "/")
			r := cl.collect(1, false, nil)
			if len(r.body) != 0 || r.frames != 1 || !r.ended {
				t.Errorf("body %q in %d frames, ended %v", r.body, r.frames, r.ended)
			}
		})
	}
}

// TestMalformed: what RFC 9113 calls malformed is reset with
// PROTOCOL_ERROR and never reaches the handler.
func TestMalformed(t *testing.T) {
	var called atomic.Int32
	e := startEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) { called.Add(1) }), nil)
	for _, tc := range []struct {
		name string
		kv   []string
	}{
		{"upper-case name", get("/", "X-Upper", "1")},
		{"connection", get("/", "connection", "keep-alive")},
		{"keep-alive", get("/", "keep-alive", "5")},
		{"transfer-encoding", get("/", "transfer-encoding", "chunked")},
		{"upgrade", get("/", "upgrade", "websocket")},
		{"te gzip", get("/", "te", "gzip")},
		{"unknown pseudo", get("/", ":foo", "bar")},
		{"response pseudo", get("/", ":status", "200")},
		{"pseudo after regular", []string{":method", "GET", ":scheme", "http", "x", "1", ":path", "/"}},
		{"missing method", []string{":scheme", "http", ":path", "/"}},
		{"missing scheme", []string{":method", "GET", ":path", "/"}},
		{"missing path", []string{":method", "GET", ":scheme", "http"}},
		{"empty path", []string{":method", "GET", ":scheme", "http", ":path", ""}},
		{"duplicate path", get("/", ":path", "/")},
		{"duplicate method", []string{":method", "GET", ":method", "GET", ":scheme", "http", ":path", "/"}},
		{"CR in value", get("/", "x", "a\rb")},
		{"LF in value", get("/", "x", "a\nb")},
		{"NUL in value", get("/", "x", "a\x00b")},
		{"bad name", get("/", "x y", "1")},
		{"content-length without body", get("/", "content-length", "3")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := dial(t, e.addr)
			cl.headers(1, true, tc.kv...)
			r := cl.collect(1, false, nil)
			if !r.gotRST || r.rst != http2.ErrCodeProtocol {
				t.Errorf("got status %q rst %v %v, want RST_STREAM PROTOCOL_ERROR", r.status, r.gotRST, r.rst)
			}
			// The connection goes on.
			cl.headers(3, true, get("/")...)
			if r := cl.collect(3, false, nil); r.gotRST {
				t.Errorf("next stream reset: %v", r.rst)
			}
		})
	}
	if n := called.Load(); n != 20 {
		t.Errorf("handler called %d times, want only for the follow-up requests (20)", n)
	}
}

// TestLighttpdStatuses: requests lighttpd refuses with a status reach the
// handler with that status, as over HTTP/1.1.
func TestLighttpdStatuses(t *testing.T) {
	got := make(chan *Request, 1)
	e := startEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		cp := *r
		got <- &cp
	}), func(c *Config) { c.MaxRequestFieldSize = 200; c.MaxRequestSize = 1000; c.Parse.MaxRequestSize = 1000 })
	for _, tc := range []struct {
		name   string
		end    bool
		kv     []string
		status int
	}{
		{"fine", true, get("/"), 0},
		{"no authority", true, []string{":method", "GET", ":scheme", "http", ":path", "/"}, 400},
		{"host instead of authority", true, []string{":method", "GET", ":scheme", "http", ":path", "/", "host", "a.example"}, 0},
		{"bad host", true, get("/", "host", "x"), 400},
		{"invalid authority", true, []string{":method", "GET", ":scheme", "http", ":authority", "a b", ":path", "/"}, 400},
		{"unknown method", true, []string{":method", "get", ":scheme", "http", ":authority", "a", ":path", "/"}, 501},
		{"POST without content-length", false, []string{":method", "POST", ":scheme", "http", ":authority", "a", ":path", "/"}, 411},
		{"GET with a body", false, get("/", "content-length", "5"), 400},
		{"too large", false, []string{":method", "PUT", ":scheme", "http", ":authority", "a", ":path", "/", "content-length", "5000"}, 413},
		{"oversized fields", true, get("/", "x-big", string(bytes.Repeat([]byte("a"), 300))), 431},
		{"relative path", true, get("x"), 400},
		{"duplicate content-length", false, []string{":method", "PUT", ":scheme", "http", ":authority", "a", ":path", "/", "content-length", "1", "content-length", "1"}, 400},
		{"http2-settings", true, get("/", "http2-settings", "AAA"), 400},
		{"control character", true, get("/", "x", "a\x01b"), 400},
		{"DEL", true, get("/", "x", "a\x7fb"), 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := dial(t, e.addr)
			cl.headers(1, tc.end, tc.kv...)
			select {
			case r := <-got:
				if r.Status != tc.status {
					t.Errorf("status %d (%s), want %d", r.Status, r.Reason, tc.status)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("handler not called")
			}
		})
	}
}

// TestHeaderStrictOff: without server.http-parseopts "header-strict",
// control characters other than CR, LF and NUL pass in field values.
func TestHeaderStrictOff(t *testing.T) {
	got := make(chan *Request, 1)
	e := startEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		cp := *r
		cp.Headers = append([]h1.Header(nil), r.Headers...)
		got <- &cp
	}), func(c *Config) { c.Parse.HeaderStrict = false })
	cl := dial(t, e.addr)
	cl.headers(1, true, get("/", "x", "a\x01\x7fb")...)
	select {
	case r := <-got:
		if v := r.Header("x"); r.Status != 0 || string(v) != "a\x01\x7fb" {
			t.Errorf("status %d, x %q", r.Status, v)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("handler not called")
	}
	cl.headers(3, true, get("/", "x", "a\x00b")...)
	if r := cl.collect(3, false, nil); !r.gotRST || r.rst != http2.ErrCodeProtocol {
		t.Errorf("NUL: rst %v %v, want PROTOCOL_ERROR", r.gotRST, r.rst)
	}
}

func TestFieldJoining(t *testing.T) {
	got := make(chan string, 1)
	e := startEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		var b bytes.Buffer
		for _, h := range r.Headers {
			b.WriteString(string(h.Name) + "=" + string(h.Value) + ";")
		}
		b.WriteString("host=" + string(r.Host))
		got <- b.String()
	}), nil)
	cl := dial(t, e.addr)
	cl.headers(1, true, ":method", "GET", ":scheme", "http", ":authority", "WWW.Example.ORG:80", ":path", "/",
		"cookie", "a=1", "accept", "x", "cookie", "b=2", "accept", "y", "x-e", "", "x-s", "  v  ")
	want := "host=www.example.org;cookie=a=1; b=2;accept=x, y;x-s=v;host=www.example.org"
	if s := <-got; s != want {
		t.Errorf("got  %s\nwant %s", s, want)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	e := startEngine(t, text("body"), nil)
	// A zero window keeps every stream open (its body cannot be sent).
	cl := dial(t, e.addr, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	// Wait for the SETTINGS ack so the limit is in force.
	for {
		if sf, ok := cl.read().(*http2.SettingsFrame); ok && sf.IsAck() {
			break
		}
	}
	for id := uint32(1); id <= 17; id += 2 {
		cl.headers(id, true, get("/")...)
	}
	for {
		f := cl.read()
		if rst, ok := f.(*http2.RSTStreamFrame); ok {
			if rst.StreamID != 17 || rst.ErrCode != http2.ErrCodeRefusedStream {
				t.Fatalf("reset %d %v, want stream 17 REFUSED_STREAM", rst.StreamID, rst.ErrCode)
			}
			return
		}
	}
}

func writeTemp(t testing.TB, n int) (string, []byte) {
	data := make([]byte, n)
	rand.Read(data)
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, data
}

func fileHandler(path string) Handler {
	return HandlerFunc(func(w *ResponseWriter, r *Request) {
		f, err := os.Open(path)
		if err != nil {
			w.SetStatus(404)
			return
		}
		defer f.Close()
		st, _ := f.Stat()
		w.AddHeader("Content-Length", strconv.FormatInt(st.Size(), 10))
		if err := w.SendFile(filefd.Of(f), 0, st.Size()); err != nil {
			w.Abort()
		}
	})
}

// TestFlowControl: DATA never exceeds the client's windows, and a file
// arrives whole as they open.
func TestFlowControl(t *testing.T) {
	path, data := writeTemp(t, 300_000)
	e := startEngine(t, fileHandler(path), nil)
	t.Run("tiny window", func(t *testing.T) {
		cl := dial(t, e.addr, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 10})
		cl.headers(1, true, get("/f")...)
		r := cl.collect(1, true, nil)
		if !bytes.Equal(r.body, data) {
			t.Fatalf("body %d bytes, want %d", len(r.body), len(data))
		}
		if r.dataMax > 10 {
			t.Errorf("a DATA frame of %d bytes exceeded the window of 10", r.dataMax)
		}
	})
	t.Run("default windows", func(t *testing.T) {
		cl := dial(t, e.addr)
		cl.headers(1, true, get("/f")...)
		r := cl.collect(1, true, nil)
		if !bytes.Equal(r.body, data) || r.dataMax > 16384 {
			t.Fatalf("body %d bytes (frames up to %d), want %d", len(r.body), r.dataMax, len(data))
		}
	})
	t.Run("larger frames", func(t *testing.T) {
		cl := dial(t, e.addr, http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 20}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30})
		cl.fr.WriteWindowUpdate(0, 1<<30)
		cl.headers(1, true, get("/f")...)
		r := cl.collect(1, false, nil)
		if !bytes.Equal(r.body, data) {
			t.Fatalf("body %d bytes, want %d", len(r.body), len(data))
		}
		if r.dataMax <= 16384 {
			t.Errorf("frames stayed at %d bytes with SETTINGS_MAX_FRAME_SIZE 1 MiB", r.dataMax)
		}
	})
	t.Run("window overflow", func(t *testing.T) {
		cl := dial(t, e.addr)
		cl.fr.WriteWindowUpdate(0, 1<<31-1)
		if code, ok := cl.expectGoAway(3 * time.Second); !ok || code != http2.ErrCodeFlowControl {
			t.Errorf("GOAWAY %v %v, want FLOW_CONTROL_ERROR", code, ok)
		}
	})
}

// TestRequestBody: a body larger than the windows granted at first
// streams to the handler as it reads.
func TestRequestBody(t *testing.T) {
	got := make(chan []byte, 1)
	e := startEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		got <- b
		w.WriteHead(2, []byte("ok"))
	}), nil)
	cl := dial(t, e.addr)
	body := make([]byte, 1<<20)
	rand.Read(body)
	cl.headers(1, false, ":method", "PUT", ":scheme", "http", ":authority", "a", ":path", "/", "content-length", strconv.Itoa(len(body)))
	connWin, streamWin := int64(65535), int64(65536)
	sent := 0
	for sent < len(body) {
		for connWin > 0 && streamWin > 0 && sent < len(body) {
			n := int(min(int64(16384), connWin, streamWin, int64(len(body)-sent)))
			cl.fr.WriteData(1, sent+n == len(body), body[sent:sent+n])
			sent += n
			connWin -= int64(n)
			streamWin -= int64(n)
		}
		if sent == len(body) {
			break
		}
		switch f := cl.read().(type) {
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 {
				connWin += int64(f.Increment)
			} else {
				streamWin += int64(f.Increment)
			}
		}
	}
	if b := <-got; !bytes.Equal(b, body) {
		t.Fatalf("handler read %d bytes, want %d", len(b), len(body))
	}
	if r := cl.collect(1, false, nil); string(r.body) != "ok" {
		t.Fatalf("response %q", r.body)
	}
}

// TestEarlyResponse: a response sent before a large body arrived ends the
// stream with RST_STREAM NO_ERROR (lighttpd's way); the rest of a small
// body is read. Either way a body longer than its content-length is a
// PROTOCOL_ERROR.
func TestEarlyResponse(t *testing.T) {
	e := startEngine(t, text("early"), nil)
	for _, tc := range []struct {
		name    string
		cl      string
		stopped bool
	}{
		{"small body", "1", false},
		{"large body", "100000", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := dial(t, e.addr)
			cl.headers(1, false, ":method", "PUT", ":scheme", "http", ":authority", "a", ":path", "/", "content-length", tc.cl)
			r := cl.collect(1, false, nil)
			if string(r.body) != "early" || !r.ended {
				t.Fatalf("response %q", r.body)
			}
			if tc.stopped {
				if rst, ok := cl.read().(*http2.RSTStreamFrame); !ok || rst.ErrCode != http2.ErrCodeNo {
					t.Fatalf("want RST_STREAM NO_ERROR, got %v", rst)
				}
			}
			for range 7 { // 7 × 16 KiB: more than either content-length
				cl.fr.WriteData(1, false, make([]byte, 16384))
			}
			for {
				if rst, ok := cl.read().(*http2.RSTStreamFrame); ok {
					if rst.ErrCode != http2.ErrCodeProtocol {
						t.Fatalf("got %v, want PROTOCOL_ERROR", rst.ErrCode)
					}
					return
				}
			}
		})
	}
}

func TestExpectContinue(t *testing.T) {
	e := startEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHead(int64(len(b)), b)
	}), nil)
	cl := dial(t, e.addr)
	cl.headers(1, false, ":method", "PUT", ":scheme", "http", ":authority", "a", ":path", "/", "content-length", "3", "expect", "100-continue")
	for {
		if h, ok := cl.read().(*http2.HeadersFrame); ok {
			cl.fields = cl.fields[:0]
			cl.dec.Write(h.HeaderBlockFragment())
			if len(cl.fields) != 1 || cl.fields[0].Value != "100" || h.StreamEnded() {
				t.Fatalf("interim response %v", cl.fields)
			}
			break
		}
	}
	cl.fr.WriteData(1, true, []byte("abc"))
	if r := cl.collect(1, false, nil); r.status != "200" || string(r.body) != "abc" {
		t.Fatalf("final response %q %q", r.status, r.body)
	}
}

// TestPriority: with data waiting on both, the stream asking for urgency 0
// is served before the default one, as lighttpd orders its streams.
func TestPriority(t *testing.T) {
	path, data := writeTemp(t, 100_000)
	e := startEngine(t, fileHandler(path), nil)
	// A first download takes the whole connection window; the two streams
	// then queue their data, and one WINDOW_UPDATE frees both at once.
	cl := dial(t, e.addr, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
	cl.headers(1, true, get("/drain")...)
	drained := 0
	for drained < 65535 {
		if d, ok := cl.read().(*http2.DataFrame); ok {
			drained += len(d.Data())
		}
	}
	cl.headers(3, true, get("/low")...)
	cl.headers(5, true, get("/high", "priority", "u=0")...)
	heads := 0
	for heads < 2 {
		if h, ok := cl.read().(*http2.HeadersFrame); ok && h.StreamID != 1 {
			heads++
		}
	}
	time.Sleep(100 * time.Millisecond)
	cl.fr.WriteWindowUpdate(0, 1<<20)
	var order []uint32
	got := map[uint32]int{}
	for got[3] < len(data) || got[5] < len(data) {
		f := cl.read()
		if d, ok := f.(*http2.DataFrame); ok && d.StreamID != 1 {
			got[d.StreamID] += len(d.Data())
			if len(order) == 0 || order[len(order)-1] != d.StreamID {
				order = append(order, d.StreamID)
			}
			cl.fr.WriteWindowUpdate(0, uint32(len(d.Data())))
		}
	}
	if order[0] != 5 {
		t.Errorf("stream order %v: urgency 0 should go first", order)
	}
}

func TestParsePriority(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint8
	}{
		{"", 3<<1 | 1},
		{"u=0", 0<<1 | 1},
		{"u=7, i", 7 << 1},
		{"i=?1", 3 << 1},
		{"i=?0,u=1", 1<<1 | 1},
		{"u=9", 3<<1 | 1},
		{"u=5, x=1, i", 5 << 1},
		{"ux", 3<<1 | 1},
	} {
		if got := parsePriority(tc.in); got != tc.want {
			t.Errorf("parsePriority(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestJSGetsUrgency2(t *testing.T) {
	e := startEngine(t, text("f()"), nil)
	cl := dial(t, e.addr)
	cl.headers(1, true, get("/app.js")...)
	if r := cl.collect(1, false, nil); r.header["priority"] != "u=2" {
		t.Errorf("priority field %q, want u=2 (lighttpd's announcement)", r.header["priority"])
	}
	cl.headers(3, true, get("/page.html")...)
	if r := cl.collect(3, false, nil); hasName(r.names, "priority") {
		t.Errorf("priority field on html")
	}
}

// TestGracefulShutdown: Shutdown sends GOAWAY, still serves streams sent
// before the client saw it, finishes the download in flight, then closes.
func TestGracefulShutdown(t *testing.T) {
	path, data := writeTemp(t, 2<<20)
	e := startEngine(t, fileHandler(path), nil)
	cl := dial(t, e.addr)
	cl.headers(1, true, get("/f")...)
	// Read a little, so the download is in flight.
	for {
		if _, ok := cl.read().(*http2.DataFrame); ok {
			break
		}
	}
	done := make(chan error, 1)
	go func() { done <- e.srv.Shutdown(t.Context()) }()
	var body []byte
	var gotFirst, gotFinal bool
	for {
		f, err := cl.readErr(5 * time.Second)
		if err != nil {
			cl.c.Close()
			break
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			if f.LastStreamID == 1<<31-1 {
				gotFirst = true
				// A request sent before the client saw GOAWAY is served.
				cl.headers(3, true, get("/f")...)
			} else {
				gotFinal = f.LastStreamID == 3
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				cl.fr.WritePing(true, f.Data)
			}
		case *http2.DataFrame:
			if f.StreamID == 1 {
				body = append(body, f.Data()...)
			}
			cl.fr.WriteWindowUpdate(0, uint32(len(f.Data())))
			cl.fr.WriteWindowUpdate(f.StreamID, uint32(len(f.Data())))
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !gotFirst || !gotFinal {
		t.Errorf("GOAWAY steps first=%v final=%v", gotFirst, gotFinal)
	}
	if len(body) < len(data)-16384 {
		t.Errorf("download cut: %d of %d bytes after the first DATA frame", len(body), len(data))
	}
}

func TestIdleTimeout(t *testing.T) {
	e := startEngine(t, text("x"), func(c *Config) { c.MaxKeepAliveIdle = 200 * time.Millisecond })
	cl := dial(t, e.addr)
	start := time.Now()
	code, ok := cl.expectGoAway(5 * time.Second)
	if !ok || code != http2.ErrCodeNo {
		t.Fatalf("GOAWAY %v %v", code, ok)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("idle connection closed after %v", d)
	}
	if !cl.closedSoon(3 * time.Second) {
		t.Error("connection not closed")
	}
}

// TestUpgradeRequest: the request that asked for "Upgrade: h2c" is served
// as stream 1 after "101 Switching Protocols".
func TestUpgradeRequest(t *testing.T) {
	got := make(chan string, 1)
	srv := &Server{Handler: HandlerFunc(func(w *ResponseWriter, r *Request) {
		got <- r.Method + " " + string(r.Target) + " " + string(r.Host) + " " + strconv.Itoa(r.Seq)
		w.WriteHead(2, []byte("up"))
	})}
	h1srv := &h1.Server{Handoff: func(nc net.Conn, ci *h1.ConnInfo, buf []byte, up *h1.Request, settings []byte) {
		srv.ServeConn(nc, ConnOptions{Info: ci, Buffered: buf, Upgrade: up, Settings: settings})
	}}
	cfg := h1.DefaultConfig()
	cfg.H2Upgrade = true
	h1srv.SetConfig(cfg)
	a, b := pipe(t)
	go h1srv.ServeConn(b)
	io.WriteString(a, "GET /up HTTP/1.1\r\nHost: Example.org\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
	want := "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
	buf := make([]byte, len(want))
	a.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(a, buf); err != nil || string(buf) != want {
		t.Fatalf("got %q %v", buf, err)
	}
	io.WriteString(a, clientPreface)
	cl := &client{t: t, c: a}
	cl.fr = http2.NewFramer(a, a)
	cl.dec = newDecoder(cl)
	cl.fr.WriteSettings()
	if s := <-got; s != "GET /up example.org 1" {
		t.Errorf("stream 1 request %q", s)
	}
	if r := cl.collect(1, false, nil); string(r.body) != "up" {
		t.Errorf("body %q", r.body)
	}
}

// TestClientReset: a handler learns that the client reset its stream (a
// FastCGI request is then abandoned, as over HTTP/1.x when the connection
// is reset), and its writes fail.
func TestClientReset(t *testing.T) {
	seen := make(chan error, 1)
	e := startEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		deadline := time.Now().Add(3 * time.Second)
		for !w.ClientReset() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		_, err := w.Write([]byte("late"))
		seen <- err
	}), nil)
	cl := dial(t, e.addr)
	cl.headers(1, true, get("/slow")...)
	time.Sleep(20 * time.Millisecond)
	cl.fr.WriteRSTStream(1, http2.ErrCodeCancel)
	if err := <-seen; err != ErrStreamClosed {
		t.Fatalf("write after reset: %v, want ErrStreamClosed", err)
	}
	// The connection serves on.
	cl.headers(3, true, get("/slow")...)
	cl.fr.WriteRSTStream(3, http2.ErrCodeCancel)
	<-seen
}

// TestEndConn: the first failed login on a connection ends it gracefully
// (GOAWAY NO_ERROR after its response), a second one at once.
func TestEndConn(t *testing.T) {
	start := make(chan struct{})
	e := startEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		<-start
		w.SetStatus(401)
		w.EndConn()
		w.WriteHead(0, nil)
	}), nil)
	cl := dial(t, e.addr)
	cl.headers(1, true, get("/a")...)
	cl.headers(3, true, get("/b")...)
	time.Sleep(50 * time.Millisecond)
	start <- struct{}{}
	var codes []http2.ErrCode
	for {
		f, err := cl.readErr(3 * time.Second)
		if err != nil {
			break
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			codes = append(codes, g.ErrCode)
			if len(codes) == 1 {
				close(start) // the second login fails after the GOAWAY
			}
		}
	}
	if len(codes) != 2 || codes[0] != http2.ErrCodeNo || codes[1] != http2.ErrCodeEnhanceYourCalm {
		t.Errorf("GOAWAY codes %v, want NO_ERROR then ENHANCE_YOUR_CALM", codes)
	}
}
