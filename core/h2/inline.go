package h2

import "errors"

// Streams that arrive without a body can have their handler run on the
// connection's reader goroutine (Config.Inline) instead of being handed to
// a worker: the hand-over (a channel send, a goroutine switch and the
// worker's wake-up) was 15% of the server's CPU per request with small
// responses. Such a handler must not wait for anything the reader brings
// (the client's flow-control window, its frames) nor stall the other
// streams of the connection for long: before any wait the engine, and
// before anything slow the handler itself (ResponseWriter.Detach), hands
// the reader's role to a new goroutine, and the handler goes on as any
// other. The goroutine whose read loop ends finishes the connection; the
// one in ServeConn returns once that is done.

// errReaderMoved ends a read loop whose role went to another goroutine.
var errReaderMoved = errors.New("h2: the reader goroutine changed")

// readLoop reads and handles frames, running queued inline streams between
// them, until the connection's reading ends (its error) or the role moves
// to another goroutine (errReaderMoved).
func (c *conn) readLoop() error {
	var err error
	for err == nil {
		if len(c.inlineQ) > 0 {
			err = c.runInline()
		} else {
			err = c.readFrame()
		}
	}
	if err != errReaderMoved {
		// Streams queued behind a frame that ended the connection still
		// run (and fail on it), as launched ones do.
		for _, s := range c.inlineQ {
			c.srv.run(s)
		}
		c.inlineQ = c.inlineQ[:0]
	}
	return err
}

// launchInline counts s as running and queues it for the reader.
func (c *conn) launchInline(s *stream) {
	s.started = true
	c.running++
	c.handlers.Add(1)
	c.srv.requests.Add(1)
	c.inlineQ = append(c.inlineQ, s)
}

// runInline runs the first queued stream's handler on this goroutine.
func (c *conn) runInline() error {
	s := c.inlineQ[0]
	n := copy(c.inlineQ, c.inlineQ[1:])
	c.inlineQ[n] = nil
	c.inlineQ = c.inlineQ[:n]
	s.inline = true
	if c.runHandler(s) {
		return errReaderMoved
	}
	return nil
}

// Detach lets the connection go on reading while the handler works or
// waits: a handler that runs on the connection's reader (Config.Inline)
// calls it before anything that may take long. Otherwise it does nothing.
func (w *ResponseWriter) Detach() { w.s.detach() }

// detach hands the reader's role to a new goroutine if s's handler holds
// it. Only s's handler calls it.
func (s *stream) detach() {
	if !s.inline {
		return
	}
	s.inline = false
	c := s.c
	if c.loopEnd == nil {
		c.loopEnd = make(chan struct{})
	}
	go c.readOn()
}

// readOn is the read loop of a goroutine the reader's role moved to. The
// one whose loop ends finishes the connection, as serve would have (its
// goroutine may be a handler still waiting for that), and then lets serve
// return.
func (c *conn) readOn() {
	moved := false
	defer func() {
		if moved {
			return
		}
		if v := recover(); v != nil && c.srv.OnPanic != nil {
			c.srv.OnPanic(v)
		}
		c.finish()
		close(c.loopEnd)
	}()
	err := c.readLoop()
	if moved = err == errReaderMoved; !moved {
		c.endReading(err)
	}
}
