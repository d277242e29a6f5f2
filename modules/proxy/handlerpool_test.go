package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golighty/golighty/core/coretest"
)

// TestHandlersReused: a request's handler is reused by later requests
// (core.HandlerReleaser) and carries nothing from one to the next: each
// answer is its own request's, for GETs, POSTs and requests that waited
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
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	const n = 60
	for i := range n {
		if i == n/2 {
			suspendEvery(t) // the second half waits without a goroutine
		}
		req := fmt.Sprintf("GET /a?i=%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		want := fmt.Sprintf("GET /a?i=%d 0", i)
		if i%3 == 1 {
			body := strings.Repeat("b", i)
			req = fmt.Sprintf("POST /a?i=%d HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", i, len(body), body)
			want = fmt.Sprintf("POST /a?i=%d %d", i, len(body))
		}
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(i, err)
		}
		got, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 || string(got) != want {
			t.Fatalf("request %d: %d %q (%v), want %q", i, resp.StatusCode, got, err, want)
		}
	}
	if m := made.Load(); m > n/2 {
		t.Errorf("%d handlers made for %d requests: they are not reused", m, n)
	}
}
