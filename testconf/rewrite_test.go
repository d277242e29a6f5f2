package testconf

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rewriteConf exercises mod_rewrite and mod_redirect with php-cgi behind
// them; both servers get it with their own FastCGI socket.
const rewriteConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_rewrite", "mod_redirect", "mod_fastcgi")
index-file.names = ("index.html")
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html")
fastcgi.server = ( ".php" => ( "php" => (
	"bin-path" => "@PHP@",
	"socket" => "@ROOT@/@NAME@.sock",
	"max-procs" => 1,
	"bin-environment" => ( "PHP_FCGI_CHILDREN" => "2", "GOLIGHTY_TEST_MARK" => "@ROOT@/@NAME@" ),
)))

url.rewrite-once = (
	"^/once/([^?]*)(?:\?(.*))?$" => "/show.php?p=$1&q=$2",
	"^/qsa/([^?]*)" => "/show.php?page=$1${qsa}",
	"^/qsa2/([^?]*)" => "/show.php${qsa}",
	"^/enc/([^?]*)" => "/show.php?raw=$1&def=${1}&esc=${esc:1}&nde=${escnde:1}&noesc=${noesc:1}&low=${tolower:1}&esclow=${esc:tolower:1}&b64=${encb64u:1}",
	"^/parts" => "/show.php?s=${url.scheme}&a=${url.authority}&path=${url.path}&q=${url.query}",
	"^/pi/([^?]*)" => "/show.php/$1",
	"^/stop/keep" => "",
	"^/stop/(.*)" => "/show.php?stop=$1",
	"^/o1/(.*)" => "/o2/$1",
	"^/onf/(.*)" => "/onf2/$1",
	"^/dots/(.*)" => "/a/%%2e%%2e/%%2e%%2e/$1",
	"^/dotsraw/(.*)" => "/x/../../$1",
	"^/nul/(.*)" => "/a%%00$1",
	"^/ctl/(.*)" => "/${decb64u:1}",
	"^/rel/(.*)" => "relative/$1",
	"^/toredir/(.*)" => "/rd/$1",
	"^/static/(.*)" => "/files/$1",
	"^/frag/(.*)" => "/files/a.txt#$1",
	"^/abs/(.*)" => "http://example.org/$1",
)
url.rewrite-repeat = (
	"^/o2/(.*)" => "/o3/$1",
	"^/r1/(.*)" => "/r2/$1",
	"^/r2/(.*)" => "/show.php?r=$1",
	"^/strip/(x*)x$" => "/strip/$1",
	"^/loop(.*)$" => "/loop$1",
)
url.rewrite-if-not-file = (
	"^/nf/(.*)" => "/show.php?nf=$1",
	"^/onf2/(.*)" => "/show.php?onf=$1",
)
url.rewrite-repeat-if-not-file = (
	"^/rnf/a(.*)" => "/rnf/$1",
	"^/rnf/$" => "/show.php?rnf=done",
)

# A block's rewrite keys replace the global lists (the repeat list too),
# and are joined once, final, rewrite, repeat whatever order they are in.
$HTTP["url"] =^ "/ord/" {
	url.rewrite-repeat = ("^/ord/(.*)" => "/show.php?by=repeat")
	url.rewrite = ("^/ord/r(.*)" => "/show.php?by=rewrite")
	url.rewrite-final = ("^/ord/f(.*)" => "/show.php?by=final")
	url.rewrite-once = ("^/ord/o(.*)" => "/show.php?by=once")
}
$HTTP["url"] =^ "/blk/" {
	url.rewrite-repeat = ("^/blk/own" => "/show.php?blk=own")
}
$HTTP["url"] =^ "/empty/" {
	url.rewrite-once = ()
	url.rewrite-if-not-file = ("^/empty/nf" => "/show.php?empty=nf")
}
# A once-match in the first pass stops the if-not-file list too.
$HTTP["url"] =^ "/chain/" {
	url.rewrite-if-not-file = ("^/chain/(.*)" => "/show.php?chain=$1")
}

