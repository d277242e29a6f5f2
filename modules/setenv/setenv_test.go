package setenv_test

import (
	"strings"
	"testing"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/coretest"
	_ "github.com/golighty/golighty/modules/access"
	"github.com/golighty/golighty/modules/setenv"
	_ "github.com/golighty/golighty/modules/setenv"
	_ "github.com/golighty/golighty/modules/staticfile"
)

// probe is a test-only handler that answers /probe with the request
// headers and environment it sees, so the effect of uri_clean is visible.
type probe struct{}

func (probe) Setup(*core.SetupContext) error { return nil }

func (probe) SubrequestStart(rc *core.Request) core.Result {
	if rc.URI.Path != "/probe" {
		return core.GoOn
	}
	var b strings.Builder
	rc.Header.Each(func(n, v string) { b.WriteString("H " + n + ": " + v + "\n") })
	for i := 0; i < rc.Env.Len(); i++ {
		e := rc.Env.At(i)
		b.WriteString("E " + e.Name + "=" + e.Value + "\n")
	}
	rc.Resp.Status = 200
	rc.Resp.Header.Set("Content-Type", "text/plain")
	rc.Resp.SetBody([]byte(b.String()))
	return core.Finished
}

func init() {
	core.Register(core.ModuleInfo{Name: "mod_setenvprobe", New: func() core.Module { return probe{} }})
}

