package h1

import (
	"os"
	"time"

	"github.com/golighty/golighty/core/monoclock"
)

// runTail sends the file the handler deferred (ResponseWriter.DeferFile),
// then lets the handler finish the request (TailHandler.FinishTail). When
// the socket runs out of room the connection is handed to the idle poller
// until it has some, and runTail reports true: the calling goroutine must
// let go of c at once, another one goes on with it (Server.resumeTail).
// Where it cannot be parked, it waits here.
func (c *conn) runTail() (handedOff bool) {
	sp := &c.rw.tail
	rc := c.sock()
	before := sp.n
	err := c.sendfileChunks(rc, sp, sendNoWait)
	if err == errSocketFull {
		switch p := c.srv.poller(); {
		case c.tailExpired(sp.n < before):
			err = os.ErrDeadlineExceeded
		case p != nil && p.parkWriter(c):
			return true
		default:
			err = c.sendfileChunks(rc, sp, sendWait)
		}
	}
	c.endTail(err)
	return false
}

// tailExpired renews the deferred file's write limit after progress
// (server.max-write-idle counts from the last bytes sent) and reports
// whether it passed.
func (c *conn) tailExpired(progressed bool) bool {
	now := monoclock.Now()
	if progressed || c.tailUntil.IsZero() {
		c.tailUntil = time.Time{}
		if d := c.cfg.MaxWriteIdle; d > 0 {
			c.tailUntil = now.Add(d)
		}
		return false
	}
	return !now.Before(c.tailUntil)
}

// endTail records how the deferred file ended and has the handler finish
// the request.
func (c *conn) endTail(err error) {
	if err != nil && c.werr == nil {
		c.werr = err
	}
	c.rw.tail = fileSpan{}
	c.tailUntil = time.Time{}
	if th, ok := c.srv.Handler.(TailHandler); ok {
		th.FinishTail(&c.rw, &c.req, err)
	}
	c.rw.tailState = nil
}
