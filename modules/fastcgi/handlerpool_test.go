package fastcgi

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golighty/golighty/core/coretest"
	"github.com/golighty/golighty/modules/internal/gw"
)

// TestHandlersReused: a request's handler is reused by later requests
// (core.HandlerReleaser), and carries nothing from one to the next: each
// answer is its own request's, for GETs, POSTs and requests that waited
// suspended. (Under the race detector sync.Pool drops a quarter of what is
// put back, hence the loose bound.)
func TestHandlersReused(t *testing.T) {
	var made atomic.Int32
	oldNew := handlers.New
	handlers.New = func() any { made.Add(1); return new(handler) }
	t.Cleanup(func() { handlers.New = oldNew })

	b := startRaw(t, "unix", func(req *rawReq, c net.Conn) {
		q, _ := req.param("QUERY_STRING")
		m, _ := req.param("REQUEST_METHOD")
		writeResponse(c, fmt.Sprintf("Content-Type: text/plain\r\n\r\n%s %s %d", m, q, len(req.stdin)))
	})
	addr := coretest.BenchServer(t, servedConf(hostOpt(b.ln), ""), map[string]string{"www/a.php": ""})
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
		req := fmt.Sprintf("GET /a.php?i=%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		want := fmt.Sprintf("GET i=%d 0", i)
		if i%3 == 1 {
			body := strings.Repeat("b", i)
			req = fmt.Sprintf("POST /a.php?i=%d HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", i, len(body), body)
			want = fmt.Sprintf("POST i=%d %d", i, len(body))
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

// TestReleasedHandlerHoldsNothing: a released handler keeps no reference
// to its request's module, host, response or state (the pool would keep
// them alive), but a handler not at rest is not released.
func TestReleasedHandlerHoldsNothing(t *testing.T) {
	h := &handler{}
	h.m, h.host, h.fresh, h.entered = &Module{}, &gw.Host{}, true, true
	h.susp.sent, h.lim.N = 7, 9
	h.ReleaseHandler()
	if st := reflect.ValueOf(&h.handlerState).Elem(); !st.IsZero() {
		for i := range st.NumField() {
			if !st.Field(i).IsZero() {
				t.Errorf("released handler keeps its %s", st.Type().Field(i).Name)
			}
		}
	}
	busy := &handler{}
	busy.m = &Module{}
	busy.waiting.Store(true) // suspended: the engine still watches for it
	busy.ReleaseHandler()
	if busy.m == nil {
		t.Error("a handler not at rest was cleared for reuse")
	}
}