func TestPrepareHeaderValue(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "yes", "yes"},
		{"trim", " \t yes \r\n", "yes"},
		{"comma newline", "a,\nb", "a, b"},
		{"comma crlf", "a,\r\nb", "a,  b"},
		{"comma space kept", "a, b", "a, b"},
		{"newline without comma kept", "a\nb", "a\nb"},
		{"only blanks", " \t ", ""},
		{"trailing comma newline", "a,\n", "a,"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := setenv.PrepareHeaderValue(tt.in); got != tt.want {
				t.Fatalf("PrepareHeaderValue(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestInsertResponseHeader(t *testing.T) {
	type kv = [2]string
	tests := []struct {
		name        string
		start       []kv
		del         string
		insert      kv
		wantWritten []kv
	}{
		{"new field at end", []kv{{"Content-Type", "text/html"}}, "", kv{"X-A", "1"},
			[]kv{{"Content-Type", "text/html"}, {"X-A", "1"}}},
		{"after existing field, not at end", []kv{{"X-A", "1"}, {"Content-Length", "3"}}, "", kv{"X-A", "2"},
			[]kv{{"X-A", "1"}, {"X-A", "2"}, {"Content-Length", "3"}}},
		{"deleted slot reused", []kv{{"X-A", "1"}, {"Content-Length", "3"}}, "X-A", kv{"x-a", "2"},
			[]kv{{"X-A", "2"}, {"Content-Length", "3"}}},
		{"empty value ignored", []kv{{"X-A", "1"}}, "", kv{"X-B", ""},
			[]kv{{"X-A", "1"}}},
		{"after last repeat", []kv{{"Set-Cookie", "a"}, {"Set-Cookie", "b"}, {"Date", "d"}}, "", kv{"Set-Cookie", "c"},
			[]kv{{"Set-Cookie", "a"}, {"Set-Cookie", "b"}, {"Set-Cookie", "c"}, {"Date", "d"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h core.Headers
			for _, f := range tt.start {
				h.Append(f[0], f[1])
			}
			if tt.del != "" {
				h.Del(tt.del)
			}
			setenv.InsertResponseHeader(&h, tt.insert[0], tt.insert[1])
			var got []kv
			h.Each(func(n, v string) { got = append(got, kv{n, v}) })
			if len(got) != len(tt.wantWritten) {
				t.Fatalf("got %v, want %v", got, tt.wantWritten)
			}
			for i := range got {
				if got[i] != tt.wantWritten[i] {
					t.Fatalf("got %v, want %v", got, tt.wantWritten)
				}
			}
		})
	}
}

const conf = `
server.document-root = "@DIR@/www"
server.tag = "t"
server.modules = ("mod_setenvprobe", "mod_setenv", "mod_access")
mimetype.assign = (".txt" => "text/plain")
url.access-deny = (".inc")
setenv.add-request-header = ("X-Add" => "one", "Cookie" => "c=2", "User-Agent" => "")
setenv.set-request-header = ("X-Set" => "two", "X-Gone" => "")
setenv.add-environment = ("ADDED" => "a", "EMPTY" => "")
setenv.set-environment = ("SET" => "s")
setenv.add-response-header = ("X-Test" => " yes ", "Content-Type" => "also")
setenv.set-response-header = ("X-Set-Resp" => "r")
$HTTP["url"] =^ "/cond/" {
	setenv.add-response-header = ("X-Cond" => "1")
	setenv.set-response-header = ()
}
`

func TestSetenvEndToEnd(t *testing.T) {
	h := coretest.New(t, conf)
	h.WriteFile("www/a.txt", "abc")
	h.WriteFile("www/cond/c.txt", "c")
	h.WriteFile("www/x.inc", "x")
	h.WriteFile("www/probe", "")

	t.Run("request headers and environment", func(t *testing.T) {
		_, body := h.Do("GET /probe HTTP/1.0\r\nX-Add: zero\r\nCookie: c=1\r\nX-Gone: g\r\nUser-Agent: ua\r\n\r\n")
		for _, want := range []string{
			"H X-Add: zero, one\n", "H Cookie: c=1; c=2\n", "H User-Agent: ua\n", "H X-Set: two\n",
			"E ADDED=a\n", "E EMPTY=\n", "E SET=s\n",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("missing %q in\n%s", want, body)
			}
		}
		if strings.Contains(body, "X-Gone") {
			t.Errorf("X-Gone not removed:\n%s", body)
		}
	})

	tests := []struct {
		name, req string
		want      []string // header lines in order, Date excluded
	}{
		{"static file", "GET /a.txt HTTP/1.0\r\n\r\n", []string{
			"Content-Type: text/plain", "Content-Type: also", "ETag:", "Last-Modified:", "Content-Length: 3",
			"X-Test: yes", "X-Set-Resp: r", "Connection: close", "Server: t"}},
		{"error document", "GET /missing HTTP/1.0\r\n\r\n", []string{
			"Content-Type: text/html", "Content-Type: also", "X-Test: yes", "X-Set-Resp: r", "Content-Length: 341", "Connection: close", "Server: t"}},
		{"conditional block replaces lists", "GET /cond/c.txt HTTP/1.0\r\n\r\n", []string{
			"Content-Type: text/plain", "ETag:", "Last-Modified:", "Content-Length: 1", "X-Cond: 1", "Connection: close", "Server: t"}},
		// mod_access runs after mod_setenv at uri_clean, so setenv saw the request.
		{"denied after setenv", "GET /x.inc HTTP/1.0\r\n\r\n", []string{
			"Content-Type: text/html", "Content-Type: also", "X-Test: yes", "X-Set-Resp: r", "Content-Length: 341", "Connection: close", "Server: t"}},
		// lighttpd finds the range unsatisfiable after response_start; its
		// 416 error document has no setenv headers.
		{"unsatisfiable range", "GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=50-60\r\nConnection: close\r\n\r\n", []string{
			"Content-Type: text/html", "Content-Length: 365", "Connection: close", "Server: t"}},
		// A request refused by the parser never reaches uri_clean.
		{"bad request", "GET /a.txt HTTP/1.1\r\n\r\n", []string{
			"Content-Type: text/html", "Content-Length: 345", "Connection: close", "Server: t"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := headLines(string(h.Raw(tt.req)))
			if len(got) != len(tt.want) {
				t.Fatalf("headers\n%q\nwant\n%q", got, tt.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Fatalf("header %d: %q, want %q\nall: %q", i, got[i], tt.want[i], got)
				}
			}
		})
	}
}

// TestSetenvAppliedOnce checks that an internal restart (error handler)
// neither appends the request headers twice nor re-resolves the response
// headers for the handler's URL.
func TestSetenvAppliedOnce(t *testing.T) {
	h := coretest.New(t, `
server.document-root = "@DIR@/www"
server.modules = ("mod_setenvprobe", "mod_setenv")
server.error-handler-404 = "/probe"
setenv.add-request-header = ("X-Add" => "one")
setenv.add-response-header = ("X-Orig" => "1")
$HTTP["url"] == "/probe" { setenv.add-response-header = ("X-Handler" => "1") }
`)
	h.WriteFile("www/probe", "")
	resp, body := h.Get("/missing")
	if strings.Count(body, "one") != 1 {
		t.Errorf("request header applied %d times:\n%s", strings.Count(body, "one"), body)
	}
	if resp.Header.Get("X-Orig") != "1" || resp.Header.Get("X-Handler") != "" {
		t.Errorf("response headers from the wrong config: X-Orig %q X-Handler %q", resp.Header.Get("X-Orig"), resp.Header.Get("X-Handler"))
	}
	// The next request on the same (pooled) Request must be fresh.
	if _, body := h.Get("/probe"); strings.Count(body, "one") != 1 {
		t.Errorf("second request: request header applied %d times:\n%s", strings.Count(body, "one"), body)
	}
}

func headLines(raw string) []string {
	head, _, _ := strings.Cut(raw, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")[1:]
	out := lines[:0]
	for _, l := range lines {
		if !strings.HasPrefix(l, "Date: ") {
			out = append(out, l)
		}
	}
	return out
}

// BenchmarkSetenvHooks measures the module's own work per request:
// capture at uri_clean, response headers at response_start, cleanup.
func BenchmarkSetenvHooks(b *testing.B) {
	// Global keys only: the hooks are called without the pipeline, which
	// would otherwise evaluate the conditions.
	h := coretest.New(b, `
server.document-root = "@DIR@"
server.modules = ("mod_setenv")
setenv.add-request-header = ("X-Add" => "one")
setenv.set-request-header = ("X-Set" => "two")
setenv.add-environment = ("ADDED" => "a")
setenv.add-response-header = ("X-Test" => "yes")
setenv.set-response-header = ("X-Set-Resp" => "r")
`)
	mod, ok := h.Snap.Module("mod_setenv")
	if !ok {
		b.Fatal("mod_setenv not loaded")
	}
	m := mod.(*setenv.Module)
	b.ReportAllocs()
	for b.Loop() {
		// A fresh request each time: the captured settings live in the
		// request's slot until the request ends.
		b.StopTimer()
		rc := &core.Request{Snap: h.Snap}
		b.StartTimer()
		rc.Start = time.Now()
		rc.Header.Reset()
		rc.Env.Reset()
		rc.Resp.Header.Reset()
		rc.Header.Set("User-Agent", "bench")
		rc.Resp.Header.Set("Content-Type", "text/plain")
		rc.Resp.Header.Set("Content-Length", "3")
		m.URIClean(rc)
		m.ResponseStart(rc)
	}
}
