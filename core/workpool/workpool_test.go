package workpool

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// received reports the job waiting on w, if any; exit is true when w was
// told to exit (its channel closed).
func received(w *worker[int]) (j int, ok, exit bool) {
	select {
	case j, open := <-w.jobs:
		return j, open, !open
	default:
		return 0, false, false
	}
}

func idleWorker() *worker[int] { return &worker[int]{jobs: make(chan int, 1)} }

// recorder runs jobs by noting them.
type recorder struct {
	mu   sync.Mutex
	done []int
	ran  chan int
}

func (r *recorder) RunJob(j int) {
	r.mu.Lock()
	r.done = append(r.done, j)
	r.mu.Unlock()
	r.ran <- j
}

func TestLastIdleTakesNextJob(t *testing.T) {
	var p Pool[int]
	defer p.Stop()
	a, b := idleWorker(), idleWorker()
	if p.wait(a) == nil || p.wait(b) == nil {
		t.Fatal("wait refused before stop")
	}
	r := &recorder{ran: make(chan int, 2)}
	p.Dispatch(r, 1)
	if j, ok, _ := received(b); !ok || j != 1 {
		t.Fatalf("the worker idle last got %v, %v; want the first job", j, ok)
	}
	if _, ok, _ := received(a); ok {
		t.Fatal("the worker idle longest got the first job too")
	}
	p.Dispatch(r, 2)
	if j, ok, _ := received(a); !ok || j != 2 {
		t.Fatalf("the remaining worker got %v, %v; want the second job", j, ok)
	}
}

func TestNewWorkerRunsAndWaits(t *testing.T) {
	var p Pool[int]
	defer p.Stop()
	r := &recorder{ran: make(chan int, 2)}
	p.Dispatch(r, 7) // no idle worker: a new one
	if j := <-r.ran; j != 7 {
		t.Fatalf("ran %d, want 7", j)
	}
	for deadline := time.Now().Add(5 * time.Second); p.idlers() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) { // the worker goes idle after its job
			t.Fatal("the worker did not go idle after its job")
		}
	}
	p.Dispatch(r, 8) // taken by that same worker
	if j := <-r.ran; j != 8 {
		t.Fatalf("ran %d, want 8", j)
	}
}

func TestRetireAfterAFullTick(t *testing.T) {
	var p Pool[int]
	defer p.Stop()
	old, fresh := idleWorker(), idleWorker()
	p.wait(old)
	p.retireIdle() // old was idle for less than a tick: it stays
	if _, ok, exit := received(old); ok || exit {
		t.Fatal("a worker idle for less than a tick was retired")
	}
	p.wait(fresh)
	p.retireIdle()
	if j, ok, exit := received(old); !exit {
		t.Fatalf("a worker idle for a whole tick got %v, %v; want to exit", j, ok)
	}
	if _, ok, exit := received(fresh); ok || exit {
		t.Fatal("a worker idle since the last tick was retired")
	}
	if n := p.idlers(); n != 1 {
		t.Fatalf("%d idle workers left, want 1", n)
	}
}

func TestStop(t *testing.T) {
	var p Pool[int]
	w := idleWorker()
	p.wait(w)
	p.Stop()
	if j, ok, exit := received(w); !exit {
		t.Fatalf("an idle worker got %v, %v at stop; want to exit", j, ok)
	}
	if p.wait(idleWorker()) != nil {
		t.Fatal("a worker was kept idle after stop")
	}
}

func TestIdleStackBounded(t *testing.T) {
	var p Pool[int]
	defer p.Stop()
	for i := 0; i < MaxIdle; i++ {
		if p.wait(idleWorker()) == nil {
			t.Fatalf("worker %d refused below the bound", i)
		}
	}
	if p.wait(idleWorker()) != nil {
		t.Fatal("a worker beyond the bound was kept idle (it should exit, its stack freed)")
	}
	p.Dispatch(&recorder{ran: make(chan int, 1)}, 1) // one leaves the stack: room again
	if p.wait(idleWorker()) == nil {
		t.Fatal("a worker was refused with room on the stack")
	}
}

func (p *Pool[J]) idlers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// TestWorkerMadeAtFirstWait: a goroutine gets its place on the stack when
// it first waits; one that finds the stack full exits without one.
func TestWorkerMadeAtFirstWait(t *testing.T) {
	var p Pool[int]
	defer p.Stop()
	w := p.wait(nil)
	if w == nil || w.jobs == nil {
		t.Fatal("no worker made for a goroutine's first wait")
	}
	for p.idlers() < MaxIdle {
		p.wait(idleWorker())
	}
	if p.wait(nil) != nil {
		t.Fatal("a worker was made for a goroutine that exits (the stack is full)")
	}
}

// quick runs jobs that end at once.
type quick struct{ wg *sync.WaitGroup }

func (q quick) RunJob(int) { q.wg.Done() }

// TestBurstReusesWorkers: a dispatcher handing out a burst of short jobs
// lets each new worker run first, so the burst reuses a few workers instead
// of starting one per job. One processor: the dispatcher would otherwise
// hand out every job before any worker ran.
func TestBurstReusesWorkers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var p Pool[int]
	defer p.Stop()
	var wg sync.WaitGroup
	const jobs = 1000
	wg.Add(jobs)
	before := goroutinesCreated()
	for i := range jobs {
		p.Dispatch(quick{&wg}, i)
	}
	wg.Wait()
	if n := goroutinesCreated() - before; n > jobs/10 {
		t.Errorf("%d goroutines started for a burst of %d short jobs, want at most a tenth", n, jobs)
	}
}

func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
