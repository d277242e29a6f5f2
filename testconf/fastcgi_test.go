package testconf

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const fastcgiConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_fastcgi")
index-file.names = ("index.php")
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html")
fastcgi.server = ( ".php" => ( "php" => (
	"bin-path" => "@PHP@",
	"socket" => "@ROOT@/@NAME@.sock",
	"max-procs" => 1,@KEEP@
	"bin-environment" => ( "PHP_FCGI_CHILDREN" => "2", "GOLIGHTY_TEST_MARK" => "@ROOT@/@NAME@" ),
	"x-sendfile" => "enable",
	"x-sendfile-docroot" => ( "@ROOT@/files" )
)))
`

// fastcgiScripts exercise the response rules of behaviors.md §7.4-7.5.
var fastcgiScripts = map[string]string{
	"www/plain.php":    `<?php echo "plain output\n";`,
	"www/status.php":   `<?php header("Status: 404 Not Found"); header("X-App: a"); echo "missing\n";`,
	"www/status2.php":  `<?php header("Status: 299 Custom"); echo "custom\n";`,
	"www/loc.php":      `<?php header("Location: /elsewhere?x=1"); echo "moved\n";`,
	"www/loc200.php":   `<?php header("Status: 200"); header("Location: /stay"); echo "stay\n";`,
	"www/js.php":       `<?php header("Content-Type: application/javascript"); echo "f();\n";`,
	"www/pathinfo.php": `<?php header("Content-Type: text/plain"); echo $_SERVER["SCRIPT_NAME"], "|", $_SERVER["PATH_INFO"] ?? "-", "|", $_SERVER["REQUEST_URI"], "\n";`,
	"www/xs.php": `<?php header("Content-Type: " . ($_GET["ct"] ?? "text/plain")); header("X-Other: keep");
