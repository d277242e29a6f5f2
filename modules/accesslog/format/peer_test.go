package format

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const lighttpdBin = "/usr/sbin/lighttpd"

// peerFormat uses many directives separated by '|'; the requests below
// contain no '|'. Fields marked in peerVolatile differ by nature (clock).
const peerFormat = "%a|%A|%p|%{remote}p|%h|%l|%u|%r|%s|%>s|%b|%B|%O|%I|%m|%U|%q|%H|%v|%V|%f|%k|%X|" +
	"%{X-A}i|%{User-Agent}i|%{Content-Type}o|%{X-Resp}o|%{X_E}e|%{NOPE}e|%%|%C|%{c}C|%{d}C|%{zz}C|%P|%{x}l|" +
	"%t|%{msec}t|%D|%{ms}T"

var peerVolatile = map[int]bool{36: true, 37: true, 38: true, 39: true}

// closeInTime compares a clock-dependent field loosely: both must parse
// (so the shape matches) and lie within two seconds of each other.
func closeInTime(k int, lighttpd, ours string) error {
	var a, b int64
	switch k {
	case 36:
		ta, err1 := time.Parse("[02/Jan/2006:15:04:05 -0700]", lighttpd)
		tb, err2 := time.Parse("[02/Jan/2006:15:04:05 -0700]", ours)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("unparsable: %v %v", err1, err2)
		}
		a, b = ta.UnixMilli(), tb.UnixMilli()
	default:
		var err1, err2 error
		a, err1 = strconv.ParseInt(lighttpd, 10, 64)
		b, err2 = strconv.ParseInt(ours, 10, 64)
		if err1 != nil || err2 != nil || a < 0 || b < 0 {
			return fmt.Errorf("not non-negative integers")
		}
		if k == 38 { // microseconds
			a, b = a/1000, b/1000
		}
	}
	if d := a - b; d > 2000 || d < -2000 {
		return fmt.Errorf("%d ms apart", d)
	}
	return nil
}

type peerRequest struct {
	name     string
	raw      string // request bytes
	head     bool
	method   string // "" when lighttpd cannot parse the request line
	target   string // origin target as sent
	path     string // %U
	query    string
	proto    string
	host     string
	reqHdr   map[string]string
	requests int
	state    ConnState
}

// peerLookup serves the headers of one exchange.
type peerLookup struct{ req, resp map[string]string }

func (p peerLookup) RequestHeader(n string) string  { return fold(p.req, n) }
func (p peerLookup) ResponseHeader(n string) string { return fold(p.resp, n) }

// Env is empty: lighttpd applies setenv.add-environment only when a
// dynamic handler (CGI, FastCGI, ...) builds its environment, so a static
// request logs "-" for %{X_E}e.
func (p peerLookup) Env(string) string { return "" }

