package webdav

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golighty/golighty/core/coretest"
	_ "github.com/golighty/golighty/modules/staticfile"
)

const testConf = `
server.document-root = "@DIR@/www"
server.modules = ("mod_webdav")
mimetype.assign = (".txt" => "text/plain")
$HTTP["url"] =~ "^/dav($|/)" {
	webdav.activate = "enable"
	webdav.sqlite-db-name = "@DIR@/webdav.db"
}
$HTTP["url"] =~ "^/nodb($|/)" {
	webdav.activate = "enable"
}
$HTTP["url"] =~ "^/inf($|/)" {
	webdav.activate = "enable"
	webdav.opts = ("propfind-depth-infinity" => "enable")
}
`

func newHarness(t *testing.T) *coretest.Harness {
	t.Helper()
	h := coretest.New(t, testConf)
	for _, d := range []string{"www/dav", "www/nodb", "www/inf"} {
		if err := os.MkdirAll(filepath.Join(h.Dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func davReq(method, path, headers, body string) string {
	cl := ""
	if body != "" || method == "PUT" {
		cl = fmt.Sprintf("Content-Length: %d\r\n", len(body))
	}
	return fmt.Sprintf("%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s%s\r\n%s", method, path, headers, cl, body)
}

func status(t *testing.T, h *coretest.Harness, req string) (int, http.Header, string) {
	t.Helper()
	raw := rawUntilClose(h, req)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("reading response to %q: %v\nraw: %q", req, err, raw)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

const exclLock = `<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`

// TestLockExpiry checks that a lock stops protecting its resource when its
// timeout passes: modifications need no token, PROPFIND no longer lists
// it, UNLOCK and refresh find nothing. (lighttpd 1.4.69 derives expiry from
// SQLite's CURRENT_TIME, which it adds as hours, so its locks hardly ever
// expire.)
func TestLockExpiry(t *testing.T) {
	h := newHarness(t)
	clock := time.Now().Unix()
	saved := now
	now = func() int64 { return clock }
	t.Cleanup(func() { now = saved })

	code, hdr, _ := status(t, h, davReq("LOCK", "/dav/f.txt", "Timeout: Second-60\r\nContent-Type: application/xml\r\n", exclLock))
	if code != 201 || hdr.Get("Timeout") != "Second-60" {
		t.Fatalf("LOCK = %d, Timeout %q", code, hdr.Get("Timeout"))
	}
	token := strings.Trim(hdr.Get("Lock-Token"), "<>")
	if code, _, _ := status(t, h, davReq("PUT", "/dav/f.txt", "", "x")); code != 423 {
		t.Fatalf("PUT without token while locked = %d, want 423", code)
	}
	clock += 30
	code, _, body := status(t, h, davReq("PROPFIND", "/dav/f.txt", "Depth: 0\r\n", ""))
	if code != 207 || !strings.Contains(body, "<D:timeout>Second-30</D:timeout>") {
		t.Fatalf("PROPFIND after 30 s = %d %q, want the lock with 30 s left", code, body)
	}
	// A refresh starts the timeout again.
	code, _, _ = status(t, h, davReq("LOCK", "/dav/f.txt", "If: (<"+token+">)\r\nTimeout: Second-60\r\n", ""))
	if code != 200 {
		t.Fatalf("refresh = %d, want 200", code)
	}
	clock += 59
	if code, _, _ := status(t, h, davReq("PUT", "/dav/f.txt", "", "x")); code != 423 {
		t.Fatalf("PUT 59 s after the refresh = %d, want 423", code)
	}
	clock += 2
	code, _, body = status(t, h, davReq("PROPFIND", "/dav/f.txt", "Depth: 0\r\n", ""))
	if code != 207 || strings.Contains(body, "activelock") {
		t.Fatalf("PROPFIND after expiry = %d %q, want no lock", code, body)
	}
	if code, _, _ := status(t, h, davReq("PUT", "/dav/f.txt", "", "x")); code != 204 {
		t.Fatalf("PUT after expiry = %d, want 204", code)
	}
	if code, _, _ := status(t, h, davReq("UNLOCK", "/dav/f.txt", "Lock-Token: <"+token+">\r\n", "")); code != 409 {
		t.Fatalf("UNLOCK of an expired lock = %d, want 409", code)
	}
	if code, _, _ := status(t, h, davReq("LOCK", "/dav/f.txt", "If: (<"+token+">)\r\n", "")); code != 412 {
		t.Fatalf("refresh of an expired lock = %d, want 412", code)
	}
	// The resource can be locked again, and the expired row is gone.
	if code, _, _ := status(t, h, davReq("LOCK", "/dav/f.txt", "Content-Type: application/xml\r\n", exclLock)); code != 200 {
		t.Fatalf("new LOCK after expiry = %d, want 200", code)
	}
}

// TestConcurrentPUT sends many PUTs of different bodies to one path at
// once: every PUT succeeds and the file afterwards is exactly one of the
// bodies, never a mixture or a prefix, with no temporary file left.
func TestConcurrentPUT(t *testing.T) {
	h := newHarness(t)
	const n = 12
	const size = 96 << 10
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := strings.Repeat(string(rune('a'+i)), size)
			raw := rawUntilClose(h, davReq("PUT", "/dav/same.bin", "", body))
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
			if err == nil {
				codes[i] = resp.StatusCode
			}
		}(i)
	}
	wg.Wait()
	created := 0
	for i, c := range codes {
		switch c {
		case 201:
			created++
		case 204:
		default:
			t.Errorf("PUT %d = %d", i, c)
		}
	}
	if created != 1 {
		t.Errorf("%d PUTs answered 201 Created, want exactly 1", created)
	}
	b, err := os.ReadFile(filepath.Join(h.Dir, "www/dav/same.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != size || strings.Count(string(b), string(b[:1])) != size {
		t.Fatalf("file is %d bytes, not one whole body", len(b))
	}
	assertNoTempFiles(t, filepath.Join(h.Dir, "www/dav"), "same.bin")
}

// rawUntilClose sends a request (with Connection: close) and reads until
// the server closes, however long a loaded machine takes.
func rawUntilClose(h *coretest.Harness, req string) []byte {
	client, server := net.Pipe()
	go h.Server.ServeConn(server, ":80")
	go io.WriteString(client, req)
	client.SetReadDeadline(time.Now().Add(60 * time.Second))
	b, _ := io.ReadAll(client)
	client.Close()
	return b
}

func assertNoTempFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("directory holds %v, want %v", names, want)
	}
}

// TestPUTAbandoned cuts the client off in the middle of a PUT body: the
// target keeps its old content (or stays absent) and no temporary file is
// left behind.
func TestPUTAbandoned(t *testing.T) {
	h := newHarness(t)
	dir := filepath.Join(h.Dir, "www/dav")
	for _, tt := range []struct {
		name, path, old string
	}{
		{"new file", "/dav/new.bin", ""},
		{"replacing", "/dav/old.bin", "old content"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			target := filepath.Join(h.Dir, "www", tt.path)
			if tt.old != "" {
				if err := os.WriteFile(target, []byte(tt.old), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			client, server := net.Pipe()
			done := make(chan struct{})
			go func() {
				defer close(done)
				h.Server.ServeConn(server, ":80")
			}()
			head := fmt.Sprintf("PUT %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", tt.path, 1<<20)
			io.WriteString(client, head)
			client.Write(bytes.Repeat([]byte("z"), 64<<10))
			client.Close()
			<-done
			b, err := os.ReadFile(target)
			switch {
			case tt.old == "" && !os.IsNotExist(err):
				t.Fatalf("abandoned PUT created %s (%d bytes, %v)", target, len(b), err)
			case tt.old != "" && string(b) != tt.old:
				t.Fatalf("abandoned PUT changed %s to %d bytes", target, len(b))
			}
		})
	}
	assertNoTempFiles(t, dir, "old.bin")
}

// TestPropfindDepthLimit walks a tree deeper than the recursion limit
// with Depth: infinity: as in lighttpd, at most 100 collections are entered
// per request (a count, not a depth), so symlink loops and huge trees end.
func TestPropfindDepthLimit(t *testing.T) {
	h := newHarness(t)
	p := filepath.Join(h.Dir, "www/inf")
	for i := 0; i < recursionLimit+20; i++ {
		p = filepath.Join(p, "d")
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, body := status(t, h, davReq("PROPFIND", "/inf/", "Depth: infinity\r\n", ""))
	if code != 207 {
		t.Fatalf("PROPFIND = %d", code)
	}
	// The share and the 99 collections below it that were entered; the
	// 101st collection is neither entered nor listed.
	if n := strings.Count(body, "<D:response>"); n != recursionLimit {
		t.Fatalf("%d responses, want %d", n, recursionLimit)
	}
	// Refused without the option, whatever the depth says.
	for _, d := range []string{"infinity", "Infinity", "2", "99999999999999999999", "-1"} {
		if code, _, _ := status(t, h, davReq("PROPFIND", "/dav/", "Depth: "+d+"\r\n", "")); code != 403 {
			t.Errorf("Depth: %s = %d, want 403", d, code)
		}
	}
}

// TestOptionsMissing: OPTIONS on a missing path below a share answers 200
// with the DAV headers and an empty body (lighttpd 1.4.69 starts a chunked
// body there that it never ends).
func TestOptionsMissing(t *testing.T) {
	h := newHarness(t)
	raw := string(rawUntilClose(h, "OPTIONS /nodb/missing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"))
	for _, want := range []string{"HTTP/1.1 200 OK\r\n", "DAV: 1,3\r\n", "Allow: PROPFIND, DELETE, MKCOL, PUT, MOVE, COPY\r\n", "Content-Length: 0\r\n"} {
		if !strings.Contains(raw, want) {
			t.Fatalf("missing %q in %q", want, raw)
		}
	}
	raw = string(rawUntilClose(h, "OPTIONS /dav/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"))
	if !strings.Contains(raw, "Allow: PROPFIND, DELETE, MKCOL, PUT, MOVE, COPY, PROPPATCH, LOCK, UNLOCK, OPTIONS, GET, HEAD, POST\r\n") ||
		!strings.Contains(raw, "DAV: 1,2,3\r\n") {
		t.Fatalf("OPTIONS /dav/ = %q", raw)
	}
}

// TestETagMatchesStaticFile: the ETag a PUT answers and PROPFIND lists is
// the one a GET of the file sends, and a GET right after a PUT serves the
// new content (the stat cache was told).
func TestETagMatchesStaticFile(t *testing.T) {
	h := newHarness(t)
	for i, body := range []string{"first version", "second, longer version"} {
		code, phdr, _ := status(t, h, davReq("PUT", "/dav/e.txt", "", body))
		if code != 201 && code != 204 {
			t.Fatalf("PUT %d = %d", i, code)
		}
		putTag := phdr.Get("ETag")
		code, hdr, got := status(t, h, "GET /dav/e.txt HTTP/1.0\r\n\r\n")
		if code != 200 || got != body {
			t.Fatalf("GET after PUT %d = %q, want %q", i, got, body)
		}
		if e := hdr.Get("ETag"); e == "" || e != putTag {
			t.Fatalf("GET ETag %q, PUT ETag %q", e, putTag)
		}
		_, _, pf := status(t, h, davReq("PROPFIND", "/dav/e.txt", "Depth: 0\r\n", ""))
		m := regexp.MustCompile(`<D:getetag>([^<]*)</D:getetag>`).FindStringSubmatch(pf)
		if m == nil || m[1] != putTag {
			t.Fatalf("PROPFIND getetag %v, GET ETag %q", m, putTag)
		}
	}
	if code, _, _ := status(t, h, davReq("DELETE", "/dav/e.txt", "", "")); code != 204 {
		t.Fatalf("DELETE = %d", code)
	}
	if code, _, _ := status(t, h, "GET /dav/e.txt HTTP/1.0\r\n\r\n"); code != 404 {
		t.Fatalf("GET after DELETE = %d, want 404", code)
	}
}

// TestLogXML: webdav.log-xml writes request and response documents to the
// error log.
func TestLogXML(t *testing.T) {
	var logBuf syncBuffer
	saved := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logBuf, nil)))
	t.Cleanup(func() { slog.SetDefault(saved) })
	h := coretest.New(t, `
server.document-root = "@DIR@/www"
server.modules = ("mod_webdav")
webdav.activate = "enable"
webdav.log-xml = "enable"
`)
	h.WriteFile("www/f.txt", "f")
	body := `<D:propfind xmlns:D="DAV:"><D:prop><D:getcontentlength/></D:prop></D:propfind>`
	if code, _, _ := status(t, h, davReq("PROPFIND", "/f.txt", "Depth: 0\r\nContent-Type: text/xml\r\n", body)); code != 207 {
		t.Fatalf("PROPFIND = %d", code)
	}
	log := logBuf.String()
	for _, want := range []string{"XML-request-body: " + strings.ReplaceAll(body, `"`, `\"`), "XML-response-body: <?xml", "<D:getcontentlength>1</D:getcontentlength>"} {
		if !strings.Contains(log, want) {
			t.Fatalf("error log lacks %q:\n%s", want, log)
		}
	}
}

// syncBuffer is a bytes.Buffer for a log handler written from server
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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
