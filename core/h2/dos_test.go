package h2

import (
	"bytes"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Each test below would hang, pile up goroutines or grow memory without
// its defence.

// TestRapidReset (CVE-2023-44487): streams opened and reset at once must
// not each get a handler: handlers of reset streams keep their slot, the
// rest wait in a bounded queue, and the reset storm ends the connection.
func TestRapidReset(t *testing.T) {
	release := make(chan struct{})
	var running, peak atomic.Int32
	e := startEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		running.Add(-1)
	}), nil)
	defer close(release)
	cl := dial(t, e.addr)
	block := cl.block(get("/")...)
	var buf bytes.Buffer
	w := http2.NewFramer(&buf, nil)
	for id := uint32(1); id < 2*5000; id += 2 {
		w.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true})
		w.WriteRSTStream(id, http2.ErrCodeCancel)
	}
	go cl.c.Write(buf.Bytes())
	code, ok := cl.expectGoAway(5 * time.Second)
	if !ok || code != http2.ErrCodeEnhanceYourCalm {
		t.Errorf("GOAWAY %v %v, want ENHANCE_YOUR_CALM", code, ok)
	}
	if p := peak.Load(); p > 16 {
		t.Errorf("%d handlers ran at once for reset streams, want at most 16", p)
	}
}

// TestContinuationFlood: a header block that never ends is cut off by size
// and by frame count, without reading it all.
func TestContinuationFlood(t *testing.T) {
	e := startEngine(t, text("x"), nil)
	for _, tc := range []struct {
		name string
		frag []byte
		code http2.ErrCode
	}{
		{"large fragments", bytes.Repeat([]byte{0x40}, 16384), http2.ErrCodeFrameSize},
		{"empty fragments", nil, http2.ErrCodeEnhanceYourCalm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := dial(t, e.addr)
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: cl.block(get("/")...)})
			done := make(chan int)
			go func() {
				n := 0
				for ; n < 100000; n++ {
					if cl.fr.WriteContinuation(1, false, tc.frag) != nil {
						break
					}
				}
				done <- n
			}()
			code, ok := cl.expectGoAway(5 * time.Second)
			if !ok || code != tc.code {
				t.Errorf("GOAWAY %v %v, want %v", code, ok, tc.code)
			}
			cl.c.Close()
			if n := <-done; n >= 100000 {
				t.Errorf("server read all %d CONTINUATION frames", n)
			}
		})
	}
}

// TestControlFloods: PING, SETTINGS, PRIORITY and empty DATA frames are
// answered up to a budget, then the connection is closed, also when the
// client reads nothing (its queued answers are bounded).
func TestControlFloods(t *testing.T) {
	e := startEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		// A request whose body never comes keeps the stream open.
		b := make([]byte, 1)
		r.Body.Read(b)
	}), nil)
	for _, tc := range []struct {
		name  string
		frame func(fr *http2.Framer, i int)
	}{
		{"ping", func(fr *http2.Framer, i int) { fr.WritePing(false, [8]byte{byte(i)}) }},
		{"settings", func(fr *http2.Framer, i int) { fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 0}) }},
		{"priority", func(fr *http2.Framer, i int) { fr.WritePriority(3, http2.PriorityParam{StreamDep: 1, Weight: 1}) }},
		{"empty data", func(fr *http2.Framer, i int) { fr.WriteData(1, false, nil) }},
		{"window update on closed streams", func(fr *http2.Framer, i int) { fr.WriteWindowUpdate(1, 1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := dial(t, e.addr)
			if tc.name == "empty data" {
				cl.headers(1, false, ":method", "PUT", ":scheme", "http", ":authority", "a", ":path", "/", "content-length", "5")
			}
			if tc.name == "window update on closed streams" {
				cl.headers(1, true, get("/")...)
				cl.fr.WriteRSTStream(1, http2.ErrCodeCancel)
			}
			var buf bytes.Buffer
			fr := http2.NewFramer(&buf, nil)
			for i := range 5000 {
				tc.frame(fr, i)
			}
			// Send everything without reading a byte.
			go cl.c.Write(buf.Bytes())
			time.Sleep(50 * time.Millisecond)
			code, ok := cl.expectGoAway(5 * time.Second)
			if !ok || code != http2.ErrCodeEnhanceYourCalm {
				t.Errorf("GOAWAY %v %v, want ENHANCE_YOUR_CALM", code, ok)
			}
		})
	}
}

