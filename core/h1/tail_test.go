package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golighty/golighty/core/filefd"
	"github.com/golighty/golighty/core/rawsys"
	"golang.org/x/sys/unix"
)

// tailEnd is one FinishTail call.
type tailEnd struct {
	written int64
	err     error
	state   any
}

// tailHandler defers the file named by the path (SendFile where the engine
// cannot) and reports each FinishTail.
type tailHandler struct {
	root     string
	mu       sync.Mutex
	deferred int
	ends     chan tailEnd
}

func newTailHandler(root string) *tailHandler {
	return &tailHandler{root: root, ends: make(chan tailEnd, 100)}
}

func (h *tailHandler) ServeH1(w *ResponseWriter, r *Request) {
	f, err := os.Open(filepath.Join(h.root, filepath.FromSlash(string(r.Target))))
	if err != nil {
		respondError(w, 404)
		return
	}
	st, _ := f.Stat()
	w.AddHeader("Content-Type", "application/octet-stream")
	if w.DeferFile(filefd.Of(f), 0, st.Size()) {
		w.SetTailState(f)
		h.mu.Lock()
		h.deferred++
		h.mu.Unlock()
		return
	}
	w.SendFile(filefd.Of(f), 0, st.Size())
	f.Close()
}

func (h *tailHandler) FinishTail(w *ResponseWriter, r *Request, err error) {
	f := w.TailState().(*os.File)
	f.Close()
	h.ends <- tailEnd{written: w.Written(), err: err, state: f}
}

func (h *tailHandler) end(t *testing.T) tailEnd {
	t.Helper()
	select {
	case e := <-h.ends:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("FinishTail was not called")
		return tailEnd{}
	}
}

// stalledDownloads opens n connections with small receive buffers that
// request name and read nothing yet.
func stalledDownloads(t *testing.T, addr, name string, n int) []net.Conn {
	t.Helper()
	// The receive buffer is made small before connecting: shrunk later,
	// the window already offered makes the kernel drop and retransmit
	// with back-off, which would stall the test.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10) })
		return nil
	}}
	var conns []net.Conn
	for range n {
		c, err := d.Dial("tcp", addr)
		must(t, err)
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(20 * time.Second))
		send(t, c, "GET /"+name+" HTTP/1.1\r\nHost: a\r\n\r\n")
		conns = append(conns, c)
	}
	return conns
}

