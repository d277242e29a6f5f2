package testconf

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// lineEqual decides whether a golighty header line stands for the
// lighttpd one (values that depend on the second the response was made);
// nil means byte equality.
type lineEqual func(g, l string) bool

// dateLine matches a Date header line; the clocks of the two servers may
// tick apart.
var dateLine = regexp.MustCompile(`\r\nDate: [^\r]*`)

// splitResponse cuts a raw response into its status line, header lines
// without Date, and the rest (the body, and any pipelined responses with
// their Date lines removed).
func splitResponse(raw []byte) (status string, headers []string, body []byte) {
	head, body, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	body = dateLine.ReplaceAll(body, nil)
	lines := strings.Split(string(head), "\r\n")
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, "Date: ") {
			headers = append(headers, l)
		}
	}
	return lines[0], headers, body
}

// compareSideBySide sends every request to both servers and requires the
// same status line, the same header lines in the same order (Date aside,
// and lines matching skip dropped from both) and the same body bytes.
func compareSideBySide(t *testing.T, g, l *server, reqs []string, same lineEqual, skip func(line string) bool) {
	t.Helper()
	for i, req := range reqs {
		name := strings.NewReplacer("\r", "", "\n", "|").Replace(req)
		if len(name) > 70 {
			name = name[:70]
		}
		t.Run(name, func(t *testing.T) {
			head := strings.HasPrefix(req, "HEAD ")
			ge, le := g.raw(t, req, head), l.raw(t, req, head)
			gs, gh, gb := splitResponse(ge.raw)
			ls, lh, lb := splitResponse(le.raw)
			if gs != ls {
				t.Fatalf("#%d status line: golighty %q, lighttpd %q\ngolighty: %q\nlighttpd: %q", i, gs, ls, ge.raw, le.raw)
			}
			filter := func(h []string) []string {
				var out []string
				for _, line := range h {
					if skip == nil || !skip(line) {
						out = append(out, line)
					}
				}
				return out
			}
			gf, lf := filter(gh), filter(lh)
			differ := len(gf) != len(lf)
			for j := 0; !differ && j < len(gf); j++ {
				differ = gf[j] != lf[j] && (same == nil || !same(gf[j], lf[j])) && !closeExpires(gf[j], lf[j])
			}
			if differ {
				t.Errorf("#%d headers differ:\ngolighty:\n%s\nlighttpd:\n%s", i, strings.Join(gf, "\n"), strings.Join(lf, "\n"))
			}
			if !bytes.Equal(gb, lb) {
				t.Errorf("#%d body differs:\ngolighty %q\nlighttpd %q", i, gb, lb)
			}
		})
	}
}

// closeExpires accepts Expires lines up to 2 s apart: the two servers
// answer in different seconds now and then.
func closeExpires(a, b string) bool {
	const p = "Expires: "
	if !strings.HasPrefix(a, p) || !strings.HasPrefix(b, p) {
		return false
	}
	ta, err1 := http.ParseTime(a[len(p):])
	tb, err2 := http.ParseTime(b[len(p):])
	d := ta.Sub(tb)
	return err1 == nil && err2 == nil && d <= 2*time.Second && d >= -2*time.Second
}

// writeTree creates files (path -> content) below root.
func writeTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const setenvConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = (@MODULES@)
index-file.names = ("index.html")
url.access-deny = (".inc")
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html", "" => "application/octet-stream")
setenv.add-request-header = ("X-Req" => "r")
setenv.add-response-header = ("X-Test" => "yes", "X-Multi" => "a,
	b")
setenv.set-response-header = ("X-Set" => "s")
$HTTP["url"] =^ "/dup/" {
	setenv.add-response-header = ("Content-Type" => "text/x-second", "X-Test" => "dup")
}
$HTTP["url"] =^ "/unset/" {
	setenv.set-response-header = ("Content-Type" => "", "X-Set" => "")
}
# Modules after mod_setenv see the added request header in conditions.
$REQUEST_HEADER["X-Req"] == "r" {
	$HTTP["url"] =^ "/seen/" { url.access-deny = ("") }
}
# An error handler restarts the request: the headers stay those captured
# for the original URL.
$HTTP["url"] =^ "/eh/" {
	server.error-handler-404 = "/handler/h.txt"
	setenv.add-response-header = ("X-Orig" => "1")
}
$HTTP["url"] =^ "/handler/" { setenv.add-response-header = ("X-Handler" => "1") }
$HTTP["url"] =^ "/replace/" {
	setenv.set-response-header = ("Content-Type" => "text/x-replaced")
	setenv.add-response-header = ()
}
`

var setenvRequests = []string{
	"GET /a.txt HTTP/1.0\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"HEAD /a.txt HTTP/1.0\r\n\r\n",
	"GET /missing HTTP/1.0\r\n\r\n",
	"HEAD /missing HTTP/1.0\r\n\r\n",
	"GET /x.inc HTTP/1.0\r\n\r\n",
	"GET /dir HTTP/1.0\r\n\r\n",
	"GET /dir/ HTTP/1.0\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=50-60\r\nConnection: close\r\n\r\n",
	"POST /a.txt HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
	"DELETE /a.txt HTTP/1.0\r\n\r\n",
	"GET /dup/d.txt HTTP/1.0\r\n\r\n",
	"GET /dup/missing HTTP/1.0\r\n\r\n",
	"GET /unset/u.txt HTTP/1.0\r\n\r\n",
	"GET /unset/missing HTTP/1.0\r\n\r\n",
	"GET /replace/r.txt HTTP/1.0\r\n\r\n",
	"GET /seen/s.txt HTTP/1.0\r\n\r\n",
	"GET /eh/missing HTTP/1.0\r\n\r\n",
	"GET /handler/h.txt HTTP/1.0\r\n\r\n",
	"GET /seen/s.txt HTTP/1.0\r\nX-Req: client\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\n\r\n", // 400 before uri_clean: no setenv headers
	// Keep-alive: each request on the connection gets its own capture.
	"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /dup/missing HTTP/1.1\r\nHost: x\r\n\r\nGET /unset/u.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
}

func TestSideBySideSetenv(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	for _, order := range []struct{ name, modules string }{
		{"setenv first", `"mod_setenv", "mod_access"`},
		{"access first", `"mod_access", "mod_setenv"`},
	} {
		t.Run(order.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, map[string]string{
				"www/a.txt":          "abcdefghij\n",
				"www/x.inc":          "inc",
				"www/dir/index.html": "<p>i</p>\n",
				"www/dup/d.txt":      "d",
				"www/unset/u.txt":    "u",
				"www/replace/r.txt":  "r",
			})
			conf := strings.NewReplacer("@ROOT@", root, "@MODULES@", order.modules).Replace(setenvConf)
			g := startServer(t, "golighty", golightyBin, root, conf)
			l := startServer(t, "lighttpd", lighttpd, root, conf)
			compareSideBySide(t, g, l, setenvRequests, nil, nil)
		})
	}
}
