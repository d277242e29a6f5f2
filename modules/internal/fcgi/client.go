// Package fcgi is golighty's FastCGI client (the wire side of mod_fastcgi).
//
// It speaks the protocol the way lighttpd 1.4.69 does: request id 1, a new
// connection per request unless Dialer.KeepConn is set, BEGIN_REQUEST and all
// PARAMS in one write, STDIN records of at most 65535 bytes without padding,
// an empty STDIN record to end the body. The response is read on the
// caller's goroutine: STDOUT is an io.Reader, STDERR is split into lines for
// a callback, and END_REQUEST must arrive for the body to end with io.EOF —
// a backend that dies mid-response yields io.ErrUnexpectedEOF, never a
// silently truncated body.
//
// Typical use:
//
//	p := fcgi.NewParams()
//	p.Add("SCRIPT_FILENAME", "/srv/www/index.php")
//	resp, err := d.Do(ctx, &fcgi.Request{Params: p, Stdin: body, ContentLength: n})
//	p.Release()
//	if err != nil { /* connect failure: mark backend down, 503 */ }
//	defer resp.Close()
//	hdr, err := resp.ReadHeader()     // CGI header block, ≤ MaxHeaderBlock
//	... parse hdr, then io.Copy(client, resp) for the body.
package fcgi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/golighty/golighty/core/rawpoll"
	"github.com/golighty/golighty/core/rawsys"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var (
	errClosed    = errors.New("fcgi: read on closed response")
	errHeaderUse = errors.New("fcgi: ReadHeader called twice or after Close")
)

// MaxHeaderBlock bounds the CGI header block returned by ReadHeader.
const MaxHeaderBlock = 64 << 10

// smallBody is the largest known-length body sent in the same write as the
// params. Such a write always fits the socket send buffer, so it cannot
// deadlock against a backend that answers before reading, and it saves the
// streaming goroutine for the common small POST.
const smallBody = 16 << 10

// Dialer connects to one FastCGI backend and runs requests on it. Configure
// the exported fields before first use and do not copy a Dialer after that
// (it owns the idle pool). It is safe for concurrent use.
type Dialer struct {
	// Network is "tcp" or "unix". Empty means "unix" when Address starts
	// with '/' (lighttpd treats such a host as a socket), else "tcp".
	Network string
	// Address is host:port or a unix socket path.
	Address string

	// ConnectTimeout bounds connect() (lighttpd connect-timeout); 0 = none
	// beyond the context.
	ConnectTimeout time.Duration
	// ReadTimeout is the longest wait for any data from the backend
	// (read-timeout); 0 = none. As in lighttpd it runs from the request
	// start, also while a body is still being sent. Errors satisfy
	// errors.Is(err, os.ErrDeadlineExceeded).
	ReadTimeout time.Duration
	// WriteTimeout is the longest a single write may block (write-timeout).
	WriteTimeout time.Duration

	// KeepConn sets FCGI_KEEP_CONN and keeps finished connections for the
	// next requests. Off by default, as in lighttpd, which never reuses
	// backend connections. php-cgi and php-fpm honour it, but a kept
	// connection binds a worker: MaxConns must not exceed the number of
	// workers, or a new connection waits in the backlog behind idle ones.
	// A pooled connection is checked for a closed peer before reuse, and a
	// failed first write is retried on a new connection; a backend that
	// closes it without answering shows as Response.Dropped.
	KeepConn bool
	// MaxConns bounds the connections open at once with KeepConn, busy or
	// idle (0 means 1); requests beyond it wait for one.
	MaxConns int

	poolOnce sync.Once
	slots    chan struct{}                  // one token per open connection
	idle     chan *conn                     // finished connections, oldest first
	target   atomic.Pointer[rawpoll.Target] // resolved address
}