# %N: the captures of the block's own condition.
$HTTP["host"] =~ "^(\w+)\.example\.org(?::\d+)?$" {
	url.rewrite-once = ("^/host/(.*)" => "/show.php?sub=%1&p=$1&all=%0")
	url.redirect = ("^/hostredir/(.*)" => "http://%1.example.net/${1}${qsa}")
}
$HTTP["host"] =~ "plain" {
	url.redirect = ("^/zero/(.*)" => "/z/%0/$1")
}
$HTTP["url"] =^ "/pfx/" {
	url.redirect = ("^/pfx/(.*)" => "/new/%0/$1/%1")
}
$HTTP["host"] =~ "^(nest)\.example\.com$" {
	$HTTP["url"] =^ "/inner/" {
		url.redirect = ("^/inner/(.*)" => "/got/%1/%0/$1")
	}
}

url.redirect = (
	"^/old/(.*)" => "http://example.org/new/$1",
	"^/rd/(.*)" => "/final/$1",
	"^/keep$" => "",
	"^/keep(.*)" => "/kept$1",
	"^/qsar/([^?]*)" => "/target/$1${qsa}",
	"^/auth/(.*)" => "${url.scheme}://${url.authority}/x/$1",
	"^/empty-loc/([^?]*)" => "$1",
	"^/encr/([^?]*)" => "/e?d=${1}&e=${esc:1}&r=$1",
	"^/code/" => "/coded",
	"^/crlf/(.*)" => "http://x/${decb64u:1}",
)
$HTTP["url"] =^ "/code/302" { url.redirect-code = 302 }
$HTTP["url"] =^ "/code/303" { url.redirect-code = 303 }
$HTTP["url"] =^ "/code/307" { url.redirect-code = 307 }
$HTTP["url"] =^ "/code/308" { url.redirect-code = 308 }
$HTTP["url"] =^ "/code/200" { url.redirect-code = 200 }
$HTTP["url"] =^ "/code/404" { url.redirect-code = 404 }
$HTTP["url"] =^ "/code/99" { url.redirect-code = 99 }
$HTTP["url"] =^ "/code/1000" { url.redirect-code = 1000 }
`

// rewriteScript prints what a rewritten request looks like to PHP.
const rewriteScript = `<?php header("Content-Type: text/plain");
foreach (["REQUEST_URI", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "REDIRECT_URI", "SCRIPT_FILENAME", "PATH_TRANSLATED", "REDIRECT_STATUS"] as $k) {
	echo $k, "=", $_SERVER[$k] ?? "-", "\n";
}
echo "GET=", json_encode($_GET), "\n";
`

func rewriteGet(target string) string {
	return "GET " + target + " HTTP/1.0\r\nHost: x\r\n\r\n"
}

func rewriteGetHost(target, host string) string {
	return "GET " + target + " HTTP/1.0\r\nHost: " + host + "\r\n\r\n"
}

func rewriteB64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// TestSideBySideRewrite runs the same rewrite and redirect requests through
// golighty and Debian's lighttpd on the same config and files, PHP seeing
// the rewritten requests, and requires identical responses.
func TestSideBySideRewrite(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	php := requirePeer(t, "php-cgi")
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"www/show.php":         rewriteScript,
		"www/files/a.txt":      "file a\n",
		"www/nf/exists.txt":    "exists\n",
		"www/nf/dir/x.txt":     "x\n",
		"www/index.html":       "<p>index</p>\n",
		"www/etc/passwd":       "not the real one\n",
		"www/o2/x":             "o2\n",
		"www/strip/index.html": "stripped\n",
	})
	conf := func(name string) string {
		return strings.NewReplacer("@ROOT@", root, "@PHP@", php, "@NAME@", name).Replace(rewriteConf)
	}
	g := startServer(t, "golighty", golightyBin, root, conf("golighty"))
	t.Cleanup(func() { stopWithChildren(t, g, root+"/golighty") })
	l := startServer(t, "lighttpd", lighttpd, root, conf("lighttpd"))

	xs := func(n int) string { return strings.Repeat("x", n) }
	reqs := []string{
		// $N, query handling, ${qsa}
		rewriteGet("/once/abc"),
		rewriteGet("/once/a%20b?x=1&y=%41"),
		rewriteGet("/qsa/p1?a=1&b=2"),
		rewriteGet("/qsa/p1?"),
		rewriteGet("/qsa/p1"),
		rewriteGet("/qsa2/p?z=1"),
		rewriteGet("/qsa2/p?"),
		rewriteGet("/qsa2/p"),
		// encodings of captures
		rewriteGet("/enc/A%20b/C%2fd+e%C3%A9&f=g"),
		rewriteGet("/enc/%7Euser/x.y_z-1"),
		rewriteGet("/parts/x%20y?q=1"),
		rewriteGet("/parts"),
		// PATH_INFO after a rewrite
		rewriteGet("/pi/a/b%20c?x=1"),
		// empty target stops the list
		rewriteGet("/stop/keep"),
		rewriteGet("/stop/other"),
		// once vs repeat
		rewriteGet("/o1/x"),
		rewriteGet("/r1/x?y=1"),
		rewriteGet("/strip/" + xs(99)),
		rewriteGet("/strip/" + xs(100)),
		rewriteGet("/strip/" + xs(101)),
		rewriteGet("/loop"),
		// if-not-file: files are kept, directories and missing paths rewritten
		rewriteGet("/nf/exists.txt"),
		rewriteGet("/nf/dir/"),
		rewriteGet("/nf/dir"),
		rewriteGet("/nf/missing?q=1"),
		rewriteGet("/rnf/aaa"),
		rewriteGet("/onf/x"),
		// per-block lists
		rewriteGet("/ord/oX"),
		rewriteGet("/ord/fX"),
		rewriteGet("/ord/rX"),
		rewriteGet("/ord/zX"),
		rewriteGet("/blk/own"),
		rewriteGet("/blk/o1/x"),
		rewriteGet("/empty/x"),
		rewriteGet("/empty/nf"),
		rewriteGet("/chain/x"),
		// %N from the enclosing condition
		rewriteGetHost("/host/p?q=1", "www.example.org"),
		rewriteGetHost("/host/p", "other.org"),
		rewriteGetHost("/hostredir/a%20b?q=1", "sub.example.org"),
		rewriteGetHost("/zero/a", "www.plain.test"),
		rewriteGet("/pfx/a/b"),
		rewriteGetHost("/inner/a", "nest.example.com"),
		// hostile targets
		rewriteGet("/dots/etc/passwd"),
		rewriteGet("/dotsraw/etc/passwd"),
		rewriteGet("/nul/x"),
		rewriteGet("/ctl/" + rewriteB64("a\r\nb")),
		rewriteGet("/ctl/" + rewriteB64("../../../../etc/passwd")),
		rewriteGet("/ctl/" + rewriteB64("a\x00b")),
		rewriteGet("/ctl/" + rewriteB64("noslash")),
		rewriteGet("/rel/x"),
		rewriteGet("/abs/x"),
		rewriteGet("/frag/x"),
		rewriteGet("/static/a.txt"),
		// redirects: after rewrite, codes, substitutions
		rewriteGet("/old/x?y=1"),
		"HEAD /old/x HTTP/1.0\r\nHost: x\r\n\r\n",
		rewriteGet("/toredir/p?q"),
		rewriteGet("/keep"),
		rewriteGet("/keepmore?x"),
		rewriteGet("/qsar/t?a=1"),
		rewriteGet("/qsar/t?"),
		rewriteGet("/auth/z"),
		"GET /auth/z HTTP/1.0\r\n\r\n",
		rewriteGet("/empty-loc/"),
		rewriteGet("/encr/a%20b%2Fc+d"),
		rewriteGet("/code/302"),
		rewriteGet("/code/303"),
		rewriteGet("/code/307"),
		rewriteGet("/code/308"),
		rewriteGet("/code/200"),
		rewriteGet("/code/404"),
		rewriteGet("/code/99"),
		rewriteGet("/code/1000"),
		rewriteGet("/code/other"),
		// keep-alive: a rewritten request, then one that is dropped after
		// the first response went out
		"GET /once/ka HTTP/1.1\r\nHost: x\r\n\r\nGET /loop HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /r1/a HTTP/1.1\r\nHost: x\r\n\r\nGET /old/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	}
	compareSideBySide(t, g, l, reqs, nil, nil)
	if t.Failed() {
		t.Logf("golighty log:\n%s", g.log.String())
	}
}

// TestRewriteDropsConnection checks what the side-by-side comparison only
// sees as "both equal": a rewrite loop, an invalid result and an overlong
// result close the connection without a byte, the access log gets no line
// for them (lighttpd logs only requests that got a status), and the server
// goes on.
func TestRewriteDropsConnection(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"www/a.txt": "a\n"})
	conf := `
