package h1

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/golighty/golighty/core/rawpoll"
	"github.com/golighty/golighty/core/rawsys"
	"golang.org/x/sys/unix"
)

// Idle connections are parked: a keep-alive connection that has waited
// Config.IdleGrace for its next request with nothing buffered, or a new one
// whose first request is not there yet (parksFirst), gives up its
// goroutine, its conn (buffers, request state) and its stack, and waits
// in an epoll set of the engine's own until bytes arrive; then a new
// goroutine picks it up. Measured with 8,000 open connections, a waiting
// goroutine with its conn costs about 8 KB (a 2-4 KiB stack, a 3 KiB conn,
// GC overhead on both) where lighttpd needs 2.7 KB per connection; a parked
// one keeps only the socket and a parkedConn. Busy keep-alive connections
// never reach the grace limit and keep the cheaper goroutine wait (no
// epoll_ctl, no goroutine start per request).
const defaultIdleGrace = time.Second

// idleGrace is how long c's idle waits stay in the goroutine (<= 0: always).
func (c *Config) idleGrace() time.Duration {
	if c.IdleGrace == 0 {
		return defaultIdleGrace
	}
	return c.IdleGrace
}

// sweepEvery is how often parked connections are checked against their idle
// (or linger) limit: once a second as lighttpd does, more often only for a
// shorter grace or linger (tests).
func sweepEvery(c *Config) time.Duration {
	every := c.idleGrace()
	if c.LingerTimeout > 0 {
		every = min(every, c.LingerTimeout)
	}
	return min(max(every, 10*time.Millisecond), time.Second)
}

// RawSocket is implemented by connection wrappers that read and write
// straight through to a socket, with no buffering of their own: the engine
// may then watch the descriptor of an idle connection directly.
// *net.TCPConn and *net.UnixConn qualify as they are.
type RawSocket interface {
	syscall.Conn
	RawSocket()
}

// parkedConn is what a parked connection keeps: an idle or lingering one
// its socket (parkedSock), a deferred file's or a suspended handler's its
// whole conn.
type parkedConn struct {
	// The socket of an idle or lingering connection; nil for a deferred
	// file's park, which is made for it and keeps only what is below (a
	// thousand parked downloads kept 384 bytes each, 112 now).
	*parkedSock

	deadline time.Time // idle limit (zero: none)
	armed    bool      // the descriptor is in the epoll set (one-shot, disarmed)

	// tail: a connection waiting for room to send the rest of a deferred
	// file (runTail), kept whole; deadline is then its write limit.
	tail *conn

	// susp: a connection whose handler waits for its backend's socket
	// (Suspend), kept whole; deadline is then the handler's limit.
	susp *conn

	// linger: a half-closed connection (rc) discarding what its client
	// still sends until it closes; deadline ends the linger.
	linger bool

	// The poller's own re-arming of a tail (rearm), bound once so that a
	// wake-up allocates nothing.
	ev     unix.EpollEvent
	epfd   int
	err    error
	rearmF func(fd uintptr)
}

// parkedSock is an idle or lingering connection's part of its parkedConn.
type parkedSock struct {
	rwc    net.Conn
	info   ConnInfo
	seq    int           // requests served so far
	kaIdle time.Duration // keep-alive limit chosen by the last response
	wdl    time.Time     // write deadline set on rwc
	rc     syscall.RawConn
	drainer
}

// idlePoller watches parked connections. Its epoll descriptor is itself
// waited on through Go's netpoller, so no thread blocks in epoll_wait.
type idlePoller struct {
	srv  *Server
	epfd *os.File
	raw  syscall.RawConn

	mu      sync.Mutex
	conns   parkTable
	stopped bool
	done    chan struct{}

	discard [4 << 10]byte // what lingering clients still send (drainLinger)
}

func newIdlePoller(s *Server) (*idlePoller, error) {
	f, raw, err := rawpoll.NewEpoll("h1-idle-epoll")
	if err != nil {
		return nil, err
	}
	p := &idlePoller{srv: s, epfd: f, raw: raw, done: make(chan struct{})}
	go p.run()
	return p, nil
}

