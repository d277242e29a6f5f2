package h1

import (
	"bytes"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// probeCloser stands for a backend connection given to DeferClose. Its
// Close runs on the engine's goroutine, so while it waits for the client's
// socket to turn readable the engine cannot write: readable then means the
// response went out before the close.
type probeCloser struct {
	client      *net.TCPConn // nil: no check
	closed      atomic.Bool
	hadResponse atomic.Bool
}

func (p *probeCloser) Close() error {
	if p.client != nil {
		p.hadResponse.Store(readableWithin(p.client, time.Second))
	}
	p.closed.Store(true)
	return nil
}

func readableWithin(c *net.TCPConn, d time.Duration) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	rc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, _ := unix.Poll(fds, int(d/time.Millisecond))
		ok = n == 1 && fds[0].Revents&unix.POLLIN != 0
	})
	return ok
}

func TestDeferCloseAfterResponse(t *testing.T) {
	probe := &probeCloser{}
	_, addr := startServer(t, testConfig(), HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.DeferClose(probe)
		if probe.closed.Load() {
			t.Error("closed before the response")
		}
		w.Respond([]byte("hello"))
	}))
	c, br := dial(t, addr)
	probe.client = c.(*net.TCPConn)
	send(t, c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	// The response is read only after the close: the probe must find it
	// waiting in the socket.
	deadline := time.Now().Add(5 * time.Second)
	for !probe.closed.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !probe.closed.Load() || !probe.hadResponse.Load() {
		t.Fatalf("closed %v, client had the response then %v", probe.closed.Load(), probe.hadResponse.Load())
	}
	if r := read(t, br, false); r.status != 200 || string(r.body) != "hello" {
		t.Fatalf("got %d %q", r.status, r.body)
	}
}

// TestDeferCloseBeforePipelined: a pipelined request runs only after what
// the one before it deferred is closed (its handler may need the backend
// that connection holds: one php-cgi child).
func TestDeferCloseBeforePipelined(t *testing.T) {
	first := &probeCloser{}
	var seq atomic.Int32
	var closedBeforeSecond atomic.Bool
	_, addr := startServer(t, testConfig(), HandlerFunc(func(w *ResponseWriter, r *Request) {
		if seq.Add(1) == 1 {
			w.DeferClose(first)
		} else {
			closedBeforeSecond.Store(first.closed.Load())
		}
		w.Respond([]byte("x"))
	}))
	c, br := dial(t, addr)
	send(t, c, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n")
	read(t, br, false)
	read(t, br, false)
	if !closedBeforeSecond.Load() {
		t.Fatal("the second request ran before the first one's deferred close")
	}
}

// smallSendBuf makes the server's side of each accepted connection take
// little before a write must wait.
type smallSendBuf struct{ net.Listener }

func (l smallSendBuf) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

// TestDeferCloseWhenWriteWaits: a client that does not read does not hold
// what was deferred: it is closed as soon as the write must wait.
func TestDeferCloseWhenWriteWaits(t *testing.T) {
	probe := &probeCloser{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	s := &Server{Handler: HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.DeferClose(probe)
		w.Respond(bytes.Repeat([]byte("x"), 4<<20))
	})}
	s.SetConfig(testConfig())
	done := make(chan struct{})
	go func() { s.Serve(smallSendBuf{ln}); close(done) }()
	t.Cleanup(func() {
		ln.Close()
		s.Close()
		<-done
	})
	c, err := net.Dial("tcp", ln.Addr().String())
	must(t, err)
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4096)
	send(t, c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	deadline := time.Now().Add(5 * time.Second)
	for !probe.closed.Load() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !probe.closed.Load() {
		t.Fatal("still open while the write waits for a client that does not read")
	}
}

// TestDeferCloseNotRaw: on a connection the engine does not write with raw
// calls, DeferClose closes at once.
func TestDeferCloseNotRaw(t *testing.T) {
	probe := &probeCloser{}
	var closedAtOnce atomic.Bool
	s := &Server{Handler: HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.DeferClose(probe)
		closedAtOnce.Store(probe.closed.Load())
		w.Respond(nil)
	})}
	s.SetConfig(testConfig())
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() { s.ServeConn(server); close(done) }()
	send(t, client, "GET / HTTP/1.0\r\n\r\n")
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	var buf bytes.Buffer
	buf.ReadFrom(client)
	client.Close()
	<-done
	if !closedAtOnce.Load() {
		t.Fatal("not closed at once on a piped connection")
	}
}
