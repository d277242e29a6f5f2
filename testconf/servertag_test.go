package testconf

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSideBySideServerTagPerCondition: server.tag set in a conditional
// (lighttpd reads it per request) names the Server header of those
// responses, a blank one sends none, over HTTP/1.x and HTTP/2 alike.
func TestSideBySideServerTagPerCondition(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	curl := requirePeer(t, "curl")
	root := t.TempDir()
	writeTree(t, root, map[string]string{"www/a.txt": "a\n", "www/tagged/b.txt": "b\n", "www/blank/c.txt": "c\n"})
	conf := `server.document-root = "` + root + `/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "global-tag"
mimetype.assign = (".txt" => "text/plain")
$HTTP["url"] =^ "/tagged/" { server.tag = "cond-tag" }
$HTTP["url"] =^ "/blank/" { server.tag = " " }
`
	g := startServer(t, "golighty", golightyBin, root, conf)
	l := startServer(t, "lighttpd", lighttpd, root, conf)
	var reqs []string
	for _, p := range []string{"/a.txt", "/tagged/b.txt", "/blank/c.txt", "/tagged/missing"} {
		reqs = append(reqs, "GET "+p+" HTTP/1.0\r\n\r\n")
	}
	compareSideBySide(t, g, l, reqs, nil, nil)

	for _, tc := range []struct{ path, want string }{
		{"/a.txt", "global-tag"}, {"/tagged/b.txt", "cond-tag"}, {"/blank/c.txt", ""},
	} {
		for _, s := range []*server{g, l} {
			out, err := exec.Command(curl, "-s", "-o", "/dev/null", "-D", "-", "--http2-prior-knowledge", "http://"+s.addr+tc.path).Output()
			if err != nil {
				t.Fatalf("%s: curl %s: %v", s.name, tc.path, err)
			}
			got := ""
			for _, line := range strings.Split(string(out), "\r\n") {
				if v, ok := strings.CutPrefix(strings.ToLower(line), "server: "); ok {
					got = v
				}
			}
			if got != tc.want {
				t.Errorf("%s over h2: %s has server %q, want %q", s.name, tc.path, got, tc.want)
			}
		}
	}
}

// servertagElseConf sets server.tag in an else branch after an empty block
// (as lighttpd's own condition tests do) and for PHP pages streamed
// (server.stream-response-body = 2), whose head leaves before the handler
// returns.
const servertagElseConf = `
server.document-root = "@ROOT@"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "global tag"
server.modules = ("mod_fastcgi")
mimetype.assign = (".txt" => "text/plain")
$HTTP["url"] != "/show/tag.txt" {
}
else $HTTP["scheme"] == "http" {
	server.tag = "else branch tag"
}
$HTTP["url"] =^ "/stream/" {
	server.tag = "streamed tag"
	server.stream-response-body = 2
}
fastcgi.server = (".php" => (("bin-path" => "@PHP@", "socket" => "@ROOT@/@NAME@.sock", "max-procs" => 1,
	"bin-environment" => ("GOLIGHTY_TEST_MARK" => "@ROOT@/@NAME@"))))
`

// TestSideBySideServerTagElseAndStream: a server.tag from an else branch,
// and one on a response streamed from PHP, are the Server header as in
// lighttpd.
func TestSideBySideServerTagElseAndStream(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	php := requirePeer(t, "php-cgi")
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"show/tag.txt": "t\n", "other.txt": "o\n",
		// A body that keeps coming after the head: streamed on both.
		"stream/s.php": `<?php header("Content-Type: text/plain"); echo str_repeat("s", 100000); flush(); usleep(100000); echo "end\n";`,
	})
	conf := func(name string) string {
		return strings.NewReplacer("@ROOT@", root, "@PHP@", php, "@NAME@", name).Replace(servertagElseConf)
	}
	g := startServer(t, "golighty", golightyBin, root, conf("golighty"))
	t.Cleanup(func() { stopWithChildren(t, g, root+"/golighty") })
	l := startServer(t, "lighttpd", lighttpd, root, conf("lighttpd"))
	compareSideBySide(t, g, l, []string{
		"GET /show/tag.txt HTTP/1.0\r\n\r\n",
		"GET /other.txt HTTP/1.0\r\n\r\n",
		"HEAD /show/tag.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		// HTTP/1.0: close-delimited, so the bytes compare without the
		// chunk sizes each server picks.
		"GET /stream/s.php HTTP/1.0\r\n\r\n",
	}, nil, nil)
}