server.document-root = "` + root + `/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.modules = ("mod_rewrite", "mod_accesslog")
accesslog.filename = "` + root + `/@NAME@-access.log"
accesslog.format = "%r %s"
url.rewrite-once = ("^/rel" => "rel", "^/grow1/(.*)" => "/grow/$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1")
url.rewrite-repeat = ("^/loop" => "/loop", "^/grow/(.*)$" => "/grow/$1$1$1$1")
`
	type drop struct{ name, target string }
	drops := []drop{
		{"endless repeat", "/loop"},
		{"result not starting with slash", "/rel"},
		{"result growing past the limit", "/grow/abcdefgh"},
		{"one result past the limit", "/grow1/" + strings.Repeat("y", 5000)},
	}
	run := func(t *testing.T, name, bin string, drops []drop) {
		s := startServer(t, name, bin, root, strings.ReplaceAll(conf, "@NAME@", name))
		for _, tc := range drops {
			t.Run(tc.name, func(t *testing.T) {
				start := time.Now()
				ex := s.raw(t, rewriteGet(tc.target), false)
				if len(ex.raw) != 0 || !ex.closed {
					t.Fatalf("want a closed connection without response, got closed=%v %q", ex.closed, ex.raw)
				}
				if d := time.Since(start); d > 3*time.Second {
					t.Fatalf("took %v", d)
				}
				if ok := s.raw(t, rewriteGet("/a.txt"), false); ok.resp == nil || ok.resp.StatusCode != 200 {
					t.Fatalf("server did not go on: %q", ok.raw)
				}
			})
		}
		// Both servers buffer the access log: stop, then read.
		s.cmd.Process.Signal(os.Interrupt)
		s.cmd.Wait()
		want := strings.Repeat("GET /a.txt HTTP/1.0 200\n", len(drops))
		if got, _ := os.ReadFile(filepath.Join(root, name+"-access.log")); string(got) != want {
			t.Errorf("%s access log:\n%s\nwant:\n%s", name, got, want)
		}
	}
	t.Run("golighty", func(t *testing.T) { run(t, "golighty", golightyBin, drops) })
	// lighttpd itself: the same, except the overlong results, which it
	// would try to allocate (golighty's deliberate limit).
	t.Run("lighttpd", func(t *testing.T) { run(t, "lighttpd", requirePeer(t, "lighttpd"), drops[:2]) })
}

// TestRedirectNoHeaderInjection: a capture that decodes to CR/LF/NUL (here
// through ${decb64u:N}) never splits the response. lighttpd 1.4.69 writes
// such bytes into Location as they are; golighty percent-encodes them.
func TestRedirectNoHeaderInjection(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"www/a.txt": "a\n"})
	conf := `
