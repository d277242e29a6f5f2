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
