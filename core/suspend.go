package core

import (
	"syscall"
	"time"

	"github.com/golighty/golighty/core/h1"
)

// Resumer is a Handler whose requests can wait for their backend without a
// goroutine (Request.Suspend).
type Resumer interface {
	Handler
	// Resume goes on with a request whose Serve returned Suspended: the
	// backend socket is readable, the wait's limit passed, or the server
	// stops. It returns what Serve would have; it cannot suspend again.
	Resume(rc *Request) Result
}

// suspender is a ResponseWriter that can let go of the request's goroutine
// while the handler waits (h1.ResponseWriter.Suspend).
type suspender interface {
	Suspend(rc syscall.RawConn, until time.Time) bool
}

func (x h1Writer) Suspend(rc syscall.RawConn, until time.Time) bool { return x.w.Suspend(rc, until) }

// Suspend lets the request wait for its backend's answer without holding
// a goroutine: until the backend socket behind backend is readable (or
// until passes; zero: no limit). On true the handler, a Resumer, has saved
// what it needs and returns Suspended from Serve at once; its Resume runs
// later on another goroutine. False (an HTTP/2 stream, a pass through the
// pipeline other than the request's first, an error handler's, an engine
// that cannot watch the socket): the handler waits itself.
func (rc *Request) Suspend(backend syscall.RawConn, until time.Time) bool {
	if !rc.canSuspend || rc.suspended {
		return false
	}
	if _, ok := rc.Handler.(Resumer); !ok {
		return false
	}
	s, ok := rc.w.(suspender)
	if !ok || !s.Suspend(backend, until) {
		return false
	}
	rc.suspended = true
	return true
}

// ResumeH1 goes on with a request whose handler suspended (h1.Resumer):
// the handler's Resume, the rest of the pipeline, the response.
func (s *Server) ResumeH1(w *h1.ResponseWriter, r *h1.Request) {
	rc, _ := w.TailState().(*Request)
	w.SetTailState(nil)
	if rc == nil || !rc.suspended {
		panic("core: ResumeH1 without a suspended request")
	}
	ended := false
	defer func() {
		if !ended {
			s.panicked(rc, rc.Snap, w, r, recover())
		}
	}()
	rc.suspended = false
	rc.continuePhases(rc.Handler.(Resumer).Resume(rc))
	s.respondH1(rc, w, r)
	ended = true
}

var _ h1.Resumer = (*Server)(nil)
