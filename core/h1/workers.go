package h1

import "net"

// Connections are served by reused goroutines (core/workpool): a worker
// that finished a connection (or a woken one) waits for the next, keeping
// its grown stack.

// job is a connection to serve: accepted (c), woken from idle parking
// (pc), with a deferred file to go on with (t), or with a suspended
// handler to resume (s).
type job struct {
	c  net.Conn
	pc *parkedConn
	t  *conn
	s  *conn // a suspended handler's backend answered (or its wait ended)
}

// runner is the Server as its worker pool's workpool.Runner.
type runner Server

// RunJob serves j.
func (r *runner) RunJob(j job) { (*Server)(r).runJob(j) }

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

// dispatch serves j on the idle worker that finished last, or on a new one.
func (s *Server) dispatch(j job) { s.workers.Dispatch((*runner)(s), j) }

// stopWorkers lets idle workers exit; busy ones exit after their connection.
func (s *Server) stopWorkers() { s.workers.Stop() }
