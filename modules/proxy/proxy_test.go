package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/coretest"
	_ "github.com/golighty/golighty/modules/dirlisting"
	_ "github.com/golighty/golighty/modules/indexfile"
	_ "github.com/golighty/golighty/modules/staticfile"
)

func testRemap() *remap {
	return &remap{
		o: &headerOpts{
			urlPaths:     []core.KV{{Key: "/app/", Value: "/backend/"}, {Key: "/other", Value: "/o"}},
			hostsRequest: []core.KV{{Key: "-", Value: "backend.internal"}, {Key: "keep.example", Value: ""}, {Key: "same", Value: "-"}},
			hostsResp:    []core.KV{{Key: "-", Value: "-"}},
		},
		httpHost:   "front.example",
		httpsRemap: true,
	}
}

func TestRemap(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		req            bool
	}{
		{"request path", "/app/x?y=1", "/backend/x?y=1", true},
		{"request path not mapped", "/elsewhere", "/elsewhere", true},
		{"request absolute URI", "https://front.example/app/a", "http://backend.internal/backend/a", true},
		{"request host compared without case", "http://FRONT.example/other/b", "http://backend.internal/o/b", true},
		{"empty value keeps the host", "http://keep.example/app/", "http://keep.example/backend/", true},
		{"dash value is the request's host", "http://same/x", "http://front.example/x", true},
		{"no path gets a slash", "http://front.example", "http://backend.internal/", true},
		{"empty authority untouched", "http:///x", "http:///x", true},
		{"not a URI", "mailto:x", "mailto:x", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := testRemap().uri(tc.in, tc.req); got != tc.want {
				t.Fatalf("uri(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	t.Run("response maps back what the request mapped", func(t *testing.T) {
		r := testRemap()
		r.uri("https://front.example/app/a", true)
		if got := r.uri("http://backend.internal/backend/next", false); got != "https://front.example/app/next" {
			t.Fatalf("got %q", got)
		}
		if got := r.setCookie("a=1; Path=/backend/sub; Domain=backend.internal"); got != "a=1; Path=/app/sub; Domain=front.example" {
			t.Fatalf("cookie: %q", got)
		}
		// A quoted domain keeps its closing quote in the compared token:
		// lighttpd leaves it alone.
		if got := r.setCookie(`b=2; domain=".backend.internal"; path="/backend/"`); got != `b=2; domain=".backend.internal"; path="/app/"` {
			t.Fatalf("quoted cookie: %q", got)
		}
		// Any mapping maps back, and the attribute name has no case
		// (found by FuzzSetCookie).
		if got := r.setCookie("0;PAth=/o"); got != "0;PAth=/other" {
			t.Fatalf("second mapping: %q", got)
		}
		if got := r.setCookie("c=3; =x; Path=relative; secure"); got != "c=3; =x; Path=relative; secure" {
			t.Fatalf("odd cookie: %q", got)
		}
	})
}

// FuzzSetCookie: any Set-Cookie value is remapped without panicking, and a
// value naming neither a mapped path ("/backend/", "/o": paths compare
// with case) nor the mapped host stays as it is.
func FuzzSetCookie(f *testing.F) {
	for _, s := range []string{"a=1; Path=/backend/x; Domain=backend.internal", "; ;=;", "x=\"; path=/\"", "a; domain=."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		r := testRemap()
		r.uri("http://front.example/app/", true)
		out := r.setCookie(v)
		if !strings.Contains(v, "/backend/") && !strings.Contains(v, "/o") && !strings.Contains(strings.ToLower(v), "backend.internal") && out != v {
			t.Fatalf("%q changed to %q", v, out)
		}
	})
}

// rawBackend serves raw responses on a unix socket, counting connections.
type rawBackend struct {
	ln    net.Listener
	conns atomic.Int32
	wg    sync.WaitGroup
}

