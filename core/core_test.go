package core

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/golighty/golighty/core/allocsize"
	"github.com/golighty/golighty/lighttpdconf"
)

// testModule stands in for the modules lighttpd loads implicitly, so the
// core can be compiled and tested without importing modules/.
type testModule struct{}

func (testModule) Setup(*SetupContext) error { return nil }

func init() {
	for _, n := range []string{"mod_staticfile", "mod_indexfile", "mod_dirlisting", "mod_test_a", "mod_test_b", "mod_auth", "mod_fastcgi", "mod_deflate"} {
		Register(ModuleInfo{Name: n, New: func() Module { return testModule{} }})
	}
}

func compileString(t testing.TB, conf string) (*Snapshot, error) {
	t.Helper()
	return compileIn(t, conf, nil)
}

// compileIn is compileString with the shared pool a reload would pass.
func compileIn(t testing.TB, conf string, shared *SharedPool) (*Snapshot, error) {
	t.Helper()
	dir := t.TempDir()
	conf = strings.ReplaceAll(conf, "@DIR@", dir)
	parsed, err := lighttpdconf.ParseBytes(filepath.Join(dir, "test.conf"), []byte(conf), &lighttpdconf.Options{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return Compile(parsed, CompileOptions{}, shared)
}

func mustCompile(t testing.TB, conf string) *Snapshot {
	t.Helper()
	s, err := compileString(t, conf)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return s
}

// newRequest builds a request as the pipeline would have it after parsing.
func newRequest(s *Snapshot, method, host, path string) *Request {
	rc := &Request{Snap: s, Method: method, Proto: 11, Target: path}
	rc.URI = URI{Scheme: "http", Authority: host, Path: path, Target: path, PathRaw: path}
	rc.Conn = ConnInfo{RemoteIP: "127.0.0.1", RemotePort: 50810, LocalIP: "127.0.0.1", LocalPort: 28101, Socket: "127.0.0.1:28101"}
	rc.resetConditions()
	rc.Conf = s.Core.Table.Resolve(rc)
	return rc
}

func TestConditions(t *testing.T) {
	s := mustCompile(t, `
server.document-root = "/srv"
$HTTP["host"] == "example.com" { server.name = "a" }
else $HTTP["host"] =~ "^(www)\.(other)\.org$" { server.name = "b" }
else { server.name = "c" }
$HTTP["remoteip"] == "10.0.0.0/8" { server.tag = "ten" }
$HTTP["url"] =^ "/admin/" {
    $HTTP["host"] == "example.com" { server.errorfile-prefix = "nested" }
}
$REQUEST_HEADER["X-Flag"] == "" { server.error-handler = "/noflag" }
`)
	tests := []struct {
		name, host, path, remote, flag string
		want                           CoreConf
	}{
		{name: "host match", host: "example.com", path: "/", remote: "127.0.0.1",
			want: CoreConf{ServerName: "a", ErrorHandler: "/noflag"}},
		{name: "host with port matches", host: "example.com:8080", path: "/", remote: "127.0.0.1",
			want: CoreConf{ServerName: "a", ErrorHandler: "/noflag"}},
		{name: "else-if regex", host: "www.other.org", path: "/", remote: "127.0.0.1",
			want: CoreConf{ServerName: "b", ErrorHandler: "/noflag"}},
		{name: "else catch-all", host: "zzz", path: "/", remote: "127.0.0.1", flag: "1",
			want: CoreConf{ServerName: "c"}},
		{name: "remoteip network", host: "zzz", path: "/", remote: "10.1.2.3", flag: "1",
			want: CoreConf{ServerName: "c", ServerTag: "ten"}},
		{name: "nested needs both", host: "example.com", path: "/admin/x", remote: "127.0.0.1", flag: "1",
			want: CoreConf{ServerName: "a", ErrorfilePrefix: "nested"}},
		{name: "nested parent false", host: "example.com", path: "/user/x", remote: "127.0.0.1", flag: "1",
			want: CoreConf{ServerName: "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newRequest(s, "GET", tt.host, tt.path)
			rc.Conn.RemoteIP = tt.remote
			if tt.flag != "" {
				rc.Header.Append("X-Flag", tt.flag)
			}
			rc.resetConditions()
			c := s.Core.Table.Resolve(rc)
			if tt.want.ServerTag == "" {
				tt.want.ServerTag = ServerTag
			}
			got := CoreConf{ServerName: c.ServerName, ServerTag: c.ServerTag, ErrorHandler: c.ErrorHandler, ErrorfilePrefix: c.ErrorfilePrefix}
			if got != tt.want {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	rc := newRequest(s, "GET", "www.other.org", "/")
	s.Core.Table.Resolve(rc)
	if caps := rc.CondCaptures(2, nil); !reflect.DeepEqual(caps, []string{"www.other.org", "www", "other"}) {
		t.Fatalf("captures of block 2: %q", caps)
	}
}

func TestModuleOrder(t *testing.T) {
	tests := []struct {
		name, conf string
		want       []string
	}{
		{"staticfile appended", `server.modules = ("mod_test_a")`, []string{"mod_test_a", "mod_staticfile"}},
		{"duplicates removed", `server.modules = ("mod_test_a", "mod_test_b", "mod_test_a")`, []string{"mod_test_a", "mod_test_b", "mod_staticfile"}},
		{"indexfile prepended when used", `server.modules = ("mod_test_a")
index-file.names = ("index.html")`, []string{"mod_indexfile", "mod_test_a", "mod_staticfile"}},
		{"indexfile removed when unused", `server.modules = ("mod_test_a", "mod_indexfile")`, []string{"mod_test_a", "mod_staticfile"}},
		{"dirlisting appended when enabled", `dir-listing.activate = "enable"`, []string{"mod_dirlisting", "mod_staticfile"}},
		{"dirlisting in a conditional counts", `$HTTP["url"] =^ "/pub/" { dir-listing.activate = "enable" }`, []string{"mod_dirlisting", "mod_staticfile"}},
		{"mod_auth prepended for authn", `server.modules = ("mod_test_a", "mod_authn_file")`, nil},
		{"compress becomes deflate", `server.modules = ("mod_compress")
compress.filetype = ("text/plain")`, []string{"mod_deflate", "mod_staticfile"}},
		{"compress dropped without keys", `server.modules = ("mod_compress")`, []string{"mod_staticfile"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := compileString(t, "server.document-root = \"/srv\"\n"+tt.conf)
			if tt.want == nil {
				if err == nil || !strings.Contains(err.Error(), "mod_authn_file") {
					t.Fatalf("want an error naming the missing module, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Modules(); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("modules %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKeyErrorsAndWarnings(t *testing.T) {
	tests := []struct {
		name, conf, err, warn string
	}{
		{name: "bad boolean", conf: `server.follow-symlink = "maybe"`, err: `ERROR: unexpected type for key: server.follow-symlink (string) "(enable|disable)"`},
		{name: "string for short", conf: `server.port = "http"`, err: "got a string but expected a short: server.port http"},
		{name: "list expected", conf: `mimetype.assign = "text/plain"`, err: "mimetype.assign should have been a list of key => string values"},
		{name: "server option in conditional", conf: `$HTTP["host"] == "x" { server.port = 81 }`, warn: "DEPRECATED: do not set server options in conditionals, variable: server.port"},
		{name: "socket option outside socket block", conf: `$HTTP["host"] == "x" { server.use-ipv6 = "enable" }`, warn: "server.use-ipv6 must be in global scope or $SERVER[\"socket\"] with '=='"},
		{name: "unknown key", conf: `url.rewrite-once = ("a" => "b")`, warn: "WARNING: unknown config-key: url.rewrite-once (ignored)"},
		{name: "var keys are not unknown", conf: `var.x = 1`},
		{name: "bad parseopt", conf: `server.http-parseopts = ("nope" => "enable")`, err: "unrecognized key for server.http-parseopts: nope"},
		{name: "conflicting parseopts", conf: `server.http-parseopts = ("url-path-2f-reject" => "enable")`, err: "conflicting options in server.http-parseopts"},
		{name: "unknown module", conf: `server.modules = ("mod_nope")`, err: "module mod_nope is not available"},
		{name: "auth.require without mod_auth", conf: `server.modules = ()
$HTTP["url"] =^ "/p" { auth.require = ("/p" => ("method" => "basic", "realm" => "r", "require" => "valid-user")) }`, err: "auth.require is set but mod_auth is not in server.modules"},
		{name: "access-deny without mod_access", conf: `url.access-deny = ("~")`, err: "url.access-deny is set but mod_access is not in server.modules"},
		{name: "secdownload without its module", conf: `secdownload.secret = "s"`, err: "secdownload.secret is set but mod_secdownload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := compileString(t, "server.document-root = \"/srv\"\n"+tt.conf)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				if strings.Contains(tt.conf, "=") && !strings.Contains(tt.err, "module") && !strings.Contains(err.Error(), "test.conf:2:") {
					t.Fatalf("error %q does not name file:line", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var all []string
			for _, w := range s.Warnings {
				all = append(all, w.String())
			}
			joined := strings.Join(all, "\n")
			if tt.warn == "" && joined != "" {
				t.Fatalf("unexpected warnings: %s", joined)
			}
			if !strings.Contains(joined, tt.warn) {
				t.Fatalf("warnings %q, want %q", joined, tt.warn)
			}
		})
	}
}

func TestMissingDocumentRoot(t *testing.T) {
	if _, err := compileString(t, `server.port = 80`); err == nil || err.Error() != "server.document-root is not set" {
		t.Fatalf("got %v", err)
	}
}

func TestBackendHeaders(t *testing.T) {
	s := mustCompile(t, `server.document-root = "/srv"`)
	tests := []struct {
		name, head string
		status     int
		headers    []Header
		cl         int64
		wantErr    bool
		keepAlive  bool
	}{
		{name: "plain", head: "Content-Type: text/html\r\n\r\n", status: 200, headers: []Header{{"Content-Type", "text/html"}}, cl: -1, keepAlive: true},
		{name: "LF only", head: "Content-Type: text/html\nX-A: b\n\n", status: 200, headers: []Header{{"Content-Type", "text/html"}, {"X-A", "b"}}, cl: -1, keepAlive: true},
		{name: "status header", head: "Status: 404 Not Found\r\nX-A: 1\r\n\r\n", status: 404, headers: []Header{{"X-A", "1"}}, cl: -1, keepAlive: true},
		{name: "location implies 302", head: "Location: /elsewhere\r\n\r\n", status: 302, headers: []Header{{"Location", "/elsewhere"}}, cl: -1, keepAlive: true},
		{name: "status 200 with location", head: "Status: 200\r\nLocation: /x\r\n\r\n", status: 200, headers: []Header{{"Location", "/x"}}, cl: -1, keepAlive: true},
		{name: "nph status line", head: "HTTP/1.1 201 Created\r\nX-A: 1\r\n\r\n", status: 201, headers: []Header{{"X-A", "1"}}, cl: -1, keepAlive: true},
		{name: "javascript renamed", head: "Content-Type: application/javascript; charset=utf-8\r\n\r\n", status: 200, headers: []Header{{"Content-Type", "text/javascript; charset=utf-8"}}, cl: -1, keepAlive: true},
		{name: "content-length kept", head: "Content-Length: 12\r\n\r\n", status: 200, headers: []Header{{"Content-Length", "12"}}, cl: 12, keepAlive: true},
		{name: "connection close", head: "Connection: close\r\n\r\n", status: 200, headers: []Header{{"Connection", "close"}}, cl: -1},
		{name: "space before colon dropped", head: "X-Bad : 1\r\nX-Good: 2\r\n\r\n", status: 200, headers: []Header{{"X-Good", "2"}}, cl: -1, keepAlive: true},
		{name: "handoff headers never forwarded", head: "X-Sendfile: /etc/passwd\r\nX-Sendfile2: /etc/passwd 0-1\r\nX-LIGHTTPD-send-file: /x\r\nX-send-response-body: /y\r\n\r\n", status: 200, cl: -1, keepAlive: true},
		{name: "first line not a header", head: "garbage\r\n\r\n", wantErr: true, status: 502},
		{name: "bad status", head: "Status: abc\r\n\r\n", wantErr: true, status: 502},
		{name: "NUL in value", head: "X-A: a\x00b\r\n\r\n", wantErr: true, status: 502},
		{name: "bare CR in value", head: "X-A: a\rb\r\n\r\n", wantErr: true, status: 502},
		{name: "truncated head", head: "X-A: 1\r\n", wantErr: true, status: 502},
		{name: "empty reply", head: "", wantErr: true, status: 502},
		{name: "oversized head", head: "X-A: " + strings.Repeat("a", MaxBackendHead) + "\r\n\r\n", wantErr: true, status: 502},
		// Values not kept (valueArena) keep their order among kept ones.
		{name: "values in order", head: "Date: d1\r\nServer: s\r\nETag: \"e\"\r\nX-A: 1\r\nContent-Length: 3\r\n\r\n", status: 200,
			headers: []Header{{"Date", "d1"}, {"Server", "s"}, {"ETag", `"e"`}, {"X-A", "1"}, {"Content-Length", "3"}}, cl: 3, keepAlive: true},
		{name: "chunked empties an earlier content-length", head: "Content-Length: 5\r\nX-A: a\r\nTransfer-Encoding: chunked\r\nX-B: b\r\n\r\n", status: 200,
			headers: []Header{{"Content-Length", ""}, {"X-A", "a"}, {"X-B", "b"}}, cl: -1, keepAlive: true},
		{name: "interim response's values dropped", head: "Status: 103\r\nLink: </a>\r\n\r\nServer: s\r\nX-A: 1\r\n\r\n", status: 200,
			headers: []Header{{"Server", "s"}, {"X-A", "1"}}, cl: -1, keepAlive: true},
		{name: "more values than gathered at once", head: manyValues(30, 3), status: 200, headers: manyHeaders(30, 3), cl: -1, keepAlive: true},
		{name: "values past the gathering room", head: manyValues(3, 700), status: 200, headers: manyHeaders(3, 700), cl: -1, keepAlive: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newRequest(s, "GET", "x", "/index.php")
			rc.KeepAlive = true
			br := bufio.NewReaderSize(strings.NewReader(tt.head), 4096)
			bh, err := rc.BackendHeaders(br, &BackendOpts{})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tt.wantErr)
			}
			if rc.Resp.Status != tt.status {
				t.Fatalf("status %d, want %d", rc.Resp.Status, tt.status)
			}
			if tt.wantErr {
				return
			}
			if got := rc.Resp.Header.list; !reflect.DeepEqual(got, tt.headers) && !(len(got) == 0 && len(tt.headers) == 0) {
				t.Fatalf("headers %q, want %q", got, tt.headers)
			}
			if bh.ContentLength != tt.cl {
				t.Fatalf("content-length %d, want %d", bh.ContentLength, tt.cl)
			}
			if rc.KeepAlive != tt.keepAlive {
				t.Fatalf("keep-alive %v, want %v", rc.KeepAlive, tt.keepAlive)
			}
		})
	}
}

func manyValues(n, size int) string {
	var b strings.Builder
	for _, h := range manyHeaders(n, size) {
		b.WriteString(h.Name + ": " + h.Value + "\r\n")
	}
	return b.String() + "\r\n"
}

func manyHeaders(n, size int) []Header {
	var hs []Header
	for i := range n {
		hs = append(hs, Header{fmt.Sprintf("X-%d", i), strings.Repeat(string(rune('a'+i%26)), size)})
	}
	return hs
}

// TestBackendHeaderValueAllocs: the values that are not kept are made
// strings together, so four cost what one does.
func TestBackendHeaderValueAllocs(t *testing.T) {
	s := mustCompile(t, `server.document-root = "/srv"`)
	rc := newRequest(s, "GET", "x", "/index.php")
	sr := strings.NewReader("")
	br := bufio.NewReaderSize(sr, 4096)
	allocs := func(head string) float64 {
		return testing.AllocsPerRun(50, func() {
			rc.Resp.Header.Reset()
			sr.Reset(head)
			br.Reset(sr)
			if _, err := rc.BackendHeaders(br, &BackendOpts{}); err != nil {
				t.Fatal(err)
			}
		})
	}
	one := allocs("Content-Type: text/html\r\nDate: Mon, 07 Dec 2026 12:00:00 GMT\r\n\r\n")
	four := allocs("Content-Type: text/html\r\nDate: Mon, 07 Dec 2026 12:00:00 GMT\r\nETag: \"1-2\"\r\n" +
		"Last-Modified: Mon, 07 Dec 2026 11:00:00 GMT\r\nContent-Length: 1024\r\n\r\n")
	if four != one {
		t.Errorf("four values not kept: %v allocations, one: %v; want the same", four, one)
	}
}

func TestAuthorizerHeaders(t *testing.T) {
	s := mustCompile(t, `server.document-root = "/srv"`)
	rc := newRequest(s, "GET", "x", "/p")
	bh, err := rc.BackendHeaders(bufio.NewReader(strings.NewReader("Variable-USER: bob\r\nX-Other: dropped\r\n\r\n")), &BackendOpts{Authorizer: true})
	if err != nil || !bh.Approved || rc.Env.Get("USER") != "bob" || rc.Resp.Header.Len() != 0 {
		t.Fatalf("approved=%v env=%q headers=%d err=%v", bh.Approved, rc.Env.Get("USER"), rc.Resp.Header.Len(), err)
	}
	rc = newRequest(s, "GET", "x", "/p")
	bh, _ = rc.BackendHeaders(bufio.NewReader(strings.NewReader("Status: 401\r\nWWW-Authenticate: Basic\r\n\r\n")), &BackendOpts{Authorizer: true})
	if bh.Approved || rc.Resp.Status != 401 || rc.Resp.Header.Get("WWW-Authenticate") != "Basic" {
		t.Fatalf("denial: approved=%v status=%d", bh.Approved, rc.Resp.Status)
	}
}

func TestXSendfile(t *testing.T) {
	s := mustCompile(t, `server.document-root = "/srv"
mimetype.assign = (".txt" => "text/plain")`)
	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	os.MkdirAll(filepath.Join(files, "sub"), 0o755)
	os.WriteFile(filepath.Join(files, "a.txt"), []byte("sendfile content 0123456789\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "outside.txt"), []byte("secret"), 0o644)
	docroots := []string{files + "/"}
	tests := []struct {
		name, head string
		docroots   []string
		status     int
		length     string
		ctype      string
	}{
		{name: "served", head: "X-Sendfile: " + files + "/a.txt\r\n\r\n", docroots: docroots, status: 200, length: "28", ctype: "text/plain"},
		{name: "backend type kept", head: "Content-Type: application/x-foo\r\nX-Sendfile: " + files + "/a.txt\r\n\r\n", docroots: docroots, status: 200, length: "28", ctype: "application/x-foo"},
		{name: "legacy header", head: "X-LIGHTTPD-send-file: " + files + "/a.txt\r\n\r\n", docroots: docroots, status: 200, length: "28"},
		{name: "2005 patch header", head: "X-send-response-body: " + files + "/a.txt\r\n\r\n", docroots: docroots, status: 200, length: "28"},
		{name: "percent-encoded path", head: "X-Sendfile: " + files + "/%61.txt\r\n\r\n", docroots: docroots, status: 200, length: "28"},
		{name: "outside docroot", head: "X-Sendfile: " + dir + "/outside.txt\r\n\r\n", docroots: docroots, status: 403},
		{name: "dot-dot escape", head: "X-Sendfile: " + files + "/../outside.txt\r\n\r\n", docroots: docroots, status: 403},
		{name: "encoded dot-dot escape", head: "X-Sendfile: " + files + "/%2e%2e/outside.txt\r\n\r\n", docroots: docroots, status: 403},
		{name: "relative path", head: "X-Sendfile: files/a.txt\r\n\r\n", docroots: docroots, status: 403},
		{name: "relative path, no docroot", head: "X-Sendfile: files/a.txt\r\n\r\n", status: 403},
		{name: "missing", head: "X-Sendfile: " + files + "/none.txt\r\n\r\n", docroots: docroots, status: 404},
		{name: "directory", head: "X-Sendfile: " + files + "/sub\r\n\r\n", docroots: docroots, status: 403},
		{name: "no docroot: anything", head: "X-Sendfile: " + dir + "/outside.txt\r\n\r\n", status: 200, length: "6"},
		{name: "backend 206 kept", head: "Status: 206\r\nX-Sendfile: " + files + "/a.txt\r\n\r\n", docroots: docroots, status: 206, length: "28"},
		{name: "sendfile2 ranges", head: "X-Sendfile2: " + files + "/a.txt 0-3, " + files + "/a.txt 5-\r\n\r\n", docroots: docroots, status: 200, length: "27"},
		{name: "sendfile2 no range", head: "X-Sendfile2: " + files + "/a.txt\r\n\r\n", docroots: docroots, status: 502},
		{name: "sendfile2 outside", head: "X-Sendfile2: " + dir + "/outside.txt 0-1\r\n\r\n", docroots: docroots, status: 403},
		{name: "sendfile2 bad range", head: "X-Sendfile2: " + files + "/a.txt x-y\r\n\r\n", docroots: docroots, status: 502},
		{name: "sendfile2 reversed range", head: "X-Sendfile2: " + files + "/a.txt 5-3\r\n\r\n", docroots: docroots, status: 502},
		{name: "sendfile2 empty range", head: "X-Sendfile2: " + files + "/a.txt 5-4\r\n\r\n", docroots: docroots, status: 200, length: "0"},
		{name: "sendfile2 range clipped to the file", head: "X-Sendfile2: " + files + "/a.txt 20-99\r\n\r\n", docroots: docroots, status: 200, length: "8"},
		{name: "sendfile2 range past the end", head: "X-Sendfile2: " + files + "/a.txt 28-40, " + files + "/a.txt 0-1\r\n\r\n", docroots: docroots, status: 200, length: "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newRequest(s, "GET", "x", "/index.php")
			bh, err := rc.BackendHeaders(bufio.NewReader(strings.NewReader(tt.head)), &BackendOpts{XSendfile: true, XSendfileDocroots: tt.docroots})
			if err != nil {
				t.Fatal(err)
			}
			if !bh.Handoff {
				t.Fatal("handoff not taken")
			}
			if rc.Resp.Status != tt.status {
				t.Fatalf("status %d, want %d", rc.Resp.Status, tt.status)
			}
			rc.prepareResponse()
			if tt.length != "" && rc.Resp.Header.Get("Content-Length") != tt.length {
				t.Fatalf("Content-Length %q, want %q", rc.Resp.Header.Get("Content-Length"), tt.length)
			}
			if tt.ctype != "" && rc.Resp.Header.Get("Content-Type") != tt.ctype {
				t.Fatalf("Content-Type %q, want %q", rc.Resp.Header.Get("Content-Type"), tt.ctype)
			}
			if tt.status >= 400 && rc.Resp.Dynamic {
				t.Fatal("a refused handoff must get the error document")
			}
			rc.Resp.reset()
		})
	}
	rc := newRequest(s, "GET", "x", "/index.php")
	bh, _ := rc.BackendHeaders(bufio.NewReader(strings.NewReader("X-Sendfile: "+files+"/a.txt\r\n\r\n")), &BackendOpts{XSendfile: false})
	if bh.Handoff || rc.Resp.Header.Has("X-Sendfile") {
		t.Fatal("a disabled handoff must neither run nor forward the header")
	}
}

type envList [][2]string

func (e *envList) Add(name, value string) { *e = append(*e, [2]string{name, value}) }

// intEnvList is an envList that is also an IntSink, counting the numbers.
type intEnvList struct {
	list envList
	ints int
}

func (e *intEnvList) Add(name, value string) { e.list.Add(name, value) }
func (e *intEnvList) AddInt(name string, n int64) {
	e.ints++
	e.list.Add(name, strconv.FormatInt(n, 10))
}

func TestCGIEnv(t *testing.T) {
	s := mustCompile(t, `server.document-root = "/srv/example/www"
server.tag = "lighttpd/1.4.69"`)
	rc := newRequest(s, "GET", "www.example.com:28101", "/index.php")
	rc.Target = "/index.php/extra?x=1"
	rc.URI.Target = "/index.php/extra?x=1"
	rc.URI.Query = "x=1"
	rc.PathInfo = "/extra"
	rc.Phys = Physical{DocRoot: "/srv/example/www", BasePath: "/srv/example/www", Path: "/srv/example/www/index.php"}
	for _, h := range []Header{{"Host", "www.example.com:28101"}, {"User-Agent", "t"}, {"X-Custom-Hdr", "v1, v2"}, {"Cookie", "a=1; b=2"}, {"Content-Type", "text/x"}, {"Proxy", "evil"}, {"Connection", "close"}} {
		rc.Header.Append(h.Name, h.Value)
	}
	var got envList
	rc.CGIEnv(&got, &CGIOptions{XSendfile: true})
	want := envList{
		{"CONTENT_LENGTH", "0"}, {"QUERY_STRING", "x=1"}, {"REQUEST_URI", "/index.php/extra?x=1"},
		{"REDIRECT_STATUS", "200"}, {"SCRIPT_NAME", "/index.php"}, {"PATH_INFO", "/extra"},
		{"PATH_TRANSLATED", "/srv/example/www/extra"}, {"SCRIPT_FILENAME", "/srv/example/www/index.php"},
		{"DOCUMENT_ROOT", "/srv/example/www"}, {"REQUEST_METHOD", "GET"}, {"SERVER_PROTOCOL", "HTTP/1.1"},
		{"SERVER_SOFTWARE", "lighttpd/1.4.69"}, {"GATEWAY_INTERFACE", "CGI/1.1"}, {"REQUEST_SCHEME", "http"},
		{"SERVER_PORT", "28101"}, {"SERVER_ADDR", "127.0.0.1"}, {"SERVER_NAME", "www.example.com"},
		{"REMOTE_ADDR", "127.0.0.1"}, {"REMOTE_PORT", "50810"}, {"HTTP_HOST", "www.example.com:28101"},
		{"HTTP_USER_AGENT", "t"}, {"HTTP_X_CUSTOM_HDR", "v1, v2"}, {"HTTP_COOKIE", "a=1; b=2"},
		{"CONTENT_TYPE", "text/x"}, {"HTTP_CONNECTION", "close"}, {"X_SEND_RESPONSE_BODY_SUPPORTED", "1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("params:\n got %q\nwant %q", got, want)
	}
	// A sink that takes numbers as they are gets the same variables.
	ints := intEnvList{}
	rc.CGIEnv(&ints, &CGIOptions{XSendfile: true})
	if !reflect.DeepEqual(ints.list, want) || ints.ints != 2 {
		t.Fatalf("params through AddInt (%d numbers, want 2):\n got %q\nwant %q", ints.ints, ints.list, want)
	}
	var auth envList
	rc.CGIEnv(&auth, &CGIOptions{Authorizer: true, DocRoot: "/srv/remote"})
	for _, kv := range auth {
		switch kv[0] {
		case "CONTENT_LENGTH", "SCRIPT_NAME", "PATH_INFO", "PATH_TRANSLATED", "X_SEND_RESPONSE_BODY_SUPPORTED":
			t.Fatalf("authorizer got %s", kv[0])
		case "SCRIPT_FILENAME":
			if kv[1] != "/srv/remote/index.php" {
				t.Fatalf("docroot SCRIPT_FILENAME %q", kv[1])
			}
		}
	}
}

func TestHeadersSlots(t *testing.T) {
	var h Headers
	h.Set("A", "1")
	h.Set("B", "2")
	h.Del("A")
	h.Set("C", "3")
	h.Set("a", "again")
	var order []string
	h.Each(func(n, v string) { order = append(order, n+"="+v) })
	if strings.Join(order, " ") != "A=again B=2 C=3" {
		t.Fatalf("slot order: %v", order)
	}
	h.Add("B", "x")
	if h.Get("b") != "2, x" {
		t.Fatalf("Add joins: %q", h.Get("B"))
	}
}

func TestSlots(t *testing.T) {
	s := mustCompile(t, `server.document-root = "/srv"`)
	a, b := Slot[string]{idx: 0}, Slot[int]{idx: 1}
	rc := newRequest(s, "GET", "x", "/")
	if a.Get(rc) != nil || b.Get(rc) != nil {
		t.Fatal("fresh request has state")
	}
	v := 7
	b.Set(rc, &v)
	if a.Get(rc) != nil || *b.Get(rc) != 7 {
		t.Fatal("slots mixed up")
	}
	if _, err := rc.Rewrite("/other"); err != nil || *b.Get(rc) != 7 {
		t.Fatalf("state must survive an internal restart: %v", err)
	}
	rc.reset()
	if b.Get(rc) != nil {
		t.Fatal("state outlived its request")
	}
}

// BenchmarkBackendHeaders parses the head a proxied static file comes
// with (lighttpd as the backend): seven fields, four of them values that
// are not kept.
func BenchmarkBackendHeaders(b *testing.B) {
	s := mustCompile(b, `server.document-root = "/srv"`)
	rc := newRequest(s, "GET", "x", "/f.html")
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nAccept-Ranges: bytes\r\nETag: \"2093424170\"\r\n" +
		"Last-Modified: Mon, 07 Dec 2026 11:00:00 GMT\r\nContent-Length: 1024\r\nDate: Mon, 07 Dec 2026 12:00:00 GMT\r\n" +
		"Server: lighttpd/1.4.69\r\n\r\n"
	sr := strings.NewReader(head)
	br := bufio.NewReaderSize(sr, 4096)
	o := &BackendOpts{Kind: BackendProxy}
	b.ReportAllocs()
	for b.Loop() {
		rc.Resp.Header.Reset()
		sr.Reset(head)
		br.Reset(sr)
		if _, err := rc.BackendHeaders(br, o); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRequestSizeClass: a request is kept for the whole of a download (its
// access log line is written at the end), so a thousand parked downloads
// keep a thousand of them; 1,576 bytes took the 1,792-byte size class. The
// 1,536-byte class holds 1,528 bytes of Request and the allocator's header.
func TestRequestSizeClass(t *testing.T) {
	if n := allocsize.Of(func() any { return new(Request) }); n > 1536 {
		t.Fatalf("a Request (%d bytes) takes %d from the heap, over the 1,536-byte size class", unsafe.Sizeof(Request{}), n)
	}
}