// park hands c's socket to the poller; false if it cannot (then c keeps
// waiting in its goroutine).
func (p *idlePoller) park(c *conn, deadline time.Time) bool {
	rc := c.sock()
	if rc == nil {
		return false
	}
	pc := parkedPool.Get().(*parkedConn)
	pc.rwc, pc.info, pc.seq, pc.kaIdle, pc.wdl = c.rwc, c.info, c.seq-1, c.kaIdle, c.wdl
	pc.deadline, pc.armed = deadline, c.armed
	id, ok := p.register(pc)
	if !ok {
		putParked(pc)
		return false
	}
	// One-shot: the event fires once, then the descriptor stays in the set
	// disarmed until the next park re-arms it. An fd that is readable (or
	// hung up) already reports at once. The registration goes through c's
	// bound epollArm (c stays this goroutine's: the connection resumes in
	// another conn), so a park allocates nothing.
	a := &c.linger.epollArm
	a.bind()
	a.p, a.op, a.err = p, int32(opFor(c.armed)), nil // not pc's: the poller may have it once armed
	a.ev = unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(id), Pad: int32(id >> 32)}
	err := rc.Control(a.sockF)
	a.p = nil
	if err == nil && a.err == nil || !p.unregister(id) {
		return true // armed; or stop took pc meanwhile and closed it
	}
	putParked(pc)
	return false
}

// opFor is the epoll_ctl operation that arms a descriptor: it stays in the
// set (disarmed) once it was added.
func opFor(armed bool) int {
	if armed {
		return unix.EPOLL_CTL_MOD
	}
	return unix.EPOLL_CTL_ADD
}

// parkWriter hands c, whose deferred file found the socket full, to the
// poller until the socket has room (or an error); false if it cannot.
// Once it returned true, another goroutine may already own c.
func (p *idlePoller) parkWriter(c *conn) bool {
	rc := c.sock()
	if rc == nil {
		return false
	}
	op := opFor(c.armed)
	wasArmed := c.armed
	c.armed = true // before arm: the event may run c elsewhere at once
	if p.arm(&parkedConn{tail: c, deadline: c.tailUntil}, rc, op, unix.EPOLLOUT) {
		return true
	}
	c.armed = wasArmed
	return false
}

// arm registers pc's socket (rc) for one event of events. Everything pc
// holds must be set before: the event may be handled at once.
func (p *idlePoller) arm(pc *parkedConn, rc syscall.RawConn, op int, events uint32) bool {
	id, ok := p.register(pc)
	if !ok {
		return false
	}
	ev := unix.EpollEvent{Events: events | unix.EPOLLONESHOT, Fd: int32(id), Pad: int32(id >> 32)}
	var cerr error
	err := rc.Control(func(fd uintptr) { cerr = p.ctl(op, int(fd), &ev) })
	if err == nil && cerr == nil {
		return true
	}
	// Unless stop took pc meanwhile (and handed it on): then it is gone.
	return !p.unregister(id)
}

// register gives pc the id its event will carry; false once stopped.
func (p *idlePoller) register(pc *parkedConn) (uint64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return 0, false
	}
	return p.conns.add(pc), true
}

// unregister drops an id whose registration failed; false if it was no
// longer there (stop took it).
func (p *idlePoller) unregister(id uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns.take(id) != nil
}

// sendTail sends more of a woken deferred file from the poller's own
// goroutine, as lighttpd's event loop does: no goroutine is woken for a
// connection that only needs another chunk. It sends what the socket takes
// (at most pollerBudget, pages in the page cache only) and re-arms the
// connection; false hands it to a worker instead (the file is out or
// failed, it needs the disk, its write limit passed, the poller stops, or
// the client keeps up: the socket took the whole budget).
//
// A client that keeps up goes on in a goroutine, which sends until the
// socket is full and parks the connection again: the poller's pattern (a
// budget per wake-up, one connection after another) costs fast clients
// more per byte under BBR's pacing (8 × 100 MiB: 3,360-3,590 MiB/s served
// from the poller, 4,100-4,390 from goroutines, lighttpd 5,160-5,500), and
// slow clients, whose sockets take less than a budget, stay here.
// epfd is the poller's set, held by the read that delivered the event.
func (p *idlePoller) sendTail(pc *parkedConn, epfd int) bool {
	c := pc.tail
	sp := &c.rw.tail
	before := sp.n
	rc := c.sock()
	err := c.sendfileChunks(rc, sp, sendPoller)
	if err != errSocketFull || c.tailExpired(sp.n < before) {
		return false
	}
	pc.deadline = c.tailUntil
	return p.rearm(pc, rc, epfd, unix.EPOLLOUT)
}

// rearm registers pc's socket (rc) for events again, from the poller's
// goroutine. arm's closures would allocate per wake-up; here the call's
// state lives in pc: once registered, pc is handled next by this same
// goroutine (its events run one after another), and stop hands a worker
// pc.tail, not pc, or closes a lingering pc, so nothing else touches those
// fields.
func (p *idlePoller) rearm(pc *parkedConn, rc syscall.RawConn, epfd int, events uint32) bool {
	id, ok := p.register(pc)
	if !ok {
		return false
	}
	pc.ev = unix.EpollEvent{Events: events | unix.EPOLLONESHOT, Fd: int32(id), Pad: int32(id >> 32)}
	pc.epfd, pc.err = epfd, nil
	if pc.rearmF == nil {
		pc.rearmF = pc.modify
	}
	if err := rc.Control(pc.rearmF); err == nil && pc.err == nil {
		return true
	}
	// Unless stop took pc meanwhile (and handed it on): then it is gone.
	return !p.unregister(id)
}

