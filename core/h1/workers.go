package h1

import (
	"net"
	"sync"
	"time"
)

// Connections are served by reused goroutines. A new goroutine starts on a
// small stack and grows it (2 KiB to 16 KiB, a copy each time) while it
// serves its first request: measured with a new connection per request,
// stack growth was 7% of golighty's CPU, a quarter of its user time. A
// goroutine that finished a connection waits for the next accepted (or
// woken) one, keeping its grown stack, and exits after one to two
// workerIdle periods without work.
//
// Idle workers wait on a stack, each on a channel of its own: the one that
// finished last (its stack still in the cache) takes the next job, and a
// job costs a plain channel hand-off. A select over a shared channel, a
// per-worker timer and shutdown woke the worker idle longest and cost
// 1,942 perf samples per 52,000 connections (a new connection per 1 KiB
// request) where the stack's hand-off costs 1,225: 0.7 µs a connection.
const workerIdle = time.Second

// maxIdleWorkers bounds the idle stack: a burst of connections that all
// wait without a goroutine soon after (suspended on a backend, parked
// idle) would otherwise leave as many idle workers, each keeping its grown
// stack for a second or two (708 of them, 3.8 MB of stacks, in the burst
// of 1,000 X-Sendfile requests queued on PHP). A worker beyond it exits;
// its stack goes back to the runtime's free list, which the next new
// goroutine takes it from.
const maxIdleWorkers = 128

// job is a connection to serve: accepted (c), woken from idle parking
// (pc), with a deferred file to go on with (t), or with a suspended
// handler to resume (s). The zero job tells an idle worker to exit.
type job struct {
	c  net.Conn
	pc *parkedConn
	t  *conn
	s  *conn // a suspended handler's backend answered (or its wait ended)
}

// worker is an idle goroutine's place on the stack.
type worker struct {
	jobs  chan job // one slot: a hand-off never blocks the dispatcher
	epoch uint64   // the stack's epoch when it became idle
}

// workers is a server's stack of idle workers.
type workers struct {
	mu      sync.Mutex
	idle    []*worker // the last to finish on top
	retire  *time.Timer
	pending bool   // retire is armed
	epoch   uint64 // retire's ticks so far: no clock is read per job
	stopped bool
}

// dispatch serves j on the idle worker that finished last, or on a new one.
func (s *Server) dispatch(j job) {
	p := &s.workers
	p.mu.Lock()
	n := len(p.idle)
	if n == 0 {
		p.mu.Unlock()
		go s.worker(j)
		return
	}
	w := p.idle[n-1]
	p.idle[n-1] = nil
	p.idle = p.idle[:n-1]
	p.mu.Unlock()
	w.jobs <- j
}

func (s *Server) worker(j job) {
	w := &worker{jobs: make(chan job, 1)}
	for {
		s.runJob(j)
		if !s.workers.wait(w) {
			return
		}
		if j = <-w.jobs; j == (job{}) {
			return
		}
	}
}

// wait puts w on the idle stack; false once the server stopped or the
// stack is full (w exits).
func (p *workers) wait(w *worker) bool {
	p.mu.Lock()
	if p.stopped || len(p.idle) >= maxIdleWorkers {
		p.mu.Unlock()
		return false
	}
	w.epoch = p.epoch
	p.idle = append(p.idle, w)
	if !p.pending {
		p.pending = true
		if p.retire == nil {
			p.retire = time.AfterFunc(workerIdle, p.retireIdle)
		} else {
			p.retire.Reset(workerIdle)
		}
	}
	p.mu.Unlock()
	return true
}

// retireIdle ends the workers that were idle at its previous tick already
// (the bottom of the stack), and ticks again while any are left.
func (p *workers) retireIdle() {
	p.mu.Lock()
	k := 0
	for k < len(p.idle) && p.idle[k].epoch < p.epoch {
		k++
	}
	p.epoch++
	old := make([]*worker, k)
	copy(old, p.idle[:k])
	n := copy(p.idle, p.idle[k:])
	clear(p.idle[n:])
	p.idle = p.idle[:n]
	p.pending = n > 0 && !p.stopped
	if p.pending {
		p.retire.Reset(workerIdle)
	}
	p.mu.Unlock()
	for _, w := range old {
		w.jobs <- job{}
	}
}

func (s *Server) runJob(j job) {
	switch {
	case j.pc != nil:
		s.resume(j.pc)
	case j.t != nil:
		s.resumeTail(j.t)
	case j.s != nil:
		s.resumeSuspended(j.s)
	case s.Accepted != nil:
		s.Accepted(j.c)
	default:
		s.ServeConn(j.c)
	}
}

// stopWorkers lets idle workers exit; busy ones exit after their connection.
func (s *Server) stopWorkers() {
	p := &s.workers
	p.mu.Lock()
	p.stopped = true
	old := p.idle
	p.idle = nil
	if p.retire != nil {
		p.retire.Stop()
	}
	p.mu.Unlock()
	for _, w := range old {
		w.jobs <- job{}
	}
}