func startRaw(t testing.TB, serve func(br *bufio.Reader, c net.Conn)) *rawBackend {
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "be.sock"))
	if err != nil {
		t.Fatal(err)
	}
	b := &rawBackend{ln: ln}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.conns.Add(1)
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				defer c.Close()
				serve(bufio.NewReader(c), c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); b.wg.Wait() })
	return b
}

// readHead reads a request head.
func readHead(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		b.WriteString(l)
		if l == "\r\n" {
			return b.String(), nil
		}
	}
}

func harness(t testing.TB, sock, opts string) *coretest.Harness {
	h := coretest.New(t, fmt.Sprintf(`
server.document-root = "@DIR@"
server.modules = ("mod_proxy")
proxy.server = ( "/" => (( "socket" => %q %s )))
`, sock, opts))
	// Kept connections close with the module, before the backend stops.
	m, _ := h.Snap.Module("mod_proxy")
	t.Cleanup(func() { m.(*Module).Close() })
	return h
}

// TestKeepConn: with "keep-conn" golighty reuses backend connections (no
// "Connection: close" is sent); a kept connection the backend closed in
// the meantime is replaced transparently; without the option every
// request has its own connection, as in lighttpd.
func TestKeepConn(t *testing.T) {
	var sawClose atomic.Bool
	b := startRaw(t, func(br *bufio.Reader, c net.Conn) {
		for i := 0; ; i++ {
			head, err := readHead(br)
			if err != nil {
				return
			}
			if strings.Contains(head, "Connection: close") {
				sawClose.Store(true)
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			if strings.Contains(head, "/drop") {
				return // the kept connection dies after this answer
			}
		}
	})
	sock := b.ln.Addr().String()
	t.Run("reused", func(t *testing.T) {
		h := harness(t, sock, `, "keep-conn" => "enable"`)
		before := b.conns.Load()
		for i := 0; i < 5; i++ {
			resp, body := h.Get("/x")
			if resp.StatusCode != 200 || body != "ok" {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
		}
		if n := b.conns.Load() - before; n != 1 {
			t.Fatalf("%d backend connections for 5 requests, want 1", n)
		}
		if sawClose.Load() {
			t.Fatal("Connection: close sent with keep-conn")
		}
		h.Get("/drop")
		time.Sleep(50 * time.Millisecond)
		resp, body := h.Get("/after")
		if resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("after a dropped kept connection: %d %q", resp.StatusCode, body)
		}
	})
	t.Run("off by default", func(t *testing.T) {
		h := harness(t, sock, "")
		before := b.conns.Load()
		for i := 0; i < 3; i++ {
			h.Get("/x")
		}
		if n := b.conns.Load() - before; n != 3 {
			t.Fatalf("%d backend connections for 3 requests, want 3", n)
		}
		if !sawClose.Load() {
			t.Fatal("no Connection: close without keep-conn")
		}
	})
}

// FuzzProxyResponse: whatever a backend answers, the client gets a
// well-framed response (or a closed connection), never a header that
// could split it, and the server does not panic.
func FuzzProxyResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		"HTTP/1.0 302 Found\r\nLocation: /x\r\n\r\n",
		"HTTP/1.1 103 Early\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
		"Status: 200\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	var out atomic.Value
	b := startRaw(f, func(br *bufio.Reader, c net.Conn) {
		if _, err := readHead(br); err != nil {
			return
		}
		c.Write(out.Load().([]byte))
	})
	h := harness(f, b.ln.Addr().String(), "")
	f.Fuzz(func(t *testing.T, resp []byte) {
		out.Store(resp)
		h.T = t
		raw := h.Raw("GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if len(raw) == 0 {
			return
		}
		head, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
		if !ok {
			t.Fatalf("no complete head in %q (backend output %q)", raw, resp)
		}
		lines := strings.Split(string(head), "\r\n")
		if !strings.HasPrefix(lines[0], "HTTP/1.1 ") {
			t.Fatalf("status line %q", lines[0])
		}
		cl, chunked := -1, false
		for _, line := range lines[1:] {
			name, value, ok := strings.Cut(line, ": ")
			if !ok || name == "" || strings.ContainsAny(line, "\r\n\x00") {
				t.Fatalf("bad header line %q", line)
			}
			switch strings.ToLower(name) {
			case "content-length":
				if cl >= 0 {
					t.Fatalf("two Content-Length lines in %q", head)
				}
				if _, err := fmt.Sscanf(value, "%d", &cl); err != nil {
					t.Fatalf("Content-Length %q", value)
				}
			case "transfer-encoding":
				chunked = true
			}
		}
		switch {
		case chunked && cl >= 0:
			t.Fatalf("both framings in %q", head)
		case chunked:
			if _, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(body))); err != nil && !strings.Contains(string(raw), "Connection: close") {
				t.Fatalf("bad chunking %q: %v", body, err)
			}
		case cl >= 0 && cl != len(body):
			t.Fatalf("Content-Length %d, body %d bytes: %q", cl, len(body), raw)
		}
	})
}