func requirePeer(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(lighttpdBin); err != nil {
		if os.Getenv("GOLIGHTY_REQUIRE_PEERS") == "1" {
			t.Fatalf("lighttpd required: %v", err)
		}
		t.Skipf("lighttpd not installed: %v", err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// readResponse reads one response and returns status, header and total
// byte counts and the response headers.
func readResponse(t *testing.T, br *bufio.Reader, head bool) (status int, hdrLen, total int64, hdr map[string]string) {
	t.Helper()
	hdr = map[string]string{}
	for first := true; ; first = false {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading response header: %v", err)
		}
		hdrLen += int64(len(line))
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		if first {
			f := strings.Fields(line)
			status, _ = strconv.Atoi(f[1])
			continue
		}
		k, v, _ := strings.Cut(line, ":")
		hdr[strings.ToLower(k)] = strings.TrimSpace(v)
	}
	total = hdrLen
	if !head {
		n, err := strconv.ParseInt(hdr["content-length"], 10, 64)
		if err != nil {
			t.Fatalf("response without Content-Length: %v", hdr)
		}
		if _, err := io.CopyN(io.Discard, br, n); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	return status, hdrLen, total, hdr
}

func TestMatchesLighttpd(t *testing.T) {
	requirePeer(t)
	dir := t.TempDir()
	docroot := filepath.Join(dir, "www")
	if err := os.Mkdir(docroot, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"a.txt": "hello\n", "a b.txt": "spaced\n"} {
		if err := os.WriteFile(filepath.Join(docroot, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logPath := filepath.Join(dir, "access.log")
	port := freePort(t)
	conf := fmt.Sprintf(`server.document-root = %q
server.bind = "127.0.0.1"
server.port = %d
server.errorlog = %q
server.modules = ("mod_accesslog", "mod_setenv")
mimetype.assign = (".txt" => "text/plain")
setenv.add-environment = ("X_E" => "env-val")
setenv.add-response-header = ("X-Resp" => "r\"q")
accesslog.filename = %q
accesslog.format = %q
`, docroot, port, filepath.Join(dir, "error.log"), logPath, peerFormat)
	confPath := filepath.Join(dir, "lighttpd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(lighttpdBin, "-D", "-f", confPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	defer stop()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lighttpd did not start: %v\n%s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	ua := "ua \"q\" \xc3\xa9\\"
	// Connections: each is a list of requests sent in turn on one socket.
	conns := [][]peerRequest{
		{
			{name: "keep-alive GET with headers and cookies",
				raw:    "GET /a.txt?x=1&y=%22 HTTP/1.1\r\nHost: Ex.COM\r\nUser-Agent: " + ua + "\r\nX-A: xa\tz\r\nCookie: c=cv; d=2\r\n\r\n",
				method: "GET", target: "/a.txt?x=1&y=%22", path: "/a.txt", query: "x=1&y=%22", proto: "HTTP/1.1", host: "ex.com",
				reqHdr: map[string]string{"user-agent": ua, "x-a": "xa\tz", "cookie": "c=cv; d=2", "host": "Ex.COM"},
				state:  ConnKeepAlive},
			{name: "second request, HEAD, closing", head: true,
				raw:    "HEAD /a.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
				method: "HEAD", target: "/a.txt", path: "/a.txt", proto: "HTTP/1.1", host: "h",
				reqHdr: map[string]string{"host": "h", "connection": "close"}, requests: 1, state: ConnClose},
		},
		{{name: "404 HTTP/1.0", raw: "GET /nope HTTP/1.0\r\n\r\n", method: "GET", target: "/nope", path: "/nope", proto: "HTTP/1.0"}},
		{{name: "encoded space", raw: "GET /a%20b.txt HTTP/1.0\r\n\r\n", method: "GET", target: "/a%20b.txt", path: "/a%20b.txt", proto: "HTTP/1.0"}},
		{{name: "unknown method 501", raw: "FOO /x HTTP/1.0\r\n\r\n", proto: "HTTP/1.0"}},
	}
	f, err := Compile(peerFormat)
	if err != nil {
		t.Fatal(err)
	}
	type expectation struct {
		name string
		line string
	}
	var want []expectation
	for _, reqs := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		for _, pr := range reqs {
			start := time.Now()
			if _, err := io.WriteString(c, pr.raw); err != nil {
				t.Fatal(err)
			}
			status, hdrLen, total, respHdr := readResponse(t, br, pr.head)
			filename := "" // lighttpd logs "-" for %f unless a file was found
			if status == 200 {
				filename = docroot + strings.ReplaceAll(pr.path, "%20", " ")
			}
			rec := &Record{
				RemoteAddr: "127.0.0.1", RemotePort: c.LocalAddr().(*net.TCPAddr).Port,
				LocalAddr: "127.0.0.1", LocalPort: strconv.Itoa(port),
				Start: start, End: time.Now(),
				Method: pr.method, OrigTarget: pr.target, Target: pr.path, Query: pr.query, Protocol: pr.proto,
				Status:  status,
				BytesIn: int64(len(pr.raw)), BytesOut: total, HeaderBytesOut: hdrLen,
				ServerName: pr.host, Host: pr.host, Filename: filename,
				Requests: pr.requests, ConnState: pr.state,
				Lookup: peerLookup{req: pr.reqHdr, resp: respHdr},
			}
			line, _ := f.Append(nil, rec, EscapeDefault)
			want = append(want, expectation{pr.name, string(line)})
		}
		c.Close()
	}
	stop()
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatalf("%v\nlighttpd stderr:\n%s", err, stderr.String())
	}
	got := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("lighttpd logged %d lines, want %d:\n%s", len(got), len(want), data)
	}
	names := strings.Split(peerFormat, "|")
	for i, w := range want {
		t.Logf("lighttpd: %s", got[i])
		t.Run(w.name, func(t *testing.T) {
			g, e := strings.Split(got[i], "|"), strings.Split(w.line, "|")
			if len(g) != len(e) {
				t.Fatalf("field count %d vs ours %d\nlighttpd: %q\nours:     %q", len(g), len(e), got[i], w.line)
			}
			for k := range g {
				if peerVolatile[k] {
					if err := closeInTime(k, g[k], e[k]); err != nil {
						t.Errorf("field %d (%s): lighttpd %q, ours %q: %v", k, names[k], g[k], e[k], err)
					}
					continue
				}
				if g[k] != e[k] {
					t.Errorf("field %d (%s): lighttpd %q, ours %q", k, names[k], g[k], e[k])
				}
			}
		})
	}
}

// TestCompileErrorsMatchLighttpd runs "lighttpd -tt" (which validates module
// options) on each bad format and compares its mod_accesslog messages with
// CompileError.Messages.
func TestCompileErrorsMatchLighttpd(t *testing.T) {
	requirePeer(t)
	formats := []string{
		"", "abc %", "%{Referer", "%{}i", "%Z", "%{x}", "%>", strings.Repeat("%s ", 64),
		"%t %{%Y}t", "%{sec}t %t", "%{begin:sec}t %{sec}t", "%{msecs}t", "%{begin:}t",
		"%{m}T", "%{peer}p", `%{x}T\t`, `%{x}T\q`,
	}
	prefix := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d: \(mod_accesslog\.c\.\d+\) `)
	dir := t.TempDir()
	for i, format := range formats {
		t.Run(strconv.Quote(format), func(t *testing.T) {
			conf := filepath.Join(dir, "c"+strconv.Itoa(i)+".conf")
			// lighttpd config strings know only the \" escape; none of the
			// formats contains a double quote.
			text := "server.document-root = \"" + dir + "\"\nserver.modules = (\"mod_accesslog\")\n" +
				"accesslog.format = \"" + format + "\"\n"
			if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(lighttpdBin, "-tt", "-f", conf).CombinedOutput()
			if err == nil {
				t.Fatalf("lighttpd accepted %q", format)
			}
			var theirs []string
			for _, l := range strings.Split(string(out), "\n") {
				if m := prefix.FindString(l); m != "" {
					theirs = append(theirs, l[len(m):])
				}
			}
			_, cerr := Compile(format)
			ce, ok := cerr.(*CompileError)
			if !ok {
				t.Fatalf("Compile(%q) = %v, lighttpd says %q", format, cerr, theirs)
			}
			var ours []string
			for _, m := range ce.Messages {
				// The error log escapes control bytes.
				ours = append(ours, strings.ReplaceAll(m, "\t", `\t`))
			}
			if strings.Join(ours, "\n") != strings.Join(theirs, "\n") {
				t.Fatalf("messages differ\nlighttpd: %q\nours:     %q", theirs, ours)
			}
		})
	}
}

// TestAcceptedFormatsMatchLighttpd checks edge cases lighttpd accepts.
func TestAcceptedFormatsMatchLighttpd(t *testing.T) {
	requirePeer(t)
	formats := []string{
		// Bare %i and %o are left out: lighttpd 1.4.69 dies with SIGSEGV on
		// them at startup; Compile accepts them and prints "-".
		"%P", "%{x}%%{y}l", "%C%e", strings.Repeat("%s-", 63) + "%s", strings.Repeat("%%%l", 300),
		"%{msec}t %{usec}t %{begin:nsec}t %{msec_frac}t %t", "%{end:%Y}t", "%<s%>%%{x}h",
	}
	dir := t.TempDir()
	for i, format := range formats {
		t.Run(strconv.Quote(format), func(t *testing.T) {
			conf := filepath.Join(dir, "c"+strconv.Itoa(i)+".conf")
			text := "server.document-root = \"" + dir + "\"\nserver.modules = (\"mod_accesslog\")\n" +
				"accesslog.format = \"" + format + "\"\n"
			if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(lighttpdBin, "-tt", "-f", conf).CombinedOutput(); err != nil {
				t.Fatalf("lighttpd rejects %q: %v\n%s", format, err, out)
			}
			if _, err := Compile(format); err != nil {
				t.Fatalf("Compile(%q): %v", format, err)
			}
		})
	}
}
