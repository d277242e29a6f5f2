package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/golighty/golighty/core/allocsize"
)

// parkConfig parks idle connections after 30 ms.
func parkConfig() Config {
	cfg := testConfig()
	cfg.IdleGrace = 30 * time.Millisecond
	return cfg
}

// waitFor polls cond for up to 3 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func parkedCount(s *Server) int {
	s.idleMu.Lock()
	p := s.idle
	s.idleMu.Unlock()
	if p == nil {
		return 0
	}
	return p.parked()
}

// parkedTails is the number of deferred downloads waiting in the poller
// (a new connection may be parked there before its request too).
func parkedTails(s *Server) int {
	s.idleMu.Lock()
	p := s.idle
	s.idleMu.Unlock()
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, e := range p.conns.ents {
		if e.pc != nil && e.pc.tail != nil {
			n++
		}
	}
	return n
}

// served is the number of connections with a goroutine (a conn) now.
func served(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns.n
}

func TestParkIdleConnections(t *testing.T) {
	tests := []struct {
		name  string
		first bool // a request before the idle wait (keep-alive) or none (new connection)
		next  string
		want  []int // statuses of the responses to next
	}{
		{"keep-alive then one request", true, "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n", []int{200}},
		{"keep-alive then pipelined", true, "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\nGET /missing HTTP/1.1\r\nHost: a\r\n\r\n", []int{200, 404}},
		{"new connection, first request late", false, "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n", []int{200}},
		{"head split across the wake-up", true, "GET /f.txt HTTP/1.1\r\nHo", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, addr := startServer(t, parkConfig(), testHandler(testDocroot(t)))
			c, br := dial(t, addr)
			if tc.first {
				send(t, c, "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
				read(t, br, false)
			}
			waitFor(t, "the connection to park", func() bool { return parkedCount(s) == 1 && served(s) == 0 })
			if n := s.OpenConns(); n != 1 {
				t.Errorf("OpenConns = %d while parked, want 1", n)
			}
			send(t, c, tc.next)
			if tc.want == nil { // the rest of the head after another park
				waitFor(t, "the connection to resume", func() bool { return served(s) == 1 })
				time.Sleep(60 * time.Millisecond) // longer than the grace: bytes are buffered, no park
				send(t, c, "st: a\r\n\r\n")
				tc.want = []int{200}
			}
			for i, st := range tc.want {
				if r := read(t, br, false); r.status != st || (st == 200 && string(r.body) != fileBody) {
					t.Fatalf("response %d: %d %q, want %d", i, r.status, r.body, st)
				}
			}
			// And it parks again.
			waitFor(t, "the connection to park again", func() bool { return parkedCount(s) == 1 && served(s) == 0 })
		})
	}
}

