package h1

import (
	"net"
	"time"
)

// Connections are served by reused goroutines. A new goroutine starts on a
// small stack and grows it (2 KiB to 16 KiB, a copy each time) while it
// serves its first request: measured with a new connection per request,
// stack growth was 7% of golighty's CPU, a quarter of its user time. A
// goroutine that finished a connection waits workerIdle for the next
// accepted (or woken) one before it exits, keeping its grown stack.
const workerIdle = time.Second

// job is a connection to serve: accepted (c), woken from idle parking
// (pc), or with a deferred file to go on with (t).
type job struct {
	c  net.Conn
	pc *parkedConn
	t  *conn
}

// dispatch serves j on an idle worker, or on a new one.
func (s *Server) dispatch(j job) {
	select {
	case s.work <- j:
	default:
		go s.worker(j)
	}
}

func (s *Server) worker(j job) {
	var t *time.Timer
	for {
		s.runJob(j)
		if t == nil {
			t = time.NewTimer(workerIdle)
		} else {
			t.Reset(workerIdle)
		}
		select {
		case j = <-s.work:
		case <-t.C:
			return
		case <-s.done:
			t.Stop()
			return
		}
	}
}

func (s *Server) runJob(j job) {
	switch {
	case j.pc != nil:
		s.resume(j.pc)
	case j.t != nil:
		s.resumeTail(j.t)
	case s.Accepted != nil:
		s.Accepted(j.c)
	default:
		s.ServeConn(j.c)
	}
}

func (s *Server) initWork() {
	s.idleMu.Lock()
	if s.work == nil {
		s.work, s.done = make(chan job), make(chan struct{})
	}
	s.idleMu.Unlock()
}

// stopWorkers lets idle workers exit; busy ones exit after their connection.
func (s *Server) stopWorkers() {
	s.idleMu.Lock()
	done := s.done
	s.idleMu.Unlock()
	if done != nil {
		s.stopOnce.Do(func() { close(done) })
	}
}