// Request is one FastCGI request.
type Request struct {
	// Role defaults to RoleResponder.
	Role Role
	// Params are sent in PARAMS records; nil sends none. Do does not keep
	// a reference after it returns.
	Params *Params
	// Stdin is the request body; nil means none. Do reads it on its own
	// goroutine while the caller reads the response, unless the body is
	// small and of known length.
	Stdin io.Reader
	// ContentLength is the body length: exactly this many bytes are sent
	// and a shorter Stdin aborts the request (the backend must not see a
	// truncated body as complete). -1 sends Stdin until EOF (de-chunked
	// uploads). 0 with a non-nil Stdin sends no body.
	ContentLength int64
	// Fresh asks for a connection that carried no earlier request (with
	// KeepConn): for requests that must not be replayed, since a reused
	// connection the backend drops unanswered cannot tell "not run" from
	// "died while running". Large streamed bodies always go fresh.
	Fresh bool
	// Stderr receives each STDERR line without its newline (lighttpd logs
	// them as "FastCGI-stderr:LINE"). It is called from ReadHeader and Read
	// on the caller's goroutine; the slice is only valid during the call;
	// a line over 8 KiB arrives in pieces. Nil discards STDERR.
	Stderr StderrSink
}

// StderrSink takes a backend's STDERR lines (Request.Stderr). It is an
// interface rather than a function so that a caller can pass a pointer it
// already holds and allocate nothing per request (a closure over the
// request was one of a PHP request's allocations).
type StderrSink interface{ StderrLine(line []byte) }

// StderrFunc makes a function a StderrSink.
type StderrFunc func(line []byte)

// StderrLine calls f.
func (f StderrFunc) StderrLine(line []byte) { f(line) }

// conn is one backend connection with its buffered reader. The reader is
// taken from its pool only when the response starts to arrive (and given
// back when the connection goes idle), so requests queued on a busy
// backend, and idle kept connections, hold no read buffer.
type conn struct {
	nc   backendConn
	dr   deadlineReader
	br   *bufio.Reader // nil until the first read
	used bool          // came from the idle pool
}

// reader returns c's buffered reader, taking one from the pool if needed.
func (c *conn) reader() *bufio.Reader {
	if c.br == nil {
		c.br = readerPool.Get().(*bufio.Reader)
		c.br.Reset(&c.dr)
	}
	return c.br
}

// putReader gives the read buffer back to the pool.
func (c *conn) putReader() {
	if c.br != nil {
		c.br.Reset(nil)
		readerPool.Put(c.br)
		c.br = nil
	}
}

// deadlineReader renews the read deadline before every read from the
// socket, so ReadTimeout measures inactivity, like lighttpd's read-timeout.
type deadlineReader struct {
	nc  backendConn
	d   time.Duration
	got int64 // bytes read for the current request
}

func (r *deadlineReader) Read(p []byte) (int, error) {
	if r.d > 0 {
		if err := r.nc.SetReadDeadline(time.Now().Add(r.d)); err != nil {
			return 0, err
		}
	}
	n, err := r.nc.Read(p)
	r.got += int64(n)
	return n, err
}

var (
	writeBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 8192); return &b }}
	stdinBufPool = sync.Pool{New: func() any { b := make([]byte, headerLen+MaxRecordContent); return &b }}
	hdrBufPool   = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}
	// The read buffer takes several records per read(2): PHP sends its
	// output in records of 8 KiB, and a large body (readfile()) read 16 KiB
	// at a time cost four times the system calls of lighttpd's reads of
	// what FIONREAD reports. It is held only while a response arrives.
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}
)

// close closes the socket and recycles the read buffer. Only the owner of
// c calls it; goroutines that may outlive the Response hold nc, not c.
func (c *conn) close() {
	c.nc.Close()
	c.putReader()
}

