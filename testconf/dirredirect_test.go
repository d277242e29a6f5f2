package testconf

import (
	"net/url"
	"strings"
	"testing"
)

// dirredirectName holds every printable ASCII character a directory name
// may hold, and UTF-8, to check which ones lighttpd's redirect encodes.
const dirredirectName = "~test ä_!\"#$%&'()*+,-.:;<=>?@[\\]^`{|}"

// TestSideBySideDirRedirectEncoding: the Location of a directory redirect
// is encoded as lighttpd encodes it ('~' stays, lighttpd's own tests ask
// for /~test%20%C3%A4_/), with and without a query, for a raw UTF-8 target
// too.
func TestSideBySideDirRedirectEncoding(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	root := t.TempDir()
	writeTree(t, root, map[string]string{"www/" + dirredirectName + "/index.html": "x\n", "www/~test ä_/index.html": "y\n"})
	conf := strings.ReplaceAll(`
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_indexfile")
index-file.names = ("index.html")
`, "@ROOT@", root)
	g := startServer(t, "golighty", golightyBin, root, conf)
	l := startServer(t, "lighttpd", lighttpd, root, conf)
	enc := "/" + url.PathEscape(dirredirectName)
	enc = strings.ReplaceAll(enc, "~", "%7E")
	compareSideBySide(t, g, l, []string{
		"GET " + enc + " HTTP/1.0\r\n\r\n",
		"GET " + enc + "?a=%7E~ HTTP/1.0\r\n\r\n",
		"GET /~test%20ä_ HTTP/1.0\r\n\r\n",
		"GET /%7Etest%20%C3%A4_?foo HTTP/1.0\r\n\r\n",
	}, nil, nil)
}
