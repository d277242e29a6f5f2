package proxy

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/golighty/golighty/core/coretest"
)

// BenchmarkProxy1KiB measures one proxied request: matching, the request
// head, connect, a raw backend answering 1 KiB, head parsing and the
// buffered body, on keep-alive client connections.
func BenchmarkProxy1KiB(b *testing.B) {
	body := strings.Repeat("k", 1024)
	be := startRaw(b, func(br *bufio.Reader, c net.Conn) {
		if _, err := readHead(br); err != nil {
			return
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	})
	h := coretest.New(b, fmt.Sprintf(`
server.document-root = "@DIR@"
server.modules = ("mod_proxy")
proxy.server = ( "/" => (( "socket" => %q )))
`, be.ln.Addr().String()))
	h.PipeBench(b, "GET /x?y=1 HTTP/1.1\r\nHost: bench\r\nUser-Agent: b\r\n\r\n", func(resp *http.Response, body []byte) error {
		if resp.StatusCode != 200 || len(body) != 1024 {
			return fmt.Errorf("%d %d bytes", resp.StatusCode, len(body))
		}
		return nil
	})
}