// Do sends the request and returns once the params (and a small body) are
// written. A non-nil error means no response exists: the backend could not
// be reached (the gateway marks it down and tries another) or the request
// could not be sent. Errors about the response itself, including
// FCGI_OVERLOADED, come from the Response's reads. The caller must Close
// the Response. Cancelling ctx closes the connection promptly; pending
// reads then fail with ctx's error.
func (d *Dialer) Do(ctx context.Context, req *Request) (*Response, error) {
	resp := new(Response)
	if err := d.DoInto(ctx, req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// DoInto is Do with the Response made in resp, for a caller that keeps one
// in its request handler: the Response it held there before must be closed
// (resp is overwritten, also on error). Without KeepConn the connection's
// state lives in resp too, so a request allocates none.
func (d *Dialer) DoInto(ctx context.Context, req *Request, resp *Response) error {
	role := req.Role
	if role == 0 {
		role = RoleResponder
	}
	if req.Stdin == nil && req.ContentLength > 0 {
		return fmt.Errorf("fcgi: ContentLength %d without Stdin", req.ContentLength)
	}
	wbp := writeBufPool.Get().(*[]byte)
	defer func() {
		if cap(*wbp) <= maxPooledParams+smallBody {
			*wbp = (*wbp)[:0]
			writeBufPool.Put(wbp)
		}
	}()

	w := d.appendBegin((*wbp)[:0], role, req.Params)
	stream := false
	switch n := req.ContentLength; {
	case req.Stdin == nil || n == 0:
		w = appendEmpty(w, typeStdin)
	case n > 0 && n <= smallBody:
		// Read the small body before dialing, so a failed write on a
		// reused connection can be replayed on a fresh one.
		start := len(w)
		w = append(w, make([]byte, headerLen+int(n))...)
		if _, err := io.ReadFull(req.Stdin, w[start+headerLen:]); err != nil {
			return fmt.Errorf("fcgi: reading request body (%d bytes expected): %w", n, err)
		}
		putHeader(w[start:], typeStdin, int(n))
		w = appendEmpty(w, typeStdin)
	default:
		stream = true
	}
	*wbp = w

	*resp = Response{d: d, addr: d.Address}
	c, err := d.send(ctx, w, req.Fresh || stream, &resp.own)
	if err != nil {
		return err
	}
	resp.c = c
	resp.rr.reset(nil, req.Stderr) // the reader comes with the first read
	if ctx.Done() != nil {
		resp.ctx = ctx
		nc := c.nc // not c: c may be recycled while this runs
		resp.stop = context.AfterFunc(ctx, func() { nc.Close() })
	}
	if stream {
		resp.in = &stdinStream{done: make(chan struct{})}
		go resp.in.run(c.nc, d.WriteTimeout, req.Stdin, req.ContentLength)
	}
	return nil
}

// appendBegin encodes BEGIN_REQUEST, the params split into records of at
// most MaxRecordContent bytes, and the empty PARAMS record.
func (d *Dialer) appendBegin(w []byte, role Role, p *Params) []byte {
	var flags byte
	if d.KeepConn {
		flags = flagKeepConn
	}
	var h [headerLen]byte
	putHeader(h[:], typeBeginRequest, 8)
	w = append(w, h[:]...)
	w = append(w, byte(role>>8), byte(role), flags, 0, 0, 0, 0, 0)
	if p != nil {
		for b := p.buf; len(b) > 0; {
			n := min(len(b), MaxRecordContent)
			putHeader(h[:], typeParams, n)
			w = append(w, h[:]...)
			w = append(w, b[:n]...)
			b = b[n:]
		}
	}
	return appendEmpty(w, typeParams)
}

func appendEmpty(w []byte, typ uint8) []byte {
	var h [headerLen]byte
	putHeader(h[:], typ, 0)
	return append(w, h[:]...)
}

// send writes the request head on a pooled or new connection. A write that
// fails on a pooled connection (the backend closed it after our liveness
// check) is replayed once on a fresh connection; nothing has been consumed
// from the caller's body at that point. A new connection that is not
// kept is made in own.
func (d *Dialer) send(ctx context.Context, w []byte, fresh bool, own *conn) (*conn, error) {
	for {
		c, err := d.acquire(ctx, fresh, own)
		if err != nil {
			return nil, err
		}
		err = writeAll(c.nc, d.WriteTimeout, w)
		if err == nil {
			return c, nil
		}
		used := c.used
		d.discard(c)
		if !used || ctx.Err() != nil {
			return nil, fmt.Errorf("fcgi: sending request to %s: %w", d.Address, err)
		}
		fresh = true
	}
}

func (d *Dialer) pool() {
	d.poolOnce.Do(func() {
		n := max(d.MaxConns, 1)
		d.slots = make(chan struct{}, n)
		d.idle = make(chan *conn, n)
	})
}

// acquire returns a connection: without KeepConn a new one; with it a live
// idle one (unless fresh), else a new one while fewer than MaxConns are
// open, else the first to become idle. A fresh request takes over an idle
// connection's place by closing it, so idle connections never block it.
// Without KeepConn the connection is made in own.
func (d *Dialer) acquire(ctx context.Context, fresh bool, own *conn) (*conn, error) {
	if !d.KeepConn {
		return d.dial(ctx, own)
	}
	d.pool()
	for {
		if !fresh {
			select {
			case c := <-d.idle:
				if c = d.revive(c); c != nil {
					return c, nil
				}
				continue
			default:
			}
		}
		select {
		case d.slots <- struct{}{}:
			return d.dialSlot(ctx)
		default:
		}
		select {
		case d.slots <- struct{}{}:
			return d.dialSlot(ctx)
		case c := <-d.idle:
			if fresh {
				c.close() // its slot is ours now
				return d.dialSlot(ctx)
			}
			if c = d.revive(c); c != nil {
				return c, nil
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("fcgi: waiting for a connection to %s: %w", d.Address, context.Cause(ctx))
		}
	}
}

// dialSlot dials for a slot already taken, giving it back on failure.
func (d *Dialer) dialSlot(ctx context.Context) (*conn, error) {
	c, err := d.dial(ctx, nil)
	if err != nil {
		<-d.slots
	}
	return c, err
}

// revive checks an idle connection before reuse; a dead one is closed and
// its slot freed (nil).
func (d *Dialer) revive(c *conn) *conn {
	if peerAlive(c.nc) {
		c.used = true
		c.dr.d, c.dr.got = d.ReadTimeout, 0
		return c
	}
	d.discard(c)
	return nil
}

// release returns a finished connection: to the idle pool when it may carry
// another request, else closed.
func (d *Dialer) release(c *conn, reusable bool) {
	if reusable && d.KeepConn {
		c.putReader() // empty: a reusable connection has nothing buffered
		c.dr.d = 0
		c.nc.SetDeadline(time.Time{})
		d.idle <- c // never blocks: idle ≤ open ≤ cap
		return
	}
	d.discard(c)
}

// discard closes c and frees its slot.
func (d *Dialer) discard(c *conn) {
	c.close()
	if d.KeepConn {
		<-d.slots
	}
}

// discardLater is discard with the socket's close left to l.
func (d *Dialer) discardLater(c *conn, l LaterCloser) {
	l.CloseAfterResponse(c.nc)
	c.putReader()
	if d.KeepConn {
		<-d.slots
	}
}

func (d *Dialer) network() string {
	if d.Network != "" {
		return d.Network
	}
	if strings.HasPrefix(d.Address, "/") {
		return "unix"
	}
	return "tcp"
}

// dial connects a new connection, made in c (nil: a new one; a kept
// connection outlives its request's Response).
func (d *Dialer) dial(ctx context.Context, c *conn) (*conn, error) {
	nc, err := d.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("fcgi: connect: %w", err)
	}
	if c == nil {
		c = new(conn)
	}
	*c = conn{nc: nc, dr: deadlineReader{nc: nc, d: d.ReadTimeout}}
	return c, nil
}

func writeAll(nc backendConn, timeout time.Duration, b []byte) error {
	if timeout > 0 {
		if err := nc.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
			return err
		}
	}
	_, err := nc.Write(b)
	return err
}

// CloseIdle closes the pooled connections (when the Dialer is retired).
func (d *Dialer) CloseIdle() {
	if !d.KeepConn {
		return
	}
	d.pool()
	for {
		select {
		case c := <-d.idle:
			d.discard(c)
		default:
			return
		}
	}
}

// peerAlive reports whether an idle connection can carry a new request: a
// non-blocking peek must find nothing to read. EOF means the backend closed
// it; stray bytes mean the stream is out of sync. Either way it is dropped.
func peerAlive(nc backendConn) bool {
	rc, err := nc.SyscallConn()
	if err != nil {
		return false
	}
	ready, err := rawsys.Readable(rc)
	return err == nil && !ready
}

// stdinStream copies a large or unknown-length body into STDIN records on
// its own goroutine, so the backend may answer before it has read all input
// without either side blocking on a full socket buffer.
type stdinStream struct {
	done chan struct{}
	err  error // valid after done is closed
}

func (s *stdinStream) run(nc backendConn, timeout time.Duration, src io.Reader, n int64) {
	bp := stdinBufPool.Get().(*[]byte)
	err := copyStdin(nc, timeout, src, n, *bp)
	stdinBufPool.Put(bp)
	s.err = err
	close(s.done)
	if err != nil && !peerGone(err) {
		// The backend would wait forever for the rest of the body; close
		// so the reader fails now, with s.err as the reported cause.
		nc.Close()
	}
}

func copyStdin(nc backendConn, timeout time.Duration, src io.Reader, n int64, buf []byte) error {
	var sent int64
	for n < 0 || sent < n {
		want := int64(MaxRecordContent)
		if n >= 0 {
			want = min(want, n-sent)
		}
		m, rerr := src.Read(buf[headerLen : headerLen+want])
		if m > 0 {
			putHeader(buf, typeStdin, m)
			if err := writeAll(nc, timeout, buf[:headerLen+m]); err != nil {
				return fmt.Errorf("fcgi: sending request body: %w", err)
			}
			sent += int64(m)
		}
		if rerr == io.EOF {
			if n >= 0 && sent < n {
				return fmt.Errorf("fcgi: request body ended after %d of %d bytes: %w", sent, n, io.ErrUnexpectedEOF)
			}
			break
		}
		if rerr != nil {
			return fmt.Errorf("fcgi: reading request body: %w", rerr)
		}
	}
	putHeader(buf, typeStdin, 0)
	if err := writeAll(nc, timeout, buf[:headerLen]); err != nil {
		return fmt.Errorf("fcgi: sending request body: %w", err)
	}
	return nil
}

// peerGone: the backend closed its side. It may still have sent a complete
// response (an app that rejects a large upload without reading it), so the
// reader decides.
func peerGone(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}

// Response is the backend's answer. Read returns STDOUT content and io.EOF
// after a complete END_REQUEST. Reads are not safe for concurrent use.
type Response struct {
	d    *Dialer
	c    *conn
	own  conn // c when the connection is not kept (DoInto)
	addr string
	rr   recordReader
	in   *stdinStream // nil when the body went with the params

	ctx  context.Context
	stop func() bool

	hdrBuf  *[]byte
	pending []byte // body bytes read together with the header block
	closed  bool
}

// ReadHeader reads STDOUT up to the blank line that ends the CGI header
// block and returns the block without that blank line (lines end in "\n" or
// "\r\n"; an empty block is returned as empty). The slice is valid until
// Close. Bytes after the blank line are returned by Read. Errors:
// ErrHeaderTooLarge beyond MaxHeaderBlock, ErrHeaderIncomplete if STDOUT
// ends first (both mean 502 to lighttpd), or a read error. It must be called
// at most once, before any Read.
func (r *Response) ReadHeader() ([]byte, error) {
	if r.closed || r.hdrBuf != nil {
		return nil, errHeaderUse
	}
	r.attach()
	r.hdrBuf = hdrBufPool.Get().(*[]byte)
	buf := (*r.hdrBuf)[:0]
	scan := 0
	for {
		// append may round capacity up; never read past the limit.
		limit := min(cap(buf), MaxHeaderBlock)
		if len(buf) == limit {
			if limit == MaxHeaderBlock {
				*r.hdrBuf = buf
				return nil, fmt.Errorf("fcgi: %s: %w (over %d bytes)", r.addr, ErrHeaderTooLarge, MaxHeaderBlock)
			}
			buf = append(buf, make([]byte, min(2*cap(buf), MaxHeaderBlock)-len(buf))...)[:len(buf)]
			limit = min(cap(buf), MaxHeaderBlock)
		}
		n, err := r.rr.Read(buf[len(buf):limit])
		buf = buf[:len(buf)+n]
		if end, next, ok := headerEnd(buf, scan); ok {
			*r.hdrBuf = buf
			r.pending = buf[next:]
			return buf[:end], nil
		}
		scan = max(0, len(buf)-2)
		if err != nil {
			*r.hdrBuf = buf
			if err == io.EOF {
				return buf, fmt.Errorf("fcgi: %s: %w", r.addr, ErrHeaderIncomplete)
			}
			return nil, r.wrap(err)
		}
	}
}

// headerEnd finds the empty line ending a header block, starting the search
// at from (a line start or earlier). It returns the block length and the
// offset of the body.
func headerEnd(b []byte, from int) (end, next int, ok bool) {
	if len(b) > 0 && b[0] == '\n' {
		return 0, 1, true
	}
	if len(b) > 1 && b[0] == '\r' && b[1] == '\n' {
		return 0, 2, true
	}
	for i := from; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 1, i + 2, true
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 1, i + 3, true
		}
	}
	return 0, 0, false
}