func TestParkedLimits(t *testing.T) {
	t.Run("keep-alive idle limit closes a parked connection", func(t *testing.T) {
		cfg := parkConfig()
		cfg.MaxKeepAliveIdle = 200 * time.Millisecond
		s, addr := startServer(t, cfg, testHandler(testDocroot(t)))
		c, br := dial(t, addr)
		send(t, c, "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
		read(t, br, false)
		start := time.Now()
		if !isClosed(c, br, 3*time.Second) {
			t.Fatal("parked connection not closed at its idle limit")
		}
		if el := time.Since(start); el < 150*time.Millisecond || el > 2*time.Second {
			t.Errorf("closed after %v, want about 200ms", el)
		}
		waitFor(t, "the count to drop", func() bool { return s.OpenConns() == 0 && parkedCount(s) == 0 })
	})
	t.Run("read idle limit closes a silent new connection", func(t *testing.T) {
		cfg := parkConfig()
		cfg.MaxReadIdle = 200 * time.Millisecond
		s, addr := startServer(t, cfg, testHandler(testDocroot(t)))
		c, br := dial(t, addr)
		if !isClosed(c, br, 3*time.Second) {
			t.Fatal("silent connection not closed")
		}
		waitFor(t, "the count to drop", func() bool { return s.OpenConns() == 0 })
	})
	t.Run("client hang-up while parked", func(t *testing.T) {
		s, addr := startServer(t, parkConfig(), testHandler(testDocroot(t)))
		c, br := dial(t, addr)
		send(t, c, "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
		read(t, br, false)
		waitFor(t, "the connection to park", func() bool { return parkedCount(s) == 1 })
		c.Close()
		waitFor(t, "the server to let go", func() bool { return s.OpenConns() == 0 && parkedCount(s) == 0 && served(s) == 0 })
	})
}

func TestParkedShutdownAndClose(t *testing.T) {
	for _, stop := range []string{"shutdown", "close"} {
		t.Run(stop, func(t *testing.T) {
			s, addr := startServer(t, parkConfig(), testHandler(testDocroot(t)))
			var conns []net.Conn
			var readers []*bufio.Reader
			for range 3 {
				c, br := dial(t, addr)
				send(t, c, "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
				read(t, br, false)
				conns, readers = append(conns, c), append(readers, br)
			}
			waitFor(t, "all to park", func() bool { return parkedCount(s) == 3 })
			if stop == "shutdown" {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				if err := s.Shutdown(ctx); err != nil {
					t.Fatal(err)
				}
			} else {
				s.Close()
			}
			for i, c := range conns {
				if !isClosed(c, readers[i], 2*time.Second) {
					t.Errorf("connection %d still open after %s", i, stop)
				}
			}
			if n := s.OpenConns(); n != 0 {
				t.Errorf("OpenConns = %d after %s", n, stop)
			}
		})
	}
}

// TestParkingFreesGoroutines: many idle connections hold no goroutine.
func TestParkingFreesGoroutines(t *testing.T) {
	s, addr := startServer(t, parkConfig(), testHandler(testDocroot(t)))
	base := runtime.NumGoroutine()
	const n = 50
	var conns []net.Conn
	for range n {
		c, br := dial(t, addr)
		send(t, c, "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
		read(t, br, false)
		conns = append(conns, c)
	}
	waitFor(t, "all to park", func() bool { return parkedCount(s) == n })
	// The poller is one goroutine for all of them; the workers that served
	// them exit after a second without work.
	waitFor(t, "the workers to go", func() bool { return runtime.NumGoroutine() <= base+2 })
	for _, c := range conns {
		c.Close()
	}
	waitFor(t, "all to close", func() bool { return s.OpenConns() == 0 })
}

// TestNoParkingWithoutServe: connections handed to ServeConn (a pipe here,
// or a socket without Serve) wait in their goroutine as before.
func TestNoParkingWithoutServe(t *testing.T) {
	s := &Server{Handler: testHandler(testDocroot(t))}
	s.SetConfig(parkConfig())
	cli, srv := net.Pipe()
	done := make(chan struct{})
	go func() { s.ServeConn(srv); close(done) }()
	br := bufio.NewReader(cli)
	for range 2 {
		go io.WriteString(cli, "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
		if r, err := readResponse(br, false); err != nil || r.status != 200 {
			t.Fatalf("%v %v", r, err)
		}
		time.Sleep(60 * time.Millisecond)
		if parkedCount(s) != 0 || served(s) != 1 {
			t.Fatal("a pipe connection was parked")
		}
	}
	cli.Close()
	<-done
}

// BenchmarkParkResume is a request on a parked keep-alive connection: the
// wake-up through the poller, a new goroutine, the response, parking again.
func BenchmarkParkResume(b *testing.B) {
	cfg := DefaultConfig()
	cfg.MaxKeepAliveRequests = 1 << 30
	cfg.IdleGrace = time.Nanosecond // park at once after every response
	s, addr := startServer(b, cfg, HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.Respond([]byte("ok"))
	}))
	c, err := net.Dial("tcp", addr)
	must(b, err)
	defer c.Close()
	br := bufio.NewReader(c)
	req := []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	b.ReportAllocs()
	for b.Loop() {
		c.Write(req)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				b.Fatal(err)
			}
			if line == "\r\n" {
				break
			}
		}
		if _, err := br.Discard(2); err != nil {
			b.Fatal(err)
		}
	}
	if parkedCount(s) == 0 && served(s) == 0 {
		b.Fatal("connection gone")
	}
}

// acceptCounter counts the offers of new connections (ConnAcceptor).
type acceptCounter struct {
	Handler
	n atomic.Int32
}

func (a *acceptCounter) AcceptConn(*ConnInfo) bool { a.n.Add(1); return false }

// TestNewConnectionParksAtOnce: a new connection whose request is not
// there yet is parked at once, whatever the grace of idle keep-alive
// waits, unless parking is off; it is offered to the ConnAcceptor once,
// not again when it resumes; a keep-alive wait still keeps its goroutine
// for the grace.
func TestNewConnectionParksAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		grace time.Duration
		parks bool
	}{
		{"grace longer than the test", 30 * time.Second, true},
		{"parking off", -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.IdleGrace = tc.grace
			h := &acceptCounter{Handler: testHandler(testDocroot(t))}
			s, addr := startServer(t, cfg, h)
			c, br := dial(t, addr)
			if tc.parks {
				waitFor(t, "the new connection to park", func() bool { return parkedCount(s) == 1 && served(s) == 0 })
			} else {
				waitFor(t, "the new connection to be served", func() bool { return served(s) == 1 })
				time.Sleep(50 * time.Millisecond)
				if parkedCount(s) != 0 {
					t.Fatal("parked with parking off")
				}
			}
			for i := range 2 {
				send(t, c, "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
				if r := read(t, br, false); r.status != 200 || string(r.body) != fileBody {
					t.Fatalf("response %d: %d %q", i, r.status, r.body)
				}
			}
			time.Sleep(50 * time.Millisecond)
			if n, p := served(s), parkedCount(s); n != 1 || p != 0 {
				t.Errorf("keep-alive wait: %d served, %d parked; want it in its goroutine", n, p)
			}
			if n := h.n.Load(); n != 1 {
				t.Errorf("connection offered %d times, want once", n)
			}
		})
	}
}

