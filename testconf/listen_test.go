package testconf

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIPv6SocketsTakeIPv4AsLighttpd: for IPv6 wildcard sockets configured
// with server.set-v6only and server.v4mapped, IPv4 clients connect to
// golighty's exactly where they connect to lighttpd's.
func TestIPv6SocketsTakeIPv4AsLighttpd(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	if l, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 here: %v", err)
	} else {
		l.Close()
	}
	blocks := []string{
		``,
		`server.set-v6only = "disable"`,
		`server.v4mapped = "enable"`,
		`server.v4mapped = "disable"`,
		`server.set-v6only = "disable" server.v4mapped = "disable"`,
	}
	takesV4 := map[string][]bool{}
	for _, srv := range []struct{ name, bin string }{{"lighttpd", lighttpd}, {"golighty", golightyBin}} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "a.txt"), []byte("x"), 0o644)
		var conf strings.Builder
		fmt.Fprintf(&conf, "server.document-root = %q\nserver.bind = \"127.0.0.1\"\nserver.port = @PORT@\n", dir)
		ports := make([]int, len(blocks))
		for i, b := range blocks {
			ports[i] = freePort(t)
			fmt.Fprintf(&conf, "$SERVER[\"socket\"] == \"[::]:%d\" { %s }\n", ports[i], b)
		}
		startServer(t, srv.name, srv.bin, dir, conf.String())
		for i := range blocks {
			c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", ports[i]), 2*time.Second)
			if c != nil {
				c.Close()
			}
			takesV4[srv.name] = append(takesV4[srv.name], err == nil)
		}
	}
	for i, b := range blocks {
		if l, g := takesV4["lighttpd"][i], takesV4["golighty"][i]; l != g {
			t.Errorf("[::] socket { %s }: IPv4 clients connect to lighttpd: %v, to golighty: %v", b, l, g)
		}
	}
}
