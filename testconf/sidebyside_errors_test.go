package testconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// errConfs exercise error documents, error handlers and path policies; each
// runs on both servers over the same docroot.
var errConfs = []struct {
	name, conf string
	requests   []string
}{
	{
		name: "error-handler-404",
		conf: `server.error-handler-404 = "/err.html"`,
		requests: []string{
			"GET /missing HTTP/1.0\r\n\r\n",
			"GET /a.txt HTTP/1.0\r\n\r\n",
			"HEAD /missing HTTP/1.0\r\n\r\n",
			"GET /x.inc HTTP/1.0\r\n\r\n",
			"POST /missing HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
			"PUT /missing HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
		},
	},
	{
		name: "error-handler",
		conf: `server.error-handler = "/err.html"`,
		requests: []string{
			"GET /missing HTTP/1.0\r\n\r\n",
			"GET /x.inc HTTP/1.0\r\n\r\n",
			"DELETE /a.txt HTTP/1.0\r\n\r\n",
			"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=500-600\r\nConnection: close\r\n\r\n",
		},
	},
	{
		name:     "error-handler to a missing page",
		conf:     `server.error-handler-404 = "/nope.html"`,
		requests: []string{"GET /missing HTTP/1.0\r\n\r\n"},
	},
	{
		name: "errorfile-prefix",
		conf: `server.errorfile-prefix = "@ROOT@/errors/status-"`,
		requests: []string{
			"GET /missing HTTP/1.0\r\n\r\n",
			"GET /x.inc HTTP/1.0\r\n\r\n",
			"FOO / HTTP/1.0\r\n\r\n",
			"HEAD /missing HTTP/1.0\r\n\r\n",
		},
	},
	{
		name: "follow-symlink disabled",
		conf: `server.follow-symlink = "disable"`,
		requests: []string{
			"GET /link.txt HTTP/1.0\r\n\r\n",
			"GET /linkdir/x.txt HTTP/1.0\r\n\r\n",
			"GET /a.txt HTTP/1.0\r\n\r\n",
		},
	},
	{
		name: "symlinks followed",
		conf: ``,
		requests: []string{
			"GET /link.txt HTTP/1.0\r\n\r\n",
			"GET /linkdir/x.txt HTTP/1.0\r\n\r\n",
			"GET /linkdir HTTP/1.0\r\n\r\n",
		},
	},
	{
		name: "range requests disabled",
		conf: `server.range-requests = "disable"`,
		requests: []string{
			"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-4\r\nConnection: close\r\n\r\n",
			"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		},
	},
	{
		name: "etags disabled",
		conf: "static-file.etags = \"disable\"\netag.use-inode = \"disable\"",
		requests: []string{
			"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			"GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\nConnection: close\r\n\r\n",
		},
	},
	{
		name:     "etag without inode",
		conf:     `etag.use-inode = "disable"`,
		requests: []string{"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"},
	},
	{
		name: "protocol-http11 off",
		conf: `server.protocol-http11 = "disable"`,
		requests: []string{
			"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
			"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\n",
		},
	},
	{
		name: "max-request-size",
		conf: `server.max-request-size = 1`,
		requests: []string{
			"POST /a.txt HTTP/1.0\r\nContent-Length: 2000\r\n\r\n",
			"POST /a.txt HTTP/1.0\r\nContent-Length: 10\r\n\r\n0123456789",
		},
	},
	{
		name: "keep-alive limit",
		conf: `server.max-keep-alive-requests = 2`,
		requests: []string{
			"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
		},
	},
	{
		name:     "keep-alive off",
		conf:     `server.max-keep-alive-requests = 0`,
		requests: []string{"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"},
	},
	{
		name: "mimetype default and long suffix",
		conf: `mimetype.assign := (".tar.gz" => "application/x-tgz", ".gz" => "application/gzip", "" => "text/x-default")`,
		requests: []string{
			"GET /pkg.tar.gz HTTP/1.0\r\n\r\n",
			"GET /one.gz HTTP/1.0\r\n\r\n",
			"GET /a.txt HTTP/1.0\r\n\r\n",
		},
	},
	{
		name: "absolute dir redirect",
		conf: `server.feature-flags = ("server.absolute-dir-redirect" => "enable")`,
		requests: []string{
			"GET /dir HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
			"GET /dir?q=1 HTTP/1.0\r\n\r\n",
		},
	},
}

func TestSideBySideErrorsAndPolicies(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	for _, ec := range errConfs {
		t.Run(ec.name, func(t *testing.T) {
			root := sideDocroot(t)
			os.WriteFile(filepath.Join(root, "www", "err.html"), []byte("<p>custom error page</p>\n"), 0o644)
			os.MkdirAll(filepath.Join(root, "errors"), 0o755)
			os.WriteFile(filepath.Join(root, "errors", "status-404.html"), []byte("<p>prefix 404</p>\n"), 0o644)
			os.WriteFile(filepath.Join(root, "www", "pkg.tar.gz"), []byte("tgz"), 0o644)
			os.WriteFile(filepath.Join(root, "www", "one.gz"), []byte("gz"), 0o644)
			os.Symlink(filepath.Join(root, "www", "a.txt"), filepath.Join(root, "www", "link.txt"))
			os.Symlink(filepath.Join(root, "www", "d sp"), filepath.Join(root, "www", "linkdir"))
			conf := strings.ReplaceAll(sideConf+"\n"+ec.conf+"\n", "@ROOT@", root)
			g := startServer(t, "golighty", golightyBin, root, conf)
			l := startServer(t, "lighttpd", lighttpd, root, conf)
			for i, req := range ec.requests {
				head := strings.HasPrefix(req, "HEAD ")
				ge, le := g.raw(t, req, head), l.raw(t, req, head)
				if ge.resp == nil || le.resp == nil {
					if (ge.resp == nil) != (le.resp == nil) {
						t.Errorf("#%d %q parse differs:\ngolighty %q\nlighttpd %q", i, req, ge.raw, le.raw)
					}
					continue
				}
				if ge.resp.StatusCode != le.resp.StatusCode {
					t.Errorf("#%d %q status: golighty %d, lighttpd %d\ngolighty %q\nlighttpd %q", i, req, ge.resp.StatusCode, le.resp.StatusCode, ge.raw, le.raw)
					continue
				}
				for _, h := range compared {
					// Absolute redirects name each server's own port.
					gv := strings.ReplaceAll(ge.resp.Header.Get(h), g.addr[strings.LastIndexByte(g.addr, ':'):], ":PORT")
					lv := strings.ReplaceAll(le.resp.Header.Get(h), l.addr[strings.LastIndexByte(l.addr, ':'):], ":PORT")
					if gv != lv {
						t.Errorf("#%d %q %s: golighty %q, lighttpd %q", i, req, h, gv, lv)
					}
				}
				if string(ge.body) != string(le.body) {
					t.Errorf("#%d %q body:\ngolighty %q\nlighttpd %q", i, req, ge.body, le.body)
				}
				if ge.closed != le.closed {
					t.Errorf("#%d %q closed: golighty %v, lighttpd %v", i, req, ge.closed, le.closed)
				}
				if n1, n2 := strings.Count(string(ge.raw), "HTTP/1."), strings.Count(string(le.raw), "HTTP/1."); n1 != n2 {
					t.Errorf("#%d %q responses: golighty %d, lighttpd %d", i, req, n1, n2)
				}
			}
		})
	}
}
