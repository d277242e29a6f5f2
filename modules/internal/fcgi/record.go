package fcgi

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Record types this client sends or reads (FastCGI 1.0). ABORT_REQUEST is
// never sent: like lighttpd, an abandoned request closes the connection.
const (
	typeBeginRequest    = 1
	typeEndRequest      = 3
	typeParams          = 4
	typeStdin           = 5
	typeStdout          = 6
	typeStderr          = 7
	typeGetValuesResult = 10 // management records: skipped when received
	typeUnknownType     = 11

	headerLen = 8
	version1  = 1

	// MaxRecordContent is the largest content length of one record.
	MaxRecordContent = 65535

	// requestID is the only id used: one request per connection at a time,
	// as lighttpd does (php-cgi does not multiplex).
	requestID = 1

	flagKeepConn = 1
)

// Role is the FastCGI role sent in BEGIN_REQUEST.
type Role uint16

// Roles used by lighttpd's mod_fastcgi ("mode" => "responder"/"authorizer").
const (
	RoleResponder  Role = 1
	RoleAuthorizer Role = 2
)

// protocolStatus values of END_REQUEST.
const (
	statusRequestComplete = 0
	statusCantMpxConn     = 1
	statusOverloaded      = 2
	statusUnknownRole     = 3
)

// Errors reported by a Response. They are wrapped with context (the backend
// address); test with errors.Is.
var (
	// ErrCantMpxConn: END_REQUEST with protocolStatus FCGI_CANT_MPX_CONN.
	ErrCantMpxConn = errors.New("fcgi: backend cannot multiplex connections (FCGI_CANT_MPX_CONN)")
	// ErrOverloaded: END_REQUEST with protocolStatus FCGI_OVERLOADED; the
	// backend refused the request and another backend may be tried.
	ErrOverloaded = errors.New("fcgi: backend overloaded (FCGI_OVERLOADED)")
	// ErrUnknownRole: END_REQUEST with protocolStatus FCGI_UNKNOWN_ROLE.
	ErrUnknownRole = errors.New("fcgi: backend does not support the role (FCGI_UNKNOWN_ROLE)")
	// ErrMalformed: the byte stream is not a FastCGI record stream.
	ErrMalformed = errors.New("fcgi: malformed record stream")
	// ErrHeaderTooLarge: the CGI header block exceeds MaxHeaderBlock.
	ErrHeaderTooLarge = errors.New("fcgi: response header block too large")
	// ErrHeaderIncomplete: STDOUT ended before the blank line closing the
	// CGI header block.
	ErrHeaderIncomplete = errors.New("fcgi: response ended inside the header block")
)

// putHeader encodes a record header into b[:8].
func putHeader(b []byte, typ uint8, contentLen int) {
	b[0] = version1
	b[1] = typ
	b[2] = 0
	b[3] = requestID
	binary.BigEndian.PutUint16(b[4:], uint16(contentLen))
	b[6] = 0 // lighttpd never pads
	b[7] = 0
}

// recordReader demultiplexes the records a backend sends for one request:
// STDOUT content is returned by Read, STDERR goes to the line callback,
// END_REQUEST ends the stream. It holds no goroutine; it reads on the
// caller's goroutine.
type recordReader struct {
	br     *bufio.Reader
	stderr StderrSink

	remain int // unread STDOUT content of the current record
	pad    int // padding still to skip after the current record

	err       error // sticky: io.EOF after a complete END_REQUEST
	appStatus uint32
	stdoutN   int64

	errLine []byte // partial STDERR line carried across records
}

// maxStderrLine bounds the partial line carried between STDERR records; a
// longer line is delivered in pieces so a chatty backend cannot grow memory.
const maxStderrLine = 8192

func (r *recordReader) reset(br *bufio.Reader, stderr StderrSink) {
	*r = recordReader{br: br, stderr: stderr, errLine: r.errLine[:0]}
}

// Read returns STDOUT content. It returns io.EOF only after END_REQUEST
// with FCGI_REQUEST_COMPLETE; any other end is an error.
func (r *recordReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, r.err
	}
	for r.err == nil {
		if r.remain > 0 {
			if len(p) > r.remain {
				p = p[:r.remain]
			}
			n, err := r.br.Read(p)
			r.remain -= n
			r.stdoutN += int64(n)
			if err != nil {
				r.err = r.eofErr(err)
				if n > 0 {
					return n, nil
				}
				return 0, r.err
			}
			return n, nil
		}
		if err := r.next(); err != nil {
			r.err = err
		}
	}
	return 0, r.err
}

