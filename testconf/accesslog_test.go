package testconf

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// alFormat prints every directive mod_accesslog has, separated by '|' (the
// requests below contain none). Fields listed in alVolatile depend on the
// clock or the connection and are only checked for shape.
const alFormat = `%a|%A|%{remote}p|%h|%l|%u|%t|%r|%s|%b|%B|%O|%I|%m|%U|%q|%H|%v|%V|%f|%k|%X|` +
	`%{X-A}i|%{User-Agent}i|%{Content-Type}o|%{Content-Range}o|%{X_E}e|%%|%D|%T|%{c}C|%C|%{msec}t|%{msec_frac}t|%p`

// alVolatile maps field indexes of alFormat that differ by nature to a
// description: the client port, the clock, durations.
var alVolatile = map[int]string{2: "remote port", 6: "%t", 28: "%D", 29: "%T", 32: "%{msec}t", 33: "%{msec_frac}t"}

// alPortField is the index of %p, each server's own listening port.
const alPortField = 34

const alConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_access", "mod_accesslog")
url.access-deny = (".inc")
mimetype.assign = (".txt" => "text/plain")
accesslog.filename = "@LOG@/access.log"
accesslog.format = "` + alFormat + `"
$HTTP["url"] =^ "/sub/" {
	accesslog.filename = "@LOG@/sub.log"
	accesslog.escaping = "json"
	accesslog.format = "%h %V %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\""
}
$HTTP["url"] =^ "/quiet/" {
	accesslog.filename = ""
}
`

// alRequests are sent to both servers, each on a new connection.
var alRequests = []string{
	"GET /a.txt?x=1 HTTP/1.0\r\nHost: Ex.COM\r\nX-A: xa\r\nUser-Agent: ua \"q\"\r\nCookie: c=cv; d=2\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
	"HEAD /a.txt HTTP/1.0\r\n\r\n",
	"GET /missing HTTP/1.0\r\n\r\n",
	"GET /x.inc HTTP/1.0\r\n\r\n",
	"GET /d%20sp/x.txt HTTP/1.0\r\n\r\n",
	"GET /dir HTTP/1.0\r\n\r\n",
	"GET /a.txt HTTP/1.0\r\nRange: bytes=2-5\r\n\r\n",
	"GET /a.txt HTTP/1.0\r\nRange: bytes=100-200\r\n\r\n",
	"GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	// Two requests on one connection: %k counts, %X shows keep-alive.
	"GET /a.txt HTTP/1.1\r\nHost: h\r\n\r\nGET /a.txt?second HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
	"POST /a.txt HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello",
	"GET /a\x01 HTTP/1.0\r\n\r\n",
	"FOO /a.txt HTTP/1.0\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nConnection: close\r\n\r\n",
	"GET /\xe9t\xe9 HTTP/1.0\r\nUser-Agent: tab\there\r\n\r\n",
	"GET /sub/b.txt HTTP/1.0\r\nUser-Agent: \xe9\"json\r\n\r\n",
	"GET /quiet/q.txt HTTP/1.0\r\n\r\n",
	// A body over 16 KiB, which golighty's engine sends after the request
	// handler returned (h1.ResponseWriter.DeferFile): its line is written
	// when the file is out, with the same fields; then a pipelined request
	// behind one, and a range of it.
	"GET /big.txt HTTP/1.0\r\n\r\n",
	"GET /big.txt HTTP/1.1\r\nHost: h\r\n\r\nGET /a.txt?after-big HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
	"GET /big.txt HTTP/1.0\r\nRange: bytes=1000-90000\r\n\r\n",
}

func alDocroot(t *testing.T) string {
	root := t.TempDir()
	for rel, content := range map[string]string{
		"www/a.txt":       "abcdefghijklmnopqrstuvwxyz\n",
		"www/d sp/x.txt":  "space\n",
		"www/dir/f.txt":   "f\n",
		"www/x.inc":       "inc",
		"www/sub/b.txt":   "sub\n",
		"www/quiet/q.txt": "quiet\n",
		"www/big.txt":     strings.Repeat("0123456789abcdef", 100<<10/16),
	} {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// alLines makes s write out its buffered access logs (SIGHUP flushes and
// reopens them in both servers) and waits until file has n lines.
func alLines(t *testing.T, s *server, file string, n int) []string {
	t.Helper()
	var lines []string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		b, err := os.ReadFile(file)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		lines = nil
		if s := strings.TrimSuffix(string(b), "\n"); s != "" {
			lines = strings.Split(s, "\n")
		}
		if len(lines) >= n {
			return lines
		}
	}
	t.Fatalf("%s: %s has %d lines, want %d: %q\nserver output: %s", s.name, file, len(lines), n, lines, s.log.String())
	return nil
}

func TestAccessLogMatchesLighttpd(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	root := alDocroot(t)
	conf := strings.ReplaceAll(alConf, "@ROOT@", root)
	logs := map[string]string{}
	servers := map[string]*server{}
	for name, bin := range map[string]string{"golighty": golightyBin, "lighttpd": lighttpd} {
		dir := t.TempDir()
		logs[name] = dir
		servers[name] = startServer(t, name, bin, dir, strings.ReplaceAll(conf, "@LOG@", dir))
	}
	g, l := servers["golighty"], servers["lighttpd"]
	for _, req := range alRequests {
		g.raw(t, req, strings.HasPrefix(req, "HEAD "))
		l.raw(t, req, strings.HasPrefix(req, "HEAD "))
	}
	// One line per request, two for each pipelined pair, none for /quiet/
	// and /sub/ (its own log).
	n := len(alRequests)
	gl := alLines(t, g, filepath.Join(logs["golighty"], "access.log"), n)
	ll := alLines(t, l, filepath.Join(logs["lighttpd"], "access.log"), n)
	if len(gl) != len(ll) {
		t.Fatalf("golighty logged %d lines, lighttpd %d\ngolighty: %q\nlighttpd: %q", len(gl), len(ll), gl, ll)
	}
	gPort := g.addr[strings.LastIndexByte(g.addr, ':')+1:]
	lPort := l.addr[strings.LastIndexByte(l.addr, ':')+1:]
	for i := range ll {
		reqLine := strings.SplitN(ll[i], "|", 9)[7]
		t.Run(reqLine, func(t *testing.T) {
			gf, lf := strings.Split(gl[i], "|"), strings.Split(ll[i], "|")
			if len(lf) == len(gf)-1 && strings.Contains(ll[i], "000}") {
				// lighttpd 1.4.69 defect: when the milliseconds round up to
				// a whole second, %{msec}t prints "...000}" and swallows
				// the separator before %{msec_frac}t.
				t.Skipf("lighttpd's %%{msec}t defect at a second boundary: %q", ll[i])
			}
			if len(gf) != len(lf) {
				t.Fatalf("field count: golighty %d, lighttpd %d\ngolighty: %q\nlighttpd: %q", len(gf), len(lf), gl[i], ll[i])
			}
			for k := range lf {
				what, volatile := alVolatile[k]
				switch {
				case volatile:
					if (gf[k] == "") != (lf[k] == "") {
						t.Errorf("field %d (%s): golighty %q, lighttpd %q", k, what, gf[k], lf[k])
					}
				case k == alPortField:
					if gf[k] != gPort || lf[k] != lPort {
						t.Errorf("%%p: golighty %q (listening on %s), lighttpd %q (on %s)", gf[k], gPort, lf[k], lPort)
					}
				case gf[k] != lf[k]:
					t.Errorf("field %d: golighty %q, lighttpd %q\ngolighty: %s\nlighttpd: %s", k, gf[k], lf[k], gl[i], ll[i])
				}
			}
		})
	}
	t.Run("per-condition log with json escaping", func(t *testing.T) {
		gs := alLines(t, g, filepath.Join(logs["golighty"], "sub.log"), 1)
		ls := alLines(t, l, filepath.Join(logs["lighttpd"], "sub.log"), 1)
		strip := func(s string) string { // drop the [time] field
			if i, j := strings.IndexByte(s, '['), strings.IndexByte(s, ']'); i >= 0 && j > i {
				return s[:i] + s[j+1:]
			}
			return s
		}
		if len(gs) != len(ls) || strip(gs[0]) != strip(ls[0]) {
			t.Errorf("sub.log differs:\ngolighty %q\nlighttpd %q", gs, ls)
		}
	})
}
