package fastcgi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/coretest"
	"github.com/golighty/golighty/lighttpdconf"
	_ "github.com/golighty/golighty/modules/indexfile"
	_ "github.com/golighty/golighty/modules/setenv"
	_ "github.com/golighty/golighty/modules/staticfile"
)

// confFor builds a config with one fastcgi.server entry; opts are extra
// per-host options.
func confFor(key, host, opts string) string {
	if opts != "" {
		opts = ", " + opts
	}
	return `server.document-root = "@DIR@/www"
server.modules = ("mod_indexfile", "mod_fastcgi", "mod_staticfile")
index-file.names = ("index.php")
mimetype.assign = (".txt" => "text/plain", ".bin" => "application/octet-stream")
fastcgi.server = ( "` + key + `" => (( ` + host + opts + ` )) )
`
}

// echoParams answers with every param as NAME=VALUE lines, in order.
func echoParams(req *rawReq, c net.Conn) {
	var b strings.Builder
	for _, p := range req.params {
		b.WriteString(p[0] + "=" + p[1] + "\n")
	}
	writeResponse(c, "Content-Type: text/plain\r\n\r\n"+b.String())
}

func TestParams(t *testing.T) {
	leakCheck(t)
	be := startRaw(t, "tcp", echoParams)
	h := coretest.New(t, confFor(".php", hostOpt(be.ln), ""))
	h.WriteFile("www/index.php", "<?php")
	resp, body := roundTrip(t, h, "GET /index.php/extra?x=1 HTTP/1.1\r\nHost: www.example.com:28101\r\n"+
		"User-Agent: t\r\nX-Custom-Hdr: v1\r\nX-Custom-Hdr: v2\r\nCookie: a=1; b=2\r\nContent-Type: text/x\r\nProxy: evil\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	www := filepath.Join(h.Dir, "www")
	want := []string{
		"CONTENT_LENGTH=0",
		"QUERY_STRING=x=1",
		"REQUEST_URI=/index.php/extra?x=1",
		"REDIRECT_STATUS=200",
		"SCRIPT_NAME=/index.php",
		"PATH_INFO=/extra",
		"PATH_TRANSLATED=" + www + "/extra",
		"SCRIPT_FILENAME=" + www + "/index.php",
		"DOCUMENT_ROOT=" + www,
		"REQUEST_METHOD=GET",
		"SERVER_PROTOCOL=HTTP/1.1",
	}
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if len(lines) < len(want) {
		t.Fatalf("got %d params: %s", len(lines), body)
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("param %d = %q, want %q", i, lines[i], w)
		}
	}
	for _, w := range []string{"HTTP_HOST=www.example.com:28101", "HTTP_X_CUSTOM_HDR=v1, v2", "CONTENT_TYPE=text/x", "SERVER_NAME=www.example.com", "GATEWAY_INTERFACE=CGI/1.1"} {
		if !strings.Contains(string(body), w+"\n") {
			t.Errorf("missing %s in\n%s", w, body)
		}
	}
	for _, bad := range []string{"HTTP_PROXY=", "X_SEND_RESPONSE_BODY_SUPPORTED="} {
		if strings.Contains(string(body), bad) {
			t.Errorf("unexpected %s in\n%s", bad, body)
		}
	}
	if r := be.last(); r == nil || r.role != 1 {
		t.Errorf("role = %v, want responder (1)", r)
	}
}

