package format

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

type mapLookup struct {
	req, resp, env map[string]string
}

// fold looks a header up case-insensitively without allocating, so the
// allocation test measures Append alone.
func fold(m map[string]string, name string) string {
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func (m mapLookup) RequestHeader(n string) string  { return fold(m.req, n) }
func (m mapLookup) ResponseHeader(n string) string { return fold(m.resp, n) }
func (m mapLookup) Env(n string) string            { return m.env[n] }

var zone = time.FixedZone("MST", -7*3600)

// sampleStart/End: 2026-11-25 19:05:35.123456789 -0700, 2.5 s later.
var (
	sampleStart = time.Date(2026, 11, 25, 19, 5, 35, 123456789, zone)
	sampleEnd   = sampleStart.Add(2500 * time.Millisecond)
)

func sampleRecord() *Record {
	return &Record{
		RemoteAddr: "192.0.2.7", RemotePort: 54321,
		LocalAddr: "127.0.0.1", LocalPort: "8080",
		Start: sampleStart, End: sampleEnd,
		Method: "GET", OrigTarget: "/a%20b?x=1", Target: "/index.php?y=2", Query: "y=2",
		Protocol: "HTTP/1.1", Status: 200,
		BytesIn: 81, BytesOut: 494, HeaderBytesOut: 153,
		ServerName: "www.example.org", Host: "example.org",
		Filename: "/srv/www/index.php", Requests: 2, ConnState: ConnKeepAlive,
		Lookup: mapLookup{
			req: map[string]string{
				"referer": "http://r/", "user-agent": `ua "q"`,
				"cookie": "a=1; bb=2 ;d=\"q\"; c=x y  ; empty=",
			},
			resp: map[string]string{"content-type": "text/html"},
			env:  map[string]string{"REMOTE_USER": "alice", "X_E": "e\tv"},
		},
	}
}

func render(t *testing.T, format string, r *Record, esc Escaping) string {
	t.Helper()
	f, err := Compile(format)
	if err != nil {
		t.Fatalf("Compile(%q): %v", format, err)
	}
	out, _ := f.Append(nil, r, esc)
	return string(out)
}

func TestDirectives(t *testing.T) {
	endSec := strconv.FormatInt(sampleEnd.Unix(), 10)
	startSec := strconv.FormatInt(sampleStart.Unix(), 10)
	tests := []struct {
		name, format, want string
	}{
		{"default format", Default, `192.0.2.7 example.org alice [25/Nov/2026:19:05:37 -0700] "GET /a%20b?x=1 HTTP/1.1" 200 341 "http://r/" "ua \"q\""`},
		{"percent literal", "100%%", "100%"},
		{"remote ident is a dash", "%l", "-"},
		{"< and > ignored", "%<s %>s %>%", "200 200 %"},
		{"remote addr", "%a %h %{x}h", "192.0.2.7 192.0.2.7 192.0.2.7"},
		{"local addr and ports", "%A %p %{local}p %{canonical}p %{remote}p", "127.0.0.1 8080 8080 8080 54321"},
		{"remote user", "%u %{ignored}u", "alice alice"},
		{"request line", "%r", "GET /a%20b?x=1 HTTP/1.1"},
		{"status", "%s", "200"},
		{"bytes", "%b %B %O %I", "341 341 494 81"},
		{"method protocol", "%m %H", "GET HTTP/1.1"},
		{"url and query", "%U|%q", "/index.php|y=2"},
		{"server name and host", "%v %V", "www.example.org example.org"},
		{"filename", "%f", "/srv/www/index.php"},
		{"keep-alive count", "%k", "2"},
		{"connection status", "%X", "+"},
		{"request header", "%{Referer}i %{REFERER}i %{X-None}i %i", "http://r/ http://r/ - -"},
		{"response header", "%{Content-Type}o %{X-None}o", "text/html -"},
		{"env and note", "%{X_E}e %{X_E}n %{NOPE}e %e", `e\tv e\tv - -`},
		{"cookies", "[%{a}C][%{bb}C][%{c}C][%{empty}C][%{d}C][%{zz}C][%C]", `[1][2][x y][][\"q\"][][]`},
		{"silent directives", "[%P][%{x}%][%{x}l]", "[][][]"},
		{"timestamp default", "%t", "[25/Nov/2026:19:05:37 -0700]"},
		{"timestamp strftime end", "%{%Y-%m-%dT%H:%M:%S%z}t", "2026-11-25T19:05:37-0700"},
		{"timestamp end: prefix", "%{end:%H:%M:%S}t", "19:05:37"},
		{"timestamp begin:", "%{begin:%H:%M:%S}t", "19:05:35"},
		{"epoch seconds", "%{sec}t", endSec},
		{"epoch seconds at start", "%{begin:sec}t", startSec},
		{"epoch msec rounds up", "%{msec}t", endSec + "624"},
		{"epoch usec rounds up", "%{usec}t", endSec + "623457"},
		{"epoch nsec", "%{nsec}t %{begin:nsec}t", endSec + "623456789 " + startSec + "123456789"},
		{"fractions", "%{msec_frac}t %{usec_frac}t %{nsec_frac}t %{begin:msec_frac}t", "624 623457 623456789 124"},
		{"mixed time fields", "%{msec}t %t", endSec + "624 [25/Nov/2026:19:05:37 -0700]"},
		{"duration", "%D %T %{s}T %{sec}T %{ms}T %{msec}T %{us}T %{usec}T %{ns}T %{nsec}T",
			"2500000 2 2 2 2500 2500 2500000 2500000 2500000000 2500000000"},
		{"other directives ignore their argument", "%{x}s %{y}m", "200 GET"},
		{"control bytes in literals pass through", "a\tb", "a\tb"},
		{"backslash escapes in the format", `\a\b\f\n\r\t\v\"\\\q\`, "\a\b\f\n\r\t\v\"\\q"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := render(t, tc.format, sampleRecord(), EscapeDefault); got != tc.want {
				t.Fatalf("format %q:\n got %q\nwant %q", tc.format, got, tc.want)
			}
		})
	}
}

func TestEmptyAndAbsentValues(t *testing.T) {
	r := &Record{Protocol: "HTTP/1.0", Status: 501, Start: sampleStart, End: sampleStart}
	tests := []struct {
		name, format, want string
	}{
		{"unparsed request line", `"%r"`, `"  HTTP/1.0"`},
		{"dash for empty values", "%u|%V|%v|%f|%{Referer}i|%{X}o|%{Y}e", "-|-|-|-|-|-|-"},
		{"nothing for empty url, query, cookie", "[%U][%q][%{c}C]", "[][][]"},
		{"no bytes at all", "%b %O %I", "- - -"},
		{"zero duration is -1", "%D %{ms}T %{ns}T", "-1 -1 -1"},
		{"zero fraction", "%{msec_frac}t %{nsec_frac}t", "000 000000000"},
		{"first request, closing", "%k %X", "0 -"},
		{"empty remote and local address", "[%a][%A][%p]", "[][][]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := *r
			r.End = r.Start.Add(-time.Nanosecond) // a clock step back
			if tc.name == "zero fraction" {
				r.End = time.Date(2026, 1, 1, 0, 0, 0, 0, zone)
			}
			if got := render(t, tc.format, &r, EscapeDefault); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBytesAndConnState(t *testing.T) {
	tests := []struct {
		name         string
		out, hdr, in int64
		state        ConnState
		requests     int
		want         string
	}{
		{"HEAD: headers only", 150, 150, 40, ConnKeepAlive, 0, "0 150 40 + 0"},
		{"header count above total", 10, 20, 1, ConnClose, 1, "0 10 1 - 1"},
		{"aborted", 0, 0, 12, ConnAborted, 5, "- - 12 X 5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Record{BytesOut: tc.out, HeaderBytesOut: tc.hdr, BytesIn: tc.in, ConnState: tc.state, Requests: tc.requests}
			if got := render(t, "%b %O %I %X %k", r, EscapeDefault); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestEscaping(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	tests := []struct {
		name string
		in   string
		esc  Escaping
		want string
	}{
		{"plain", "abc/~ ", EscapeDefault, "abc/~ "},
		{"quote and backslash", `a"b\c`, EscapeDefault, `a\"b\\c`},
		{"short escapes", "\a\b\t\n\v\f\r", EscapeDefault, `\a\b\t\n\v\f\r`},
		{"other controls upper hex", "\x00\x01\x1b\x7f", EscapeDefault, `\x00\x01\x1B\x7F`},
		{"non-ASCII bytes", "é\xff", EscapeDefault, `\xC3\xA9\xFF`},
		{"json quote and backslash", `a"b\c`, EscapeJSON, `a\"b\\c`},
		{"json short escapes", "\a\b\t\n\v\f\r", EscapeJSON, `\a\b\t\n\v\f\r`},
		{"json controls", "\x00\x1b", EscapeJSON, `\u0000\u001B`},
		{"json keeps DEL and non-ASCII", "\x7fé", EscapeJSON, "\x7fé"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(appendEscaped(nil, tc.in, tc.esc)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("every byte, default", func(t *testing.T) {
		got := string(appendEscaped(nil, string(all), EscapeDefault))
		for i := 0; i < len(got); i++ {
			if c := got[i]; c < ' ' || c > '~' {
				t.Fatalf("unescaped byte %#x in output", c)
			}
		}
		// Every byte but the 95 printable ASCII ones and the 7 with a letter
		// escape becomes \xHH.
		if n := strings.Count(got, `\x`); n != 256-95-7 {
			t.Fatalf("%d \\x escapes", n)
		}
	})
	t.Run("directives escape, addresses do not", func(t *testing.T) {
		r := sampleRecord()
		r.Host = "h\"x"
		r.OrigTarget = "/\x01"
		r.Method = "G\"T" // methods are known tokens in lighttpd; not escaped
		got := render(t, "%V %r %m", r, EscapeDefault)
		if want := `h\"x G"T /\x01 HTTP/1.1 G"T`; got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
		if got := render(t, "%r", r, EscapeJSON); got != `G"T /\u0001 HTTP/1.1` {
			t.Fatalf("json: got %q", got)
		}
	})
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name, format string
		want         []string
	}{
		{"empty", "", []string{"parsing accesslog-definition failed: "}},
		{"trailing percent", "abc %", []string{"% must be followed by a format-specifier", "parsing accesslog-definition failed: abc %"}},
		{"unterminated brace", "%{Referer", []string{"%{...} must contain string and %{ must be terminated by }", "parsing accesslog-definition failed: %{Referer"}},
		{"empty brace", "%{}i", []string{"%{...} must contain string and %{ must be terminated by }", "parsing accesslog-definition failed: %{}i"}},
		{"unknown directive", "%Z", []string{"% or %{...} must be followed by a valid format-specifier", "parsing accesslog-definition failed: %Z"}},
		{"brace at end", "%{x}", []string{"% or %{...} must be followed by a valid format-specifier", "parsing accesslog-definition failed: %{x}"}},
		{"modifier at end", "%>", []string{"% or %{...} must be followed by a valid format-specifier", "parsing accesslog-definition failed: %>"}},
		{"too many fields", strings.Repeat("%s ", 64), []string{"too many fields (>= 127) in accesslog.format", "parsing accesslog-definition failed: " + strings.Repeat("%s ", 64)}},
		{"two strftime timestamps", "%t %{%Y}t", []string{"you may not use strftime timestamp format %{}t twice in the same access log: %t %{%Y}t"}},
		{"sec counts as strftime", "%{sec}t %t", []string{"you may not use strftime timestamp format %{}t twice in the same access log: %{sec}t %t"}},
		{"begin:sec counts too", "%{begin:sec}t %{sec}t", []string{"you may not use strftime timestamp format %{}t twice in the same access log: %{begin:sec}t %{sec}t"}},
		{"constant time format", "%{msecs}t", []string{"constant string for time format (misspelled token? or missing '%'): %{msecs}t"}},
		{"begin: without format", "%{begin:}t", []string{"constant string for time format (misspelled token? or missing '%'): %{begin:}t"}},
		{"bad time unit", "%{m}T", []string{"invalid time unit in %{UNIT}T: %{m}T"}},
		{"bad port", "%{peer}p", []string{"invalid format %{canonical,local,remote}p: %{peer}p"}},
		{"message quotes processed format", `%{x}T\t`, []string{"invalid time unit in %{UNIT}T: %{x}T\t"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Compile(tc.format)
			if err == nil {
				t.Fatalf("compiled to %d fields", len(f.fields))
			}
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v", err, err)
			}
			if strings.Join(ce.Messages, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("messages\n%q\nwant\n%q", ce.Messages, tc.want)
			}
		})
	}
}

func TestFieldLimit(t *testing.T) {
	// 126 directives and one merged literal run: within lighttpd's limit,
	// because "%%" and "%l" merge into literals.
	tests := []struct {
		name   string
		format string
		ok     bool
	}{
		{"127 fields", strings.Repeat("%s-", 63) + "%s", true},
		{"128 fields", strings.Repeat("%s-", 64), false},
		{"literals merge", strings.Repeat("%%%l", 500), true},
		{"many times allowed", "%{msec}t %{usec}t %{begin:nsec}t %{msec_frac}t %t", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.format)
			if (err == nil) != tc.ok {
				t.Fatalf("Compile error %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestCookieValue(t *testing.T) {
	tests := []struct {
		header, name, want string
		ok                 bool
	}{
		{"a=1", "a", "1", true},
		{"a=1;b=2", "b", "2", true},
		{"  a=1 ;\tb=2\t", "b", "2", true},
		{"ab=1; a=2", "a", "2", true},
		{"a=1 b=2; c=3", "c", "", false}, // a blank ends the scan in lighttpd
		{"a=x y ; b", "a", "x y", true},
		{"a=  ;b=1", "a", " ", true},
		{"a=", "a", "", false},
		{"a", "a", "", false},
		{"", "a", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.header+"/"+tc.name, func(t *testing.T) {
			got, ok := cookieValue(tc.header, tc.name)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("got %q %v, want %q %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestTimestampCacheAndFlush(t *testing.T) {
	f, err := Compile("%t %s")
	if err != nil {
		t.Fatal(err)
	}
	r := sampleRecord()
	steps := []struct {
		name      string
		end       time.Time
		want      string
		wantFlush bool
	}{
		{"first line of a second flushes", sampleEnd, "[25/Nov/2026:19:05:37 -0700] 200", true},
		{"same second uses cache", sampleEnd.Add(100 * time.Millisecond), "[25/Nov/2026:19:05:37 -0700] 200", false},
		{"next second flushes", sampleEnd.Add(time.Second), "[25/Nov/2026:19:05:38 -0700] 200", true},
		{"other zone same second is reformatted", sampleEnd.Add(time.Second).UTC(), "[26/Nov/2026:02:05:38 +0000] 200", true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r.End = st.end
			out, flush := f.Append(nil, r, EscapeDefault)
			if string(out) != st.want || flush != st.wantFlush {
				t.Fatalf("got %q flush=%v, want %q flush=%v", out, flush, st.want, st.wantFlush)
			}
		})
	}
	t.Run("formats without a cached timestamp never flush", func(t *testing.T) {
		g, err := Compile("%{begin:%T}t %{msec}t %s")
		if err != nil {
			t.Fatal(err)
		}
		if _, flush := g.Append(nil, r, EscapeDefault); flush {
			t.Fatal("flush reported without a cached strftime timestamp")
		}
	})
}

func TestSplitServerToken(t *testing.T) {
	tests := []struct {
		token      string
		unix       bool
		addr, port string
	}{
		{"127.0.0.1:8080", false, "127.0.0.1", "8080"},
		{"[::1]:443", false, "[::1]", "443"},
		{"[::1]", false, "[::1]", ""},
		{"example.org:80", false, "example.org", "80"},
		{"/run/lighttpd.sock", true, "/run/lighttpd.sock", ""},
		{"/weird:path", false, "/weird:path", ""},
		{"host", false, "host", ""},
	}
	for _, tc := range tests {
		t.Run(tc.token, func(t *testing.T) {
			a, p := SplitServerToken(tc.token, tc.unix)
			if a != tc.addr || p != tc.port {
				t.Fatalf("got %q %q, want %q %q", a, p, tc.addr, tc.port)
			}
		})
	}
}

func TestParseEscaping(t *testing.T) {
	for in, want := range map[string]Escaping{"json": EscapeJSON, "default": EscapeDefault, "JSON": EscapeDefault, "": EscapeDefault} {
		if got := ParseEscaping(in); got != want {
			t.Errorf("ParseEscaping(%q) = %v, want %v", in, got, want)
		}
	}
}

// benchLookup answers like a server's header table would (a few
// case-insensitive compares), so the benchmark measures Append, not maps.
type benchLookup struct{}

func (benchLookup) RequestHeader(n string) string {
	switch {
	case strings.EqualFold(n, "Referer"):
		return "http://example.org/start"
	case strings.EqualFold(n, "User-Agent"):
		return `Mozilla/5.0 (X11; Linux x86_64) "quoted"`
	case strings.EqualFold(n, "Cookie"):
		return "a=1; c=session-id"
	}
	return ""
}
func (benchLookup) ResponseHeader(string) string { return "" }
func (benchLookup) Env(n string) string {
	if n == "REMOTE_USER" {
		return "alice"
	}
	return ""
}

const benchFormat = `%h %V %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D %{c}C %X`

func TestAppendDoesNotAllocate(t *testing.T) {
	f, err := Compile(benchFormat)
	if err != nil {
		t.Fatal(err)
	}
	r := sampleRecord()
	buf := make([]byte, 0, 512)
	f.Append(buf, r, EscapeDefault) // fill the timestamp cache
	if n := testing.AllocsPerRun(100, func() {
		buf, _ = f.Append(buf[:0], r, EscapeDefault)
	}); n != 0 {
		t.Fatalf("%v allocations per line", n)
	}
}

func BenchmarkAppend(b *testing.B) {
	for _, bc := range []struct{ name, format string }{
		{"default", Default},
		{"extended", benchFormat},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f, err := Compile(bc.format)
			if err != nil {
				b.Fatal(err)
			}
			r := sampleRecord()
			r.Lookup = benchLookup{}
			buf := make([]byte, 0, 512)
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = f.Append(buf[:0], r, EscapeDefault)
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(benchFormat); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{Default, benchFormat, "%", "%{", "%{}", "%{x}", "%<", "%>%", "%{begin:%Y}t",
		"%{%Y %E %O %-_0^#10q}t", `\`, `a\tb\`, "%{sec}t%t", "%{ms}T%D%{remote}p%%%l%P", "%{x}%%{y}l"} {
		f.Add(s)
	}
	r := sampleRecord()
	f.Fuzz(func(t *testing.T, s string) {
		fm, err := Compile(s)
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) || len(ce.Messages) == 0 {
				t.Fatalf("error %v is not a CompileError with messages", err)
			}
			return
		}
		if len(fm.fields) > maxFields {
			t.Fatalf("%d fields", len(fm.fields))
		}
		for _, esc := range []Escaping{EscapeDefault, EscapeJSON} {
			fm.Append(nil, r, esc)
		}
	})
}
