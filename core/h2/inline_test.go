package h2

import (
	"bytes"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/golighty/golighty/core/filefd"
)

// inlineEngine starts an engine whose streams without a body run on the
// reader, with h as it is (no Detach of its own unless it calls it).
func inlineEngine(t *testing.T, h Handler) *engine {
	t.Helper()
	if os.Getenv("H2_INLINE") == "1" {
		t.Skip("H2_INLINE wraps every handler in a Detach")
	}
	return startEngine(t, h, func(c *Config) { c.Inline = true })
}

// untilFrame reads frames until one satisfies want, or fails after d.
func (cl *client) untilFrame(d time.Duration, want func(http2.Frame) bool) bool {
	deadline := time.Now().Add(d)
	for {
		f, err := cl.readErr(time.Until(deadline))
		if err != nil {
			return false
		}
		if want(f) {
			return true
		}
	}
}

func isPingAck(f http2.Frame) bool {
	p, ok := f.(*http2.PingFrame)
	return ok && p.IsAck()
}

// TestInlineHoldsTheReader: a handler run inline holds the connection's
// reader until it returns (no PING is answered meanwhile): the reason
// inline handlers must detach before any wait.
func TestInlineHoldsTheReader(t *testing.T) {
	release := make(chan struct{})
	e := inlineEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		<-release
		w.WriteHead(2, []byte("ok"))
	}))
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	cl := dial(t, e.addr)
	cl.headers(1, true, get("/")...)
	cl.fr.WritePing(false, [8]byte{1})
	if cl.untilFrame(300*time.Millisecond, isPingAck) {
		t.Fatal("PING answered while the inline handler held the reader")
	}
	once.Do(func() { close(release) })
	acked := false
	if r := cl.collect(1, false, func(f http2.Frame) { acked = acked || isPingAck(f) }); string(r.body) != "ok" {
		t.Fatalf("stream 1: %q %q", r.status, r.body)
	}
	if !acked && !cl.untilFrame(3*time.Second, isPingAck) {
		t.Fatal("no PING ACK after the handler returned")
	}
	cl.headers(3, true, get("/")...)
	if r := cl.collect(3, false, nil); r.status != "200" || string(r.body) != "ok" {
		t.Errorf("next stream: %q %q", r.status, r.body)
	}
}

// TestInlineDetach: after Detach the connection reads on while the
// handler waits: other streams are answered and PINGs acknowledged.
func TestInlineDetach(t *testing.T) {
	release := make(chan struct{})
	e := inlineEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		if string(r.Target) == "/slow" {
			w.Detach()
			w.Detach() // a second call does nothing
			<-release
		}
		w.WriteHead(int64(len(r.Target)), r.Target)
	}))
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	cl := dial(t, e.addr)
	cl.headers(1, true, get("/slow")...)
	cl.headers(3, true, get("/fast")...)
	if r := cl.collect(3, false, nil); string(r.body) != "/fast" {
		t.Fatalf("fast stream: %q %q", r.status, r.body)
	}
	cl.fr.WritePing(false, [8]byte{2})
	if !cl.untilFrame(3*time.Second, isPingAck) {
		t.Fatal("no PING ACK while the detached handler waits")
	}
	once.Do(func() { close(release) })
	if r := cl.collect(1, false, nil); string(r.body) != "/slow" {
		t.Errorf("slow stream: %q %q", r.status, r.body)
	}
}

// TestInlineFlowControl: an inline handler whose body waits for the
// client's flow-control window (buffered writes past the stream's buffer,
// and a file) hands the reader on, so the WINDOW_UPDATEs that open the
// window are read.
func TestInlineFlowControl(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), (3*streamOutMax)/16)
	path, _ := writeTemp(t, 3*streamOutMax)
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	e := inlineEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		if string(r.Target) == "/file" {
			f, err := os.Open(path)
			if err != nil {
				panic(err)
			}
			defer f.Close()
			w.SendFile(filefd.Of(f), 0, int64(len(want)))
			return
		}
		w.WriteHead(int64(len(big)), nil)
		w.Write(big)
	}))
	// A window of 1,000 bytes: the rest waits for WINDOW_UPDATE.
	cl := dial(t, e.addr, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1000})
	for i, tc := range []struct {
		path string
		body []byte
	}{{"/write", big}, {"/file", want}} {
		id := uint32(1 + 2*i)
		cl.headers(id, true, get(tc.path)...)
		if r := cl.collect(id, true, nil); !r.ended || !bytes.Equal(r.body, tc.body) {
			t.Errorf("%s: %d of %d bytes, ended %v", tc.path, len(r.body), len(tc.body), r.ended)
		}
	}
}

// TestInlinePanic: a handler that panics inline resets its stream and the
// connection goes on.
func TestInlinePanic(t *testing.T) {
	e := inlineEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		if string(r.Target) == "/panic" {
			panic("inline")
		}
		w.WriteHead(2, []byte("ok"))
	}))
	cl := dial(t, e.addr)
	cl.headers(1, true, get("/panic")...)
	if r := cl.collect(1, false, nil); !r.gotRST || r.rst != http2.ErrCodeInternal {
		t.Errorf("panicking stream: rst %v %v", r.gotRST, r.rst)
	}
	cl.headers(3, true, get("/")...)
	if r := cl.collect(3, false, nil); string(r.body) != "ok" {
		t.Errorf("next stream: %q %q", r.status, r.body)
	}
}

// TestInlineMovedReaderEnds: when the connection ends while the goroutine
// that first served it runs a detached handler, the goroutine reading last
// finishes the connection (failing that handler's wait) and ServeConn
// returns (the engine's cleanup waits for it).
func TestInlineMovedReaderEnds(t *testing.T) {
	failed := make(chan error, 1)
	e := inlineEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.Detach()
		w.WriteHead(-1, nil)
		// The client's window is 0: this waits until the connection ends.
		_, err := w.Write(make([]byte, 3*streamOutMax))
		failed <- err
	}))
	cl := dial(t, e.addr, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	cl.headers(1, true, get("/")...)
	time.Sleep(100 * time.Millisecond)
	cl.c.Close()
	select {
	case err := <-failed:
		if err == nil {
			t.Error("the write succeeded on a closed connection")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the detached handler still waits after the connection ended")
	}
}