// TestBalance: proxy.balance spreads requests over the hosts of an
// extension as gw_backend.c does: round-robin alternates, hash keeps a
// path on one host, sticky keeps a client on one host.
func TestBalance(t *testing.T) {
	var hits [2]atomic.Int32
	var socks [2]string
	for i := range socks {
		i := i
		b := startRaw(t, func(br *bufio.Reader, c net.Conn) {
			if _, err := readHead(br); err != nil {
				return
			}
			hits[i].Add(1)
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d", i)
		})
		socks[i] = b.ln.Addr().String()
	}
	for _, tc := range []struct {
		balance string
		paths   []string
		check   func(a, b int32) bool
	}{
		{"round-robin", []string{"/a", "/a", "/a", "/a"}, func(a, b int32) bool { return a == 2 && b == 2 }},
		{"hash", []string{"/same", "/same", "/same", "/same"}, func(a, b int32) bool { return a == 4 || b == 4 }},
		{"sticky", []string{"/a", "/b", "/c", "/d"}, func(a, b int32) bool { return a == 4 || b == 4 }},
	} {
		t.Run(tc.balance, func(t *testing.T) {
			hits[0].Store(0)
			hits[1].Store(0)
			h := coretest.New(t, fmt.Sprintf(`
server.document-root = "@DIR@"
server.modules = ("mod_proxy")
proxy.balance = %q
proxy.server = ( "/" => ( "one" => ( "socket" => %q ), "two" => ( "socket" => %q )))
`, tc.balance, socks[0], socks[1]))
			for _, p := range tc.paths {
				if resp, _ := h.Get(p); resp.StatusCode != 200 {
					t.Fatalf("%s: %d", p, resp.StatusCode)
				}
			}
			if a, b := hits[0].Load(), hits[1].Load(); !tc.check(a, b) {
				t.Fatalf("hits %d / %d", a, b)
			}
		})
	}
}

// TestWaitingRequestsHoldNoReadBuffer: requests waiting on a slow backend
// (long polls) hold no 32 KiB read buffer until the answer starts, and
// then get it whole.
func TestWaitingRequestsHoldNoReadBuffer(t *testing.T) {
	const n = 20
	var arrived atomic.Int32
	release := make(chan struct{})
	be := startRaw(t, func(br *bufio.Reader, c net.Conn) {
		if _, err := readHead(br); err != nil {
			return
		}
		arrived.Add(1)
		<-release
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nevent\n")
	})
	h := harness(t, be.ln.Addr().String(), "")
	bodies := make(chan string, n)
	for i := 0; i < n; i++ {
		go func() {
			_, body := h.Do("GET /poll HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			bodies <- body
		}()
	}
	for i := 0; arrived.Load() < n; i++ {
		if i == 500 {
			t.Fatalf("%d of %d requests reached the backend", arrived.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if out := readers.Out(); out != 0 {
		t.Errorf("%d read buffers held by %d requests waiting for their answer, want none", out, n)
	}
	close(release)
	for i := 0; i < n; i++ {
		if body := <-bodies; body != "event\n" {
			t.Errorf("body %q, want the backend's answer", body)
		}
	}
}
