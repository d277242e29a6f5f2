package gw

import (
	"sync/atomic"
	"syscall"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/rawsys"
)

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

// EnterBelow counts a wait in a goroutine and reports true if fewer than
// Above were waiting; false (nothing counted) means the request should
// suspend. The check and the count are one step: checked apart, requests
// deciding at once went past the limit (65 of 64).
func (g *WaitGate) EnterBelow() bool {
	for {
		n := g.waiting.Load()
		if n >= g.above.Load() {
			return false
		}
		if g.waiting.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Enter counts a wait in a goroutine whatever the count (a request that
// cannot suspend); Leave ends a wait Enter or EnterBelow began.
func (g *WaitGate) Enter() { g.waiting.Add(1) }

// Leave ends a wait Enter began.
func (g *WaitGate) Leave() { g.waiting.Add(-1) }

// Above is how many requests may wait in goroutines.
func (g *WaitGate) Above() int32 { return g.above.Load() }

// SetAbove changes Above (0: every wait suspends) and returns the old value.
func (g *WaitGate) SetAbove(n int32) int32 { return g.above.Swap(n) }

// Suspension is a request waiting for its backend's answer without a
// goroutine (core.Request.Suspend). The client watch runs meanwhile: if the
// client goes, it shuts the backend socket down, which the engine
// watching the socket sees as the answer's end.
type Suspension struct {
	be    *Backend
	until time.Time
	// target is the backend the client watch aborts (Abort): set before
	// the watch starts and not changed until the caller stopped it.
	target  *Backend
	waiting atomic.Bool
	entered bool // Suspend counted the goroutine's wait that follows (Await)
}

// Suspend lets rc wait for be's answer, within d (zero: no limit), without
// its goroutine when g is full and the engine can watch the socket. On
// true the handler returns core.Suspended at once, and its Resume takes
// the wait back with s.Resume; w, the handler's client watch, runs with s
// as its Aborter until the handler stops it. The whole request must have
// gone out.
func (s *Suspension) Suspend(rc *core.Request, g *WaitGate, be *Backend, d time.Duration, w *ClientWatch) bool {
	if g.EnterBelow() {
		s.entered = true
		return false
	}
	raw, ok := rawOf(be)
	if !ok {
		return false
	}
	var until time.Time
	if d > 0 {
		until = time.Now().Add(d)
	}
	if !rc.Suspend(raw, until) {
		return false
	}
	s.be, s.until, s.target = be, until, be
	s.waiting.Store(true)
	w.Start(rc, s)
	return true
}

func rawOf(be *Backend) (syscall.RawConn, bool) {
	sc, ok := be.Conn.(syscall.Conn)
	if !ok {
		return nil, false
	}
	raw, err := sc.SyscallConn()
	return raw, err == nil
}

// Abort ends the backend request for the client watch (Aborter): while the
// request is suspended the socket is shut down (the engine reads that as
// the answer's end and resumes the request); a goroutine's wait or read is
// given a deadline in the past.
func (s *Suspension) Abort() {
	if s.waiting.Load() {
		if raw, ok := rawOf(s.target); ok {
			raw.Control(func(fd uintptr) { rawsys.Shutdown(fd, syscall.SHUT_RDWR) })
		}
		return
	}
	s.target.SetReadDeadline(time.Unix(1, 0))
}

// Resume ends the suspension: the backend waited on and the wait's
// outcome, known at once (the socket is readable, or the limit passed)
// unless the server stops meanwhile: then the answer is awaited here. The
// client watch runs on, to be stopped once the answer's first bytes are
// read, as after Await.
func (s *Suspension) Resume() (*Backend, error) {
	be := s.be
	s.be = nil
	s.waiting.Store(false)
	if !s.until.IsZero() {
		be.SetReadDeadline(s.until)
	}
	return be, AwaitAnswer(be.Conn, 0)
}

// Await waits in the goroutine for be's answer within d (zero: no limit),
// counted by g (already, if Suspend declined because g had room), with the
// client watch w running (to be stopped once the answer's first bytes are
// read): a client that goes ends the wait.
func (s *Suspension) Await(rc *core.Request, g *WaitGate, be *Backend, d time.Duration, w *ClientWatch) error {
	s.target = be
	w.Start(rc, s)
	if !s.entered {
		g.Enter()
	}
	s.entered = false
	err := AwaitAnswer(be.Conn, d)
	g.Leave()
	return err
}
