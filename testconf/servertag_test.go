package testconf

import (
	"strings"
	"testing"
)

// servertagConf sets server.tag in conditions, as lighttpd's own condition
// tests do (an else branch after an empty block included).
const servertagConf = `
server.document-root = "@ROOT@"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "global tag"
mimetype.assign = (".txt" => "text/plain")
$HTTP["url"] != "/show/tag.txt" {
}
else $HTTP["scheme"] == "http" {
	server.tag = "else branch tag"
}
$HTTP["host"] == "vhost.example" {
	server.tag = "vhost tag"
}
`

// TestSideBySideServerTag: a server.tag set in a condition is the Server
// header of the requests the condition matches, error pages included.
func TestSideBySideServerTag(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	root := t.TempDir()
	writeTree(t, root, map[string]string{"show/tag.txt": "t\n", "other.txt": "o\n"})
	conf := strings.ReplaceAll(servertagConf, "@ROOT@", root)
	g := startServer(t, "golighty", golightyBin, root, conf)
	l := startServer(t, "lighttpd", lighttpd, root, conf)
	compareSideBySide(t, g, l, []string{
		"GET /show/tag.txt HTTP/1.0\r\n\r\n",
		"GET /other.txt HTTP/1.0\r\n\r\n",
		"GET /other.txt HTTP/1.0\r\nHost: vhost.example\r\n\r\n",
		"GET /missing HTTP/1.0\r\nHost: vhost.example\r\n\r\n",
		"HEAD /show/tag.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	}, nil, nil)
}
