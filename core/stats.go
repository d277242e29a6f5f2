package core

import (
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Stats are the server's counters: atomic, process-wide, never locked on
// the request path (one clock read and a handful of atomic adds per
// request). mod_status, its Prometheus form and mod_rrdtool read them.
type Stats struct {
	// Panics counts requests (or connections) whose serving panicked.
	Panics atomic.Uint64

	panicSites sync.Map // "file:line" of the panic -> *atomic.Uint64

	started   time.Time
	requests  [len(statMethods)][statStatuses]atomic.Uint64
	bytesIn   atomic.Uint64 // request heads and bodies read
	bytesOut  atomic.Uint64 // response heads and bodies written (before chunked framing)
	inFlight  atomic.Int64
	durations [len(DurationBuckets) + 1]atomic.Uint64
	durSum    atomic.Uint64 // nanoseconds

	reloadsOK, reloadsFailed atomic.Uint64
	lastReload               atomic.Int64 // Unix seconds of the last successful reload

	// conns and listeners read the wire engines (set by NewServer).
	conns     func() int64
	listeners func(visit func(ListenerStat))

	recent recentSamples
}

// recentSamples are the request and traffic totals of the last seconds,
// noted once a second (Server.Start), for 5-second sliding averages.
type recentSamples struct {
	mu   sync.Mutex
	reqs [6]uint64
	out  [6]uint64
	n    int
}

// sample notes the current totals (once a second).
func (st *Stats) sample() {
	reqs, out := st.Requests(), st.BytesOut()
	r := &st.recent
	r.mu.Lock()
	copy(r.reqs[1:], r.reqs[:5])
	copy(r.out[1:], r.out[:5])
	r.reqs[0], r.out[0] = reqs, out
	r.n++
	r.mu.Unlock()
}

// Recent returns requests and response bytes per second averaged over the
// last five whole seconds (lighttpd's "5s sliding average"; less history
// right after start counts as quiet seconds).
func (st *Stats) Recent() (reqs, bytes float64) {
	r := &st.recent
	r.mu.Lock()
	defer r.mu.Unlock()
	old := min(r.n-1, 5)
	if old <= 0 {
		return 0, 0
	}
	return float64(r.reqs[0]-r.reqs[old]) / 5, float64(r.out[0]-r.out[old]) / 5
}

// statMethods are the request methods counted on their own; any other
// method counts as "other" (bounded label values for the metrics page).
var statMethods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "QUERY",
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "CONNECT", "TRACE", "other"}

// statStatuses: status codes below it are counted each on its own, any
// other in slot 0.
const statStatuses = 600

// DurationBuckets are the upper bounds, in seconds, of the request
// duration histogram (from the parsed head to the response handed to the
// connection).
var DurationBuckets = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// durationBounds are DurationBuckets in nanoseconds.
var durationBounds = func() (b [len(DurationBuckets)]int64) {
	for i, s := range DurationBuckets {
		b[i] = int64(s * 1e9)
	}
	return b
}()

func methodIndex(m string) int {
	for i, s := range statMethods[:len(statMethods)-1] {
		if s == m {
			return i
		}
	}
	return len(statMethods) - 1
}

// record counts one finished request.
func (st *Stats) record(method string, status int, in, out int64, d time.Duration) {
	if status < 0 || status >= statStatuses {
		status = 0
	}
	st.requests[methodIndex(method)][status].Add(1)
	st.bytesIn.Add(uint64(in))
	st.bytesOut.Add(uint64(out))
	ns := int64(d)
	i := 0
	for i < len(durationBounds) && ns > durationBounds[i] {
		i++
	}
	st.durations[i].Add(1)
	st.durSum.Add(uint64(max(ns, 0)))
}

// Started is when the server started (lighttpd's startup_ts).
func (st *Stats) Started() time.Time { return st.started }

// Requests is the number of requests answered since start.
func (st *Stats) Requests() uint64 {
	var n uint64
	for i := range st.durations {
		n += st.durations[i].Load()
	}
	return n
}

