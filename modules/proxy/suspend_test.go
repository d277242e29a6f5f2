package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golighty/golighty/core/coretest"
	"github.com/golighty/golighty/modules/internal/gw"
)

// servedConf proxies everything to the backend at sock on a real listener
// (the engine's Serve: requests waiting for their answer can suspend).
func servedConf(sock, opts string) string {
	return fmt.Sprintf(`server.document-root = "@DIR@"
server.modules = ("mod_proxy")
server.bind = "127.0.0.1"
server.port = @PORT@
proxy.server = ( "/" => (( "socket" => %q %s )))
`, sock, opts)
}

// suspendEvery makes every request that waits for its answer suspend.
func suspendEvery(t *testing.T) {
	old := waits.SetAbove(0)
	t.Cleanup(func() { waits.SetAbove(old) })
}

// exchangeWaits counts goroutines in the handler's exchange: requests
// waiting for their answer in a goroutine (the backends here answer
// nothing until released).
func exchangeWaits() int { return coretest.GoroutinesIn("proxy.(*handler).exchange(") }

// heldBackend answers each request (its path in the body) once release is
// closed; arrived counts the requests it holds.
func heldBackend(t *testing.T) (sock string, arrived *atomic.Int32, release chan struct{}) {
	arrived = new(atomic.Int32)
	release = make(chan struct{})
	be := startRaw(t, func(br *bufio.Reader, c net.Conn) {
		head, err := readHead(br)
		if err != nil {
			return
		}
		arrived.Add(1)
		<-release
		path := strings.Fields(head)[1]
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(path), path)
	})
	return be.ln.Addr().String(), arrived, release
}

// TestSuspendedLongPolls: requests waiting on a slow backend (long polls)
// beyond the first waits.Above() wait without a goroutine each, none holds
// a read buffer or its request's head meanwhile, and every one gets its
// own answer once the backend replies.
func TestSuspendedLongPolls(t *testing.T) {
	const n = 200
	sock, arrived, release := heldBackend(t)
	addr := coretest.BenchServer(t, servedConf(sock, ""), nil)
	coretest.HeldRequests(t, addr, "/poll/", n, func() int { return int(arrived.Load()) }, release, func() {
		coretest.SettlesAtMost(t, fmt.Sprintf("goroutines wait in the handler for %d held requests", n), exchangeWaits, int(waits.Above()))
		if out := readers.Out(); out != 0 {
			t.Errorf("%d read buffers held by requests waiting for their answer, want none", out)
		}
		// A request's head goes back to its pool just after its send.
		coretest.SettlesAtMost(t, "request heads held by requests waiting for their answer", func() int { return int(headsOut.Load()) }, 0)
	})
}

// TestSuspendedClientReset: a client that resets while its request waits
// suspended gets its backend connection closed (the watch shuts the socket
// down; the engine resumes the request, which aborts).
func TestSuspendedClientReset(t *testing.T) {
	suspendEvery(t)
	old := gw.ClientCheckInterval.Swap(int64(100 * time.Millisecond))
	t.Cleanup(func() { gw.ClientCheckInterval.Store(old) })
	gone := make(chan time.Duration, 1)
	be := startRaw(t, func(br *bufio.Reader, c net.Conn) {
		if _, err := readHead(br); err != nil {
			return
		}
		start := time.Now()
		c.SetReadDeadline(start.Add(5 * time.Second))
		if _, err := br.ReadByte(); err == io.EOF {
			gone <- time.Since(start)
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate")
	})
	addr := coretest.BenchServer(t, servedConf(be.ln.Addr().String(), ""), nil)
	coretest.ResetWhileWaiting(t, addr, "/poll", func() bool { return be.conns.Load() == 1 }, exchangeWaits, gone)
}

// TestSuspendedReadTimeout: a suspended request whose backend stays silent
// past read-timeout gets lighttpd's 504, as a waiting one does.
func TestSuspendedReadTimeout(t *testing.T) {
	suspendEvery(t)
	sock, _, release := heldBackend(t)
	defer close(release)
	addr := coretest.BenchServer(t, servedConf(sock, `, "read-timeout" => 1`), nil)
	coretest.ExpectReadTimeout(t, addr, "/poll")
}

// TestSuspendedKeptConnection: with keep-conn, one backend connection
// carries request after request, each waiting suspended, and a kept
// connection the backend closed meanwhile is replaced.
func TestSuspendedKeptConnection(t *testing.T) {
	suspendEvery(t)
	var inGoroutine atomic.Int32
	be := startRaw(t, func(br *bufio.Reader, c net.Conn) {
		for {
			head, err := readHead(br)
			if err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond) // answered after the wait began
			if exchangeWaits() > 0 {
				inGoroutine.Add(1)
			}
			path := strings.Fields(head)[1]
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(path), path)
			if strings.HasSuffix(path, "/drop") {
				return
			}
		}
	})
	addr := coretest.BenchServer(t, servedConf(be.ln.Addr().String(), `, "keep-conn" => "enable"`), nil)
	paths := []string{"/a", "/b", "/c", "/drop", "/d", "/e"}
	for _, path := range paths {
		if path == "/d" {
			time.Sleep(50 * time.Millisecond) // the backend closed the kept connection
		}
		status, body, err := coretest.GetOn(addr, path)
		if err != nil || status != 200 || body != path {
			t.Fatalf("%s: %d %q %v, want 200 %q", path, status, body, err, path)
		}
	}
	if n := be.conns.Load(); n != 2 {
		t.Errorf("%d backend connections for %d requests, want 2 (one replaced after /drop)", n, len(paths))
	}
	if n := inGoroutine.Load(); n > 0 {
		t.Errorf("%d of %d requests waited in a goroutine, want none", n, len(paths))
	}
}
