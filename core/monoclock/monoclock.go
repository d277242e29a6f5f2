// Package monoclock reads the monotonic clock alone, and keeps a clock that
// ticks once a second. time.Now reads the wall clock and the monotonic one
// (48 ns here against 32 for one read); deadlines and cache stamps, which
// are only compared with each other or with time.Now's monotonic part, need
// the monotonic reading only, and what needs whole seconds (the Date
// header, the stat cache's stamps) needs no reading per request at all:
// lighttpd reads its clock once a second for both. A 1 KiB keep-alive
// request read the clock seven times, 7.6% of golighty's user time.
package monoclock

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// base anchors both readings: the process's start, on both clocks.
var base = time.Now()

// Now is the current time for deadlines: base advanced by the monotonic
// clock. Deadlines compare monotonic readings, so they are exact; the
// wall-clock part would miss a step of the system clock since start, which
// no deadline looks at.
func Now() time.Time { return base.Add(time.Since(base)) }

// The ticking clock: a timer updates both readings just after each wall
// clock second begins, so the Date header turns with the second.
var (
	tickOnce sync.Once
	ticker   atomic.Pointer[time.Timer]
	monoSecs atomic.Int64 // whole seconds since base, monotonic
	unixSecs atomic.Int64 // the wall clock's Unix seconds
	tickAt   atomic.Pointer[time.Time]
)

// Time is the current time on both clocks for one reading of the monotonic
// one: the last tick's time.Now advanced by the monotonic clock since. Its
// wall part takes up a step of the system clock at the next tick (as
// lighttpd's request times do: it reads its clock once a second), unlike
// Now's; durations between readings are exact. Request start and end times
// (the access log's) use it: time.Now reads both clocks.
func Time() time.Time {
	tickOnce.Do(startTicking)
	t := *tickAt.Load()
	return t.Add(time.Since(t))
}

// Nanos is a reading of this package's clocks as nanoseconds on the
// monotonic clock since the process started: 8 bytes for structures that
// cannot afford a time.Time's 24. At turns it back into a time for
// deadlines (with Now's wall part).
func Nanos(t time.Time) int64 { return int64(t.Sub(base)) }

// At is the time Nanos read as n.
func At(n int64) time.Time { return base.Add(time.Duration(n)) }

// Seconds counts whole seconds on the monotonic clock (from the start of
// the process's first wall second), as of the last tick: a clock that ticks
// once a second, for stamps compared only with each other.
func Seconds() int64 {
	tickOnce.Do(startTicking)
	return monoSecs.Load()
}

// Unix is the wall clock's Unix time in whole seconds as of the last tick
// (at most a second, and a timer's lateness, behind).
func Unix() int64 {
	tickOnce.Do(startTicking)
	return unixSecs.Load()
}

func startTicking() {
	// Armed only once stored: the first tick may come at once.
	ticker.Store(time.AfterFunc(time.Duration(math.MaxInt64), func() { ticker.Load().Reset(tick()) }))
	ticker.Load().Reset(tick())
}

// tick updates the readings and returns the time to the next wall second.
func tick() time.Duration {
	now := time.Now()
	// Counted from the start of base's wall second, so it turns at the
	// same ticks as unixSecs.
	monoSecs.Store(int64((now.Sub(base) + time.Duration(base.Nanosecond())) / time.Second))
	unixSecs.Store(now.Unix())
	tickAt.Store(&now)
	return time.Second - time.Duration(now.Nanosecond())
}