// Read returns response body bytes (all of STDOUT when ReadHeader was not
// used). The final error is io.EOF only if the backend completed the
// request; a connection that ends early gives an error wrapping
// io.ErrUnexpectedEOF, a refused request ErrOverloaded and the like.
func (r *Response) Read(p []byte) (int, error) {
	if r.closed {
		return 0, errClosed
	}
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	r.attach()
	n, err := r.rr.Read(p)
	if err != nil && err != io.EOF {
		err = r.wrap(err)
	}
	return n, err
}

// attach gives the record reader the connection's buffered reader.
func (r *Response) attach() {
	if r.rr.br == nil {
		r.rr.br = r.c.reader()
	}
}

// Wait blocks until the backend has sent something or ended the
// connection, or the read timeout passes, without taking a read buffer
// meanwhile: a caller that waits before it takes buffers of its own (the
// gateway's) holds none while the backend works or queues the request.
// Its error is what the first read would have returned.
func (r *Response) Wait() error { return r.WaitUntil(r.Deadline()) }

// Deadline is when a Wait starting now gives up: the read timeout from
// now (zero: none).
func (r *Response) Deadline() time.Time {
	if d := r.c.dr.d; d > 0 {
		return time.Now().Add(d)
	}
	return time.Time{}
}

// WaitUntil is Wait with the limit t (zero: none), for a wait that began
// earlier (a request that waited without a goroutine).
func (r *Response) WaitUntil(t time.Time) error {
	if r.closed {
		return errClosed
	}
	if len(r.pending) > 0 || r.rr.br != nil && r.rr.br.Buffered() > 0 {
		return nil
	}
	rc, err := r.c.nc.SyscallConn()
	if err != nil {
		return r.wrap(err)
	}
	if !t.IsZero() {
		if err := r.c.nc.SetReadDeadline(t); err != nil {
			return r.wrap(err)
		}
	}
	if err := rawsys.AwaitReadable(rc); err != nil {
		return r.wrap(err)
	}
	return nil
}