// modify is rearm's epoll_ctl, on the socket fd.
func (pc *parkedConn) modify(fd uintptr) {
	pc.err = rawsys.EpollCtl(pc.epfd, unix.EPOLL_CTL_MOD, int(fd), &pc.ev)
}

func (p *idlePoller) ctl(op, fd int, ev *unix.EpollEvent) error {
	var err error
	cerr := p.raw.Control(func(epfd uintptr) { err = rawsys.EpollCtl(int(epfd), op, fd, ev) })
	return errors.Join(cerr, err)
}

func (p *idlePoller) run() {
	defer close(p.done)
	var events [64]unix.EpollEvent
	next := time.Now().Add(sweepEvery(p.srv.config()))
	p.epfd.SetReadDeadline(next)
	for {
		// The events are handled inside the read: the netpoller cleared
		// the descriptor's readiness before calling, so events that come
		// meanwhile make the next wait return at once, and a set drained
		// to fewer than a full batch needs no further epoll_wait before
		// waiting (one system call per wake-up, not two). The read returns
		// only at the sweep deadline or when stop closes the set.
		err := p.raw.Read(func(epfd uintptr) bool {
			for {
				m, err := rawsys.EpollReady(int(epfd), events[:])
				if err != nil {
					return false
				}
				for _, ev := range events[:m] {
					p.wake(uint64(uint32(ev.Fd))|uint64(uint32(ev.Pad))<<32, int(epfd))
				}
				if m < len(events) {
					return false
				}
			}
		})
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return // closed by stop
		}
		if now := time.Now(); !now.Before(next) {
			p.sweep(now)
			next = now.Add(sweepEvery(p.srv.config()))
			p.epfd.SetReadDeadline(next)
		}
	}
}

// wake gives a connection whose socket became readable (or hung up) a
// goroutine again.
func (p *idlePoller) wake(id uint64, epfd int) {
	p.mu.Lock()
	pc := p.conns.take(id)
	p.mu.Unlock()
	if pc != nil {
		p.dispatch(pc, epfd)
	}
}

// dispatch gives a woken (or expired, or stopped) connection a goroutine.
func (p *idlePoller) dispatch(pc *parkedConn, epfd int) {
	if pc.tail != nil {
		if !p.sendTail(pc, epfd) {
			p.srv.dispatch(job{t: pc.tail})
		}
		return
	}
	if c := pc.susp; c != nil {
		putParked(pc)
		p.srv.dispatch(job{s: c})
		return
	}
	if pc.linger {
		p.drainLinger(pc, epfd)
		return
	}
	pc.armed = true
	p.srv.dispatch(job{pc: pc})
}

// sweep closes parked connections past their idle limit.
func (p *idlePoller) sweep(now time.Time) {
	p.mu.Lock()
	expired := p.conns.takeIf(func(pc *parkedConn) bool {
		return !pc.deadline.IsZero() && !now.Before(pc.deadline)
	})
	p.mu.Unlock()
	for _, pc := range expired {
		p.end(pc)
	}
}

// end closes an idle parked or lingering connection; a deferred file's
// connection gets a goroutine to fail (or finish) its response and end its
// request, a suspended handler's one to go on with its request.
func (p *idlePoller) end(pc *parkedConn) {
	if pc.linger {
		p.closeLinger(pc)
		return
	}
	if pc.tail != nil {
		p.srv.dispatch(job{t: pc.tail})
		return
	}
	if c := pc.susp; c != nil {
		putParked(pc)
		p.srv.dispatch(job{s: c})
		return
	}
	p.srv.closeParked(pc)
	putParked(pc)
}

// parked is the number of connections parked now.
func (p *idlePoller) parked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns.n
}

// stop closes every parked connection and ends the poller; later parks
// fail (the connections then close as they would have).
func (p *idlePoller) stop() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	conns := p.conns.takeIf(func(*parkedConn) bool { return true })
	p.conns = parkTable{}
	p.mu.Unlock()
	for _, pc := range conns {
		p.end(pc)
	}
	p.epfd.Close()
	<-p.done
}

// IsRawSocket reports whether the engine may read, write and watch nc by
// its descriptor (raw I/O, parked idle waits and downloads): a plain
// socket, or a wrapper that is a RawSocket.
func IsRawSocket(nc net.Conn) bool {
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn, RawSocket:
		return true
	}
	return false
}
