package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/golighty/golighty/core/allocsize"
	"github.com/golighty/golighty/core/monoclock"
)

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	must(t, err)
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

func send(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, br *bufio.Reader, head bool) *response {
	t.Helper()
	r, err := readResponse(br, head)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPipelined(t *testing.T) {
	_, addr := startServer(t, testConfig(), testHandler(testDocroot(t)))
	c, br := dial(t, addr)
	send(t, c, "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n"+
		"HEAD /f.txt HTTP/1.1\r\nHost: a\r\n\r\n"+
		"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"+
		"GET /missing HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	want := []struct {
		status int
		head   bool
		body   string
	}{{200, false, fileBody}, {200, true, ""}, {200, false, "abc"}, {404, false, ""}}
	for i, w := range want {
		r := read(t, br, w.head)
		if r.status != w.status || (w.body != "" && string(r.body) != w.body) {
			t.Fatalf("response %d: %d %q, want %d %q", i, r.status, r.body, w.status, w.body)
		}
	}
	if !isClosed(c, br, time.Second) {
		t.Error("connection should close after Connection: close")
	}
}

func TestTrickle(t *testing.T) {
	_, addr := startServer(t, testConfig(), testHandler(testDocroot(t)))
	c, br := dial(t, addr)
	raw := "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n"
	for i := 0; i < len(raw); i++ {
		send(t, c, raw[i:i+1])
		time.Sleep(time.Millisecond)
	}
	if r := read(t, br, false); r.status != 200 || string(r.body) != fileBody {
		t.Fatalf("got %d %q", r.status, r.body)
	}
	// Keep-alive request trickled too, after one stray CRLF (skipped). The
	// CRLF must arrive in one piece: like lighttpd, a lone CR at the start
	// of a request is a control byte and answered 400.
	send(t, c, "\r\n")
	time.Sleep(5 * time.Millisecond)
	for i := 0; i < len(raw); i++ {
		send(t, c, raw[i:i+1])
		time.Sleep(time.Millisecond)
	}
	if r := read(t, br, false); r.status != 200 {
		t.Fatalf("second request: %d", r.status)
	}
}

func TestKeepAliveBlankLines(t *testing.T) {
	_, addr := startServer(t, testConfig(), testHandler(testDocroot(t)))
	tests := []struct {
		name   string
		second string
		status int
	}{
		{"one_crlf_skipped", "\r\nGET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n", 200},
		{"one_lf_skipped", "\nGET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n", 200},
		{"two_crlf_400", "\r\n\r\nGET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"ctrl_byte_400", "\x01GET", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, br := dial(t, addr)
			send(t, c, "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
			read(t, br, false)
			send(t, c, tc.second)
			if r := read(t, br, false); r.status != tc.status {
				t.Fatalf("status %d, want %d", r.status, tc.status)
			}
		})
	}
}

func TestHeadTimeoutTotal(t *testing.T) {
	cfg := testConfig()
	cfg.HeadTimeout = 300 * time.Millisecond
	_, addr := startServer(t, cfg, testHandler(testDocroot(t)))
	c, br := dial(t, addr)
	start := time.Now()
	raw := "GET /f.txt HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"
	go func() {
		for i := 0; i < len(raw); i++ {
			if _, err := io.WriteString(c, raw[i:i+1]); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	n, err := br.Read(make([]byte, 1))
	if n != 0 || err == nil {
		t.Fatalf("expected silent close, read %d bytes", n)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("closed after %v, want ~300ms", el)
	}
}

// TestHeadTimeoutKeepAlive: a keep-alive connection's wait for its next
// request is not bounded by the head's limit, but a head that has begun
// is, from its first bytes.
func TestHeadTimeoutKeepAlive(t *testing.T) {
	cfg := testConfig()
	cfg.HeadTimeout = 300 * time.Millisecond
	_, addr := startServer(t, cfg, testHandler(testDocroot(t)))
	c, br := dial(t, addr)
	for i := range 2 {
		if i == 1 {
			time.Sleep(600 * time.Millisecond) // idle, twice the head's limit
		}
		send(t, c, "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
		if r := read(t, br, false); r.status != 200 {
			t.Fatalf("request %d: status %d", i+1, r.status)
		}
	}
	raw := "GET /f.txt HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"
	start := time.Now()
	go func() {
		for i := 0; i < len(raw); i++ {
			if _, err := io.WriteString(c, raw[i:i+1]); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := br.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("expected a silent close of the slow head, read %d bytes", n)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("closed after %v, want ~300ms", el)
	}
}

func TestIdleTimeouts(t *testing.T) {
	tests := []struct {
		name  string
		cfg   func(*Config)
		first bool // send a complete request first
		send  string
	}{
		{"keepalive_idle", func(c *Config) { c.MaxKeepAliveIdle = 200 * time.Millisecond }, true, ""},
		{"read_idle_first_request", func(c *Config) { c.MaxReadIdle = 200 * time.Millisecond }, false, "GET /f.txt HTTP/1.1\r\n"},
		{"read_idle_body", func(c *Config) { c.MaxReadIdle = 200 * time.Millisecond }, false, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.cfg(&cfg)
			_, addr := startServer(t, cfg, testHandler(testDocroot(t)))
			c, br := dial(t, addr)
			if tc.first {
				send(t, c, "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
				read(t, br, false)
			}
			send(t, c, tc.send)
			start := time.Now()
			rest, err := io.ReadAll(br)
			if len(rest) != 0 {
				t.Errorf("timeout must close silently (no 408), got %q", rest)
			}
			if err != nil && !strings.Contains(err.Error(), "reset") {
				t.Errorf("read: %v", err)
			}
			if el := time.Since(start); el > 3*time.Second {
				t.Errorf("closed after %v", el)
			}
		})
	}
}

func TestConnInfo(t *testing.T) {
	got := make(chan ConnInfo, 1)
	h := HandlerFunc(func(w *ResponseWriter, r *Request) {
		got <- *r.Conn
		w.Respond(nil)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	s := &Server{Handler: h, Token: "listener-1"}
	go s.Serve(ln)
	defer func() { ln.Close(); s.Close() }()
	c, br := dial(t, ln.Addr().String())
	send(t, c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	read(t, br, false)
	ci := <-got
	local := c.LocalAddr().(*net.TCPAddr)
	if ci.RemoteIP != "127.0.0.1" || ci.RemotePort != local.Port || ci.LocalPort != ln.Addr().(*net.TCPAddr).Port ||
		ci.LocalIP != "127.0.0.1" || ci.Token != "listener-1" || ci.TLS {
		t.Errorf("ConnInfo = %+v", ci)
	}
}

func TestSetKeepAliveIdle(t *testing.T) {
	h := HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.SetKeepAliveIdle(100 * time.Millisecond)
		w.Respond([]byte("x"))
	})
	_, addr := startServer(t, testConfig(), h) // default idle: 5 s
	c, br := dial(t, addr)
	send(t, c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if r := read(t, br, false); r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	start := time.Now()
	if !isClosed(c, br, 3*time.Second) {
		t.Fatal("connection still open")
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("closed after %v, want ~100ms", el)
	}
}

// TestDrop: a dropped request gets no response; the responses to the
// requests before it are still delivered, then the connection closes.
func TestDrop(t *testing.T) {
	h := HandlerFunc(func(w *ResponseWriter, r *Request) {
		if string(r.Target) == "/drop" {
			w.Drop()
			return
		}
		w.Respond([]byte("ok"))
	})
	_, addr := startServer(t, testConfig(), h)
	c, br := dial(t, addr)
	send(t, c, "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /drop HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n")
	if r := read(t, br, false); r.status != 200 || string(r.body) != "ok" {
		t.Fatalf("first response %d %q", r.status, r.body)
	}
	if !isClosed(c, br, 2*time.Second) {
		t.Fatal("connection still open (or more bytes) after the dropped request")
	}
}

func TestClientCloseMidRequest(t *testing.T) {
	s, addr := startServer(t, testConfig(), testHandler(testDocroot(t)))
	for _, raw := range []string{
		"GET /f.txt HTTP/1.1\r\nHost:",
		"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\npartial",
		"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
	} {
		c, err := net.Dial("tcp", addr)
		must(t, err)
		send(t, c, raw)
		time.Sleep(20 * time.Millisecond)
		c.Close()
	}
	deadline := time.Now().Add(3 * time.Second)
	for s.OpenConns() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.OpenConns(); n != 0 {
		t.Errorf("%d connections still open", n)
	}
}

func TestChunkedBodies(t *testing.T) {
	cfg := testConfig()
	_, addr := startServer(t, cfg, testHandler(testDocroot(t)))
	const head = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	tests := []struct {
		name   string
		body   string
		status int
		echo   string
		closes bool
	}{
		{"simple", "5\r\nhello\r\n0\r\n\r\n", 200, "hello", false},
		{"multi_ext_upper", "3;a=b\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n", 200, "abc0123456789", false},
		{"trailers", "2\r\nhi\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n", 200, "hi", false},
		{"size_ws", "2 \t\r\nhi\r\n0\r\n\r\n", 200, "hi", false},
		{"bad_hex", "zz\r\nhi\r\n0\r\n\r\n", 400, "", true},
		{"bare_lf_size", "2\nhi\r\n0\r\n\r\n", 400, "", true},
		{"missing_crlf", "2\r\nhiXX0\r\n\r\n", 400, "", true},
		{"too_large", "800\r\n" + strings.Repeat("x", 0x800) + "\r\n0\r\n\r\n", 413, "", true},
		{"size_overflow", "fffffffffffffffff\r\n", 400, "", true},
		{"long_size_line", "1;" + strings.Repeat("e", 1100) + "\r\nx\r\n0\r\n\r\n", 400, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, br := dial(t, addr)
			send(t, c, head+tc.body)
			r := read(t, br, false)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d", r.status, tc.status)
			}
			if tc.echo != "" && string(r.body) != tc.echo {
				t.Errorf("echo %q, want %q", r.body, tc.echo)
			}
			if closed := isClosed(c, br, 300*time.Millisecond); closed != tc.closes {
				t.Errorf("closed=%v, want %v", closed, tc.closes)
			}
		})
	}
}

func TestExpect100(t *testing.T) {
	_, addr := startServer(t, testConfig(), testHandler(testDocroot(t)))
	t.Run("sent_before_body", func(t *testing.T) {
		c, br := dial(t, addr)
		send(t, c, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
		line, err := br.ReadString('\n')
		must(t, err)
		blank, _ := br.ReadString('\n')
		if line != "HTTP/1.1 100 Continue\r\n" || blank != "\r\n" {
			t.Fatalf("got %q %q", line, blank)
		}
		send(t, c, "data")
		if r := read(t, br, false); r.status != 200 || string(r.body) != "data" {
			t.Fatalf("final %d %q", r.status, r.body)
		}
	})
	for _, tc := range []struct{ name, raw string }{
		{"not_when_body_arrived", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\ndata"},
		{"not_for_static", "POST /f.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"},
		{"not_for_http10", "POST /echo HTTP/1.0\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\ndata"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, br := dial(t, addr)
			send(t, c, tc.raw)
			if r := read(t, br, false); r.status != 200 {
				t.Fatalf("status %d, want 200 with no 100 first", r.status)
			}
		})
	}
}

func TestKeepAliveLimits(t *testing.T) {
	cfg := testConfig()
	cfg.MaxKeepAliveRequests = 2
	_, addr := startServer(t, cfg, testHandler(testDocroot(t)))
	c, br := dial(t, addr)
	// lighttpd closes once the request count exceeds the limit: requests
	// 1 and 2 stay open, the 3rd gets Connection: close.
	for i := 1; i <= 3; i++ {
		send(t, c, "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
		r := read(t, br, false)
		conn, has := r.header("Connection")
		if i < 3 && has {
			t.Errorf("request %d: Connection %q, want none", i, conn)
		}
		if i == 3 && conn != "close" {
			t.Errorf("request 3: Connection %q, want close", conn)
		}
	}
	if !isClosed(c, br, time.Second) {
		t.Error("connection not closed after the limit")
	}

	cfg.MaxKeepAliveRequests, cfg.MaxKeepAliveIdle = 1000, 0
	_, addr = startServer(t, cfg, testHandler(testDocroot(t)))
	resp, closed := exchange(t, addr, "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
	if c, _ := resp.header("Connection"); c != "close" || !closed {
		t.Errorf("max-keep-alive-idle 0: Connection %q closed=%v", c, closed)
	}
}

func TestHEAD(t *testing.T) {
	_, addr := startServer(t, testConfig(), testHandler(testDocroot(t)))
	c, br := dial(t, addr)
	send(t, c, "HEAD /f.txt HTTP/1.1\r\nHost: a\r\n\r\nHEAD /missing HTTP/1.1\r\nHost: a\r\n\r\nGET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
	r := read(t, br, true)
	if cl, _ := r.header("Content-Length"); r.status != 200 || cl != "12" {
		t.Errorf("HEAD file: %d Content-Length %q", r.status, cl)
	}
	r = read(t, br, true)
	if cl, _ := r.header("Content-Length"); r.status != 404 || cl != "341" {
		t.Errorf("HEAD 404: %d Content-Length %q (want error-document length 341)", r.status, cl)
	}
	// No body bytes were sent for the HEADs: the next response parses.
	if r = read(t, br, false); r.status != 200 || string(r.body) != fileBody {
		t.Errorf("GET after HEAD: %d %q", r.status, r.body)
	}
}

func TestResponseHead(t *testing.T) {
	handler := HandlerFunc(func(w *ResponseWriter, r *Request) {
		switch string(r.Target) {
		case "/order":
			w.SetStatus(404)
			w.AddHeader("Content-Type", "text/html")
			w.AddHeader("X-Test", "yes")
			w.AddHeader("X-Sendfile", "/etc/passwd")
			w.AddHeader("x-sendfile2", "/etc/passwd 0-1")
			w.AddHeader("X-send-response-body", "/etc/passwd")
			w.AddHeader("X-LIGHTTPD-KBytes-per-second", "1")
			w.AddHeader("X-Empty", "")
			w.AddHeader("X-Split", "a\r\nSet-Cookie: evil=1")
			w.Respond([]byte("body"))
		case "/own-date":
			w.AddHeader("Server", "mine")
			w.AddHeader("Date", "then")
			w.AddHeader("X-After", "1")
			w.Respond(nil)
		case "/backend-connection":
			w.AddHeader("X-A", "1")
			w.AddHeader("Connection", "whatever")
			w.AddHeader("X-B", "2")
			w.Respond(nil)
		case "/304":
			w.SetStatus(304)
			w.AddHeader("ETag", `"x"`)
		case "/299":
			w.SetStatus(299)
		case "/stream":
			w.Write([]byte("ab"))
			w.Flush()
			w.Write([]byte("cd"))
		}
	})
	cfg := testConfig()
	_, addr := startServer(t, cfg, handler)
	tests := []struct {
		name, raw string
		want      []string // header names in order (values checked where given as Name: value)
		body      string
		closes    bool
	}{
		{"order_http11", "GET /order HTTP/1.1\r\nHost: a\r\n\r\n",
			[]string{"HTTP/1.1 404 Not Found", "Content-Type: text/html", "X-Test: yes", "Content-Length: 4", "Date", "Server: lighttpd/1.4.69"}, "body", false},
		{"order_http10_keepalive", "GET /order HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			[]string{"HTTP/1.0 404 Not Found", "Content-Type: text/html", "X-Test: yes", "Content-Length: 4", "Connection: keep-alive", "Date", "Server: lighttpd/1.4.69"}, "body", false},
		{"order_http10_close", "GET /order HTTP/1.0\r\n\r\n",
			[]string{"HTTP/1.0 404 Not Found", "Content-Type: text/html", "X-Test: yes", "Content-Length: 4", "Connection: close", "Date", "Server: lighttpd/1.4.69"}, "body", true},
		{"handler_date_server_kept", "GET /own-date HTTP/1.1\r\nHost: a\r\n\r\n",
			[]string{"HTTP/1.1 200 OK", "Server: mine", "Date: then", "X-After: 1", "Content-Length: 0"}, "", false},
		{"connection_in_backend_position", "GET /backend-connection HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
			[]string{"HTTP/1.1 200 OK", "X-A: 1", "Connection: close", "X-B: 2", "Content-Length: 0", "Date", "Server"}, "", true},
		{"not_modified_no_length", "GET /304 HTTP/1.1\r\nHost: a\r\n\r\n",
			[]string{"HTTP/1.1 304 Not Modified", "ETag: \"x\"", "Date", "Server"}, "", false},
		{"unknown_status", "GET /299 HTTP/1.1\r\nHost: a\r\n\r\n",
			[]string{"HTTP/1.1 299 ", "Content-Length: 0", "Date", "Server"}, "", false},
		{"stream_http11_chunked", "GET /stream HTTP/1.1\r\nHost: a\r\n\r\n",
			[]string{"HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Date", "Server"}, "abcd", false},
		{"stream_http10_close", "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			[]string{"HTTP/1.0 200 OK", "Connection: close", "Date", "Server"}, "abcd", true},
		{"parse_error_version_unknown", "GET / HTTP/2.0\r\n\r\n",
			[]string{"HTTP/1.0 505 HTTP Version Not Supported", "Content-Length: 0", "Connection: close", "Date", "Server"}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, closed := exchange(t, addr, tc.raw)
			lines := strings.Split(resp.head, "\r\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("head\n%s\nwant %q", resp.head, tc.want)
			}
			for i, w := range tc.want {
				if lines[i] != w && !(i > 0 && !strings.Contains(w, ":") && strings.HasPrefix(lines[i], w+": ")) {
					t.Errorf("line %d = %q, want %q", i, lines[i], w)
				}
			}
			if string(resp.body) != tc.body {
				t.Errorf("body %q, want %q", resp.body, tc.body)
			}
			if closed != tc.closes {
				t.Errorf("closed=%v, want %v", closed, tc.closes)
			}
		})
	}
	t.Run("empty_server_tag", func(t *testing.T) {
		cfg := testConfig()
		cfg.ServerTag = "  \t"
		_, addr := startServer(t, cfg, handler)
		resp, _ := exchange(t, addr, "GET /299 HTTP/1.1\r\nHost: a\r\n\r\n")
		if _, has := resp.header("Server"); has {
			t.Errorf("Server header with empty tag:\n%s", resp.head)
		}
	})
}

func TestSendFileLarge(t *testing.T) {
	root := testDocroot(t)
	_, addr := startServer(t, testConfig(), testHandler(root))
	c, br := dial(t, addr)
	for i := 0; i < 2; i++ { // twice: keep-alive after a sendfile body
		send(t, c, "GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
		r := read(t, br, false)
		if r.status != 200 || len(r.body) != 1<<20 || string(r.body[16:32]) != "0123456789abcdef" {
			t.Fatalf("status %d len %d", r.status, len(r.body))
		}
	}
	// Over a pipe (no sendfile) the plain copy path serves the same bytes.
	s := &Server{Handler: testHandler(root)}
	s.SetConfig(testConfig())
	cli, srv := net.Pipe()
	go s.ServeConn(srv)
	defer cli.Close()
	go io.WriteString(cli, "GET /big.bin HTTP/1.0\r\n\r\n")
	r, err := readResponse(bufio.NewReader(cli), false)
	must(t, err)
	if r.status != 200 || len(r.body) != 1<<20 {
		t.Fatalf("pipe: status %d len %d", r.status, len(r.body))
	}
}

func TestShutdown(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	h := HandlerFunc(func(w *ResponseWriter, r *Request) {
		if string(r.Target) == "/slow" {
			close(entered)
			<-release
		}
		w.Respond([]byte("ok"))
	})
	s, addr := startServer(t, testConfig(), h)
	idle, idleBR := dial(t, addr)
	send(t, idle, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	read(t, idleBR, false)
	busy, busyBR := dial(t, addr)
	send(t, busy, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	<-entered
	if n := s.OpenConns(); n != 2 {
		t.Errorf("OpenConns = %d, want 2", n)
	}
	done := make(chan error)
	go func() { done <- s.Shutdown(context.Background()) }()
	if !isClosed(idle, idleBR, 2*time.Second) {
		t.Error("idle keep-alive connection not closed by Shutdown")
	}
	close(release)
	r := read(t, busyBR, false)
	if c, _ := r.header("Connection"); r.status != 200 || c != "close" {
		t.Errorf("in-flight request: %d Connection %q", r.status, c)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	if got := s.Requests(); got != 2 {
		t.Errorf("Requests = %d, want 2", got)
	}
}

func TestManyPipelined(t *testing.T) {
	_, addr := startServer(t, testConfig(), testHandler(testDocroot(t)))
	c, br := dial(t, addr)
	const n = 200
	go func() {
		// Sent in one go; responses are batched and must come back in order.
		io.WriteString(c, strings.Repeat("GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\nGET /missing HTTP/1.1\r\nHost: a\r\n\r\n", n/2))
	}()
	for i := 0; i < n; i++ {
		r := read(t, br, false)
		want := 200
		if i%2 == 1 {
			want = 404
		}
		if r.status != want {
			t.Fatalf("response %d: %d, want %d", i, r.status, want)
		}
	}
}

func TestWriteIdleTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.MaxWriteIdle = 200 * time.Millisecond
	s, addr := startServer(t, cfg, testHandler(testDocroot(t)))
	c, err := net.Dial("tcp", addr)
	must(t, err)
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4096)
	// Ask for 8 MiB and never read: the server must give up, not hang.
	io.WriteString(c, strings.Repeat("GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n", 8))
	deadline := time.Now().Add(5 * time.Second)
	for s.OpenConns() != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := s.OpenConns(); n != 0 {
		t.Errorf("connection still open after max-write-idle: %d", n)
	}
}

// deadlineCountingConn is a plain socket that counts the write deadlines
// set on it.
type deadlineCountingConn struct {
	*net.TCPConn
	writeDeadlines atomic.Int32
}

func (*deadlineCountingConn) RawSocket() {}
func (c *deadlineCountingConn) SetWriteDeadline(t time.Time) error {
	c.writeDeadlines.Add(1)
	return c.TCPConn.SetWriteDeadline(t)
}

// TestWriteDeadlineOnlyToWait: responses the socket takes at once set no
// write deadline (no clock read, no timer); one that must wait for its
// client gets it then, and a client that stops reading is still given up
// after max-write-idle.
func TestWriteDeadlineOnlyToWait(t *testing.T) {
	cfg := testConfig()
	cfg.MaxWriteIdle = 200 * time.Millisecond
	// The connection stays in ServeConn's goroutine, whose return says it
	// ended: parked before its first request came (the server runs Serve,
	// so it parks), it would return at once and be served elsewhere.
	cfg.IdleGrace = -1
	root := testDocroot(t)
	files := testHandler(root)
	chunk := make([]byte, 64<<10)
	s, _ := startServer(t, cfg, HandlerFunc(func(w *ResponseWriter, r *Request) {
		if string(r.Target) != "/written" {
			files.ServeH1(w, r)
			return
		}
		w.AddHeader("Content-Type", "application/octet-stream")
		for range 512 { // 32 MiB through the output buffer, no sendfile
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	c, sc := tcpPair(t)
	wc := &deadlineCountingConn{TCPConn: sc}
	done := make(chan struct{})
	go func() { s.ServeConn(wc); close(done) }()

	br := bufio.NewReader(c)
	for i := range 3 {
		send(t, c, "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
		if r := read(t, br, false); r.status != 200 || string(r.body) != fileBody {
			t.Fatalf("response %d: %d %q", i, r.status, r.body)
		}
	}
	if n := wc.writeDeadlines.Load(); n != 0 {
		t.Fatalf("%d write deadlines set for three small responses, want none", n)
	}

	c.SetReadBuffer(4096)
	send(t, c, "GET /written HTTP/1.1\r\nHost: a\r\n\r\n")
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a client that stopped reading still holds its connection after max-write-idle")
	}
	if n := wc.writeDeadlines.Load(); n == 0 {
		t.Fatal("the write waited without a deadline")
	}
}

// TestIdleConnectionFootprint: a keep-alive connection waiting for its next
// request holds neither a full read buffer nor an output buffer.
func TestIdleConnectionFootprint(t *testing.T) {
	s, addr := startServer(t, testConfig(), testHandler(testDocroot(t)))
	c, br := dial(t, addr)
	send(t, c, "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
	read(t, br, false)
	deadline := time.Now().Add(2 * time.Second)
	for {
		s.mu.Lock()
		var idle *conn
		s.conns.each(func(cc *conn) {
			if cc.idle.Load() { // idle is stored after the buffers are released
				idle = cc
			}
		})
		s.mu.Unlock()
		if idle != nil {
			if !idle.onSmall || idle.bigArr != nil || idle.wbufArr != nil {
				t.Errorf("idle connection holds buffers: onSmall=%v big=%v out=%v", idle.onSmall, idle.bigArr != nil, idle.wbufArr != nil)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("connection never became idle")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// And it still serves the next request.
	send(t, c, "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
	if r := read(t, br, false); r.status != 200 || string(r.body) != fileBody {
		t.Fatalf("second request: %d %q", r.status, r.body)
	}
}

// TestConnSizeClass: a conn (pooled, one per open connection, held
// through a download) stays in the 3,456-byte size class; past it the
// allocator rounds it up to 4,096. The class holds 3,448 bytes of conn:
// the block also carries the allocator's 8-byte header (allocsize). Reorder
// or trim fields before growing it (its flags sit together so that none
// adds padding).
func TestConnSizeClass(t *testing.T) {
	if n := allocsize.Of(func() any { return new(conn) }); n > 3456 {
		t.Fatalf("a conn (%d bytes) takes %d from the heap, over the 3,456-byte size class", unsafe.Sizeof(conn{}), n)
	}
}

// TestWaitCountsFromDone: the wait for the next request counts from the
// reading the handler gave with Done (the core's end-of-request clock
// read) instead of reading the clock again, unless a write waited since.
func TestWaitCountsFromDone(t *testing.T) {
	cfg := testConfig()
	cfg.IdleGrace = -1 // the keep-alive wait stays in the goroutine, bounded by its limit
	const idle = 2 * time.Second
	big := make([]byte, 8<<20) // more than the sockets' buffers hold
	_, addr := startServer(t, cfg, HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.SetKeepAliveIdle(idle)
		w.AddHeader("Content-Type", "text/plain")
		switch string(r.Target) {
		case "/stale": // a reading from before the idle limit: the wait is over at once
			w.Done(monoclock.Now().Add(-idle - time.Second))
			w.AddHeader("Content-Length", "2")
			io.WriteString(w, "ok")
		case "/fresh":
			w.Done(monoclock.Now())
			w.AddHeader("Content-Length", "2")
			io.WriteString(w, "ok")
		case "/waited": // the same stale reading, then a write that must wait
			w.Done(monoclock.Now().Add(-idle - time.Second))
			w.AddHeader("Content-Length", strconv.Itoa(len(big)))
			w.Write(big)
		}
	}))
	for _, tc := range []struct {
		path       string
		stays      bool
		readBehind time.Duration // the client starts reading the response this late
	}{
		{"/stale", false, 0},
		{"/fresh", true, 0},
		{"/waited", true, 300 * time.Millisecond},
	} {
		t.Run(tc.path[1:], func(t *testing.T) {
			c, br := dial(t, addr)
			c.(*net.TCPConn).SetReadBuffer(64 << 10)
			send(t, c, "GET "+tc.path+" HTTP/1.1\r\nHost: a\r\n\r\n")
			time.Sleep(tc.readBehind)
			if r := read(t, br, false); r.status != 200 {
				t.Fatalf("status %d", r.status)
			}
			start := time.Now()
			c.SetReadDeadline(start.Add(500 * time.Millisecond))
			_, err := br.ReadByte()
			var ne net.Error
			stayed := errors.As(err, &ne) && ne.Timeout()
			if stayed != tc.stays {
				t.Fatalf("open after the response: %v, want %v (read: %v after %v)", stayed, tc.stays, err, time.Since(start))
			}
			if tc.stays {
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				send(t, c, "GET /fresh HTTP/1.1\r\nHost: a\r\n\r\n")
				if r := read(t, br, false); r.status != 200 {
					t.Fatalf("next request: status %d", r.status)
				}
			}
		})
	}
}
