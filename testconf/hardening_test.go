package testconf

import (
	"strings"
	"testing"
)

// hardeningConf is the soak test's site in small: static files, a denied
// extension, PHP.
const hardeningConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_access", "mod_fastcgi")
url.access-deny = (".inc")
mimetype.assign = (".txt" => "text/plain")
fastcgi.server = (".php" => (("bin-path" => "@PHP@", "socket" => "@ROOT@/@NAME@.sock", "max-procs" => 1,
	"bin-environment" => ("GOLIGHTY_TEST_MARK" => "@ROOT@/@NAME@"))))
`

// hardeningRequests are the hostile heads of the README's hardening table:
// request smuggling (CL/TE conflicts, a body that reads like a request),
// traversal in its encodings, header injection and malformed heads.
var hardeningRequests = []string{
	// smuggling
	"POST /hello.php HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /secret.inc HTTP/1.1\r\nHost: x\r\n\r\n",
	"POST /hello.php HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\nhello",
	"POST /hello.php HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
	"POST /hello.php HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
	"POST /hello.php HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
	"POST /hello.php HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello",
	"GET /small.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 28\r\n\r\nGET /secret.inc HTTP/1.1\r\n\r\n",
	"GET /small.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
	"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /secret.inc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	// traversal
	"GET /../../../etc/passwd HTTP/1.0\r\n\r\n",
	"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.0\r\n\r\n",
	"GET /..%2f..%2fetc/passwd HTTP/1.0\r\n\r\n",
	"GET /.%2e/.%2e/etc/passwd HTTP/1.0\r\n\r\n",
	"GET /..\\..\\etc\\passwd HTTP/1.0\r\n\r\n",
	"GET /small.txt%00.php HTTP/1.0\r\n\r\n",
	"GET /secret.inc%20 HTTP/1.0\r\n\r\n",
	"GET /secret.INC HTTP/1.0\r\n\r\n",
	"GET /secret.inc/ HTTP/1.0\r\n\r\n",
	"GET /secret.inc. HTTP/1.0\r\n\r\n",
	"GET http://x/../secret.inc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	// header injection and malformed heads
	"GET /small.txt HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\nConnection: close\r\n\r\n",
	"GET /small.txt HTTP/1.1\r\nHost: x\r\nX: a\rb\r\nConnection: close\r\n\r\n",
	"GET /small.txt HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\nConnection: close\r\n\r\n",
	"GET /small.txt HTTP/1.1\r\nHost: x\r\nBad Header: y\r\nConnection: close\r\n\r\n",
	"GET /small.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
	"GET /small.txt HTTP/1.1\r\nHost: x/../y\r\nConnection: close\r\n\r\n",
	"GET /small.txt HTTP/1.1\nHost: x\nConnection: close\n\n",
	"GET /small.txt HTTP/9.9\r\n\r\n",
	"GET /small.txt\r\n\r\n",
	"GARBAGE\r\n\r\n",
	"GET /small.txt HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 70000) + "\r\n\r\n",
	"GET /hello.php?x=%0d%0aSet-Cookie:%20a=b HTTP/1.0\r\n\r\n",
}

// TestSideBySideHardening sends the hostile heads to golighty and lighttpd:
// the same status, headers and body, so nothing smuggled is answered and
// no traversal reaches a file.
func TestSideBySideHardening(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	php := requirePeer(t, "php-cgi")
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"www/small.txt":  "small\n",
		"www/secret.inc": "secret\n",
		"www/hello.php":  `<?php echo "hello ", strlen($_GET["x"] ?? ""), "\n";`,
	})
	conf := func(name string) string {
		return strings.NewReplacer("@ROOT@", root, "@PHP@", php, "@NAME@", name).Replace(hardeningConf)
	}
	g := startServer(t, "golighty", golightyBin, root, conf("golighty"))
	t.Cleanup(func() { stopWithChildren(t, g, root+"/golighty") })
	l := startServer(t, "lighttpd", lighttpd, root, conf("lighttpd"))
	compareSideBySide(t, g, l, hardeningRequests, nil, nil)
}
