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
		// One port for each socket, all different: a dual-stack socket
		// on the main socket's port would keep the server from starting.
		ports := distinctPorts(t, len(blocks)+1)
		for i, b := range blocks {
			fmt.Fprintf(&conf, "$SERVER[\"socket\"] == \"[::]:%d\" { %s }\n", ports[i], b)
		}
		startServerOn(t, srv.name, srv.bin, dir, conf.String(), ports[len(blocks)])
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

// distinctPorts finds n ports free for IPv4 and IPv6 now, all different
// (their listeners are open at once while they are chosen).
func distinctPorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "[::]:0") // both families
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}
