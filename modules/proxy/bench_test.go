package proxy

import (
	"bufio"
	"fmt"
	"io"
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
	var (
		client net.Conn
		br     *bufio.Reader
		done   chan struct{}
	)
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
	req := "GET /x?y=1 HTTP/1.1\r\nHost: bench\r\nUser-Agent: b\r\n\r\n"
	hreq := &http.Request{Method: "GET"}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		go io.WriteString(client, req)
		resp, err := http.ReadResponse(br, hreq)
		if err != nil {
			b.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || len(got) != 1024 {
			b.Fatalf("%d %d bytes", resp.StatusCode, len(got))
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
}