// wrap replaces an error caused by our own closing of the connection with
// its cause (context cancellation or a failed request body) and adds the
// backend address.
func (r *Response) wrap(err error) error {
	if r.ctx != nil && r.ctx.Err() != nil {
		return fmt.Errorf("fcgi: %s: %w", r.addr, context.Cause(r.ctx))
	}
	if r.in != nil {
		select {
		case <-r.in.done:
			if r.in.err != nil && !peerGone(r.in.err) {
				return fmt.Errorf("%w (backend %s)", r.in.err, r.addr)
			}
		default:
		}
	}
	return fmt.Errorf("%w (backend %s)", err, r.addr)
}

// Ready reports whether a Read finds body bytes, or the response's end,
// already received (buffered here or waiting in the socket) instead of
// waiting for the backend: lighttpd's FIONREAD check, which decides whether
// a streamed response came complete with its head.
func (r *Response) Ready() bool {
	switch {
	case r.closed:
		return false
	case len(r.pending) > 0, r.rr.br != nil && r.rr.buffered():
		return true
	}
	return readable(r.c.nc)
}

// readable reports whether a read on nc returns at once (data, end of
// stream or an error) rather than blocking.
func readable(nc backendConn) bool {
	rc, err := nc.SyscallConn()
	if err != nil {
		return true
	}
	ready, err := rawsys.Readable(rc)
	return ready || err != nil
}