func TestParamsOptions(t *testing.T) {
	be := startRaw(t, "tcp", echoParams)
	cases := []struct {
		name, key, opts, path string
		want, absent          []string
	}{
		{"index file", ".php", "", "/", []string{"SCRIPT_NAME=/index.php", "REQUEST_URI=/"}, []string{"PATH_INFO="}},
		{"x-sendfile advertised", ".php", `"x-sendfile" => "enable"`, "/index.php", []string{"X_SEND_RESPONSE_BODY_SUPPORTED=1"}, nil},
		{"check-local disabled prefix", "/nl/", `"check-local" => "disable"`, "/nl/foo/bar", []string{"SCRIPT_NAME=/nl/foo", "PATH_INFO=/bar"}, nil},
		{"prefix is byte-wise", "/root", `"check-local" => "disable", "docroot" => "/srv/remote"`, "/rootx/a/b",
			[]string{"SCRIPT_NAME=/rootx", "PATH_INFO=/a/b", "SCRIPT_FILENAME=/srv/remote/rootx", "DOCUMENT_ROOT=/srv/remote", "PATH_TRANSLATED=/srv/remote/a/b"}, nil},
		{"fix-root-scriptname", "/", `"check-local" => "disable", "fix-root-scriptname" => "enable"`, "/cgi/foo",
			[]string{"SCRIPT_NAME=", "PATH_INFO=/cgi/foo"}, nil},
		{"strip-request-uri", ".php", `"strip-request-uri" => "/app/"`, "/app/x/index.php", []string{"REQUEST_URI=/x/index.php"}, nil},
		{"broken-scriptfilename", ".php", `"broken-scriptfilename" => "enable"`, "/index.php/pi", []string{"SCRIPT_FILENAME=@WWW@/index.php/pi"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := coretest.New(t, confFor(tc.key, hostOpt(be.ln), tc.opts))
			h.WriteFile("www/index.php", "<?php")
			h.WriteFile("www/app/x/index.php", "<?php")
			resp, body := roundTrip(t, h, get(tc.path))
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			www := filepath.Join(h.Dir, "www")
			for _, w := range tc.want {
				w = strings.ReplaceAll(w, "@WWW@", www)
				if !strings.Contains("\n"+string(body), "\n"+w+"\n") {
					t.Errorf("missing %q in\n%s", w, body)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains("\n"+string(body), "\n"+a) {
					t.Errorf("unexpected %q in\n%s", a, body)
				}
			}
		})
	}
}

func TestCheckLocal(t *testing.T) {
	be := startRaw(t, "tcp", echoParams)
	cases := []struct {
		name, opts, path string
		want             int
	}{
		{"enabled missing file is 404", "", "/missing.php", 404},
		{"enabled existing file", "", "/index.php", 200},
		{"disabled missing file goes to backend", `"check-local" => "disable"`, "/missing.php", 200},
		{"no match is static", "", "/a.txt", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := coretest.New(t, confFor(".php", hostOpt(be.ln), tc.opts))
			h.WriteFile("www/index.php", "<?php")
			h.WriteFile("www/a.txt", "static")
			resp, body := roundTrip(t, h, get(tc.path))
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, body)
			}
		})
	}
}

// goApp is the in-process application behind net/http/fcgi.
func goApp() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo.php", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(b)
		fmt.Fprintf(w, "method=%s len=%d cl=%d sha=%s", r.Method, len(b), r.ContentLength, hex.EncodeToString(sum[:]))
	})
	mux.HandleFunc("/status.php", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-App", "yes")
		w.Header().Set("Status", "404 Nope")
		w.Write([]byte("not here"))
	})
	mux.HandleFunc("/js.php", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/javascript; charset=utf-8")
		w.Write([]byte("x()"))
	})
	mux.HandleFunc("/big.php", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		chunk := strings.Repeat("0123456789abcdef", 4096)
		for i := 0; i < 48; i++ { // 3 MiB, above the buffer bound
			io.WriteString(w, chunk)
		}
	})
	mux.HandleFunc("/xs.php", func(w http.ResponseWriter, r *http.Request) {
		for k, v := range r.URL.Query() {
			w.Header().Set(k, v[0])
		}
		w.Write([]byte("backend body that must not be sent"))
	})
	return mux
}

