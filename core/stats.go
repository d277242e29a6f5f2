package core

import (
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
)

// Stats are the server's counters: atomic, process-wide, never locked on
// the request path. mod_status and the metrics page read them.
type Stats struct {
	// Panics counts requests (or connections) whose serving panicked.
	Panics atomic.Uint64

	panicSites sync.Map // "file:line" of the panic -> *atomic.Uint64
}

// PanicSites returns how often each distinct panic site was hit.
func (st *Stats) PanicSites() map[string]uint64 {
	out := map[string]uint64{}
	st.panicSites.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return out
}

// recordPanic counts a recovered panic and logs it: with its stack the first
// time its site is seen, as one line with the running count afterwards, so
// a request that panics on every try cannot flood the log with stacks. It
// must be called from the deferred function that recovered v, while the
// panicking frames are still on the stack.
func (st *Stats) recordPanic(log *slog.Logger, v any) {
	st.Panics.Add(1)
	site := panicSite()
	c, loaded := st.panicSites.LoadOrStore(site, new(atomic.Uint64))
	n := c.(*atomic.Uint64).Add(1)
	msg := fmt.Sprint(v)
	if !loaded {
		log.Error("panic serving request", "panic", msg, "site", site, "stack", string(debug.Stack()))
		return
	}
	log.Error("panic serving request", "panic", msg, "site", site, "times", n)
}

// panicSite is the file:line that panicked: the first frame below
// runtime.gopanic that is not the runtime's own (a nil dereference or an
// index out of range panics from inside the runtime).
func panicSite() string {
	var pcs [64]uintptr
	n := runtime.Callers(2, pcs[:])
	frames := runtime.CallersFrames(pcs[:n])
	inPanic := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			inPanic = true
		case inPanic && !strings.HasPrefix(f.Function, "runtime."):
			return fmt.Sprintf("%s:%d", f.File, f.Line)
		}
		if !more {
			return "unknown"
		}
	}
}