// Abort closes the backend connection, so a read blocked on it returns an
// error; the backend sees the close (php-cgi then ends the script at its
// next output). It may be called from another goroutine while the owner
// reads, but not after Close.
func (r *Response) Abort() { r.c.nc.Close() }

// SyscallConn is the backend socket's raw access (to watch it).
func (r *Response) SyscallConn() (syscall.RawConn, error) { return r.c.nc.SyscallConn() }

// Shutdown shuts the backend connection down both ways without closing
// it: whatever watches the socket sees it readable (its end), and the
// backend sees the end of its request. It may be called from another
// goroutine, but not after Close.
func (r *Response) Shutdown() {
	if rc, err := r.c.nc.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { rawsys.Shutdown(fd, syscall.SHUT_RDWR) })
	}
}

// Dropped reports whether err, from reading this response, means the
// backend closed a reused connection with nothing sent back. php-cgi does
// that when a child exits after PHP_FCGI_MAX_REQUESTS just as the
// connection is reused, without reading the request; a backend that died
// while running it looks the same. So only a request that may run twice
// should be sent again (on a fresh connection); Request.Fresh keeps the
// others off reused connections.
func (r *Response) Dropped(err error) bool {
	return r.c.used && r.c.dr.got == 0 &&
		(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET))
}

