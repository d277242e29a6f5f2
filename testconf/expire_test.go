package testconf

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

const expireConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_setenv", "mod_expire")
index-file.names = ("index.html")
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html", ".css" => "text/css", ".js" => "text/javascript", ".png" => "image/png")
setenv.add-response-header = ("X-Test" => "yes")
expire.url = ("/static/" => "access plus 1 days", "/mod/" => "modification plus 1 hours", "/past/" => "modification 1 seconds", "/neg/" => "access -10 seconds")
expire.mimetypes = ("text/html" => "access 10 minutes", "image/*" => "access 1 years 2 months", "application/javascript" => "access 7 seconds", "" => "now 3 seconds")
$HTTP["url"] =^ "/cc/" { setenv.set-response-header = ("Cache-Control" => "private") }
$HTTP["url"] =^ "/none/" { expire.url = () expire.mimetypes = () }
`

var expireRequests = []string{
	"GET /static/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"GET /static/a.txt HTTP/1.0\r\n\r\n",
	"HEAD /static/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"GET /mod/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"GET /mod/a.txt HTTP/1.0\r\n\r\n",
	"GET /past/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"GET /neg/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"GET /p.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"GET /p.png HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"GET /p.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"GET /p.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"GET /p.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"GET /dir/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"GET /dir HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"POST /p.html HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
	"GET /p.html HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\nConnection: close\r\n\r\n",
	"GET /p.html HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\nConnection: close\r\n\r\n",
	"GET /cc/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"GET /none/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
}

// expiryClose accepts max-age and Expires values up to two seconds apart:
// the two servers answer in different seconds now and then. Every other
// line must match exactly.
func expiryClose(g, l string) bool {
	num := func(line string) (int64, bool) {
		switch {
		case strings.HasPrefix(line, "Cache-Control: max-age="):
			n, err := strconv.ParseInt(strings.TrimPrefix(line, "Cache-Control: max-age="), 10, 64)
			return n, err == nil
		case strings.HasPrefix(line, "Expires: "):
			e, err := time.Parse(time.RFC1123, strings.TrimPrefix(line, "Expires: "))
			return e.Unix(), err == nil && strings.HasSuffix(line, " GMT")
		}
		return 0, false
	}
	gn, ok1 := num(g)
	ln, ok2 := num(l)
	prefix := func(s string) string { return s[:strings.IndexAny(s, "=:")] }
	return ok1 && ok2 && prefix(g) == prefix(l) && gn-ln <= 2 && ln-gn <= 2
}

func TestSideBySideExpire(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"www/static/a.txt":   "static",
		"www/mod/a.txt":      "mod",
		"www/past/a.txt":     "past",
		"www/neg/a.txt":      "neg",
		"www/p.html":         "<p>p</p>",
		"www/p.png":          "png",
		"www/p.js":           "js",
		"www/p.css":          "css",
		"www/p.bin":          "bin",
		"www/dir/index.html": "index",
		"www/cc/a.txt":       "cc",
		"www/none/a.txt":     "none",
	})
	conf := strings.ReplaceAll(expireConf, "@ROOT@", root)
	g := startServer(t, "golighty", golightyBin, root, conf)
	l := startServer(t, "lighttpd", lighttpd, root, conf)
	compareSideBySide(t, g, l, expireRequests, expiryClose, nil)
}
