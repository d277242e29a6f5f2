package gw

import "sync/atomic"

// WaitGate decides which requests wait for their backend's answer
// suspended (core.Request.Suspend) rather than in their goroutine: those
// beyond the first Above waiting at once. Below it the goroutine's wait, a
// park in the netpoller, is the cheaper (FastCGI with kept connections,
// every request suspended: 35.2 -> 43.3 µs of CPU per request); above it a
// queue on a slow backend (a burst on php-cgi, long polls through a proxy)
// holds no stack per request.
type WaitGate struct {
	waiting atomic.Int32 // requests waiting in their goroutine now
	above   atomic.Int32
}

// NewWaitGate returns a gate that lets above requests wait in goroutines.
func NewWaitGate(above int32) *WaitGate {
	g := new(WaitGate)
	g.above.Store(above)
	return g
}

// Full reports whether a request about to wait should suspend.
func (g *WaitGate) Full() bool { return g.waiting.Load() >= g.above.Load() }

// Enter and Leave bracket a wait in a goroutine.
func (g *WaitGate) Enter() { g.waiting.Add(1) }

// Leave ends a wait Enter began.
func (g *WaitGate) Leave() { g.waiting.Add(-1) }

// Above is how many requests may wait in goroutines.
func (g *WaitGate) Above() int32 { return g.above.Load() }

// SetAbove changes Above (0: every wait suspends) and returns the old value.
func (g *WaitGate) SetAbove(n int32) int32 { return g.above.Swap(n) }