server.document-root = "` + root + `/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.modules = ("mod_redirect")
url.redirect = ("^/b64/(.*)" => "http://x/${decb64u:1}")
`
	g := startServer(t, "golighty", golightyBin, root, conf)
	tests := []struct{ name, payload, wantLoc string }{
		{"CRLF and a header", "a\r\nSet-Cookie: evil=1", "http://x/a%0D%0ASet-Cookie: evil=1"},
		{"NUL", "a\x00b", "http://x/a%00b"},
		{"bare LF", "a\nb", "http://x/a%0Ab"},
		{"DEL and TAB", "a\x7f\tb", "http://x/a%7F%09b"},
		{"harmless", "path/ok", "http://x/path/ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := g.raw(t, rewriteGet("/b64/"+rewriteB64(tt.payload)), false)
			if ex.resp == nil {
				t.Fatalf("no response: %q", ex.raw)
			}
			if got := ex.resp.Header.Values("Location"); len(got) != 1 || got[0] != tt.wantLoc {
				t.Errorf("Location = %q, want %q", got, tt.wantLoc)
			}
			if ex.resp.Header.Get("Set-Cookie") != "" {
				t.Errorf("injected header: %q", ex.raw)
			}
			head, _, _ := strings.Cut(string(ex.raw), "\r\n\r\n")
			for _, line := range strings.Split(head, "\r\n") {
				if strings.ContainsAny(line, "\r\n\x00") {
					t.Errorf("control byte in header line %q", line)
				}
			}
		})
	}
}

// TestRewritePortSubstitution: ${url.port} is the listening port, which
// differs between the two servers of a side-by-side run.
func TestRewritePortSubstitution(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"www/a.txt": "a\n"})
	conf := `
