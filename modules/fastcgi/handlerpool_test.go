package fastcgi

import (
	"fmt"
	"net"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/golighty/golighty/core/coretest"
	"github.com/golighty/golighty/modules/internal/gw"
)

// TestHandlersReused: a request's handler is reused by later requests
// (core.HandlerReleaser), and carries nothing from one to the next
// (coretest.GetsAndPosts), for GETs, POSTs and requests that waited
// suspended. (Under the race detector sync.Pool drops a quarter of what is
// put back, hence the loose bound.)
func TestHandlersReused(t *testing.T) {
	var made atomic.Int32
	oldNew := handlers.New
	handlers.New = func() any { made.Add(1); return new(handler) }
	t.Cleanup(func() { handlers.New = oldNew })

	b := startRaw(t, "unix", func(req *rawReq, c net.Conn) {
		uri, _ := req.param("REQUEST_URI")
		m, _ := req.param("REQUEST_METHOD")
		writeResponse(c, fmt.Sprintf("Content-Type: text/plain\r\n\r\n%s %s %d", m, uri, len(req.stdin)))
	})
	addr := coretest.BenchServer(t, servedConf(hostOpt(b.ln), ""), map[string]string{"www/a.php": ""})
	const n = 60
	coretest.GetsAndPosts(t, addr, "/a.php", n, func() { suspendEvery(t) })
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
