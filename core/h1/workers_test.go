package h1

import (
	"net"
	"testing"
)

// received reports the job waiting on w, if any.
func received(w *worker) (job, bool) {
	select {
	case j := <-w.jobs:
		return j, true
	default:
		return job{}, false
	}
}

func TestWorkersLastIdleTakesNextJob(t *testing.T) {
	var s Server
	defer s.stopWorkers()
	a, b := &worker{jobs: make(chan job, 1)}, &worker{jobs: make(chan job, 1)}
	if !s.workers.wait(a) || !s.workers.wait(b) {
		t.Fatal("wait refused before stop")
	}
	c1, c2 := &net.TCPConn{}, &net.TCPConn{}
	s.dispatch(job{c: c1})
	if j, ok := received(b); !ok || j.c != c1 {
		t.Fatalf("the worker idle last got %v, %v; want the first job", j, ok)
	}
	if _, ok := received(a); ok {
		t.Fatal("the worker idle longest got the first job too")
	}
	s.dispatch(job{c: c2})
	if j, ok := received(a); !ok || j.c != c2 {
		t.Fatalf("the remaining worker got %v, %v; want the second job", j, ok)
	}
}

func TestWorkersRetireAfterAFullTick(t *testing.T) {
	var s Server
	defer s.stopWorkers()
	old, fresh := &worker{jobs: make(chan job, 1)}, &worker{jobs: make(chan job, 1)}
	s.workers.wait(old)
	s.workers.retireIdle() // old was idle for less than a tick: it stays
	if _, ok := received(old); ok {
		t.Fatal("a worker idle for less than a tick was retired")
	}
	s.workers.wait(fresh)
	s.workers.retireIdle()
	if j, ok := received(old); !ok || j != (job{}) {
		t.Fatalf("a worker idle for a whole tick got %v, %v; want the exit job", j, ok)
	}
	if _, ok := received(fresh); ok {
		t.Fatal("a worker idle since the last tick was retired")
	}
	if n := len(s.workers.idle); n != 1 {
		t.Fatalf("%d idle workers left, want 1", n)
	}
}

func TestWorkersStop(t *testing.T) {
	var s Server
	w := &worker{jobs: make(chan job, 1)}
	s.workers.wait(w)
	s.stopWorkers()
	if j, ok := received(w); !ok || j != (job{}) {
		t.Fatalf("an idle worker got %v, %v at stop; want the exit job", j, ok)
	}
	if s.workers.wait(&worker{jobs: make(chan job, 1)}) {
		t.Fatal("a worker was kept idle after stop")
	}
}

func TestWorkersIdleStackBounded(t *testing.T) {
	var s Server
	defer s.stopWorkers()
	for i := 0; i < maxIdleWorkers; i++ {
		if !s.workers.wait(&worker{jobs: make(chan job, 1)}) {
			t.Fatalf("worker %d refused below the bound", i)
		}
	}
	if s.workers.wait(&worker{jobs: make(chan job, 1)}) {
		t.Fatal("a worker beyond the bound was kept idle (it should exit, its stack freed)")
	}
	s.dispatch(job{c: &net.TCPConn{}}) // one leaves the stack: room again
	if !s.workers.wait(&worker{jobs: make(chan job, 1)}) {
		t.Fatal("a worker was refused with room on the stack")
	}
}
