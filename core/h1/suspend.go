package h1

import (
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A handler waiting for a backend's answer (php-cgi queueing a burst of
// requests on its four children) need not hold a goroutine: its stack
// (8 KiB once a request has run through the pipeline) is most of what a
// waiting request costs. The handler saves its state, calls Suspend with
// the backend socket and returns; the engine lets go of the goroutine and
// watches the socket in the idle poller's epoll set, and once it is
// readable (or its limit passed, or the server stops) a worker goes on
// through the handler's Resumer. Measured with 1,000 paced clients whose
// X-Sendfile requests queue on four php-cgi children, at the burst's peak:
// 1,015 goroutines and 8.9 MB of stacks before, 143 and 1.8 MB after (with
// maxIdleWorkers), RSS 31 -> 23.7 MB. A suspension costs more than a
// goroutine's wait on a kept backend connection, so a handler suspends only
// when many requests wait at once (mod_fastcgi's suspendAbove).

// Resumer is a Handler whose requests can wait for a backend without a
// goroutine (ResponseWriter.Suspend).
type Resumer interface {
	Handler
	// ResumeH1 goes on with the request whose ServeH1 returned after a
	// successful Suspend: its backend socket is readable, its limit
	// passed, or the server stops. It must end the request as ServeH1
	// would have, without suspending again.
	ResumeH1(w *ResponseWriter, r *Request)
}

// suspension is what Suspend asked for.
type suspension struct {
	rc    syscall.RawConn // the backend socket to wait for
	until time.Time       // zero: no limit
}

// Suspend asks the engine to let go of the handler's goroutine until the
// socket behind rc is readable (data, its end, an error) or until passes
// (zero: no limit). It reports false when the request cannot wait so (the
// handler then waits itself); after true the handler saves its state and
// returns from ServeH1 at once, and the engine calls ResumeH1 later, from
// another goroutine. The socket must stay open until then: a handler that
// wants to end the wait early shuts it down (that makes it readable).
func (w *ResponseWriter) Suspend(rc syscall.RawConn, until time.Time) bool {
	c := w.c
	if _, ok := c.srv.Handler.(Resumer); !ok || rc == nil || w.wroteHead || c.srv.closing.Load() || !c.srv.parking.Load() {
		return false
	}
	w.susp = suspension{rc: rc, until: until}
	return true
}

// suspend hands c to the idle poller until its handler's backend socket is
// readable; false if it cannot (the caller resumes the handler itself).
// Once the socket is in the set, another goroutine may own c: nothing of
// c (nor of the parkedConn) is touched after the epoll_ctl.
func (c *conn) suspend() bool {
	p := c.srv.poller()
	if p == nil {
		return false
	}
	// Read before the registration: its lock orders these reads before
	// the resuming goroutine's use of c (a read after it, while the
	// epoll_ctl below runs, was ordered only by the kernel's wake-up,
	// which the race detector cannot see).
	sock, until := c.rw.susp.rc, c.rw.susp.until
	pc := parkedPool.Get().(*parkedConn)
	pc.susp, pc.deadline = c, until
	id, ok := p.register(pc)
	if !ok {
		putParked(pc)
		return false
	}
	a := armPool.Get().(*epollArm)
	a.p, a.op, a.err = p, unix.EPOLL_CTL_ADD, nil
	a.ev = unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(id), Pad: int32(id >> 32)}
	err := sock.Control(a.sockF)
	if err == nil {
		err = a.err
	}
	a.p = nil
	armPool.Put(a)
	if err == nil || !p.unregister(id) {
		return true // registered; or stop took pc meanwhile and resumes c
	}
	putParked(pc)
	return false
}

// armPool holds the epoll_ctl state of suspensions: the call's own, as
// neither the conn (another goroutine may own it once the socket is in
// the set) nor a closure (an allocation per wait) can hold it.
var armPool = sync.Pool{New: func() any {
	a := new(epollArm)
	a.bind()
	return a
}}

// resumeHandler runs the suspended handler's ResumeH1 on this goroutine.
func (c *conn) resumeHandler() {
	c.rw.susp = suspension{}
	c.handling = true
	c.srv.Handler.(Resumer).ResumeH1(&c.rw, &c.req)
	c.handling = false
}

// continueSuspended goes on with a connection whose handler waited for its
// backend in the idle poller, then serves its next requests; true as for
// serve.
func (c *conn) continueSuspended() (handedOff bool) {
	defer c.recoverPanic()
	c.resumeHandler()
	keep, handedOff := c.afterServe()
	switch {
	case handedOff:
		return true
	case !keep:
		c.closeLingering()
		return false
	}
	return c.loop()
}

// resumeSuspended runs a connection woken from a backend wait.
func (s *Server) resumeSuspended(c *conn) {
	if c.continueSuspended() {
		return
	}
	s.letGo(c)
}
