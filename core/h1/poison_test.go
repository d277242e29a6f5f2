package h1

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golighty/golighty/core/bufpoison"
)

// TestPanicGets500 checks the engine's last line of defence: a handler that
// panics before any of its response went out still answers 500 (then the
// connection closes), and earlier pipelined responses are not lost.
func TestPanicGets500(t *testing.T) {
	var seen atomic.Int32
	s, addr := startServer(t, testConfig(), HandlerFunc(func(w *ResponseWriter, r *Request) {
		switch string(r.Target) {
		case "/ok":
			w.Respond([]byte("ok"))
		case "/late": // head buffered, never sent: still replaceable
			w.SetStatus(200)
			w.Write([]byte("partial"))
			panic("late")
		default:
			panic("boom")
		}
	}))
	s.OnPanic = func(any) { seen.Add(1) }
	for _, tc := range []struct{ name, raw string }{
		{"alone", "GET /boom HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"after a pipelined one", "GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET /boom HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"head buffered", "GET /late HTTP/1.1\r\nHost: x\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			must(t, err)
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, tc.raw)
			br := bufio.NewReader(c)
			if strings.Contains(tc.raw, "/ok") {
				r, err := readResponse(br, false)
				if err != nil || r.status != 200 || string(r.body) != "ok" {
					t.Fatalf("pipelined response before the panic: %+v %v", r, err)
				}
			}
			r, err := readResponse(br, false)
			if err != nil || r.status != 500 {
				t.Fatalf("got %+v %v, want 500", r, err)
			}
			if v, _ := r.header("Connection"); v != "close" || !isClosed(c, br, time.Second) {
				t.Fatalf("connection not closed after a panic: %q", r.head)
			}
		})
	}
	if seen.Load() != 3 {
		t.Fatalf("OnPanic saw %d panics, want 3", seen.Load())
	}
}

// TestPoisonKeepsPipelinedBytes checks that poisoning a finished request's
// bytes keeps the next pipelined requests intact, while a view a handler
// kept from the first request (against the rule) reads as poison: without
// poisoning its bytes would still be there, beyond the shorter heads that
// follow, and the kept view would look fine.
func TestPoisonKeepsPipelinedBytes(t *testing.T) {
	bufpoison.Enable()
	var kept []byte
	_, addr := startServer(t, testConfig(), HandlerFunc(func(w *ResponseWriter, r *Request) {
		if kept == nil {
			for _, h := range r.Headers {
				if string(h.Name) == "X-Keep" {
					kept = h.Value
				}
			}
		} else if len(kept) == 0 || kept[0] != bufpoison.Byte {
			w.SetStatus(500) // the kept view was not poisoned
		}
		w.Respond(r.Target)
	}))
	c, err := net.Dial("tcp", addr)
	must(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var raw strings.Builder
	fmt.Fprintf(&raw, "GET /first HTTP/1.1\r\nHost: x\r\nX-Long: %s\r\nX-Keep: secret\r\n\r\n", strings.Repeat("l", 400))
	for i := 1; i < 5; i++ {
		fmt.Fprintf(&raw, "GET /p%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
	}
	io.WriteString(c, raw.String())
	br := bufio.NewReader(c)
	for i := 0; i < 5; i++ {
		r, err := readResponse(br, false)
		want := "/first"
		if i > 0 {
			want = fmt.Sprintf("/p%d", i)
		}
		if err != nil || r.status != 200 || string(r.body) != want {
			t.Fatalf("response %d: %+v %v, want 200 %q", i, r, err, want)
		}
	}
}

// TestBodyInterrupt checks that Interrupt wakes a body read blocked on
// another goroutine, that the response is still sent, and that the
// connection closes afterwards because the body was not read whole.
func TestBodyInterrupt(t *testing.T) {
	done := make(chan error, 1)
	_, addr := startServer(t, testConfig(), HandlerFunc(func(w *ResponseWriter, r *Request) {
		go func() {
			_, err := io.Copy(io.Discard, r.Body)
			done <- err
		}()
		time.Sleep(50 * time.Millisecond) // the copier blocks on the client
		r.Body.Interrupt()
		if err := <-done; err != ErrBodyInterrupted {
			t.Errorf("copier ended with %v, want ErrBodyInterrupted", err)
		}
		w.Respond([]byte("answered early"))
	}))
	c, err := net.Dial("tcp", addr)
	must(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly part")
	br := bufio.NewReader(c)
	r, err := readResponse(br, false)
	if err != nil || r.status != 200 || string(r.body) != "answered early" {
		t.Fatalf("got %+v %v", r, err)
	}
	if !isClosed(c, br, 2*time.Second) {
		t.Fatal("connection kept alive with an unread body")
	}
}