// TestDeferredFileParks: large downloads to clients that do not read wait
// in the poller without goroutines, then arrive whole when the clients
// read; FinishTail sees every byte, and the connections serve their next
// request.
func TestDeferredFileParks(t *testing.T) {
	root := t.TempDir()
	_, data := randomFile(t, root, 4<<20+3)
	name := filepath.Base(root + "/r4194307.bin")
	h := newTailHandler(root)
	s, addr := startServer(t, testConfig(), h)
	base := runtime.NumGoroutine()
	const n = 20
	conns := stalledDownloads(t, addr, name, n)
	waitFor(t, "every download to wait in the poller", func() bool { return parkedTails(s) == n })
	// The workers that served the requests exit after a second idle.
	waitFor(t, "the workers to go", func() bool { return runtime.NumGoroutine() <= base+2 })
	if served(s) != n {
		t.Errorf("%d connections tracked, want %d (in flight)", served(s), n)
	}
	for i, c := range conns {
		br := bufio.NewReaderSize(c, 64<<10)
		r := read(t, br, false)
		if r.status != 200 || !bytes.Equal(r.body, data) {
			t.Fatalf("conn %d: status %d, body of %d bytes (want %d, equal: %v)", i, r.status, len(r.body), len(data), bytes.Equal(r.body, data))
		}
		e := h.end(t)
		if e.err != nil || e.written != int64(len(data)) {
			t.Fatalf("FinishTail: written %d, err %v; want %d, nil", e.written, e.err, len(data))
		}
		send(t, c, "GET /"+name+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
		if r := read(t, br, false); r.status != 200 || !bytes.Equal(r.body, data) {
			t.Fatalf("conn %d, second request: status %d, %d bytes", i, r.status, len(r.body))
		}
		h.end(t)
		c.Close()
	}
	if h.deferred != 2*n {
		t.Errorf("%d responses deferred, want %d", h.deferred, 2*n)
	}
	waitFor(t, "all to close", func() bool { return s.OpenConns() == 0 })
}

// TestDeferredFileEnds: a deferred download that cannot finish still ends
// its request, once: the client stops reading (server.max-write-idle), the
// client goes away, the server shuts down or closes.
func TestDeferredFileEnds(t *testing.T) {
	root := t.TempDir()
	holeFile(t, root, "huge.bin", 256<<20)
	for _, how := range []string{"write idle", "client gone", "shutdown", "close"} {
		t.Run(how, func(t *testing.T) {
			cfg := testConfig()
			cfg.MaxWriteIdle = 10 * time.Second
			if how == "write idle" {
				cfg.MaxWriteIdle = 300 * time.Millisecond
			}
			h := newTailHandler(root)
			s, addr := startServer(t, cfg, h)
			conns := stalledDownloads(t, addr, "huge.bin", 1)
			waitFor(t, "the download to wait in the poller", func() bool { return parkedTails(s) == 1 })
			start := time.Now()
			switch how {
			case "client gone":
				conns[0].Close()
			case "shutdown":
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				defer cancel()
				if err := s.Shutdown(ctx); err == nil {
					t.Error("Shutdown returned nil with a download in flight")
				}
			case "close":
				s.Close()
			}
			e := h.end(t)
			if e.err == nil || e.written >= 256<<20 {
				t.Fatalf("FinishTail: written %d, err %v; want a failure", e.written, e.err)
			}
			if how == "write idle" {
				if !errors.Is(e.err, os.ErrDeadlineExceeded) {
					t.Errorf("err = %v, want the write deadline", e.err)
				}
				if el := time.Since(start); el < 200*time.Millisecond {
					t.Errorf("cut off after %v, max-write-idle is 300ms", el)
				}
			}
			waitFor(t, "the connection to close", func() bool { return s.OpenConns() == 0 && served(s) == 0 })
			select {
			case e := <-h.ends:
				t.Fatalf("FinishTail called again: %+v", e)
			case <-time.After(50 * time.Millisecond):
			}
			if how != "client gone" {
				conns[0].SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, err := io.Copy(io.Discard, conns[0]); err != nil && !strings.Contains(err.Error(), "reset") {
					t.Errorf("client read: %v, want the end of the stream", err)
				}
			}
		})
	}
}

// TestDeferFileRefused: where the engine cannot defer, DeferFile sends
// nothing and reports false, and SendFile serves as before.
func TestDeferFileRefused(t *testing.T) {
	root := t.TempDir()
	_, data := randomFile(t, root, 100<<10)
	name := "r102400.bin"
	h := newTailHandler(root)
	t.Run("HEAD", func(t *testing.T) {
		_, addr := startServer(t, testConfig(), h)
		c, br := dial(t, addr)
		send(t, c, "HEAD /"+name+" HTTP/1.1\r\nHost: a\r\n\r\n")
		if r := read(t, br, true); r.status != 200 || len(r.body) != 0 {
			t.Fatalf("status %d, %d body bytes", r.status, len(r.body))
		}
	})
	t.Run("without Serve", func(t *testing.T) {
		s := &Server{Handler: h}
		s.SetConfig(testConfig())
		a, b := net.Pipe()
		go s.ServeConn(a)
		defer b.Close()
		b.SetDeadline(time.Now().Add(5 * time.Second))
		go io.WriteString(b, "GET /"+name+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
		if r := read(t, bufio.NewReader(b), false); r.status != 200 || !bytes.Equal(r.body, data) {
			t.Fatalf("status %d, %d bytes", r.status, len(r.body))
		}
	})
	if h.deferred != 0 {
		t.Errorf("%d responses deferred, want none", h.deferred)
	}
}

// TestRearmDoesNotAllocate: the poller re-arms a parked download once per
// wake-up; its epoll_ctl call state lives in the parkedConn, so a wake-up
// allocates nothing (through arm's closures: five allocations).
func TestRearmDoesNotAllocate(t *testing.T) {
	if rawsys.RaceEnabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	p, err := newIdlePoller(&Server{})
	must(t, err)
	defer p.stop()
	_, tc := tcpPair(t)
	// Parked downloads wait for room: fill the socket (the client never
	// reads), so no event fires and the poller never sees pc.
	tc.SetWriteBuffer(8 << 10)
	tc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := tc.Write(make([]byte, 8<<20)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("filling the socket: %v", err)
	}
	rc, err := tc.SyscallConn()
	must(t, err)
	pc := &parkedConn{tail: &conn{}}
	var epfd int
	p.raw.Control(func(fd uintptr) { epfd = int(fd) })
	// First an ADD, as parkWriter makes; rearm then modifies.
	id, _ := p.register(pc)
	var addErr error
	rc.Control(func(fd uintptr) {
		addErr = p.ctl(unix.EPOLL_CTL_ADD, int(fd), &unix.EpollEvent{Fd: int32(id)})
	})
	must(t, addErr)
	p.unregister(id)
	rearm := func() {
		if !p.rearm(pc, rc, epfd, unix.EPOLLOUT) {
			t.Fatal("rearm failed")
		}
		p.mu.Lock()
		for i := range p.conns.ents {
			if p.conns.ents[i].pc != nil {
				p.conns.remove(uint32(i)) // as wake does before handling the event
			}
		}
		p.mu.Unlock()
	}
	rearm()
	if n := testing.AllocsPerRun(100, rearm); n != 0 {
		t.Errorf("%v allocations per re-arm, want 0", n)
	}
}
