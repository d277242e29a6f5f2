// Package workpool keeps goroutines that finished a job for the next one.
//
// A new goroutine starts on a small stack and grows it (2 KiB to 16 KiB,
// a copy each time) while it serves its first request: measured with a new
// connection per request, stack growth was 7% of golighty's CPU, a quarter
// of its user time. A goroutine that finished a job waits for the next,
// keeping its grown stack, and exits after one to two idle periods
// without work.
//
// Idle workers wait on a stack, each on a channel of its own: the one that
// finished last (its stack still in the CPU's cache) takes the next job,
// and a job costs a plain channel hand-off. A select over a shared
// channel with a timer per worker, reset after every job, woke the worker
// idle longest and cost 1,942 perf samples per 52,000 connections (a new
// connection per 1 KiB request) where the stack's hand-off costs 1,225
// (0.7 µs a connection); in HTTP/2, whose streams each run on a worker,
// the select and the timer were 8% of the server's CPU with small
// responses. Workers idle for a whole period are retired by one timer for
// the pool, which ticks only while some are idle.
//
// A dispatcher that had to start a worker lets it run first (Dispatch). In a
// burst (a thousand connections accepted at once, a thousand answers
// arriving together) the dispatcher would otherwise hand out every job
// before any worker ran: each job found no idle worker and started one, each
// new goroutine grew its stack, and most exited again beyond MaxIdle. With
// the new worker's job done first, it is idle again for the next: 1,000
// paced X-Sendfile downloads started 890 goroutines in their first 1.5 s,
// now 150, and the burst's user time fell by a fifth (medians of five
// rounds, 64 -> 50 ms). A steady load finds idle workers and is not
// affected (a connection per request started 76 goroutines in 142,000).
package workpool

import (
	"runtime"
	"sync"
	"time"
)

// Runner runs the jobs of a Pool.
type Runner[J any] interface {
	RunJob(J)
}

// Idle is how long a worker waits for work before it may exit (it exits
// at the first retirement tick after a whole period idle).
const Idle = time.Second

// MaxIdle bounds the idle stack: a burst of jobs that all end at once
// (connections suspended on a backend, or parked idle, soon after they
// came) would otherwise leave as many idle workers, each keeping its grown
// stack for a second or two (708 of them, 3.8 MB of stacks, in the burst
// of 1,000 X-Sendfile requests queued on PHP). A worker beyond it exits;
// its stack goes back to the runtime for the next new goroutine.
const MaxIdle = 128

// Pool is a stack of idle workers running jobs of type J. The zero Pool
// is ready.
type Pool[J any] struct {
	mu      sync.Mutex
	idle    []*worker[J] // the last to finish on top
	retire  *time.Timer
	pending bool   // retire is armed
	epoch   uint64 // retire's ticks so far: no clock is read per job
	stopped bool
}

// worker is an idle goroutine's place on the stack.
type worker[J any] struct {
	jobs  chan J // one slot: a hand-off never blocks the dispatcher; closed: exit
	epoch uint64 // the stack's epoch when it became idle
}

// Dispatch runs j on the idle worker that finished last, or on a new one;
// r runs it (and every later job of that worker). A new worker runs before
// the caller goes on (the caller yields its processor), so that a job that
// ends quickly leaves it idle for the caller's next one.
func (p *Pool[J]) Dispatch(r Runner[J], j J) {
	p.mu.Lock()
	n := len(p.idle)
	if n == 0 {
		p.mu.Unlock()
		go p.work(r, j)
		runtime.Gosched()
		return
	}
	w := p.idle[n-1]
	p.idle[n-1] = nil
	p.idle = p.idle[:n-1]
	p.mu.Unlock()
	w.jobs <- j
}

func (p *Pool[J]) work(r Runner[J], j J) {
	var w *worker[J]
	for ok := true; ok; j, ok = <-w.jobs {
		r.RunJob(j)
		if w = p.wait(w); w == nil {
			return
		}
	}
}

// wait puts w on the idle stack, made at its first wait (in a burst most
// goroutines find the stack full and exit without one); nil once the pool
// stopped or the stack is full (the goroutine exits).
func (p *Pool[J]) wait(w *worker[J]) *worker[J] {
	p.mu.Lock()
	if p.stopped || len(p.idle) >= MaxIdle {
		p.mu.Unlock()
		return nil
	}
	if w == nil {
		w = &worker[J]{jobs: make(chan J, 1)}
	}
	w.epoch = p.epoch
	p.idle = append(p.idle, w)
	if !p.pending {
		p.pending = true
		if p.retire == nil {
			p.retire = time.AfterFunc(Idle, p.retireIdle)
		} else {
			p.retire.Reset(Idle)
		}
	}
	p.mu.Unlock()
	return w
}

// retireIdle ends the workers that were idle at its previous tick already
// (the bottom of the stack), and ticks again while any are left.
func (p *Pool[J]) retireIdle() {
	p.mu.Lock()
	k := 0
	for k < len(p.idle) && p.idle[k].epoch < p.epoch {
		k++
	}
	p.epoch++
	old := make([]*worker[J], k)
	copy(old, p.idle[:k])
	n := copy(p.idle, p.idle[k:])
	clear(p.idle[n:])
	p.idle = p.idle[:n]
	p.pending = n > 0 && !p.stopped
	if p.pending {
		p.retire.Reset(Idle)
	}
	p.mu.Unlock()
	for _, w := range old {
		close(w.jobs)
	}
}

// Stop lets idle workers exit; busy ones exit after their job. Later
// Dispatches still run their jobs, each on a goroutine that then exits.
func (p *Pool[J]) Stop() {
	p.mu.Lock()
	p.stopped = true
	old := p.idle
	p.idle = nil
	if p.retire != nil {
		p.retire.Stop()
	}
	p.mu.Unlock()
	for _, w := range old {
		close(w.jobs)
	}
}
