package h2

import (
	"io"
	"sync"
	"time"

	"github.com/golighty/golighty/core/filefd"
	"github.com/golighty/golighty/core/h1"
)

// Stream states (RFC 9113 §5.1) from the server's side.
type streamState uint8

const (
	stateOpen             streamState = iota // both sides may send
	stateHalfClosedRemote                    // the client sent END_STREAM
	stateHalfClosedLocal                     // we sent END_STREAM, the client still sends
	stateClosed
)

// stream is one request/response exchange. Fields below mu are guarded by
// the connection's mutex.
type stream struct {
	c    *conn
	id   uint32
	cond sync.Cond // on c.mu: body data, buffer space, file data consumed
	prio uint8     // RFC 9218 urgency<<1 | !incremental (lighttpd's h2_prio)
	// prioHeader adds "priority: u=2" to the response, as lighttpd does for
	// the .js and .css it moves up.
	prioHeader bool

	req     Request
	scratch []byte
	body    Body
	rw      ResponseWriter

	st          streamState
	started     bool // the handler was launched
	inline      bool // its handler runs on the reader, which it has not handed on
	handlerDone bool
	counted     bool // counted in conn.active

	// request body
	rbuf        []byte // received, unread: rbuf[roff:]
	roff        int
	received    int64 // body bytes received
	consumed    int64 // body bytes the handler read
	recvWin     int64 // what the client may still send
	unacked     int64 // read but not yet returned with WINDOW_UPDATE
	rerr        error // body error (reset, timeout, too large)
	lastRecv    time.Time
	waitingBody bool
	sent100     bool

	// response
	sendWin    int64
	out        []byte // body bytes waiting for the writer: out[ooff:]
	ooff       int
	file       fileSeg
	declared   int64 // body length announced with the head (-1 unknown)
	sentBody   int64
	finished   bool // the handler is done writing: END_STREAM after the data
	endSent    bool
	queued     bool // in conn.sendq
	stalled    time.Time
	reset      bool // RST_STREAM sent or received: output is dropped
	peerRst    bool // the client reset the stream
	early      bool // answered and closed before the client finished its body
	remembered bool
	inPending  bool // waiting for a handler slot
}

// fileSeg is a part of a file the writer reads straight into DATA frames.
type fileSeg struct {
	fd       filefd.FD
	off, n   int64
	inflight int // reads the writer is doing without the lock
	err      error
}

func (s *stream) hasData() bool {
	return len(s.out) > s.ooff || s.file.n > 0
}

// wantsWrite reports whether the writer has something to do for s now:
// data the windows allow, or a bare END_STREAM.
func (s *stream) wantsWrite(connWin int64) bool {
	if s.reset {
		return false
	}
	if s.hasData() {
		return s.sendWin > 0 && connWin > 0
	}
	return s.finished && !s.endSent && s.rw.wroteHead
}

// Body reads a request body from DATA frames. It is an io.Reader.
type Body struct{ s *stream }

// BodyTimeoutError is returned when the client sends no body data for
// server.max-read-idle.
type BodyTimeoutError struct{}

func (BodyTimeoutError) Error() string   { return "h2: request body read timeout" }
func (BodyTimeoutError) Timeout() bool   { return true }
func (BodyTimeoutError) Temporary() bool { return false }

// Read returns body bytes as they arrive; io.EOF after END_STREAM. A body
// longer than server.max-request-size without content-length fails with an
// *h1.BodyError of status 413; a reset stream with ErrStreamClosed.
func (b *Body) Read(p []byte) (int, error) {
	s := b.s
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.req.Expect100 && !s.sent100 {
		s.sent100 = true
		if s.received == 0 && !s.rw.wroteHead && !s.reset && s.st == stateOpen {
			c.writeContinue(s)
		}
	}
	for s.roff == len(s.rbuf) {
		if s.rerr != nil {
			return 0, s.rerr
		}
		if s.st != stateOpen && s.st != stateHalfClosedLocal {
			if s.reset {
				return 0, ErrStreamClosed
			}
			return 0, io.EOF
		}
		if len(p) == 0 {
			return 0, nil
		}
		s.waitingBody = true
		s.detach()
		s.cond.Wait()
		s.waitingBody = false
	}
	n := copy(p, s.rbuf[s.roff:])
	s.roff += n
	if s.roff == len(s.rbuf) {
		s.roff, s.rbuf = 0, s.rbuf[:0]
	}
	s.consumed += int64(n)
	c.returnWindow(s, int64(n))
	return n, nil
}

// Len is the number of body bytes read so far.
func (b *Body) Len() int64 {
	b.s.c.mu.Lock()
	defer b.s.c.mu.Unlock()
	return b.s.consumed
}

// errTooLarge is the body error past server.max-request-size.
var errTooLarge = &h1.BodyError{Status: 413, Reason: "request-size too long -> 413"}
