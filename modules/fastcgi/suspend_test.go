package fastcgi

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golighty/golighty/core/coretest"
)

// servedConf is confFor on a real listener (the engine's Serve: idle
// parking, and requests waiting for their backend without a goroutine).
func servedConf(host, opts string) string {
	return confFor(".php", host, opts) + "server.bind = \"127.0.0.1\"\nserver.port = @PORT@\n"
}

// suspendEvery makes every request that waits for its backend suspend.
func suspendEvery(t *testing.T) {
	old := waits.SetAbove(0)
	t.Cleanup(func() { waits.SetAbove(old) })
}

// heldBackend answers every request only once release is closed; arrived
// counts the requests it holds.
func heldBackend(t *testing.T, network, body string) (host string, arrived *atomic.Int32, release chan struct{}) {
	arrived = new(atomic.Int32)
	release = make(chan struct{})
	b := startRaw(t, network, func(req *rawReq, c net.Conn) {
		arrived.Add(1)
		<-release
		writeResponse(c, "Content-Type: text/plain\r\n\r\n"+body)
	})
	return hostOpt(b.ln), arrived, release
}

// handlerWaits counts goroutines reading a backend's answer in the FastCGI
// handler (a request waiting for its backend in a goroutine).
func handlerWaits() int { return coretest.GoroutinesIn("fastcgi.(*handler).response(") }

// TestSuspendedRequestsHoldNoGoroutine: requests queued on a busy backend
// beyond the first waits.Above() wait without a goroutine each (a burst on
// four php-cgi children held 8 KiB of stack per request), and every one
// gets its answer once the backend replies.
func TestSuspendedRequestsHoldNoGoroutine(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) { testSuspendedRequests(t, network) })
	}
}

func testSuspendedRequests(t *testing.T, network string) {
	const n = 200
	host, arrived, release := heldBackend(t, network, "held answer\n")
	addr := coretest.BenchServer(t, servedConf(host, ""), map[string]string{"www/a.php": ""})
	type result struct {
		status int
		body   string
		err    error
	}
	results := make(chan result, n)
	for i := 0; i < n; i++ {
		go func() {
			s, b, err := coretest.GetOn(addr, "/a.php")
			results <- result{s, b, err}
		}()
	}
	coretest.WaitFor(t, "every request at the backend", func() bool { return arrived.Load() == n })
	coretest.SettlesAtMost(t, fmt.Sprintf("goroutines wait in the handler for %d queued requests", n), handlerWaits, int(waits.Above()))
	if out := readers.Out(); out != 0 {
		t.Errorf("%d read buffers held by requests waiting for their answer, want none", out)
	}
	close(release)
	for i := 0; i < n; i++ {
		r := <-results
		if r.err != nil || r.status != 200 || r.body != "held answer\n" {
			t.Fatalf("got %d %q %v, want 200 with the backend's answer", r.status, r.body, r.err)
		}
	}
}

// TestSuspendedClientResetAbortsBackend: a client that resets while its
// request waits suspended still gets its backend connection closed.
func TestSuspendedClientResetAbortsBackend(t *testing.T) {
	suspendEvery(t)
	withCheckInterval(t, 100*time.Millisecond)
	host, gone, answered := slowBackend(t, 5*time.Second)
	addr := coretest.BenchServer(t, servedConf(host, ""), map[string]string{"www/slow.php": ""})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "GET /slow.php HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the request reached the backend
	if w := handlerWaits(); w != 0 {
		t.Fatalf("%d goroutines wait in the handler, want the request suspended", w)
	}
	resetAndExpectAbort(t, c.(*net.TCPConn), gone, answered)
}

// TestSuspendedReadTimeout: a suspended request whose backend stays silent
// past read-timeout gets lighttpd's 504, as a waiting one does.
func TestSuspendedReadTimeout(t *testing.T) {
	suspendEvery(t)
	host, _, release := heldBackend(t, "unix", "too late\n")
	defer close(release)
	addr := coretest.BenchServer(t, servedConf(host, `"read-timeout" => 1`), map[string]string{"www/a.php": ""})
	coretest.ExpectReadTimeout(t, addr, "/a.php")
}

