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

// sockproxyExchange sends raw bytes and reads the echo; then it
// half-closes and reports whether the server closed in turn
// (tcp-fin-propagate carries the FIN to the backend, which closes). The
// FIN goes out only after the echo: sent together with the bytes it can
// reach lighttpd before its backend connect completes, and lighttpd then
// drops the connection unanswered.
func sockproxyExchange(t *testing.T, s *server, send string) (string, bool) {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, send)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, len(send))
	n, err := io.ReadFull(c, buf)
	if err != nil {
		return string(buf[:n]), true
	}
	c.(*net.TCPConn).CloseWrite()
	_, err = c.Read(make([]byte, 1))
	return string(buf[:n]), err == io.EOF
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
			gr, gclosed := sockproxyExchange(t, g, tc.send)
			gd := time.Since(start)
			lr, lclosed := sockproxyExchange(t, l, tc.send)
			// With the backend down lighttpd leaves the connection open
			// until it times out; golighty closes it at once.
			if gd > time.Second {
				t.Errorf("golighty took %v", gd)
			}
			if gr != tc.want || lr != tc.want {
				t.Fatalf("golighty %q, lighttpd %q, want %q", gr, lr, tc.want)
			}
			if tc.want != "" && (!gclosed || !lclosed) {
				t.Errorf("half-close not propagated: golighty closed %v, lighttpd closed %v", gclosed, lclosed)
			}
		})
	}
}
