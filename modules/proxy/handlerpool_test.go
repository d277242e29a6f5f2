package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/golighty/golighty/core/coretest"
)

// TestHandlersReused: a request's handler is reused by later requests
// (core.HandlerReleaser) and carries nothing from one to the next
// (coretest.GetsAndPosts), for GETs, POSTs and requests that waited
// suspended. (Under the race detector sync.Pool drops a quarter of what is
// put back, hence the loose bound.)
func TestHandlersReused(t *testing.T) {
	var made atomic.Int32
	oldNew := handlers.New
	handlers.New = func() any { made.Add(1); return new(handler) }
	t.Cleanup(func() { handlers.New = oldNew })

	be := startRaw(t, func(br *bufio.Reader, c net.Conn) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, _ := io.ReadAll(req.Body)
		answer := fmt.Sprintf("%s %s %d", req.Method, req.URL.RequestURI(), len(body))
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(answer), answer)
	})
	addr := coretest.BenchServer(t, servedConf(be.ln.Addr().String(), ""), nil)
	const n = 60
	coretest.GetsAndPosts(t, addr, "/a", n, func() { suspendEvery(t) })
	if m := made.Load(); m > n/2 {
		t.Errorf("%d handlers made for %d requests: they are not reused", m, n)
	}
}
