package fastcgi

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/golighty/golighty/core/coretest"
)

// BenchmarkRoundTrip measures one FastCGI request through the module:
// matching, params, connect, Go's net/http/fcgi answering 13 bytes, header
// parsing and the buffered body, on keep-alive client connections.
func BenchmarkRoundTrip(b *testing.B) {
	for _, network := range []string{"tcp", "unix"} {
		b.Run(network, func(b *testing.B) {
			ln := goBackend(b, network, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "hello, world\n")
			}))
			h := coretest.New(b, confFor(".php", hostOpt(ln), ""))
			h.WriteFile("www/index.php", "")
			h.PipeBench(b, "GET /index.php?x=1 HTTP/1.1\r\nHost: bench\r\nUser-Agent: b\r\n\r\n", func(resp *http.Response, body []byte) error {
				if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "hello") {
					return fmt.Errorf("%d %q", resp.StatusCode, body)
				}
				return nil
			})
		})
	}
}