// refusedConn is a raw socket whose connection start refused it (as
// core's PROXY-header wrapper does): no descriptor, reads fail.
type refusedConn struct{ net.Conn }

var errRefusedStart = errors.New("refused at its start")

func (refusedConn) RawSocket() {}
func (refusedConn) SyscallConn() (syscall.RawConn, error) {
	return nil, errRefusedStart
}
func (refusedConn) Read([]byte) (int, error) { return 0, errRefusedStart }

// TestNewConnectionRefusedAtStart: a new connection that gives no
// descriptor is closed as its read fails, without a panic.
func TestNewConnectionRefusedAtStart(t *testing.T) {
	var panics atomic.Int32
	s, _ := startServer(t, testConfig(), testHandler(testDocroot(t)))
	s.OnPanic = func(any) { panics.Add(1) }
	waitFor(t, "the server to run", func() bool { return s.poller() != nil })
	a, b := net.Pipe()
	defer b.Close()
	done := make(chan struct{})
	go func() { s.ServeConn(refusedConn{a}); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the refused connection is still served")
	}
	if n := panics.Load(); n != 0 {
		t.Fatalf("%d panics", n)
	}
	if n := s.OpenConns(); n != 0 {
		t.Fatalf("OpenConns = %d", n)
	}
}

// TestParkedTailSize: a download waiting for room keeps its conn and a
// parkedConn; the idle connection's socket part (parkedSock) is not in it.
func TestParkedTailSize(t *testing.T) {
	if n := allocsize.Of(func() any { return new(parkedConn) }); n > 112 {
		t.Fatalf("a parkedConn (%d bytes) takes %d from the heap, over the 112-byte size class", unsafe.Sizeof(parkedConn{}), n)
	}
}