// TestSuspendedKeptConnections: with keep-conn, one backend connection
// carries request after request, each waiting suspended (the socket stays
// in the engine's set between waits and is re-armed).
func TestSuspendedKeptConnections(t *testing.T) {
	suspendEvery(t)
	var inGoroutine atomic.Int32
	ln := goBackend(t, "unix", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond) // answered after the wait began
		if handlerWaits() > 0 {
			inGoroutine.Add(1)
		}
		fmt.Fprintf(w, "answer %s\n", r.URL.RawQuery)
	}))
	addr := coretest.BenchServer(t, servedConf(hostOpt(ln), `"keep-conn" => 4`), map[string]string{"www/a.php": ""})
	for i := 0; i < 20; i++ {
		status, body, err := coretest.GetOn(addr, fmt.Sprintf("/a.php?%d", i))
		if want := fmt.Sprintf("answer %d\n", i); err != nil || status != 200 || body != want {
			t.Fatalf("request %d: %d %q %v, want 200 %q", i, status, body, err, want)
		}
	}
	if n := inGoroutine.Load(); n > 0 {
		t.Errorf("%d of 20 requests waited for the kept connection in a goroutine, want none", n)
	}
}

// TestSuspendedAuthorizer: an authorizer's answer, read after the wait,
// restarts the request (Comeback) for the responder behind it.
func TestSuspendedAuthorizer(t *testing.T) {
	suspendEvery(t)
	be := startRaw(t, "unix", func(req *rawReq, c net.Conn) {
		time.Sleep(20 * time.Millisecond) // answered after the wait began
		if req.role == 2 {
			if cookie, _ := req.param("HTTP_COOKIE"); cookie == "ok" {
				writeResponse(c, "Status: 200\r\nVariable-Auth-User: alice\r\n\r\nignored")
				return
			}
			writeResponse(c, "Status: 401\r\n\r\ndenied")
			return
		}
		user, _ := req.param("AUTH_USER")
		writeResponse(c, "\r\nresponder user="+user)
	})
	conf := `server.document-root = "@DIR@/www"
server.modules = ("mod_fastcgi")
server.bind = "127.0.0.1"
server.port = @PORT@
fastcgi.server = (
  "/" => (( ` + hostOpt(be.ln) + `, "mode" => "authorizer", "check-local" => "disable" )),
  ".php" => (( ` + hostOpt(be.ln) + ` )) )
`
	addr := coretest.BenchServer(t, conf, map[string]string{"www/index.php": ""})
	for _, tc := range []struct {
		cookie string
		status int
		body   string
	}{{"ok", 200, "responder user=alice"}, {"no", 401, "denied"}} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET /index.php HTTP/1.1\r\nHost: x\r\nCookie: "+tc.cookie+"\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		c.Close()
		if resp.StatusCode != tc.status || string(body) != tc.body {
			t.Errorf("cookie %s: %d %q, want %d %q", tc.cookie, resp.StatusCode, body, tc.status, tc.body)
		}
	}
}

// TestSuspendedAtClose: closing the server while requests wait suspended
// hands them back to goroutines, which end once the backend answers; no
// goroutine or descriptor is left behind.
func TestSuspendedAtClose(t *testing.T) {
	suspendEvery(t)
	leakCheck(t)
	const n = 5
	host, arrived, release := heldBackend(t, "unix", "late\n")
	// Cleanups run last first: the server closes, its clients see their
	// connections end, then the backend answers the resumed requests.
	t.Cleanup(func() { close(release) })
	errs := make(chan error, n)
	t.Cleanup(func() {
		for i := 0; i < n; i++ {
			if err := <-errs; err == nil {
				t.Error("a request was answered by a closed server")
			}
		}
	})
	addr := coretest.BenchServer(t, servedConf(host, ""), map[string]string{"www/a.php": ""})
	for i := 0; i < n; i++ {
		go func() {
			_, _, err := coretest.GetOn(addr, "/a.php")
			errs <- err
		}()
	}
	coretest.WaitFor(t, "every request at the backend", func() bool { return arrived.Load() == n })
}