// TestHPACKBomb: a small block that expands to megabytes through the
// dynamic table is refused with 431 after server.max-request-field-size,
// and the connection stays usable (the decoder kept its state).
func TestHPACKBomb(t *testing.T) {
	got := make(chan int, 2)
	e := startEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		got <- r.Status
		w.WriteHead(0, nil)
	}), nil)
	cl := dial(t, e.addr)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	cl.encBuf.Reset()
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/"}} {
		cl.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	cl.enc.WriteField(hpack.HeaderField{Name: "x-bomb", Value: string(bytes.Repeat([]byte("b"), 4000))})
	block := bytes.Clone(cl.encBuf.Bytes())
	// Index 62 is the bomb just added to the dynamic table: one byte each.
	block = append(block, bytes.Repeat([]byte{0x80 | 62}, 15000)...)
	for len(block) > 0 {
		n := min(len(block), 16384)
		if n == len(block) {
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:n], EndStream: true, EndHeaders: true})
		} else if len(block) > 0 {
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:n], EndStream: true})
			for block = block[n:]; len(block) > 16384; block = block[16384:] {
				cl.fr.WriteContinuation(1, false, block[:16384])
			}
			cl.fr.WriteContinuation(1, true, block)
		}
		break
	}
	if st := <-got; st != 431 {
		t.Fatalf("status %d, want 431", st)
	}
	runtime.ReadMemStats(&ms)
	if grew := ms.TotalAlloc - before; grew > 8<<20 {
		t.Errorf("decoding the bomb allocated %d bytes (it expands to 60 MB)", grew)
	}
	cl.collect(1, false, nil)
	// The same connection still decodes the next request.
	cl.headers(3, true, get("/", "x-after", "1")...)
	if st := <-got; st != 0 {
		t.Fatalf("next request status %d", st)
	}
}

// TestZeroWindowStall: a client that opens no window does not hold a
// stream (and its handler) forever.
func TestZeroWindowStall(t *testing.T) {
	path, _ := writeTemp(t, 100_000)
	returned := make(chan error, 1)
	h := fileHandler(path)
	e := startEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		h.ServeH2(w, r)
		returned <- w.s.werr()
	}), func(c *Config) { c.MaxWriteIdle = 300 * time.Millisecond })
	cl := dial(t, e.addr, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	cl.headers(1, true, get("/f")...)
	r := cl.collect(1, false, nil)
	if !r.gotRST || r.rst != http2.ErrCodeCancel {
		t.Fatalf("stream ended %v rst %v %v, want RST_STREAM CANCEL", r.ended, r.gotRST, r.rst)
	}
	select {
	case <-returned:
	case <-time.After(3 * time.Second):
		t.Fatal("handler still blocked")
	}
}

// TestBodyReadTimeout: a body that stops arriving fails the handler's
// read after server.max-read-idle.
func TestBodyReadTimeout(t *testing.T) {
	got := make(chan error, 1)
	e := startEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		b := make([]byte, 10)
		_, err := r.Body.Read(b)
		if err == nil {
			_, err = r.Body.Read(b)
		}
		got <- err
	}), func(c *Config) { c.MaxReadIdle = 300 * time.Millisecond })
	cl := dial(t, e.addr)
	cl.headers(1, false, ":method", "PUT", ":scheme", "http", ":authority", "a", ":path", "/", "content-length", "10")
	cl.fr.WriteData(1, false, []byte("12345"))
	select {
	case err := <-got:
		if _, ok := err.(BodyTimeoutError); !ok {
			t.Fatalf("read error %v, want a timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("body read never timed out")
	}
}
