package accesslog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/coretest"
	"github.com/golighty/golighty/core/logsink"
	"github.com/golighty/golighty/lighttpdconf"
	"github.com/golighty/golighty/modules/accesslog/format"
)

const confHead = `
server.document-root = "@DIR@"
server.modules = ("mod_accesslog")
`

// compile parses and compiles conf (with @DIR@ replaced by dir) on shared.
func compile(t *testing.T, dir, conf string, shared *core.SharedPool) (*core.Snapshot, error) {
	t.Helper()
	conf = strings.ReplaceAll(confHead+conf, "@DIR@", dir)
	path := filepath.Join(dir, "lighttpd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	parsed, err := lighttpdconf.ParseFile(path, &lighttpdconf.Options{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return core.Compile(parsed, core.CompileOptions{}, shared)
}

func module(t *testing.T, s *core.Snapshot) *Module {
	t.Helper()
	m, ok := s.Module("mod_accesslog")
	if !ok {
		t.Fatal("mod_accesslog not loaded")
	}
	return m.(*Module)
}

// openFDs counts this process's descriptors open on path.
func openFDs(t *testing.T, path string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && l == path {
			n++
		}
	}
	return n
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		conf string
		want []string // substrings of the error, in order
	}{
		{"unknown directive", `accesslog.format = "%h %Z"`,
			[]string{"lighttpd.conf:4:", "% or %{...} must be followed by a valid format-specifier", "parsing accesslog-definition failed: %h %Z"}},
		{"empty format", `accesslog.format = ""`,
			[]string{"parsing accesslog-definition failed: "}},
		{"constant time format", `accesslog.format = "%{abc}t"`,
			[]string{"constant string for time format (misspelled token? or missing '%'): %{abc}t"}},
		{"two strftime timestamps", `accesslog.format = "%t %{sec}t"`,
			[]string{"you may not use strftime timestamp format %{}t twice in the same access log: %t %{sec}t"}},
		{"format error in a condition", `$HTTP["url"] =^ "/x" { accesslog.format = "%{bad}p" }`,
			[]string{"invalid format %{canonical,local,remote}p: %{bad}p"}},
		{"filename not a string", `accesslog.filename = ("a")`,
			[]string{"accesslog.filename should have been a string"}},
		{"use-syslog not a boolean", `accesslog.use-syslog = "maybe"`,
			[]string{"unexpected type for key: accesslog.use-syslog"}},
		{"syslog-level not a number", `accesslog.syslog-level = "loud"`,
			[]string{"got a string but expected a short: accesslog.syslog-level loud"}},
		{"unwritable file", `accesslog.filename = "@DIR@/missing/dir/access.log"`,
			[]string{"opening log '", "/missing/dir/access.log' failed: no such file or directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compile(t, t.TempDir(), tt.conf, nil)
			if err == nil {
				t.Fatal("compile succeeded")
			}
			msg := err.Error()
			for _, w := range tt.want {
				i := strings.Index(msg, w)
				if i < 0 {
					t.Fatalf("error %q lacks %q", err, w)
				}
				msg = msg[i+len(w):]
			}
		})
	}
}

func TestFailedSetupReleasesSinks(t *testing.T) {
	dir := t.TempDir()
	shared := core.NewSharedPool()
	_, err := compile(t, dir, `
accesslog.filename = "@DIR@/global.log"
$HTTP["url"] =^ "/x" { accesslog.format = "%" }
`, shared)
	if err == nil {
		t.Fatal("compile succeeded")
	}
	if n := openFDs(t, filepath.Join(dir, "global.log")); n != 0 {
		t.Fatalf("%d descriptors still open on the log of a failed load", n)
	}
}

