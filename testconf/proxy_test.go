package testconf

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// proxyBackend is an HTTP backend for the proxy tests that answers by path
// and echoes exactly what it received, so the request a proxy sends can be
// compared byte for byte.
type proxyBackend struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	reqs int // requests seen

	// /held/ requests wait until release is closed (holdNext).
	held    int
	release chan struct{}
}

// holdNext makes the next /held/ requests wait until the returned function
// releases them; held tells how many wait.
func (b *proxyBackend) holdNext() (held func() int, release func()) {
	b.mu.Lock()
	b.held, b.release = 0, make(chan struct{})
	ch := b.release
	b.mu.Unlock()
	return func() int { b.mu.Lock(); defer b.mu.Unlock(); return b.held }, func() { close(ch) }
}

func startProxyBackend(t *testing.T) *proxyBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &proxyBackend{ln: ln}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				defer c.Close()
				b.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		b.wg.Wait()
	})
	return b
}

func (b *proxyBackend) port() int { return b.ln.Addr().(*net.TCPAddr).Port }

// proxyReadRequest reads one request: its head as sent and its body
// (de-chunked), or an error.
func proxyReadRequest(br *bufio.Reader) (head string, body []byte, err error) {
	var h strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", nil, err
		}
		h.WriteString(line)
		if line == "\r\n" || line == "\n" {
			break
		}
	}
	head = h.String()
	lower := strings.ToLower(head)
	switch {
	case strings.Contains(lower, "\r\ntransfer-encoding: chunked"):
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return head, nil, err
			}
			n, err := strconv.ParseInt(strings.TrimSpace(line), 16, 64)
			if err != nil {
				return head, nil, err
			}
			if n == 0 {
				br.ReadString('\n')
				break
			}
			chunk := make([]byte, n+2)
			if _, err := io.ReadFull(br, chunk); err != nil {
				return head, nil, err
			}
			body = append(body, chunk[:n]...)
		}
	case strings.Contains(lower, "\r\ncontent-length: "):
		i := strings.Index(lower, "\r\ncontent-length: ") + len("\r\ncontent-length: ")
		n, _ := strconv.Atoi(lower[i : i+strings.Index(lower[i:], "\r")])
		body = make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			return head, nil, err
		}
	}
	return head, body, nil
}

func (b *proxyBackend) serve(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		head, body, err := proxyReadRequest(br)
		if err != nil {
			return
		}
		b.mu.Lock()
		b.reqs++
		b.mu.Unlock()
		path := strings.Fields(head)[1]
		echo := head + string(body)
		keep := !strings.Contains(head, "Connection: close")
		switch {
		case strings.HasPrefix(path, "/echo"), strings.HasPrefix(path, "/backend/"):
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(echo), echo)
		case strings.HasPrefix(path, "/held/"):
			b.mu.Lock()
			b.held++
			release := b.release
			b.mu.Unlock()
			<-release
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(path), path)
		case path == "/chunked":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n")
		case path == "/close":
			io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nclose-delimited body\n")
			return
		case path == "/nostatus":
			io.WriteString(c, "Content-Type: text/plain\r\n\r\nno status line\n")
			return
		case path == "/garbage":
			io.WriteString(c, "HTTP/1.1 abc\r\n\r\nbody")
			return
		case path == "/early":
			return
		case path == "/short":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nonly part")
			return
		case path == "/status":
			io.WriteString(c, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nX-App: a\r\nStatus: 200\r\nContent-Length: 8\r\n\r\nmissing\n")
		case path == "/interim":
			io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal")
		case path == "/redirect":
			io.WriteString(c, "HTTP/1.1 302 Found\r\nLocation: http://backend.internal/backend/next?x=1\r\nContent-Location: /backend/cl\r\nSet-Cookie: a=1; Path=/backend/sub; Domain=backend.internal\r\nSet-Cookie: b=2; domain=.backend.internal; path=/other\r\nContent-Length: 0\r\n\r\n")
		case path == "/js":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\nConnection: close\r\nContent-Length: 3\r\n\r\nf()")
		case path == "/headers":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nServer: backend/1\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nX-Space : dropped\r\nContent-Length: 2\r\n\r\nok")
		case path == "/inject":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Evil: a\rSet-Cookie: x=1\r\nContent-Length: 2\r\n\r\nok")
		case path == "/huge":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Big: "+strings.Repeat("a", 70000)+"\r\n\r\nok")
		case path == "/endless":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
			chunk := bytes.Repeat([]byte("x"), 65536)
			for {
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		case path == "/trickle":
			for _, ch := range "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow" {
				io.WriteString(c, string(ch))
				time.Sleep(5 * time.Millisecond)
			}
		case path == "/slow":
			time.Sleep(3 * time.Second)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate")
		case path == "/big":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1048576\r\n\r\n")
			c.Write(bytes.Repeat([]byte("z"), 1<<20))
		case path == "/bigpat", path == "/bigshort", path == "/bigstall":
			// Past the core's memory share: spooled to a temporary file.
			body := proxyPattern
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", len(body))
			if path != "/bigpat" {
				body = body[:300<<10]
			}
			c.Write(body)
			if path == "/bigstall" {
				time.Sleep(3 * time.Second)
			}
			return
		case path == "/ws":
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
			io.Copy(c, br) // raw echo of whatever follows
			return
		default:
			io.WriteString(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
		}
		if !keep {
			return
		}
	}
}