func TestResponses(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			leakCheck(t)
			ln := goBackend(t, network, goApp())
			h := coretest.New(t, confFor(".php", hostOpt(ln), ""))
			for _, f := range []string{"echo", "status", "js", "big"} {
				h.WriteFile("www/"+f+".php", "")
			}
			post := strings.Repeat("p", 100<<10)
			postSum := sha256.Sum256([]byte(post))
			chunked := "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
			helloSum := sha256.Sum256([]byte("hello world"))
			bigChunked := strings.Repeat(fmt.Sprintf("%x\r\n%s\r\n", 40000, strings.Repeat("c", 40000)), 5) + "0\r\n\r\n"
			bigSum := sha256.Sum256([]byte(strings.Repeat("c", 200000)))
			cases := []struct {
				name, req string
				status    int
				headers   map[string]string
				body      string
			}{
				{"get", get("/echo.php"), 200, nil, "method=GET len=0 cl=0 sha=" + hex.EncodeToString(sha256.New().Sum(nil))},
				{"post", "POST /echo.php HTTP/1.0\r\nHost: x\r\nContent-Length: 102400\r\n\r\n" + post, 200, nil,
					"method=POST len=102400 cl=102400 sha=" + hex.EncodeToString(postSum[:])},
				{"post chunked", "POST /echo.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked, 200, nil,
					"method=POST len=11 cl=11 sha=" + hex.EncodeToString(helloSum[:])},
				{"post chunked spooled", "POST /echo.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" + bigChunked, 200, nil,
					"method=POST len=200000 cl=200000 sha=" + hex.EncodeToString(bigSum[:])},
				{"status", get("/status.php"), 404, map[string]string{"X-App": "yes", "Status": ""}, "not here"},
				{"javascript renamed", get("/js.php"), 200, map[string]string{"Content-Type": "text/javascript; charset=utf-8"}, "x()"},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					resp, body := roundTrip(t, h, tc.req)
					if resp.StatusCode != tc.status {
						t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
					}
					for k, v := range tc.headers {
						if got := resp.Header.Get(k); got != v {
							t.Errorf("%s = %q, want %q", k, got, v)
						}
					}
					if string(body) != tc.body {
						t.Errorf("body = %q, want %q", body, tc.body)
					}
				})
			}
			t.Run("streamed large body", func(t *testing.T) {
				resp, body := roundTrip(t, h, "GET /big.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
				if resp.StatusCode != 200 || len(body) != 3<<20 {
					t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
				}
				if te := resp.TransferEncoding; len(te) != 1 || te[0] != "chunked" {
					t.Errorf("transfer-encoding %v, want chunked", te)
				}
			})
		})
	}
}