func TestSyslog(t *testing.T) {
	tests := []struct {
		name   string
		conf   string
		levels []int  // severities with a sink
		fac    string // facility in the specs
		file   bool   // whether access.log was opened (created)
	}{
		{
			name:   "default level, user facility",
			conf:   `accesslog.use-syslog = "enable"`,
			levels: []int{6}, fac: "user",
		},
		{
			name: "file in the syslog block is not opened",
			conf: `accesslog.use-syslog = "enable"
accesslog.filename = "@DIR@/access.log"`,
			levels: []int{6}, fac: "user",
		},
		{
			name: "file opened where syslog is enabled elsewhere",
			conf: `accesslog.filename = "@DIR@/access.log"
$HTTP["url"] =^ "/s/" { accesslog.use-syslog = "enable" accesslog.syslog-level = 4 }`,
			levels: []int{4, 6}, fac: "user", file: true,
		},
		{
			name: "error log on syslog: server.syslog-facility",
			conf: `server.errorlog-use-syslog = "enable"
server.syslog-facility = "local3"
accesslog.use-syslog = "enable"
accesslog.syslog-level = 3`,
			levels: []int{3, 6}, fac: "local3",
		},
		{
			name:   "no syslog: no sinks",
			conf:   `accesslog.syslog-level = 2`,
			levels: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := compile(t, dir, tt.conf, nil)
			if err != nil {
				t.Fatal(err)
			}
			m := module(t, s)
			defer m.Close()
			want := map[int]bool{}
			for _, l := range tt.levels {
				want[l] = true
			}
			for lvl, sink := range m.syslog {
				switch {
				case want[lvl] && sink == nil:
					t.Errorf("no syslog sink for level %d", lvl)
				case !want[lvl] && sink != nil:
					t.Errorf("unexpected syslog sink for level %d", lvl)
				case sink != nil && sink.Spec() != logsink.SyslogSpec(tt.fac, lvl):
					t.Errorf("level %d: spec %q, want %q", lvl, sink.Spec(), logsink.SyslogSpec(tt.fac, lvl))
				}
			}
			_, statErr := os.Stat(filepath.Join(dir, "access.log"))
			if opened := statErr == nil; opened != tt.file {
				t.Errorf("access.log opened: %v, want %v", opened, tt.file)
			}
		})
	}
}

func TestSyslogBlockKeepsFileUnset(t *testing.T) {
	// lighttpd ignores a filename in a block that enables syslog, so a
	// nested block that disables syslog again has no destination.
	s, err := compile(t, t.TempDir(), `accesslog.use-syslog = "enable"
accesslog.filename = "@DIR@/access.log"`, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := module(t, s)
	defer m.Close()
	if c := m.table.Defaults(); c.out != nil || !c.syslog {
		t.Fatalf("global settings: out %v, syslog %v; want no file, syslog", c.out, c.syslog)
	}
}

func TestReloadSharesSinks(t *testing.T) {
	dir := t.TempDir()
	shared := core.NewSharedPool()
	conf := `accesslog.filename = "@DIR@/access.log"
$HTTP["url"] =^ "/x" { accesslog.filename = "@DIR@/access.log" accesslog.format = "%s" }`
	s1, err := compile(t, dir, conf, shared)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := compile(t, dir, conf, shared)
	if err != nil {
		t.Fatal(err)
	}
	m1, m2 := module(t, s1), module(t, s2)
	spec := filepath.Join(dir, "access.log")
	o1, o2 := m1.outputs[spec], m2.outputs[spec]
	if o1 == nil || o2 == nil || len(m1.outputs) != 1 {
		t.Fatalf("outputs: %v / %v", m1.outputs, m2.outputs)
	}
	if o1.sink != o2.sink {
		t.Fatal("a reload opened the same log again instead of sharing it")
	}
	if err := m1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o2.sink.WriteAccess([]byte("after reload"), true); err != nil {
		t.Fatalf("sink closed by the retired snapshot: %v", err)
	}
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o2.sink.WriteAccess([]byte("x"), true); !errors.Is(err, logsink.ErrClosed) {
		t.Fatalf("write after the last release: %v, want ErrClosed", err)
	}
	if n := openFDs(t, spec); n != 0 {
		t.Fatalf("%d descriptors left open", n)
	}
	b, err := os.ReadFile(spec)
	if err != nil || string(b) != "after reload\n" {
		t.Fatalf("log content %q, %v", b, err)
	}
}

func TestPerConditionLogs(t *testing.T) {
	h := e2eHarness(t)
	reqs := []string{
		"GET /a.txt HTTP/1.0\r\n\r\n",
		"GET /sub/b.txt HTTP/1.0\r\nUser-Agent: \xe9\"\r\n\r\n",
		"GET /quiet/q.txt HTTP/1.0\r\n\r\n",
	}
	for _, r := range reqs {
		h.Raw(r)
	}
	main := readLog(t, h, "access.log")
	sub := readLog(t, h, "sub.log")
	tests := []struct {
		name  string
		lines []string
		want  []string // per line, a substring
	}{
		{"global log has only the global request", main, []string{"|GET /a.txt HTTP/1.0|"}},
		{"block log with json escaping", sub, []string{`|GET /sub/b.txt HTTP/1.0|`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.lines) != len(tt.want) {
				t.Fatalf("%d lines, want %d: %q", len(tt.lines), len(tt.want), tt.lines)
			}
			for i, w := range tt.want {
				if !strings.Contains(tt.lines[i], w) {
					t.Errorf("line %q lacks %q", tt.lines[i], w)
				}
			}
		})
	}
	if n := strings.Count(strings.Join(main, "\n")+strings.Join(sub, "\n"), "quiet"); n != 0 {
		t.Errorf("a block with accesslog.filename = \"\" was logged")
	}
}

