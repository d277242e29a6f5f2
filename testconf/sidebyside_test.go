package testconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sideConf is served by both servers over the same docroot, so inodes,
// sizes and mtimes (hence ETags) are the same for both.
const sideConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_access", "mod_alias")
index-file.names = ("index.html")
url.access-deny = ("~", ".inc")
static-file.exclude-extensions = (".php")
alias.url = ("/al/" => "@ROOT@/aliased/", "/icons" => "@ROOT@/icons/")
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html", ".css" => "text/css", "" => "application/octet-stream")
$HTTP["url"] =^ "/private/" { url.access-deny = ("") }
$HTTP["host"] == "deny.example" { url.access-deny = (".txt") }
`

func sideDocroot(t *testing.T) string {
	root := t.TempDir()
	files := map[string]string{
		"www/a.txt":            "abcdefghijklmnopqrstuvwxyz\n",
		"www/empty.txt":        "",
		"www/index.html":       "<p>root index</p>\n",
		"www/dir/index.html":   "<p>dir index</p>\n",
		"www/noindex/file.css": "body{}\n",
		"www/d sp/x.txt":       "space\n",
		"www/x.inc":            "inc",
		"www/s.php":            "<?php echo 1;",
		"www/private/p.txt":    "private\n",
		"www/b.bin":            strings.Repeat("0123456789", 100),
		"www/~backup":          "tilde",
		"www/été.txt":          "utf8\n",
		"www/UPPER.TXT":        "upper\n",
		"aliased/f.txt":        "from alias\n",
		"icons/i.txt":          "icon\n",
	}
	for rel, content := range files {
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

// sideRequests are sent unchanged to both servers. "%H" stands for a Host
// header line. Good requests and hostile ones.
var sideRequests = []string{
	"GET /a.txt HTTP/1.0\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"HEAD /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"GET /empty.txt HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.0\r\n\r\n",
	"GET /dir/ HTTP/1.0\r\n\r\n",
	"GET /dir HTTP/1.0\r\n\r\n",
	"GET /dir?a=b%20c HTTP/1.0\r\n\r\n",
	"GET /d%20sp HTTP/1.0\r\n\r\n",
	"GET /d%20sp/x.txt HTTP/1.0\r\n\r\n",
	"GET /d sp/x.txt HTTP/1.0\r\n\r\n",
	"GET /noindex/ HTTP/1.0\r\n\r\n",
	"GET /missing HTTP/1.0\r\n\r\n",
	"GET /x.inc HTTP/1.0\r\n\r\n",
	"GET /~backup HTTP/1.0\r\n\r\n",
	"GET /s.php HTTP/1.0\r\n\r\n",
	"GET /private/p.txt HTTP/1.0\r\n\r\n",
	"GET /b.bin HTTP/1.0\r\n\r\n",
	"GET /al/f.txt HTTP/1.0\r\n\r\n",
	"GET /icons/i.txt HTTP/1.0\r\n\r\n",
	"GET /icons../etc/passwd HTTP/1.0\r\n\r\n",
	"GET /a.txt/extra/path HTTP/1.0\r\n\r\n",
	"GET /a.txt/ HTTP/1.0\r\n\r\n",
	"GET /%61.txt HTTP/1.0\r\n\r\n",
	"GET /./a.txt HTTP/1.0\r\n\r\n",
	"GET /dir/../a.txt HTTP/1.0\r\n\r\n",
	"GET /../../etc/passwd HTTP/1.0\r\n\r\n",
	"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.0\r\n\r\n",
	"GET /dir%2f..%2fa.txt HTTP/1.0\r\n\r\n",
	"GET /a.txt%00.html HTTP/1.0\r\n\r\n",
	"GET /%C0%AF HTTP/1.0\r\n\r\n",
	"GET /%c3%a9t%c3%a9.txt HTTP/1.0\r\n\r\n",
	"GET /upper.txt HTTP/1.0\r\n\r\n",
	"GET /a.txt?query=1 HTTP/1.0\r\n\r\n",
	"GET /a.txt#frag HTTP/1.0\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: deny.example\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: DENY.example\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: deny.example:80\r\nConnection: close\r\n\r\n",
	"GET http://x/a.txt HTTP/1.1\r\nConnection: close\r\n\r\n",
	"GET http://x HTTP/1.1\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: a_b.com\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: -a.com\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: 1.2.3\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: a:8x\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: example.com.\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
	"FOO / HTTP/1.1\r\nHost: x\r\n\r\n",
	"get / HTTP/1.1\r\nHost: x\r\n\r\n",
	"TRACE / HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
	"GET / HTTP/1.2\r\nHost: x\r\n\r\n",
	"GET /\r\n\r\n",
	"GET / FOO/1.0\r\n\r\n",
	"GET / HTTP/1.0\n\n",
	"\r\nGET / HTTP/1.0\r\n\r\n",
	"GET a.txt HTTP/1.0\r\n\r\n",
	"GET /a%01 HTTP/1.0\r\n\r\n",
	"GET /a.txt HTTP/1.0\r\nFoo : bar\r\n\r\n",
	"GET /a.txt HTTP/1.0\r\nNoColon\r\n\r\n",
	"GET /a.txt HTTP/1.0\r\nX: a\x01b\r\n\r\n",
	"GET /a.txt HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello",
	"POST /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
	"POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\n",
	"POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
	"POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
	"POST /a.txt HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
	"POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
	"GET /a.txt HTTP/1.0\r\nUpgrade: websocket\r\n\r\n",
	"CONNECT 1.2.3.4:443 HTTP/1.0\r\n\r\n",
	"CONNECT a:443 HTTP/1.0\r\n\r\n",
	"PUT /a.txt HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
	"DELETE /a.txt HTTP/1.0\r\n\r\n",
	"OPTIONS * HTTP/1.0\r\n\r\n",
	"OPTIONS /a.txt HTTP/1.0\r\n\r\n",
	"POST /a.txt HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-4\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=-5\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=20-\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,5-6\r\nConnection: close\r\n\r\n",
	"GET /b.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-4,500-504\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=100-200\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=5-2\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: items=0-4\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=-0\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-4,garbage\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.0\r\nRange: bytes=0-4\r\n\r\n",
	"HEAD /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-4\r\nConnection: close\r\n\r\n",
	"GET /empty.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-4\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: garbage\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\nConnection: close\r\n\r\n",
	"POST /a.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"nomatch\"\r\nIf-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\nConnection: close\r\n\r\n",
	"GET /b.bin HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-4\r\nIf-Range: \"nomatch\"\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-4\r\nIf-Range: Sat, 01 Jan 2000 00:00:00 GMT\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nX-A: 2\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n b\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1:80\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: " + strings.Repeat("a", 1100) + "\r\nConnection: close\r\n\r\n",
	"GET /" + strings.Repeat("x", 9000) + " HTTP/1.0\r\n\r\n",
	"GET /a.txt HTTP/1.0\r\nX: " + strings.Repeat("y", 8100) + "\r\n\r\n",
	"GET /dir%2Findex.html HTTP/1.0\r\n\r\n",
	"GET /dir%2findex.html HTTP/1.0\r\n\r\n",
	"GET /%2e/a.txt HTTP/1.0\r\n\r\n",
	"GET /a.txt%20 HTTP/1.0\r\n\r\n",
	"GET /a.txt%2 HTTP/1.0\r\n\r\n",
	"GET /a.txt%zz HTTP/1.0\r\n\r\n",
	"GET /%7e HTTP/1.0\r\n\r\n",
	"GET /\x00 HTTP/1.0\r\n\r\n",
	"GET /a\x7f HTTP/1.0\r\n\r\n",
	"GET /\xff HTTP/1.0\r\n\r\n",
	"GET //a.txt HTTP/1.0\r\n\r\n",
	"GET /dir/./../dir/ HTTP/1.0\r\n\r\n",
	"GET /dir/index.html/ HTTP/1.0\r\n\r\n",
	"GET /a.txt?%00 HTTP/1.0\r\n\r\n",
	"GET /a.txt?a=%zz HTTP/1.0\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0,-1\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes= 1-2\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: BYTES=1-2\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=1-2,\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=-\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,2-3,4-5,6-7,8-9,10-11,12-13,14-15,16-17,18-19,20-21,22-23\r\nConnection: close\r\n\r\n",
	"GET /b.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=900-,0-99\r\nConnection: close\r\n\r\n",
	"GET /b.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=-5000\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: W/\"x\", *\r\nConnection: close\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\nIf-None-Match: *\r\nConnection: close\r\n\r\n",
	"QUERY /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
	"HEAD /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"HEAD /dir HTTP/1.0\r\n\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n",
	"POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n",
	"GET /a.txt HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
}

// compared are the response headers that must match byte for byte.
var compared = []string{"Content-Type", "Content-Length", "ETag", "Last-Modified", "Content-Range", "Location", "Allow", "Accept-Ranges", "Connection", "Transfer-Encoding"}

func TestSideBySideStatic(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	root := sideDocroot(t)
	conf := strings.ReplaceAll(sideConf, "@ROOT@", root)
	g := startServer(t, "golighty", golightyBin, root, conf)
	l := startServer(t, "lighttpd", lighttpd, root, conf)
	for i, req := range sideRequests {
		name := req
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(strings.NewReplacer("\r", "", "\n", "|").Replace(name), func(t *testing.T) {
			head := strings.HasPrefix(req, "HEAD ")
			ge, le := g.raw(t, req, head), l.raw(t, req, head)
			if (ge.resp == nil) != (le.resp == nil) {
				t.Fatalf("#%d response parse differs: golighty %q lighttpd %q", i, ge.raw, le.raw)
			}
			if ge.resp == nil {
				return
			}
			if ge.resp.StatusCode != le.resp.StatusCode {
				t.Fatalf("#%d status: golighty %d, lighttpd %d\ngolighty: %q\nlighttpd: %q", i, ge.resp.StatusCode, le.resp.StatusCode, ge.raw, le.raw)
			}
			for _, h := range compared {
				if gv, lv := ge.resp.Header.Get(h), le.resp.Header.Get(h); gv != lv {
					t.Errorf("#%d %s: golighty %q, lighttpd %q", i, h, gv, lv)
				}
			}
			if string(ge.body) != string(le.body) {
				t.Errorf("#%d body differs:\ngolighty %q\nlighttpd %q", i, ge.body, le.body)
			}
			if ge.closed != le.closed {
				t.Errorf("#%d connection closed: golighty %v, lighttpd %v", i, ge.closed, le.closed)
			}
			if n1, n2 := strings.Count(string(ge.raw), "HTTP/1."), strings.Count(string(le.raw), "HTTP/1."); n1 != n2 {
				t.Errorf("#%d responses on the connection: golighty %d, lighttpd %d", i, n1, n2)
			}
		})
	}
}