// AppStatus is END_REQUEST's appStatus (the script's exit status for
// php-cgi), valid after Read returned io.EOF. lighttpd ignores it.
func (r *Response) AppStatus() uint32 { return r.rr.appStatus }

// StdinPending reports whether Do's goroutine is still copying Stdin to the
// backend (the backend answered before it read the whole body).
func (r *Response) StdinPending() bool {
	if r.in == nil {
		return false
	}
	select {
	case <-r.in.done:
		return false
	default:
		return true
	}
}

// Close releases the response. A connection whose request completed cleanly
// returns to the idle pool when KeepConn is set; any other is closed. Close
// waits for the goroutine copying Stdin, so nothing reads the caller's
// Stdin once Close returned: a caller whose Stdin can block (a client
// connection) must unblock it first when StdinPending says the copy runs.
func (r *Response) Close() error { return r.CloseAfter(nil) }

// LaterCloser closes a connection once the client has its response
// (core.Request.CloseAfterResponse).
type LaterCloser interface {
	CloseAfterResponse(c io.Closer)
}

// CloseAfter is Close, except that a connection the backend finished
// cleanly (END_REQUEST read, no Stdin copy running) and that is not kept
// goes to l, which closes it later, instead of being closed now: php-cgi
// waits for that close after answering, and its wake-up then does not
// interrupt the server while it writes the response. l may be nil.
func (r *Response) CloseAfter(l LaterCloser) error {
	if r.closed {
		return nil
	}
	r.closed = true
	done := r.rr.err == io.EOF
	reuse := r.d.KeepConn && done && len(r.pending) == 0 && (r.c.br == nil || r.c.br.Buffered() == 0)
	if r.stop != nil && !r.stop() {
		reuse, done = false, false // the context already closed the connection
	}
	if reuse && r.in != nil {
		select {
		case <-r.in.done:
			reuse = r.in.err == nil
		default:
			reuse = false
		}
	}
	if !reuse && done && r.in == nil && l != nil {
		r.d.discardLater(r.c, l)
	} else {
		r.d.release(r.c, reuse)
	}
	if r.in != nil {
		<-r.in.done // the released connection is closed unless the copy ended
	}
	r.rr.br = nil
	if r.hdrBuf != nil {
		if cap(*r.hdrBuf) <= 4096 {
			*r.hdrBuf = (*r.hdrBuf)[:0]
			hdrBufPool.Put(r.hdrBuf)
		}
		r.hdrBuf = nil
	}
	r.pending = nil
	return nil
}