// proxyPattern is the body of /bigpat: 1 MiB and 5 bytes, every offset
// told apart within 251 bytes.
var proxyPattern = func() []byte {
	b := make([]byte, 1<<20+5)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}()

const proxyConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_proxy")
mimetype.assign = (".txt" => "text/plain")
proxy.server = ( "/" => ( "be" => ( "host" => "127.0.0.1", "port" => @BPORT@ )))
$HTTP["url"] =^ "/fwd/" {
	proxy.forwarded = ( "for" => 1, "proto" => 1, "host" => "enable", "by" => 0, "remote_user" => 1 )
}
$HTTP["url"] =^ "/map/" {
	proxy.header = (
		"map-urlpath" => ( "/map/" => "/backend/" ),
		"map-host-request" => ( "-" => "backend.internal" ),
		"map-host-response" => ( "-" => "-" ),
	)
}
$HTTP["url"] =^ "/h10/" { proxy.header = ( "force-http10" => "enable" ) }
$HTTP["url"] =^ "/rh/" {
	proxy.replace-http-host = 1
}
$HTTP["url"] =^ "/ws" { proxy.header = ( "upgrade" => "enable" ) }
$HTTP["url"] =^ "/stream/" { server.stream-request-body = 1 }
# Streamed: buffered (the default, as in lighttpd) it would fill server.upload-dirs.
$HTTP["url"] == "/endless" { server.stream-response-body = 2 }
$HTTP["url"] == "/bigstall" { proxy.server = ( "/" => (( "host" => "127.0.0.1", "port" => @BPORT@, "read-timeout" => 1 ))) }
$HTTP["url"] == "/slow" { proxy.server = ( "/" => (( "host" => "127.0.0.1", "port" => @BPORT@, "read-timeout" => 1 ))) }
$HTTP["request-method"] == "CONNECT" {
	proxy.server = ( "" => (( "host" => "127.0.0.1", "port" => @BPORT@ )))
	proxy.header = ( "connect" => "enable" )
}
`

func proxyPeers(t *testing.T, extra string) (g, l *server, b *proxyBackend) {
	lighttpd := requirePeer(t, "lighttpd")
	b = startProxyBackend(t)
	root := t.TempDir()
	writeTree(t, root, map[string]string{"www/static.txt": "static\n"})
	conf := strings.NewReplacer("@ROOT@", root, "@BPORT@", strconv.Itoa(b.port())).Replace(proxyConf + extra)
	g = startServer(t, "golighty", golightyBin, root, conf)
	l = startServer(t, "lighttpd", lighttpd, root, conf)
	return g, l, b
}

// TestSideBySideProxy: the request the backend sees (echoed back) and the
// response the client gets must be lighttpd's, for plain, forwarded,
// remapped, HTTP/1.0, chunked-upload and error cases.
func TestSideBySideProxy(t *testing.T) {
	g, l, _ := proxyPeers(t, "")
	reqs := []string{
		"GET /echo HTTP/1.0\r\n\r\n",
		"GET /echo?q=1&r=%41 HTTP/1.1\r\nHost: Example.com:80\r\nUser-Agent: t\r\nX-Multi: 1\r\nX-Multi: 2\r\nCookie: a=1\r\nCookie: b=2\r\nProxy: evil\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nConnection: close\r\n\r\n",
		"GET /echo HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\nX-Host: old\r\nSet-Cookie: no\r\nConnection: keep-alive, close\r\n\r\n",
		"GET /echo HTTP/1.1\r\nHost: x\r\nTE: gzip\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"POST /echo HTTP/1.0\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
		"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
		"POST /stream/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"DELETE /echo HTTP/1.0\r\n\r\n",
		"OPTIONS * HTTP/1.0\r\n\r\n",
		"GET http://absolute.example/echo/abs HTTP/1.1\r\nHost: ignored\r\nConnection: close\r\n\r\n",
		"GET /ech%6f/%2e%2e/echo/x%20y HTTP/1.0\r\n\r\n",
		"GET /fwd/echo HTTP/1.1\r\nHost: f.example\r\nConnection: close\r\n\r\n",
		"GET /fwd/echo HTTP/1.1\r\nHost: f.example\r\nX-Forwarded-For: 10.0.0.1, ::1\r\nConnection: close\r\n\r\n",
		"GET /fwd/echo HTTP/1.1\r\nHost: f.example\r\nForwarded: for=10.1.1.1\r\nConnection: close\r\n\r\n",
		"GET /map/echo HTTP/1.1\r\nHost: front.example\r\nDestination: http://front.example/map/dest\r\nContent-Location: /map/cl\r\nConnection: close\r\n\r\n",
		"GET /h10/echo HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: keep-alive\r\n\r\n",
		"GET /rh/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"HEAD /echo HTTP/1.0\r\n\r\n",
		"GET /chunked HTTP/1.0\r\n\r\n",
		"GET /chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET /close HTTP/1.0\r\n\r\n",
		"GET /nostatus HTTP/1.0\r\n\r\n",
		"GET /garbage HTTP/1.0\r\n\r\n",
		"GET /early HTTP/1.0\r\n\r\n",
		"GET /status HTTP/1.0\r\n\r\n",
		"GET /interim HTTP/1.0\r\n\r\n",
		"GET /js HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /headers HTTP/1.0\r\n\r\n",
		"GET /missing HTTP/1.0\r\n\r\n",
		"GET /echo HTTP/1.1\r\nHost: x\r\nRange: bytes=0-3\r\nConnection: close\r\n\r\n",
	}
	compareSideBySide(t, g, l, reqs, nil, nil)

	t.Run("remapped response headers", func(t *testing.T) {
		// The mapping back needs the request's own mapping: a request
		// through /map/ to the redirecting backend path.
		g2, l2, _ := proxyPeers(t, `$HTTP["url"] =^ "/m2/" { proxy.header = ( "map-urlpath" => ( "/m2/" => "/redirect" ), "map-host-request" => ( "-" => "backend.internal" ), "map-host-response" => ( "-" => "-" ) ) }`+"\n")
		compareSideBySide(t, g2, l2, []string{
			"GET /m2/ HTTP/1.1\r\nHost: front.example\r\nConnection: close\r\n\r\n",
		}, nil, nil)
	})
}

// TestProxyTimeoutsAndDown: a backend slower than read-timeout is a 504,
// a refused connect a 503 with the proc disabled, on both servers.
func TestProxyTimeoutsAndDown(t *testing.T) {
	g, l, _ := proxyPeers(t, "")
	for _, s := range []*server{g, l} {
		ex := s.raw(t, "GET /slow HTTP/1.0\r\n\r\n", false)
		if ex.resp == nil || ex.resp.StatusCode != 504 {
			t.Errorf("%s: slow backend: %q", s.name, cut(ex.raw))
		}
	}
	// A backend that is not there.
	lighttpd := requirePeer(t, "lighttpd")
	dead := freePort(t)
	root := t.TempDir()
	writeTree(t, root, map[string]string{"www/x": "x"})
	conf := strings.NewReplacer("@ROOT@", root, "@BPORT@", strconv.Itoa(dead)).Replace(proxyConf)
	g2 := startServer(t, "golighty", golightyBin, root, conf)
	l2 := startServer(t, "lighttpd", lighttpd, root, conf)
	compareSideBySide(t, g2, l2, []string{"GET /echo HTTP/1.0\r\n\r\n", "GET /echo HTTP/1.0\r\n\r\n"}, nil, nil)
	if !cgiWaitLog(g2, "establishing connection failed") {
		t.Errorf("no connect failure logged:\n%s", g2.log.String())
	}
}

// TestProxyManyHeldRequests: 150 requests that a slow backend holds at
// once (long polls; golighty lets 64 wait in goroutines and suspends the
// rest) are all answered, each with its own response, by both servers.
func TestProxyManyHeldRequests(t *testing.T) {
	const n = 150
	g, l, b := proxyPeers(t, "")
	for _, s := range []*server{g, l} {
		held, release := b.holdNext()
		type got struct {
			path, body string
			status     int
			err        error
		}
		results := make(chan got, n)
		for i := range n {
			go func() {
				path := fmt.Sprintf("/held/%d", i)
				c, err := net.Dial("tcp", s.addr)
				if err != nil {
					results <- got{path: path, err: err}
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					results <- got{path: path, err: err}
					return
				}
				body, err := io.ReadAll(resp.Body)
				results <- got{path, string(body), resp.StatusCode, err}
			}()
		}
		for i := 0; held() < n; i++ {
			if i == 1000 {
				release()
				t.Fatalf("%s: %d of %d requests reached the backend", s.name, held(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
		release()
		for range n {
			r := <-results
			if r.err != nil || r.status != 200 || r.body != r.path {
				t.Fatalf("%s: %s: got %d %q %v, want 200 with its own answer", s.name, r.path, r.status, r.body, r.err)
			}
		}
	}
}

// TestProxySpooledBody: a body of known length past the memory share is
// collected in a temporary file. It arrives whole and in order, Range
// applies to it as on lighttpd, a body cut short is a 502 and one that
// stalls past read-timeout a 504.
func TestProxySpooledBody(t *testing.T) {
	g, l, _ := proxyPeers(t, "")
	compareSideBySide(t, g, l, []string{
		"GET /bigpat HTTP/1.0\r\n\r\n",
		"GET /bigpat HTTP/1.1\r\nHost: x\r\nRange: bytes=1048570-\r\nConnection: close\r\n\r\n",
		"GET /bigpat HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,300000-300009\r\nConnection: close\r\n\r\n",
	}, nil, nil)
	ex := g.raw(t, "GET /bigpat HTTP/1.0\r\n\r\n", false)
	if _, _, body := splitResponse(ex.raw); !bytes.Equal(body, proxyPattern) {
		t.Errorf("body of %d bytes differs from the backend's %d", len(body), len(proxyPattern))
	}
	for _, tc := range []struct {
		path   string
		status int
		log    string
	}{
		{"/bigshort", 502, "response body incomplete"},
		{"/bigstall", 504, "read timeout on socket"},
	} {
		start := time.Now()
		ex := g.raw(t, "GET "+tc.path+" HTTP/1.0\r\n\r\n", false)
		if ex.resp == nil || ex.resp.StatusCode != tc.status {
			t.Errorf("%s: %q, want %d", tc.path, cut(ex.raw), tc.status)
		}
		if el := time.Since(start); tc.status == 504 && el > 2500*time.Millisecond {
			t.Errorf("%s: answered after %v, read-timeout is 1 s", tc.path, el)
		}
		if !cgiWaitLog(g, tc.log) {
			t.Errorf("%s: no %q logged:\n%s", tc.path, tc.log, g.log.String())
		}
	}
}

// TestProxyUpgradeAndConnect: a WebSocket upgrade the backend accepts
// becomes a two-way tunnel (the backend echoes raw bytes), and CONNECT
// (proxy.header "connect") tunnels too; the heads match lighttpd's.
func TestProxyUpgradeAndConnect(t *testing.T) {
	g, l, _ := proxyPeers(t, "")
	for _, tc := range []struct{ name, req string }{
		{"upgrade", "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"},
		{"connect", "CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\nGET /echo HTTP/1.0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var heads [2]string
			for i, s := range []*server{g, l} {
				c, err := net.Dial("tcp", s.addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				io.WriteString(c, tc.req)
				br := bufio.NewReader(c)
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				var h strings.Builder
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						t.Fatalf("%s: %v after %q", s.name, err, h.String())
					}
					if !strings.HasPrefix(line, "Date: ") {
						h.WriteString(line)
					}
					if line == "\r\n" {
						break
					}
				}
				heads[i] = h.String()
				if tc.name == "upgrade" {
					// Bytes now flow both ways, echoed by the backend.
					io.WriteString(c, "ping-through-tunnel")
					got := make([]byte, len("ping-through-tunnel"))
					if _, err := io.ReadFull(br, got); err != nil || string(got) != "ping-through-tunnel" {
						t.Fatalf("%s: tunnel echo %q, %v", s.name, got, err)
					}
				} else {
					// The tunneled request reaches the backend.
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						t.Fatalf("%s: %v", s.name, err)
					}
					resp.Body.Close()
					if resp.StatusCode != 200 {
						t.Fatalf("%s: tunneled status %d", s.name, resp.StatusCode)
					}
				}
			}
			if heads[0] != heads[1] {
				t.Errorf("heads differ:\ngolighty:\n%slighttpd:\n%s", heads[0], heads[1])
			}
		})
	}
}

// TestProxyPythonBackend: Python's own HTTP server behind mod_proxy.
func TestProxyPythonBackend(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	python := requirePeer(t, "python3")
	root := t.TempDir()
	writeTree(t, root, map[string]string{"pub/file.txt": "from python\n", "www/x": ""})
	port := freePort(t)
	cmd := exec.Command(python, "-m", "http.server", strconv.Itoa(port), "--bind", "127.0.0.1", "--directory", filepath.Join(root, "pub"))
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	conf := strings.NewReplacer("@ROOT@", root, "@BPORT@", strconv.Itoa(port)).Replace(proxyConf)
	g := startServer(t, "golighty", golightyBin, root, conf)
	l := startServer(t, "lighttpd", lighttpd, root, conf)
	// Python's Date and Last-Modified come from the backend; Server too.
	compareSideBySide(t, g, l, []string{
		"GET /file.txt HTTP/1.0\r\n\r\n",
		"GET /file.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"HEAD /file.txt HTTP/1.0\r\n\r\n",
		"GET /nothing HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
	}, nil, func(line string) bool { return strings.HasPrefix(line, "Last-Modified: ") })
}

// TestProxyHostile: hostile backends and clients are refused with a log
// line, the server survives, and no descriptor leaks.
func TestProxyHostile(t *testing.T) {
	b := startProxyBackend(t)
	root := t.TempDir()
	writeTree(t, root, map[string]string{"www/x": ""})
	conf := strings.NewReplacer("@ROOT@", root, "@BPORT@", strconv.Itoa(b.port())).Replace(proxyConf)
	g := startServer(t, "golighty", golightyBin, root, conf)
	pid := g.cmd.Process.Pid
	fds := cgiOpenFDs(t, pid)
	for _, tc := range []struct {
		name, req string
		status    int
		log       string
	}{
		{"header injection from the backend", "GET /inject HTTP/1.0\r\n\r\n", 502, "control character"},
		{"oversized backend head", "GET /huge HTTP/1.0\r\n\r\n", 502, "too large"},
		{"no status line", "GET /nostatus HTTP/1.0\r\n\r\n", 502, "invalid HTTP status line"},
		{"early close", "GET /early HTTP/1.0\r\n\r\n", 500, "response not received"},
		{"short body", "GET /short HTTP/1.0\r\n\r\n", 502, "incomplete"},
		{"slow trickle", "GET /trickle HTTP/1.0\r\n\r\n", 200, ""},
		// Smuggling attempts never reach the backend as two requests:
		// the parser refuses them before proxying.
		{"CL and TE", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /echo HTTP/1.1\r\nHost: x\r\n\r\n", 400, ""},
		{"duplicate Content-Length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nbody", 400, ""},
		{"obs-fold without CR", "GET /echo HTTP/1.1\r\nHost: x\r\nX-A: 1\n Transfer-Encoding: chunked\r\n\r\n", 400, ""},
		{"bare LF", "GET /echo HTTP/1.1\nHost: x\n\n", 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.count()
			ex := g.raw(t, tc.req, false)
			if ex.resp == nil || ex.resp.StatusCode != tc.status {
				t.Fatalf("want %d, got %q", tc.status, cut(ex.raw))
			}
			if tc.status == 400 && b.count() != before {
				t.Errorf("a refused request reached the backend")
			}
			if tc.log != "" && !cgiWaitLog(g, tc.log) {
				t.Errorf("no %q in the log:\n%s", tc.log, g.log.String())
			}
		})
	}
	t.Run("obs-fold joins the value, one request reaches the backend", func(t *testing.T) {
		before := b.count()
		ex := g.raw(t, "GET /echo HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n", false)
		if ex.resp == nil || ex.resp.StatusCode != 200 || !strings.Contains(string(ex.body), "X-A: 1   Transfer-Encoding: chunked\r\n") {
			t.Fatalf("got %q", cut(ex.raw))
		}
		if strings.Contains(string(ex.body), "\r\nTransfer-Encoding") || b.count() != before+1 {
			t.Fatalf("the folded line became a header of its own: %q", ex.body)
		}
	})
	t.Run("endless body, client stops reading", func(t *testing.T) {
		c, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET /endless HTTP/1.0\r\n\r\n")
		if _, err := io.ReadFull(c, make([]byte, 2<<20)); err != nil {
			t.Fatal(err)
		}
		c.Close()
	})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && cgiOpenFDs(t, pid) > fds {
		time.Sleep(100 * time.Millisecond)
	}
	if n := cgiOpenFDs(t, pid); n > fds {
		t.Errorf("descriptors: %d before, %d after", fds, n)
	}
}

func (b *proxyBackend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reqs
}