// eofErr turns a short read into an error that says the response is cut.
func (r *recordReader) eofErr(err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("fcgi: connection closed before END_REQUEST (after %d bytes of STDOUT; perhaps the backend died): %w",
			r.stdoutN, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("fcgi: reading response: %w", err)
}

// next consumes records until STDOUT content is pending or the stream ends.
func (r *recordReader) next() error {
	if r.pad > 0 {
		if _, err := r.br.Discard(r.pad); err != nil {
			return r.eofErr(err)
		}
		r.pad = 0
	}
	h, err := take(r.br, headerLen)
	if err != nil {
		return r.eofErr(err)
	}
	if h[0] != version1 {
		return fmt.Errorf("%w: record version %d (type %d)", ErrMalformed, h[0], h[1])
	}
	typ := h[1]
	id := binary.BigEndian.Uint16(h[2:])
	clen := int(binary.BigEndian.Uint16(h[4:]))
	pad := int(h[6])

	switch typ {
	case typeStdout, typeStderr, typeEndRequest:
		if id != requestID {
			return fmt.Errorf("%w: record type %d for request id %d", ErrMalformed, typ, id)
		}
	default:
		// Management records (GET_VALUES_RESULT, UNKNOWN_TYPE) and types
		// this client never asked for are skipped, as lighttpd does.
		return r.skip(clen + pad)
	}

	switch typ {
	case typeStdout:
		// A zero-length STDOUT closes the stream; END_REQUEST still follows.
		r.remain, r.pad = clen, pad
		return nil
	case typeStderr:
		// Read in small pieces: emitStderr carries partial lines, so no
		// record-sized buffer is needed.
		var piece [512]byte
		for clen > 0 {
			n := min(clen, len(piece))
			if _, err := io.ReadFull(r.br, piece[:n]); err != nil {
				return r.eofErr(err)
			}
			r.emitStderr(piece[:n])
			clen -= n
		}
		r.pad = pad
		return nil
	default: // typeEndRequest
		if clen < 8 {
			return fmt.Errorf("%w: END_REQUEST body of %d bytes", ErrMalformed, clen)
		}
		body, err := take(r.br, 8)
		if err != nil {
			return r.eofErr(err)
		}
		r.flushStderr()
		r.appStatus = binary.BigEndian.Uint32(body[0:4])
		switch ps := body[4]; ps {
		case statusRequestComplete:
			// Consume the rest so a kept connection starts clean.
			if err := r.skip(clen - 8 + pad); err != nil {
				return err
			}
			return io.EOF
		case statusCantMpxConn:
			return ErrCantMpxConn
		case statusOverloaded:
			return ErrOverloaded
		case statusUnknownRole:
			return ErrUnknownRole
		default:
			return fmt.Errorf("%w: END_REQUEST protocolStatus %d", ErrMalformed, ps)
		}
	}
}

// take returns the next n bytes of br (n within its buffer), valid until
// br's next read. A header read with io.ReadFull into a local array moved
// the array to the heap: two allocations per request.
func take(br *bufio.Reader, n int) ([]byte, error) {
	b, err := br.Peek(n)
	if err != nil {
		if err == io.EOF && len(b) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	br.Discard(n)
	return b, nil
}

// buffered reports whether Read can return from what is already buffered:
// STDOUT content, or the end of the stream, without a read from the socket.
func (r *recordReader) buffered() bool {
	if r.err != nil {
		return true
	}
	if r.remain > 0 {
		return r.br.Buffered() > 0
	}
	b, _ := r.br.Peek(r.br.Buffered()) // no socket read: only what is there
	off := r.pad
	for off+headerLen <= len(b) {
		clen := int(binary.BigEndian.Uint16(b[off+4:]))
		pad := int(b[off+6])
		switch b[off+1] {
		case typeStdout:
			if clen > 0 {
				return off+headerLen < len(b)
			}
		case typeEndRequest:
			return off+headerLen+clen <= len(b)
		}
		off += headerLen + clen + pad
	}
	return false
}

func (r *recordReader) skip(n int) error {
	if _, err := r.br.Discard(n); err != nil {
		return r.eofErr(err)
	}
	return nil
}

// emitStderr delivers complete lines; a trailing partial line waits for the
// next STDERR record (or END_REQUEST).
func (r *recordReader) emitStderr(b []byte) {
	if r.stderr == nil {
		return
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(r.errLine)+len(b) > maxStderrLine {
				r.errLine = append(r.errLine, b...)
				r.flushStderr()
			} else {
				r.errLine = append(r.errLine, b...)
			}
			return
		}
		line := b[:i]
		if len(r.errLine) > 0 {
			r.errLine = append(r.errLine, line...)
			line = r.errLine
		}
		r.stderr.StderrLine(bytes.TrimSuffix(line, []byte{'\r'}))
		r.errLine = r.errLine[:0]
		b = b[i+1:]
	}
}

func (r *recordReader) flushStderr() {
	if len(r.errLine) > 0 && r.stderr != nil {
		r.stderr.StderrLine(bytes.TrimSuffix(r.errLine, []byte{'\r'}))
	}
	r.errLine = r.errLine[:0]
}