// captureLog routes the error log of the test's requests into a buffer.
func captureLog(t *testing.T) *syncBuffer {
	t.Helper()
	var b syncBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&b, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return &b
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRawResponses(t *testing.T) {
	leakCheck(t)
	logs := captureLog(t)
	be := startRaw(t, "unix", func(req *rawReq, c net.Conn) {
		script, _ := req.param("SCRIPT_NAME")
		switch script {
		case "/loc.php":
			writeResponse(c, "Location: /elsewhere\r\n\r\nmoved")
		case "/loc200.php":
			writeResponse(c, "Status: 200\r\nLocation: /elsewhere\r\n\r\nstay")
		case "/nph.php":
			writeResponse(c, "HTTP/1.1 201 Created\r\nX-A: 1\r\n\r\nmade")
		case "/cl.php":
			writeResponse(c, "Content-Length: 3\r\n\r\nabcdef")
		case "/chunked.php":
			writeResponse(c, "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
		case "/stderr.php":
			writeRecord(c, 7, []byte("PHP Warning: one\nPHP Notice: two\n"))
			writeResponse(c, "\r\nok")
		case "/badstatus.php":
			writeResponse(c, "Status: abc\r\n\r\n")
		}
	})
	h := coretest.New(t, confFor(".php", hostOpt(be.ln), `"check-local" => "disable"`))
	cases := []struct {
		path    string
		status  int
		headers map[string]string
		body    string
	}{
		{"/loc.php", 302, map[string]string{"Location": "/elsewhere"}, "moved"},
		{"/loc200.php", 200, map[string]string{"Location": "/elsewhere"}, "stay"},
		{"/nph.php", 201, map[string]string{"X-A": "1"}, "made"},
		{"/cl.php", 200, map[string]string{"Content-Length": "3"}, "abc"},
		{"/chunked.php", 200, map[string]string{"Content-Length": "5"}, "abcde"},
		{"/stderr.php", 200, nil, "ok"},
		{"/badstatus.php", 502, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := roundTrip(t, h, get(tc.path))
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			for k, v := range tc.headers {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if tc.status < 400 && string(body) != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
		})
	}
	for _, want := range []string{"FastCGI-stderr:PHP Warning: one", "FastCGI-stderr:PHP Notice: two"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestXSendfile(t *testing.T) {
	ln := goBackend(t, "tcp", goApp())
	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	os.MkdirAll(filepath.Join(files, "sub"), 0o755)
	os.WriteFile(filepath.Join(files, "a.txt"), []byte("sendfile content 0123456789\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "outside.txt"), []byte("secret"), 0o644)
	opts := `"x-sendfile" => "enable", "x-sendfile-docroot" => ("` + files + `")`
	h := coretest.New(t, confFor(".php", hostOpt(ln), opts))
	h.WriteFile("www/xs.php", "")
	xs := func(hdr, path string) string { return "/xs.php?" + hdr + "=" + path }
	a := filepath.Join(files, "a.txt")

	resp, body := roundTrip(t, h, get(xs("X-Sendfile", a)))
	if resp.StatusCode != 200 || string(body) != "sendfile content 0123456789\n" {
		t.Fatalf("X-Sendfile: %d %q", resp.StatusCode, body)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Last-Modified") == "" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("X-Sendfile headers: %v", resp.Header)
	}
	if resp.Header.Get("X-Sendfile") != "" {
		t.Errorf("X-Sendfile leaked to the client")
	}

	cases := []struct {
		name, req string
		status    int
		body      string
	}{
		{"range", "GET " + xs("X-Sendfile", a) + " HTTP/1.1\r\nHost: x\r\nRange: bytes=0-3\r\nConnection: close\r\n\r\n", 206, "send"},
		{"if-none-match", "GET " + xs("X-Sendfile", a) + " HTTP/1.1\r\nHost: x\r\nIf-None-Match: " + etag + "\r\nConnection: close\r\n\r\n", 304, ""},
		{"legacy header", get(xs("X-LIGHTTPD-send-file", a)), 200, "sendfile content 0123456789\n"},
		{"golighty alias", get(xs("X-send-response-body", a)), 200, "sendfile content 0123456789\n"},
		{"sendfile2 ranges", get("/xs.php?X-Sendfile2=" + strings.ReplaceAll(a+" 0-3, "+a+" 5-", " ", "%20")), 200, "sendfile content 0123456789\n"[:4] + "sendfile content 0123456789\n"[5:]},
		{"outside docroot", get(xs("X-Sendfile", filepath.Join(dir, "outside.txt"))), 403, ""},
		{"dot-dot escape", get(xs("X-Sendfile", files+"/../outside.txt")), 403, ""},
		{"relative", get(xs("X-Sendfile", "files/a.txt")), 403, ""},
		{"missing", get(xs("X-Sendfile", filepath.Join(files, "nope.txt"))), 404, ""},
		{"directory", get(xs("X-Sendfile", filepath.Join(files, "sub"))), 403, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := roundTrip(t, h, tc.req)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.status < 400 && string(body) != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
			if strings.Contains(string(body), "backend body") {
				t.Errorf("backend body leaked: %q", body)
			}
		})
	}

	t.Run("disabled", func(t *testing.T) {
		h := coretest.New(t, confFor(".php", hostOpt(ln), ""))
		h.WriteFile("www/xs.php", "")
		resp, body := roundTrip(t, h, get(xs("X-Sendfile", a)))
		if resp.StatusCode != 200 || string(body) != "backend body that must not be sent" || resp.Header.Get("X-Sendfile") != "" {
			t.Fatalf("x-sendfile disabled: %d %q %v", resp.StatusCode, body, resp.Header)
		}
	})
}

func TestBackendFailures(t *testing.T) {
	leakCheck(t)
	logs := captureLog(t)
	closed := func() string { // a port nothing listens on
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		a := l.Addr().(*net.TCPAddr)
		l.Close()
		return fmt.Sprintf(`"host" => "127.0.0.1", "port" => %d`, a.Port)
	}
	dieEarly := startRaw(t, "tcp", func(req *rawReq, c net.Conn) {})
	dieMid := startRaw(t, "tcp", func(req *rawReq, c net.Conn) {
		writeRecord(c, 6, []byte("Content-Length: 1000\r\n\r\npartial"))
	})
	dieMidChunkless := startRaw(t, "tcp", func(req *rawReq, c net.Conn) {
		writeRecord(c, 6, []byte("Content-Type: text/plain\r\n\r\npartial"))
	})
	hang := startRaw(t, "tcp", func(req *rawReq, c net.Conn) {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, c) // until the server gives up and closes
	})
	badHead := startRaw(t, "tcp", func(req *rawReq, c net.Conn) { writeResponse(c, "no colon here\r\n\r\nbody") })
	noOutput := startRaw(t, "tcp", func(req *rawReq, c net.Conn) { writeResponse(c, "") })
	cases := []struct {
		name, host, opts string
		status           int
		maxTime          time.Duration
	}{
		{"refused", closed(), "", 503, 10 * time.Second},
		{"params too large", hostOpt(noOutput.ln), "", 400, 5 * time.Second},
		{"closed before answering", hostOpt(dieEarly.ln), "", 500, 5 * time.Second},
		{"died mid-body", hostOpt(dieMid.ln), "", 502, 5 * time.Second},
		{"died mid-body without length", hostOpt(dieMidChunkless.ln), "", 502, 5 * time.Second},
		{"read timeout", hostOpt(hang.ln), `"read-timeout" => 1`, 504, 4 * time.Second},
		{"malformed head", hostOpt(badHead.ln), "", 502, 5 * time.Second},
		{"end without output", hostOpt(noOutput.ln), "", 500, 5 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conf := confFor(".php", tc.host, tc.opts)
			if tc.status == 400 {
				conf += "server.modules += (\"mod_setenv\")\nsetenv.add-environment = ( \"BIG\" => \"" + strings.Repeat("b", 70000) + "\" )\n"
			}
			h := coretest.New(t, conf)
			h.WriteFile("www/index.php", "")
			start := time.Now()
			resp, body := roundTrip(t, h, get("/index.php"))
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if d := time.Since(start); d > tc.maxTime {
				t.Errorf("took %v", d)
			}
		})
	}
	for _, want := range []string{
		"establishing connection failed: socket: tcp:127.0.0.1:",
		"all handlers for /index.php? on .php are down.",
		"unexpected end-of-file (perhaps the fastcgi process died):pid: 0 socket: tcp:127.0.0.1:",
		"response not received, request sent: ",
		"read timeout on socket: tcp:127.0.0.1:",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestFailover(t *testing.T) {
	leakCheck(t)
	ok := startRaw(t, "tcp", func(req *rawReq, c net.Conn) {
		writeResponse(c, fmt.Sprintf("Status: 200\r\n\r\nok %d", len(req.stdin)))
	})
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	deadPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := `server.document-root = "@DIR@/www"
server.modules = ("mod_fastcgi")
fastcgi.balance = "round-robin"
fastcgi.server = ( ".php" => (
  "dead" => ( "host" => "127.0.0.1", "port" => ` + fmt.Sprint(deadPort) + `, "disable-time" => 60 ),
  "ok" => ( ` + hostOpt(ok.ln) + ` ) ) )
`
	h := coretest.New(t, conf)
	h.WriteFile("www/index.php", "")
	for i := 0; i < 4; i++ {
		resp, body := roundTrip(t, h, get("/index.php"))
		if resp.StatusCode != 200 || string(body) != "ok 0" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	// A body survives the move to another host: small bodies are kept in
	// memory, larger ones are only read once connected.
	for _, n := range []int{100, 200 << 10} {
		h := coretest.New(t, conf)
		h.WriteFile("www/index.php", "")
		req := fmt.Sprintf("POST /index.php HTTP/1.0\r\nContent-Length: %d\r\n\r\n%s", n, strings.Repeat("b", n))
		resp, body := roundTrip(t, h, req)
		if want := fmt.Sprintf("ok %d", n); resp.StatusCode != 200 || string(body) != want {
			t.Fatalf("POST %d: %d %q, want %q", n, resp.StatusCode, body, want)
		}
	}
}

func TestAuthorizer(t *testing.T) {
	be := startRaw(t, "tcp", func(req *rawReq, c net.Conn) {
		if req.role == 2 {
			if cookie, _ := req.param("HTTP_COOKIE"); cookie == "ok" {
				writeResponse(c, "Status: 200\r\nVariable-Auth-User: alice\r\n\r\nignored")
				return
			}
			writeResponse(c, "Status: 401\r\nWWW-Authenticate: Basic realm=\"x\"\r\n\r\ndenied")
			return
		}
		user, _ := req.param("AUTH_USER")
		_, hasCL := req.param("CONTENT_LENGTH")
		writeResponse(c, fmt.Sprintf("\r\nresponder user=%s cl=%v", user, hasCL))
	})
	conf := `server.document-root = "@DIR@/www"
server.modules = ("mod_fastcgi", "mod_staticfile")
fastcgi.server = (
  "/alt/" => (( ` + hostOpt(be.ln) + `, "mode" => "authorizer", "check-local" => "disable", "docroot" => "@DIR@/altroot" )),
  "/" => (( ` + hostOpt(be.ln) + `, "mode" => "authorizer", "check-local" => "disable" )),
  ".php" => (( ` + hostOpt(be.ln) + ` )) )
`
	h := coretest.New(t, conf)
	h.WriteFile("www/index.php", "")
	h.WriteFile("www/a.txt", "static text")
	h.WriteFile("altroot/alt/b.txt", "from alt docroot")
	cases := []struct {
		name, req string
		status    int
		body      string
	}{
		{"denied", get("/index.php"), 401, "denied"},
		{"approved responder", "GET /index.php HTTP/1.0\r\nCookie: ok\r\n\r\n", 200, "responder user=alice cl=true"},
		{"approved static", "GET /a.txt HTTP/1.0\r\nCookie: ok\r\n\r\n", 200, "static text"},
		{"approved with docroot", "GET /alt/b.txt HTTP/1.0\r\nCookie: ok\r\n\r\n", 200, "from alt docroot"},
		{"docroot not for others", "GET /b.txt HTTP/1.0\r\nCookie: ok\r\n\r\n", 404, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := roundTrip(t, h, tc.req)
			if resp.StatusCode != tc.status || (tc.status == 200 && string(body) != tc.body) {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
			if tc.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("WWW-Authenticate missing")
			}
		})
	}
}

func TestDebugLog(t *testing.T) {
	logs := captureLog(t)
	be := startRaw(t, "tcp", func(req *rawReq, c net.Conn) { writeResponse(c, "\r\nok") })
	h := coretest.New(t, confFor(".php", hostOpt(be.ln), "")+"fastcgi.debug = 1\n")
	h.WriteFile("www/index.php", "")
	if resp, body := roundTrip(t, h, get("/index.php")); resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	addr := be.ln.Addr().String()
	for _, want := range []string{
		"gw - found a host 127.0.0.1 " + addr[strings.LastIndexByte(addr, ':')+1:],
		"got proc: pid: 0 socket: tcp:" + addr + " load: 1",
		"released proc: pid: 0 socket: tcp:" + addr + " load: 0",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

// TestConnectTimeout: a backend whose accept queue is full never completes
// the handshake; after connect-timeout the proc is disabled and, with no
// other host, the request gets 503.
func TestConnectTimeout(t *testing.T) {
	logs := captureLog(t)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	port := sa.(*unix.SockaddrInet4).Port
	// Fill the accept queue so further SYNs are dropped.
	for i := 0; i < 4; i++ {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond); err == nil {
			defer c.Close()
		}
	}
	h := coretest.New(t, confFor(".php", fmt.Sprintf(`"host" => "127.0.0.1", "port" => %d`, port), `"connect-timeout" => 1`))
	h.WriteFile("www/index.php", "")
	start := time.Now()
	resp, body := roundTrip(t, h, get("/index.php"))
	if resp.StatusCode != 503 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 5*time.Second {
		t.Errorf("took %v, want about connect-timeout", d)
	}
	if !strings.Contains(logs.String(), "establishing connection failed") {
		t.Errorf("log: %s", logs)
	}
}

// TestBrokenBinPath: a bin-path that cannot start fails the load, as it
// fails lighttpd's start-up (a reload then keeps the running config), but
// -tt (preflight) starts nothing and only warns about a missing binary.
func TestBrokenBinPath(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "x.sock")
	cases := []struct{ name, bin, warn string }{
		{"missing", "/nonexistent/php-cgi -b", `invalid "bin-path" => "/nonexistent/php-cgi -b" (check that file exists, is regular file, and is executable by lighttpd)`},
		{"exits at once", "/bin/false", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := strings.ReplaceAll(confFor(".php", `"bin-path" => "`+tc.bin+`", "socket" => "`+sock+`", "max-procs" => 1`, ""), "@DIR@", dir)
			compile := func(preflight bool) (*core.Snapshot, error) {
				conf, err := lighttpdconf.ParseBytes(filepath.Join(dir, "t.conf"), []byte(src), &lighttpdconf.Options{})
				if err != nil {
					t.Fatal(err)
				}
				return core.Compile(conf, core.CompileOptions{Preflight: preflight}, nil)
			}
			snap, err := compile(true)
			if err != nil {
				t.Fatalf("-tt must not start backends: %v", err)
			}
			warned := false
			for _, w := range snap.Warnings {
				warned = warned || strings.Contains(w.Msg, tc.warn)
			}
			if tc.warn != "" && !warned {
				t.Errorf("warnings %v lack %q", snap.Warnings, tc.warn)
			}
			if _, err := compile(false); err == nil || !strings.Contains(err.Error(), "gw-backend failed to start: "+tc.bin) {
				t.Fatalf("load: %v, want gw-backend failed to start", err)
			}
		})
	}
}
