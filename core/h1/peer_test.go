package h1

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

const lighttpdBin = "/usr/sbin/lighttpd"

// startLighttpd runs Debian's lighttpd on a loopback port with a minimal
// config serving root; it is stopped at cleanup.
func startLighttpd(t *testing.T, root string) string {
	t.Helper()
	if _, err := os.Stat(lighttpdBin); err != nil {
		if os.Getenv("GOLIGHTY_REQUIRE_PEERS") == "1" {
			t.Fatalf("lighttpd required (GOLIGHTY_REQUIRE_PEERS=1): %v", err)
		}
		t.Skipf("no %s", lighttpdBin)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := filepath.Join(t.TempDir(), "lighttpd.conf")
	must(t, os.WriteFile(conf, []byte(fmt.Sprintf(`server.document-root = %q
server.bind = "127.0.0.1"
server.port = %d
server.max-request-size = 1
server.errorlog = %q
mimetype.assign = (".txt" => "text/plain")
`, root, port, filepath.Join(filepath.Dir(conf), "error.log"))), 0o644))
	cmd := exec.Command(lighttpdBin, "-D", "-f", conf)
	cmd.Stderr = os.Stderr
	must(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("lighttpd did not start on %s", addr)
	return ""
}

// TestSideBySideLighttpd sends every wire case to lighttpd and to the
// engine and compares the status and whether the connection closed.
func TestSideBySideLighttpd(t *testing.T) {
	root := testDocroot(t)
	peer := startLighttpd(t, root)
	_, ours := startServer(t, testConfig(), testHandler(root))
	for _, tc := range wireCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lr, lclosed := exchange(t, peer, tc.raw)
			gr, gclosed := exchange(t, ours, tc.raw)
			if lr.status != gr.status || lr.proto != gr.proto {
				t.Errorf("lighttpd %s %d, golighty %s %d", lr.proto, lr.status, gr.proto, gr.status)
			}
			if lclosed != gclosed {
				t.Errorf("closed: lighttpd %v, golighty %v", lclosed, gclosed)
			}
			lc, _ := lr.header("Connection")
			gc, _ := gr.header("Connection")
			if lc != gc {
				t.Errorf("Connection header: lighttpd %q, golighty %q", lc, gc)
			}
			if lr.status != tc.status || lclosed != tc.closes {
				t.Errorf("lighttpd answered %d closed=%v; table says %d closed=%v", lr.status, lclosed, tc.status, tc.closes)
			}
		})
	}
}
