package testconf

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

const sockproxyConf = `
server.document-root = "@ROOT@"
server.bind = "127.0.0.1"
server.port = @PORT@
server.modules = ("mod_sockproxy")
sockproxy.server = ( "" => (( "host" => "127.0.0.1", "port" => @BPORT@, "tcp-fin-propagate" => "enable" )))
`

// sockproxyExchange sends raw bytes, half-closes, and reads what comes
// back until the server closes.
func sockproxyExchange(t *testing.T, s *server, send string) string {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, send)
	c.(*net.TCPConn).CloseWrite() // tcp-fin-propagate passes it on
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, len(send))
	n, _ := io.ReadFull(c, buf)
	return string(buf[:n])
}

// TestSideBySideSockproxy: whole connections, HTTP or not, pass through
// to the backend (an echo); an unreachable backend closes the connection
// unanswered, on both servers.
func TestSideBySideSockproxy(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	root := t.TempDir()
	for _, tc := range []struct {
		name  string
		bport int
		send  string
		want  string
	}{
		{"raw bytes", wsEchoBackend(t), "\x00\x01not http at all\xff\n", "\x00\x01not http at all\xff\n"},
		{"an HTTP request is not parsed", wsEchoBackend(t), "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"backend down", freePort(t), "hello", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := strings.NewReplacer("@ROOT@", root, "@BPORT@", strconv.Itoa(tc.bport)).Replace(sockproxyConf)
			g := startServer(t, "golighty", golightyBin, root, conf)
			l := startServer(t, "lighttpd", lighttpd, root, conf)
			start := time.Now()
			gr := sockproxyExchange(t, g, tc.send)
			gd := time.Since(start)
			lr := sockproxyExchange(t, l, tc.send)
			// With the backend down lighttpd leaves the connection open
			// until it times out; golighty closes it at once.
			if gd > time.Second {
				t.Errorf("golighty took %v", gd)
			}
			if gr != tc.want || lr != tc.want {
				t.Fatalf("golighty %q, lighttpd %q, want %q", gr, lr, tc.want)
			}
		})
	}
}
