package testconf

import (
	"strings"
	"testing"
)

// errorhandlerConf sends missing files to a PHP error handler, in both
// forms, as lighttpd's own request tests do with a CGI script.
const errorhandlerConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_fastcgi")
fastcgi.server = (".php" => (("bin-path" => "@PHP@", "socket" => "@ROOT@/@NAME@.sock", "max-procs" => 1,
	"bin-environment" => ("GOLIGHTY_TEST_MARK" => "@ROOT@/@NAME@"))))
$HTTP["url"] =^ "/eh/" {
	server.error-handler = "/handler.php"
}
else {
	server.error-handler-404 = "/handler.php"
}
`

// The handler answers by the path that failed: with a status of its own,
// with the one it was called for (REDIRECT_STATUS), or with none.
const errorhandlerScript = `<?php
$u = $_SERVER["REQUEST_URI"];
if (strpos($u, "/404/") !== false) { header("Status: 404"); }
if (strpos($u, "/403/") !== false) { header("Status: 403"); }
if (strpos($u, "/500/") !== false) { header("Status: 500"); }
if (strpos($u, "/302/") !== false) { header("Location: http://example.org/"); }
if (strpos($u, "/redirect_status/") !== false) { header("Status: " . $_SERVER["REDIRECT_STATUS"]); }
header("Content-Type: text/plain");
echo "handler for $u (", $_SERVER["REDIRECT_STATUS"] ?? "-", ")\n";
`

// TestSideBySideDynamicErrorHandler: what a dynamic error handler answers
// is sent as it is (status and body), for server.error-handler-404 and
// server.error-handler alike, as lighttpd does when a backend produced the
// response (it reconciles the status only for static handlers).
func TestSideBySideDynamicErrorHandler(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	php := requirePeer(t, "php-cgi")
	root := t.TempDir()
	writeTree(t, root, map[string]string{"www/handler.php": errorhandlerScript, "www/x.txt": "x\n"})
	conf := func(name string) string {
		return strings.NewReplacer("@ROOT@", root, "@PHP@", php, "@NAME@", name).Replace(errorhandlerConf)
	}
	g := startServer(t, "golighty", golightyBin, root, conf("golighty"))
	t.Cleanup(func() { stopWithChildren(t, g, root+"/golighty") })
	l := startServer(t, "lighttpd", lighttpd, root, conf("lighttpd"))
	var reqs []string
	for _, prefix := range []string{"/", "/eh/"} {
		for _, p := range []string{"200/missing", "404/missing", "403/missing", "500/missing", "302/missing", "redirect_status/missing", "nostatus/missing"} {
			reqs = append(reqs, "GET "+prefix+p+" HTTP/1.0\r\n\r\n")
		}
	}
	reqs = append(reqs, "POST /eh/nostatus/missing HTTP/1.0\r\nContent-Length: 0\r\n\r\n", "HEAD /404/missing HTTP/1.0\r\n\r\n")
	compareSideBySide(t, g, l, reqs, nil, nil)
}