// EachRequestCount calls f for every (method, status) pair with a count;
// status 0 stands for codes outside 0-599.
func (st *Stats) EachRequestCount(f func(method string, status int, n uint64)) {
	for m := range st.requests {
		for code := range st.requests[m] {
			if n := st.requests[m][code].Load(); n != 0 {
				f(statMethods[m], code, n)
			}
		}
	}
}

// BytesIn is the request bytes read (heads and bodies) since start.
func (st *Stats) BytesIn() uint64 { return st.bytesIn.Load() }

// BytesOut is the response bytes written (heads and bodies, before chunked
// framing) since start.
func (st *Stats) BytesOut() uint64 { return st.bytesOut.Load() }

// InFlight is the number of requests being served now.
func (st *Stats) InFlight() int64 { return st.inFlight.Load() }

// OpenConns is the number of client connections open now.
func (st *Stats) OpenConns() int64 {
	if st.conns == nil {
		return 0
	}
	return st.conns()
}

// ListenerStat is one listening socket's share of the traffic.
type ListenerStat struct {
	Socket   string // the $SERVER["socket"] token
	Conns    int64  // open connections
	Requests uint64 // requests read on it since it opened
}

// Listeners calls visit for every listening socket.
func (st *Stats) Listeners(visit func(ListenerStat)) {
	if st.listeners != nil {
		st.listeners(visit)
	}
}

// Durations returns the request duration histogram: cumulative counts per
// DurationBuckets bound, the total count and the sum in seconds.
func (st *Stats) Durations() (cumulative [len(DurationBuckets)]uint64, count uint64, sum float64) {
	var c uint64
	for i := range DurationBuckets {
		c += st.durations[i].Load()
		cumulative[i] = c
	}
	count = c + st.durations[len(DurationBuckets)].Load()
	return cumulative, count, float64(st.durSum.Load()) / 1e9
}

// RecordReload counts a configuration reload and its outcome.
func (st *Stats) RecordReload(ok bool) {
	if ok {
		st.reloadsOK.Add(1)
		st.lastReload.Store(time.Now().Unix())
	} else {
		st.reloadsFailed.Add(1)
	}
}

// Reloads returns how many reloads succeeded and failed, and when the last
// one succeeded (zero time if none did).
func (st *Stats) Reloads() (ok, failed uint64, last time.Time) {
	if sec := st.lastReload.Load(); sec != 0 {
		last = time.Unix(sec, 0)
	}
	return st.reloadsOK.Load(), st.reloadsFailed.Load(), last
}

// PluginStatsReporter is a module that keeps lighttpd's plugin statistics,
// the "key: value" lines of status.statistics-url (mod_fastcgi's
// fastcgi.requests and gw.backend.* counters). Values of a key reported by
// several modules (gw.active-requests) add up.
type PluginStatsReporter interface {
	PluginStats(add func(key string, value int64))
}

// BackendStat is one backend process (or address) of a gateway module,
// for the metrics page.
type BackendStat struct {
	Module    string // "mod_fastcgi"
	Ext       string // extension or prefix it serves (".php")
	Host      string // backend label in the config ("" when unlabeled)
	Proc      int    // process (address) number within the host
	Addr      string // socket path or host:port
	Load      int64  // requests running on it now
	Connected uint64 // connections made to it
	Died      uint64 // failed connects (refused, missing socket, timeout)
	Overload  uint64 // connects refused for overload (EAGAIN)
	Disabled  bool   // out of balancing now (disable-time after a failure)
}

// BackendReporter is a gateway module that can list its backends.
type BackendReporter interface {
	Backends(visit func(BackendStat))
}

// CertificateReporter is a TLS module that can list the certificates it
// serves now (after any reload of their files), for the metrics page.
type CertificateReporter interface {
	Certificates(visit func(name string, notAfter time.Time))
}

// Stats returns the server's counters.
func (rc *Request) Stats() *Stats { return rc.stats }

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
