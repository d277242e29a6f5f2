package h1

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// BodyError is returned by Body.Read when the request body is malformed
// or too large; Status is what lighttpd answers (400 or 413). The
// connection is closed after the response.
type BodyError struct {
	Status int
	Reason string
}

func (e *BodyError) Error() string { return fmt.Sprintf("h1: request body: %s", e.Reason) }

// ErrBodyTruncated: the client closed the connection (or timed out) before
// sending the whole body.
var ErrBodyTruncated = errors.New("h1: request body truncated")

// Body reads a request body (Content-Length or chunked) from the
// connection. It is reused across requests.
type Body struct {
	c         *conn
	remaining int64 // Content-Length bytes left, or bytes left in the current chunk (+2 for its CRLF)
	chunked   bool
	done      bool
	err       error
	read      int64 // decoded body bytes delivered
	// MaxSize limits a chunked body (0 = unlimited); exceeding it yields a
	// 413 BodyError. Preset from server.max-request-size; the handler may
	// change it before the first Read (per-condition config).
	MaxSize int64
	started bool
}

func (b *Body) reset(c *conn, r *Request, max int64) {
	*b = Body{c: c, MaxSize: max}
	switch {
	case r.Chunked:
		b.chunked = true
	case r.ContentLength > 0:
		b.remaining = r.ContentLength
	default:
		b.done = true
	}
}

// ErrBodyInterrupted is returned by body reads after Interrupt.
var ErrBodyInterrupted = errors.New("h1: request body read interrupted")

// Interrupt makes a body read blocked on another goroutine return now and
// every later one fail with ErrBodyInterrupted, so a handler can end while a
// copier (a backend's stdin stream) still waits for client bytes, and wait
// for it: nothing may read the connection once its handler returned. The
// response can still be written; an unfinished body means the connection
// is closed afterwards.
func (b *Body) Interrupt() {
	c := b.c
	if c == nil {
		return
	}
	c.bodyStop.Store(true)
	c.rwc.SetReadDeadline(time.Unix(1, 0))
}

// Done reports whether the whole body has been consumed.
func (b *Body) Done() bool { return b.done }

// Len is the number of decoded body bytes read so far.
func (b *Body) Len() int64 { return b.read }

func (b *Body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		return 0, io.EOF
	}
	if b.c.bodyStop.Load() {
		b.err = ErrBodyInterrupted
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !b.started {
		b.started = true
		if err := b.c.maybeContinue(); err != nil {
			b.err = err
			return 0, err
		}
	}
	var n int
	var err error
	if b.chunked {
		n, err = b.readChunked(p)
	} else {
		n, err = b.readCL(p)
	}
	b.read += int64(n)
	if err != nil && err != io.EOF && b.c.bodyStop.Load() {
		// Not the client's doing: the connection may still answer.
		err = ErrBodyInterrupted
	}
	if err != nil && err != io.EOF {
		b.err = err
		if err == ErrBodyTruncated && b.c.werr == nil {
			// The client is gone or stalled: lighttpd drops such a
			// connection without a response, so nothing more is written.
			b.c.werr = err
		}
	}
	return n, err
}

func (b *Body) readCL(p []byte) (int, error) {
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.c.readBody(p)
	b.remaining -= int64(n)
	if b.remaining == 0 {
		b.done = true
		return n, io.EOF
	}
	if err != nil {
		return n, ErrBodyTruncated
	}
	return n, nil
}

// readChunked decodes chunked framing following lighttpd: a size line is
// hex digits, optional SP/HT, then CR or ';' (extensions ignored), ending in
// LF within 1024 bytes; data is followed by exactly CRLF; after the last
// chunk, trailers up to an empty line are skipped (at most
// max-request-field-size of them, else the connection is not kept).
func (b *Body) readChunked(p []byte) (int, error) {
	c := b.c
	for {
		if b.remaining > 2 {
			want := b.remaining - 2
			if int64(len(p)) > want {
				p = p[:want]
			}
			n, err := c.readBody(p)
			b.remaining -= int64(n)
			if n > 0 {
				return n, nil
			}
			if err != nil {
				return 0, ErrBodyTruncated
			}
			continue
		}
		if b.remaining == 2 {
			if err := c.fill(2); err != nil {
				return 0, ErrBodyTruncated
			}
			if c.buf[c.r] != '\r' || c.buf[c.r+1] != '\n' {
				return 0, &BodyError{400, "chunked data missing end CRLF -> 400"}
			}
			c.r += 2
			b.remaining = 0
		}
		line, err := c.chunkLine()
		if err != nil {
			return 0, err
		}
		var size int64
		i := 0
		for ; i < len(line); i++ {
			d := unhex(line[i])
			if d < 0 {
				break
			}
			if size > (1<<(64-5))-1-2 {
				return 0, &BodyError{400, "chunked data size too large -> 400"}
			}
			size = size<<4 | int64(d)
		}
		if i == 0 {
			return 0, &BodyError{400, "chunked header invalid chars -> 400"}
		}
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i >= len(line) || (line[i] != '\r' && line[i] != ';') {
			return 0, &BodyError{400, "chunked header invalid chars -> 400"}
		}
		c.r += len(line)
		if size == 0 {
			seenCRLF := len(line) >= 2 && line[len(line)-2] == '\r'
			return 0, b.skipTrailers(seenCRLF)
		}
		if b.MaxSize > 0 && (b.MaxSize < size || b.MaxSize-size < b.read) {
			return 0, &BodyError{413, "request-size too long -> 413"}
		}
		b.remaining = size + 2
	}
}

// skipTrailers consumes bytes up to and including the CRLFCRLF that ends
// the trailer section; the search starts at the CRLF closing the last-chunk
// line, as lighttpd's does.
func (b *Body) skipTrailers(seenCRLF bool) error {
	c := b.c
	const pat = "\r\n\r\n"
	k, n := 0, 0
	if seenCRLF {
		k = 2
	}
	limit := c.cfg.MaxRequestFieldSize
	for k < 4 {
		if c.r == c.w {
			if err := c.fill(1); err != nil {
				return ErrBodyTruncated
			}
		}
		ch := c.buf[c.r]
		c.r++
		n++
		switch {
		case ch == pat[k]:
			k++
		case ch == '\r':
			k = 1
		default:
			k = 0
		}
		if n > limit {
			// Excessively long trailers end the body; the stream is no
			// longer trustworthy, so the connection is closed afterwards.
			c.noKeepAlive = true
			break
		}
	}
	b.done = true
	return io.EOF
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