func TestFillRecord(t *testing.T) {
	base := func() *core.Request {
		rc := &core.Request{Method: "GET", Proto: 11, Target: "/a.txt?q", Start: time.Now(), KeepAlive: true}
		rc.Conn = core.ConnInfo{RemoteIP: "192.0.2.1", RemotePort: 4242, Socket: "127.0.0.1:8080", Requests: 2}
		rc.URI = core.URI{Authority: "ex.com", Target: "/b.txt?q", Query: "q"}
		rc.Phys.Path = "/srv/www/b.txt"
		rc.Resp.Status = 200
		rc.HeadLen = 40
		return rc
	}
	tests := []struct {
		name  string
		edit  func(*core.Request)
		check func(*format.Record) string // "" when fine
	}{
		{"plain", func(*core.Request) {}, func(r *format.Record) string {
			if r.RemoteAddr != "192.0.2.1" || r.RemotePort != 4242 || r.LocalAddr != "127.0.0.1" || r.LocalPort != "8080" ||
				r.Target != "/b.txt?q" || r.OrigTarget != "/a.txt?q" || r.Protocol != "HTTP/1.1" || r.Requests != 2 ||
				r.Filename != "/srv/www/b.txt" || r.ServerName != "ex.com" || r.Host != "ex.com" || r.ConnState != format.ConnKeepAlive ||
				r.BytesIn != 40 {
				return "fields"
			}
			return ""
		}},
		{"server.name wins for %v", func(rc *core.Request) { rc.Conf.ServerName = "www" }, func(r *format.Record) string {
			if r.ServerName != "www" || r.Host != "ex.com" {
				return r.ServerName
			}
			return ""
		}},
		{"404 logs no file", func(rc *core.Request) { rc.Resp.Status = 404 }, func(r *format.Record) string {
			if r.Filename != "" {
				return r.Filename
			}
			return ""
		}},
		{"backend error keeps the file", func(rc *core.Request) { rc.Resp.Status = 500; rc.Resp.Dynamic = true }, func(r *format.Record) string {
			if r.Filename == "" {
				return "file dropped"
			}
			return ""
		}},
		{"aborted", func(rc *core.Request) { rc.Aborted = true }, func(r *format.Record) string {
			if r.ConnState != format.ConnAborted || r.BytesOut != 0 {
				return "not aborted"
			}
			return ""
		}},
		{"closing", func(rc *core.Request) { rc.KeepAlive = false }, func(r *format.Record) string {
			if r.ConnState != format.ConnClose {
				return "not closing"
			}
			return ""
		}},
		{"rejected before target processing", func(rc *core.Request) { rc.URI = core.URI{} }, func(r *format.Record) string {
			if r.Target != "/a.txt?q" {
				return r.Target
			}
			return ""
		}},
		{"IPv6 listener", func(rc *core.Request) { rc.Conn.Socket = "[::1]:80" }, func(r *format.Record) string {
			if r.LocalAddr != "[::1]" || r.LocalPort != "80" {
				return r.LocalAddr + " " + r.LocalPort
			}
			return ""
		}},
		{"lookups", func(rc *core.Request) {
			rc.RemoteUser = "alice"
			rc.Env.Set("X_E", "e")
			rc.Header.Append("X-A", "xa")
			rc.Resp.Header.Set("Content-Type", "text/plain")
		}, func(r *format.Record) string {
			l := r.Lookup
			if l.Env("REMOTE_USER") != "alice" || l.Env("X_E") != "e" || l.Env("NONE") != "" ||
				l.RequestHeader("x-a") != "xa" || l.ResponseHeader("content-type") != "text/plain" {
				return "lookup values"
			}
			return ""
		}},
		{"REMOTE_USER from the environment", func(rc *core.Request) { rc.Env.Set("REMOTE_USER", "bob") }, func(r *format.Record) string {
			if v := r.Lookup.Env("REMOTE_USER"); v != "bob" {
				return v
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := base()
			tt.edit(rc)
			var r format.Record
			fillRecord(&r, rc, "tag")
			if msg := tt.check(&r); msg != "" {
				t.Fatalf("%s: %+v", msg, r)
			}
		})
	}
}

func TestResponseHeadLen(t *testing.T) {
	// Each case lists the head the HTTP/1.x engine writes, Date line
	// included with a fixed-length value.
	const date = "Date: Wed, 25 Nov 2026 19:05:35 GMT\r\n"
	tests := []struct {
		name string
		edit func(*core.Request)
		head string
	}{
		{"200 with length, keep-alive 1.1", func(rc *core.Request) {
			rc.Resp.Header.Set("Content-Type", "text/plain")
			rc.Resp.Header.Set("Content-Length", "27")
		}, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 27\r\n" + date + "Server: tag\r\n\r\n"},
		{"keep-alive 1.0", func(rc *core.Request) {
			rc.Proto = 10
			rc.Resp.Header.Set("Content-Length", "1")
		}, "HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n" + date + "Server: tag\r\n\r\n"},
		{"closing, empty and internal fields skipped", func(rc *core.Request) {
			rc.KeepAlive = false
			rc.Resp.Status = 404
			rc.Resp.Header.Set("Content-Length", "341")
			rc.Resp.Header.Set("X-Empty", "")
			rc.Resp.Header.Set("X-LIGHTTPD-KBytes-per-second", "10")
			rc.Resp.Header.Set("X-Sendfile", "/etc/passwd")
			rc.Resp.Header.Set("Connection", "upgrade")
		}, "HTTP/1.1 404 Not Found\r\nContent-Length: 341\r\nConnection: close\r\n" + date + "Server: tag\r\n\r\n"},
		{"handler Date and Server", func(rc *core.Request) {
			rc.Resp.Header.Set("Content-Length", "0")
			rc.Resp.Header.Set("Date", "x")
			rc.Resp.Header.Set("Server", "y")
		}, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nDate: x\r\nServer: y\r\n\r\n"},
		{"no body decided", func(rc *core.Request) {},
			"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n" + date + "Server: tag\r\n\r\n"},
		{"streamed body on 1.1", func(rc *core.Request) { rc.Resp.SetBody([]byte("x")) },
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" + date + "Server: tag\r\n\r\n"},
		{"HEAD without length", func(rc *core.Request) { rc.Method = "HEAD" },
			"HTTP/1.1 200 OK\r\n" + date + "Server: tag\r\n\r\n"},
		{"304", func(rc *core.Request) { rc.Resp.Status = 304; rc.Resp.Header.Set("ETag", `"e"`) },
			"HTTP/1.1 304 Not Modified\r\nETag: \"e\"\r\n" + date + "Server: tag\r\n\r\n"},
		{"unknown status", func(rc *core.Request) { rc.Resp.Status = 599; rc.Resp.Header.Set("Content-Length", "0") },
			"HTTP/1.1 599 \r\nContent-Length: 0\r\n" + date + "Server: tag\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &core.Request{Method: "GET", Proto: 11, KeepAlive: true}
			rc.Resp.Status = 200
			tt.edit(rc)
			if got := responseHeadLen(rc, "tag"); got != int64(len(tt.head)) {
				t.Fatalf("head length %d, want %d for %q", got, len(tt.head), tt.head)
			}
		})
	}
}

// benchRequest is a typical static-file request for the default format.
func benchRequest() *core.Request {
	rc := &core.Request{Method: "GET", Proto: 11, Target: "/index.html", Start: time.Now(), KeepAlive: true, HeadLen: 120}
	rc.Conn = core.ConnInfo{RemoteIP: "192.0.2.1", RemotePort: 4242, Socket: ":80", Requests: 3}
	rc.URI = core.URI{Authority: "example.org", Target: "/index.html", Path: "/index.html"}
	rc.Header.Append("Host", "example.org")
	rc.Header.Append("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) \"bench\"")
	rc.Header.Append("Referer", "http://example.org/")
	rc.Resp.Status = 200
	rc.Resp.Header.Set("Content-Type", "text/html")
	rc.Resp.Header.Set("Content-Length", "4096")
	rc.Phys.Path = "/srv/www/index.html"
	return rc
}

func benchModule(tb testing.TB) *Module {
	h := coretest.New(tb, confHead+`accesslog.filename = "@DIR@/access.log"`)
	m, _ := h.Snap.Module("mod_accesslog")
	return m.(*Module)
}

func TestRequestDoneAllocs(t *testing.T) {
	m := benchModule(t)
	defer m.Close()
	rc := benchRequest()
	m.RequestDone(rc) // warm the buffers and the timestamp cache
	if n := testing.AllocsPerRun(500, func() { m.RequestDone(rc) }); n != 0 {
		t.Fatalf("RequestDone allocates %.1f times per request", n)
	}
}

func BenchmarkRequestDone(b *testing.B) {
	m := benchModule(b)
	defer m.Close()
	rc := benchRequest()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m.RequestDone(rc)
	}
}

func BenchmarkRequestDoneParallel(b *testing.B) {
	m := benchModule(b)
	defer m.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		rc := benchRequest()
		for pb.Next() {
			m.RequestDone(rc)
		}
	})
}