server.document-root = "` + root + `/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.modules = ("mod_redirect")
url.redirect = ("^/p" => "http://${url.authority}:${url.port}/q")
`
	g := startServer(t, "golighty", golightyBin, root, conf)
	ex := g.raw(t, rewriteGetHost("/p", "h.test"), false)
	_, port, _ := strings.Cut(g.addr, ":")
	if ex.resp == nil || ex.resp.Header.Get("Location") != fmt.Sprintf("http://h.test:%s/q", port) {
		t.Fatalf("got %q", ex.raw)
	}
}

// TestSideBySideRewriteErrorHandler: an error handler restarts the request
// through the rules, with the rewrite state of the request (a once-rule
// that matched before the error keeps the handler's URL from rewriting).
func TestSideBySideRewriteErrorHandler(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	root := t.TempDir()
	writeTree(t, root, map[string]string{"www/h.html": "handler\n", "www/f.txt": "file\n"})
	conf := `
server.document-root = "` + root + `/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_rewrite", "mod_redirect")
server.error-handler-404 = "/handler"
url.rewrite-once = ("^/handler$" => "/h.html", "^/gone/(.*)" => "/missing/$1", "^/x/(.*)" => "/f.txt")
url.redirect = ("^/h\.html\?from=redir" => "/redirected")
$HTTP["url"] =^ "/r2/" { url.rewrite-once = ("^/r2/(.*)" => "/nothere") }
$HTTP["url"] =^ "/r3/" { server.error-handler-404 = "/handler?from=redir" }
`
	g := startServer(t, "golighty", golightyBin, root, conf)
	l := startServer(t, "lighttpd", lighttpd, root, conf)
	compareSideBySide(t, g, l, []string{
		rewriteGet("/missing"),
		rewriteGet("/gone/a"),
		rewriteGet("/x/y"),
		rewriteGet("/r2/q"),
		rewriteGet("/r3/q"),
		rewriteGet("/handler"),
		"HEAD /missing HTTP/1.0\r\n\r\n",
	}, nil, nil)
}