header(($_GET["h"] ?? "X-Sendfile") . ": " . $_GET["f"]); echo "discarded\n";`,
	"www/index.php":  `<?php echo "index\n";`,
	"files/a.txt":    "sendfile content 0123456789\n",
	"files/sub/x":    "x",
	"outside/s.txt":  "secret\n",
	"www/static.txt": "static\n",
}

// TestSideBySideFastCGI runs the same PHP requests through golighty and
// lighttpd, also with golighty's "keep-conn" option, which lighttpd
// ignores: connection reuse must not change a single response.
func TestSideBySideFastCGI(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	php := requirePeer(t, "php-cgi")
	for _, tc := range []struct{ name, keep string }{
		{"new connection per request", ""},
		{"keep-conn", "\n\t\"keep-conn\" => \"enable\","},
	} {
		t.Run(tc.name, func(t *testing.T) { sideBySideFastCGI(t, lighttpd, php, tc.keep) })
	}
}

func sideBySideFastCGI(t *testing.T, lighttpd, php, keep string) {
	root := t.TempDir()
	writeTree(t, root, fastcgiScripts)
	files := filepath.Join(root, "files")
	conf := func(name string) string {
		return strings.NewReplacer("@ROOT@", root, "@PHP@", php, "@NAME@", name, "@KEEP@", keep).Replace(fastcgiConf)
	}
	g := startServer(t, "golighty", golightyBin, root, conf("golighty"))
	// A graceful stop must take golighty's php-cgi children with it.
	t.Cleanup(func() { stopWithChildren(t, g, root+"/golighty") })
	l := startServer(t, "lighttpd", lighttpd, root, conf("lighttpd"))
	xs := func(h, f string) string {
		return "GET /xs.php?h=" + h + "&f=" + f + " HTTP/1.0\r\n\r\n"
	}
	sf2 := "GET /xs.php?h=X-Sendfile2&f=" + strings.ReplaceAll(files+"/a.txt 0-3, "+files+"/a.txt 5-", " ", "%20")
	reqs := []string{
		"GET /plain.php HTTP/1.0\r\n\r\n",
		"HEAD /plain.php HTTP/1.0\r\n\r\n",
		"POST /plain.php HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello",
		"GET /status.php HTTP/1.0\r\n\r\n",
		"GET /status2.php HTTP/1.0\r\n\r\n",
		"GET /loc.php HTTP/1.0\r\n\r\n",
		"GET /loc200.php HTTP/1.0\r\n\r\n",
		"GET /js.php HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"GET /missing.php HTTP/1.0\r\n\r\n",
		"GET /pathinfo.php HTTP/1.0\r\n\r\n",
		"GET /pathinfo.php/a/b?q=1 HTTP/1.0\r\n\r\n",
		"GET /pathinfo.php/a%20b/c HTTP/1.0\r\n\r\n",
		"GET /static.txt HTTP/1.0\r\n\r\n",
		xs("X-Sendfile", files+"/a.txt"),
		xs("X-Sendfile", files+"/a.txt") + "",
		"GET /xs.php?h=X-Sendfile&f=" + files + "/a.txt HTTP/1.0\r\nRange: bytes=0-3\r\n\r\n",
		"GET /xs.php?h=X-Sendfile&ct=application/x-foo&f=" + files + "/a.txt HTTP/1.0\r\n\r\n",
		xs("X-LIGHTTPD-send-file", files+"/a.txt"),
		xs("X-Sendfile2", strings.ReplaceAll(files+"/a.txt 0-3, "+files+"/a.txt 5-", " ", "%20")),
		xs("X-Sendfile", root+"/outside/s.txt"),
		xs("X-Sendfile", files+"/../outside/s.txt"),
		xs("X-Sendfile", files+"/missing.txt"),
		xs("X-Sendfile2", files+"/a.txt"),
		"GET /xs.php?h=X-Sendfile&f=" + files + "/a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-3\r\nConnection: close\r\n\r\n",
		"GET /xs.php?h=X-Sendfile&f=" + files + "/a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=2-3,5-6\r\nConnection: close\r\n\r\n",
		"GET /plain.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		// X-Sendfile2 over HTTP/1.1: Range applies to the concatenation.
		sf2 + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		sf2 + " HTTP/1.1\r\nHost: x\r\nRange: bytes=2-6\r\nConnection: close\r\n\r\n",
		sf2 + " HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,20-\r\nConnection: close\r\n\r\n",
		sf2 + " HTTP/1.1\r\nHost: x\r\nRange: bytes=500-\r\nConnection: close\r\n\r\n",
		xs("X-Sendfile", "files/a.txt"),
		"GET /plain.php HTTP/1.1\r\nHost: x\r\nRange: bytes=0-3\r\nConnection: close\r\n\r\n",
	}
	// The clock may tick between the two servers' PHP runs; nothing else
	// in these responses depends on time.
	compareSideBySide(t, g, l, reqs, nil, nil)

	t.Run("if-none-match", func(t *testing.T) {
		first := g.raw(t, xs("X-Sendfile", files+"/a.txt"), false)
		if first.resp == nil || first.resp.Header.Get("ETag") == "" {
			t.Fatalf("no ETag: %q", first.raw)
		}
		req := "GET /xs.php?h=X-Sendfile&f=" + files + "/a.txt HTTP/1.0\r\nIf-None-Match: " + first.resp.Header.Get("ETag") + "\r\n\r\n"
		compareSideBySide(t, g, l, []string{req}, nil, nil)
	})
}

// stopWithChildren interrupts s, waits until it exited, and fails if a
// backend whose environment carries mark is still alive (it is then killed
// so the harness does not hang on its inherited pipes).
func stopWithChildren(t *testing.T, s *server, mark string) {
	t.Helper()
	pid := s.cmd.Process.Pid
	s.cmd.Process.Signal(os.Interrupt)
	for i := 0; i < 100; i++ {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || bytes.Contains(st, []byte(") Z ")) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	ents, _ := os.ReadDir("/proc")
	want := []byte("GOLIGHTY_TEST_MARK=" + mark + "\x00")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		st, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err == nil && bytes.Contains(env, want) && !bytes.Contains(st, []byte(") Z ")) {
			t.Errorf("backend pid %d outlived golighty's graceful stop", p)
			syscall.Kill(-p, syscall.SIGKILL)
		}
	}
}
