package fastcgi

import (
	"bufio"
	"io"
	"net"
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
			var (
				client net.Conn
				br     *bufio.Reader
				done   chan struct{}
			)
			// The server ends a connection after server.max-keep-alive-requests
			// (1000): dial again then.
			connect := func() {
				var server net.Conn
				client, server = net.Pipe()
				br = bufio.NewReader(client)
				done = make(chan struct{})
				go func(done chan struct{}) {
					defer close(done)
					h.Server.ServeConn(server, "127.0.0.1:80")
				}(done)
			}
			connect()
			req := "GET /index.php?x=1 HTTP/1.1\r\nHost: bench\r\nUser-Agent: b\r\n\r\n"
			hreq := &http.Request{Method: "GET"}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				go io.WriteString(client, req)
				resp, err := http.ReadResponse(br, hreq)
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "hello") {
					b.Fatalf("%d %q", resp.StatusCode, body)
				}
				if resp.Close {
					client.Close()
					<-done
					connect()
				}
			}
			b.StopTimer()
			client.Close()
			<-done
		})
	}
}
