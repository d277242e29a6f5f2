package accesslog

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/golighty/golighty/core/coretest"
	_ "github.com/golighty/golighty/modules/access"
	_ "github.com/golighty/golighty/modules/staticfile"
)

// e2eFormat puts every field this module fills (all but the clock ones)
// between '|'.
const e2eFormat = `%h|%V|%u|%r|%>s|%b|%O|%I|%m|%U|%q|%H|%v|%f|%k|%X|%{X-A}i|%{Content-Type}o|%{c}C|%p|%A|%{X_E}e`

// Field indexes in e2eFormat.
const (
	fHost = iota
	fVHost
	fUser
	fRequest
	fStatus
	fBody
	fOut
	fIn
	fMethod
	fURL
	fQuery
	fProto
	fServer
	fFile
	fKeep
	fConn
	fHeaderIn
	fHeaderOut
	fCookie
	fPort
	fAddr
	fEnv
	nFields
)

const e2eConf = `
server.document-root = "@DIR@/www"
server.tag = "golighty-test"
server.modules = ("mod_access", "mod_accesslog")
mimetype.assign = (".txt" => "text/plain")
url.access-deny = (".inc")
accesslog.filename = "@DIR@/access.log"
accesslog.format = "` + e2eFormat + `"
$HTTP["url"] =^ "/sub/" {
	accesslog.filename = "@DIR@/sub.log"
	accesslog.escaping = "json"
}
$HTTP["url"] =^ "/quiet/" {
	accesslog.filename = ""
}
`

func e2eHarness(t *testing.T) *coretest.Harness {
	h := coretest.New(t, e2eConf)
	h.WriteFile("www/a.txt", "abcdefghijklmnopqrstuvwxyz\n")
	h.WriteFile("www/sub/b.txt", "sub\n")
	h.WriteFile("www/quiet/q.txt", "quiet\n")
	h.WriteFile("www/x.inc", "secret")
	return h
}

// readLog flushes the buffered access logs and returns the lines of name.
func readLog(t *testing.T, h *coretest.Harness, name string) []string {
	t.Helper()
	if err := h.Snap.Shared().Logs().FlushAll(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(h.Dir, name))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// headLen is the size of the response head in raw response bytes.
func headLen(t *testing.T, raw []byte) int {
	t.Helper()
	i := bytes.Index(raw, []byte("\r\n\r\n"))
	if i < 0 {
		t.Fatalf("no response head in %q", raw)
	}
	return i + 4
}

func TestEndToEnd(t *testing.T) {
	h := e2eHarness(t)
	tests := []struct {
		name string
		req  string
		want map[int]string // expected fields
		// unread request bytes: a static file leaves a request body
		// unread, and lighttpd's %I counts what was consumed.
		unread int
	}{
		{
			name: "static file HTTP/1.0",
			req:  "GET /a.txt?x=1 HTTP/1.0\r\nHost: Ex.COM\r\nX-A: xa\r\nCookie: c=cv; d=2\r\n\r\n",
			want: map[int]string{fVHost: "ex.com", fUser: "-", fRequest: "GET /a.txt?x=1 HTTP/1.0",
				fStatus: "200", fBody: "27", fMethod: "GET", fURL: "/a.txt", fQuery: "x=1", fProto: "HTTP/1.0",
				fServer: "ex.com", fKeep: "0", fConn: "-", fHeaderIn: "xa", fHeaderOut: "text/plain", fCookie: "cv",
				fPort: "80", fAddr: "", fEnv: "-"},
		},
		{
			name: "HEAD sends no body",
			req:  "HEAD /a.txt HTTP/1.0\r\n\r\n",
			want: map[int]string{fVHost: "-", fServer: "-", fStatus: "200", fBody: "0", fHeaderIn: "-", fCookie: ""},
		},
		{
			name: "not found logs no file",
			req:  "GET /nope.txt HTTP/1.0\r\n\r\n",
			want: map[int]string{fStatus: "404", fBody: "341", fFile: "-", fHeaderOut: "text/html"},
		},
		{
			name: "access denied",
			req:  "GET /x.inc HTTP/1.0\r\n\r\n",
			want: map[int]string{fStatus: "403", fFile: "-"},
		},
		{
			name: "escaped target",
			req:  "GET /a%22b\"c HTTP/1.0\r\n\r\n",
			want: map[int]string{fRequest: `GET /a%22b\"c HTTP/1.0`},
		},
		{
			name: "keep-alive HTTP/1.0",
			req:  "GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			want: map[int]string{fStatus: "200", fConn: "+"},
		},
		{
			name: "HTTP/1.1 close",
			req:  "GET /a.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			want: map[int]string{fProto: "HTTP/1.1", fConn: "-"},
		},
		{
			name:   "unread request body not counted in",
			req:    "POST /a.txt HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello",
			want:   map[int]string{fMethod: "POST"},
			unread: 5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			truncateLog(t, h, "access.log")
			raw := h.Raw(tt.req)
			f := oneLine(t, readLog(t, h, "access.log"))
			for k, v := range tt.want {
				if f[k] != v {
					t.Errorf("field %d = %q, want %q (line %q)", k, f[k], v, strings.Join(f, "|"))
				}
			}
			// %O is everything sent, %b the body after the head, %I the
			// request as received.
			head := headLen(t, raw)
			if want := strconv.Itoa(len(raw)); f[fOut] != want {
				t.Errorf("%%O = %s, want %s (raw response %q)", f[fOut], want, raw)
			}
			if want := strconv.Itoa(len(raw) - head); f[fBody] != want {
				t.Errorf("%%b = %s, want %s", f[fBody], want)
			}
			if want := strconv.Itoa(len(tt.req) - tt.unread); f[fIn] != want {
				t.Errorf("%%I = %s, want %s", f[fIn], want)
			}
		})
	}
}

// truncateLog empties a log file; the sink appends, so it continues at 0.
func truncateLog(t *testing.T, h *coretest.Harness, name string) {
	t.Helper()
	if err := h.Snap.Shared().Logs().FlushAll(); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(h.Dir, name), 0); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

// oneLine checks that lines holds exactly one e2eFormat line and splits it.
func oneLine(t *testing.T, lines []string) []string {
	t.Helper()
	if len(lines) != 1 {
		t.Fatalf("%d log lines, want 1: %q", len(lines), lines)
	}
	f := strings.Split(lines[0], "|")
	if len(f) != nFields {
		t.Fatalf("line %q has %d fields, want %d", lines[0], len(f), nFields)
	}
	return f
}

func TestPipeLogger(t *testing.T) {
	h := coretest.New(t, `
server.document-root = "@DIR@"
server.modules = ("mod_accesslog")
accesslog.filename = "|cat > @DIR@/piped.log"
accesslog.format = "%s %U"
`)
	m, _ := h.Snap.Module("mod_accesslog")
	h.WriteFile("p.txt", "p")
	h.Raw("GET /p.txt HTTP/1.0\r\n\r\n")
	h.Raw("GET /none HTTP/1.0\r\n\r\n")
	// Close releases the pipe: cat sees end-of-file and exits, so its
	// output is complete.
	if err := m.(*Module).Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(h.Dir, "piped.log"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "200 /p.txt\n404 /none\n"; string(b) != want {
		t.Fatalf("piped log %q, want %q", b, want)
	}
}
