package core

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/golighty/golighty/core/filefd"
)

// BackendBody is a backend's response body, handed to SendBackendBody after
// BackendHeaders has read the head.
type BackendBody struct {
	// R yields the body with the backend's framing removed (de-chunked, cut
	// at its Content-Length) and returns io.EOF only after a complete body.
	R io.Reader
	// ContentLength is the backend's Content-Length, -1 when it sent none.
	ContentLength int64
	// Backend, optional, is asked about R's readiness and told to abort
	// (see BackendState). Nil: R is never ready ahead (the streamed head
	// leaves at once, every write is flushed) and cannot be aborted.
	Backend BackendState
}

// BackendState is the backend behind a BackendBody (one value, usually the
// handler itself, so a request makes no function values for it).
type BackendState interface {
	// Ready reports whether R has more bytes (or its end) at hand without
	// waiting for the backend, as lighttpd's FIONREAD check does. With the
	// streaming modes it decides whether the body came complete with the
	// head (then it gets a Content-Length) and when to flush to the client.
	Ready() bool
	// Abort makes a Read of R blocked on another goroutine return (close
	// the backend connection); used when the client goes away while
	// server.stream-response-body = 1 reads the backend ahead.
	Abort()
}

// ErrShortBody is wrapped by SendBackendBody's error for a backend whose
// body ended before its Content-Length.
var ErrShortBody = errors.New("backend body shorter than its Content-Length")

var bodyScratch = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// spoolMemBufs hold a body of more than a scratch buffer that stays in
// memory (spoolMem at most), until its response is out.
var spoolMemBufs = sync.Pool{New: func() any { b := make([]byte, spoolMem); return &b }}

// spoolBufs carry a body that spools to a temporary file, once it has
// outgrown the memory share: few bodies at a time, so larger.
var spoolBufs = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}

// SendBackendBody transfers a backend's response body to the client the way
// server.stream-response-body asks (lighttpd's http_response_read and
// chunkqueue), for every gateway:
//
//   - 0 (the default): the whole body is collected, the first 64 KiB in
//     memory and beyond that in temporary files in server.upload-dirs, and
//     becomes the complete response: Content-Length, Range (206, 416,
//     multipart), HEAD and error documents apply as to a static file, and
//     a spooled body leaves with sendfile. Memory stays bounded whatever
//     the size.
//   - 1: the response starts once the head is in; the backend is read as
//     fast as it sends whatever the client's pace, so what the client has
//     not taken yet waits in memory (64 KiB) and temporary files, and the
//     backend is free early.
//   - 2: streamed with backpressure: the backend is read only as the client
//     takes the data (a few dozen KiB in flight), as for a live feed.
//
// In modes 1 and 2 a body that is already complete when the head has been
// read (nothing waited for) is sent as in mode 0, as lighttpd does.
//
// It returns an error only when the backend failed (a read error, a body
// shorter than its Content-Length). If the response has not started
// (rc.Resp.Started() is false) nothing was sent and the caller answers with
// its error status (502, 504); if it had, the connection has been cut so
// the client cannot take the truncated body for a whole one, and the caller
// only logs. A client that goes away and a temporary file that cannot be
// written (500 when nothing was sent, as lighttpd) are handled here.
func (rc *Request) SendBackendBody(b BackendBody) error {
	mode := rc.Conf.StreamResponseBody
	sp := bodyScratch.Get().(*[]byte)
	kept := false // sp became the body
	defer func() {
		if !kept {
			bodyScratch.Put(sp)
		}
	}()
	scratch := *sp
	if cl := b.ContentLength; mode&3 == 0 && cl >= 0 && cl <= spoolMem {
		// The length is known and small: read it whole into a pool buffer
		// (the scratch one, or one of the memory share's), which becomes
		// the body.
		bp, pool := sp, &bodyScratch
		if cl > int64(len(scratch)) {
			bp, pool = spoolMemBufs.Get().(*[]byte), &spoolMemBufs
		}
		n, err := io.ReadFull(b.R, (*bp)[:cl])
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = rc.checkLength(&b, int64(n))
		}
		if err != nil {
			if bp != sp {
				pool.Put(bp)
			}
			return err
		}
		rc.Resp.setPooledBody(bp, n, pool)
		kept = bp == sp
		return nil
	}
	var n int
	var err error
	if mode&3 == 0 {
		n, err = readUntil(b.R, scratch)
	} else {
		n, err = readReady(&b, scratch)
	}
	switch {
	case err == io.EOF:
		// Complete within the scratch buffer: it is the body.
		if err := rc.checkLength(&b, int64(n)); err != nil {
			return err
		}
		rc.Resp.setPooledBody(sp, n, &bodyScratch)
		kept = true
		return nil
	case err != nil:
		return err
	case mode&3 == 0:
		return rc.spoolBody(&b, scratch, n)
	case mode&2 != 0:
		return rc.streamBody(&b, scratch, n)
	}
	return rc.streamAhead(&b, scratch, n)
}

// readUntil reads into p until it is full (nil error) or r fails (io.EOF
// included).
func readUntil(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// readReady reads into p what the backend has already sent, stopping
// before a read that would wait.
func readReady(b *BackendBody, p []byte) (int, error) {
	n := 0
	for n < len(p) && b.Backend != nil && b.Backend.Ready() {
		m, err := b.R.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// checkLength fails a body that ended before the backend's Content-Length
// (a HEAD response may announce a length it does not send).
func (rc *Request) checkLength(b *BackendBody, got int64) error {
	if b.ContentLength >= 0 && got < b.ContentLength && rc.Method != "HEAD" {
		return fmt.Errorf("%w: %d of %d bytes", ErrShortBody, got, b.ContentLength)
	}
	return nil
}

// spoolFailed answers 500 for a body that could not be kept, as lighttpd
// does when writing its temporary file fails before the response started.
func (rc *Request) spoolFailed(err error) {
	rc.Logf("%v", err)
	rc.Resp.Header.Reset()
	rc.Resp.Dynamic = false
	rc.Resp.Status = 500
}

// spoolBody collects the rest of the body (mode 0): the first n bytes are
// in scratch, in memory up to spoolMem, then everything in temporary files.
func (rc *Request) spoolBody(b *BackendBody, scratch []byte, n int) error {
	mp := spoolMemBufs.Get().(*[]byte)
	kept := false // *mp became the body
	defer func() {
		if !kept {
			spoolMemBufs.Put(mp)
		}
	}()
	mem := append((*mp)[:0], scratch[:n]...) // stays in *mp: spoolMem at most
	var t tempFiles
	t.init(&rc.Snap.Core.Server)
	total := int64(n)
	buf := scratch
	var big *[]byte // spoolBufs' buffer, once the body is in a file
	defer func() {
		if big != nil {
			spoolBufs.Put(big)
		}
	}()
	for {
		// A full buffer per write: a backend's records are small (8 KiB
		// from PHP), and each write to a temporary file is a system call
		// through the scheduler. The body is collected whole anyway.
		m, err := readUntil(b.R, buf)
		if m > 0 {
			total += int64(m)
			var werr error
			switch {
			case len(t.segs) == 0 && len(mem)+m <= spoolMem:
				mem = append(mem, buf[:m]...)
			case len(t.segs) == 0:
				// Past the memory share: what is kept moves to a file too.
				if werr = t.write(mem); werr == nil {
					werr = t.write(buf[:m])
				}
				mem = nil
			default:
				werr = t.write(buf[:m])
			}
			if werr == errNoRoom {
				return rc.streamSpooled(b, &t, buf, m, total, err)
			}
			if len(t.segs) > 0 && big == nil {
				// A large body: larger reads and writes from now on
				// (proxied 1 MiB: 32 KiB pieces took 65 system calls).
				big = spoolBufs.Get().(*[]byte)
				buf = *big
			}
			if werr != nil {
				t.closeAll()
				rc.spoolFailed(werr)
				return nil
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.closeAll()
			return err
		}
	}
	if err := rc.checkLength(b, total); err != nil {
		t.closeAll()
		return err
	}
	if len(t.segs) == 0 {
		rc.Resp.setPooledBody(mp, len(mem), &spoolMemBufs)
		kept = true
		return nil
	}
	rc.Resp.setTempBody(&t)
	return nil
}

// setTempBody makes the spooled files the complete body. Range applies to
// their concatenation; the files close when the response is done.
func (r *Response) setTempBody(t *tempFiles) {
	r.dropFile()
	r.kind = bodyFile
	for _, s := range t.segs {
		r.file.parts = append(r.file.parts, filePart{fd: filefd.Of(s.f), n: s.n})
		r.file.temps = append(r.file.temps, s.f)
	}
	r.rangePending = true
}

// streamBody streams with backpressure (mode 2): the backend is read only
// when the client has taken the previous piece.
func (rc *Request) streamBody(b *BackendBody, scratch []byte, n int) error {
	w, err := rc.StartStream(b.ContentLength)
	if err != nil {
		return nil // the client is gone
	}
	return rc.pumpBody(w, b, scratch, n, int64(n), nil)
}

// streamSpooled streams a body whose spool stopped short of filling the
// upload directory: the head leaves (with the backend's Content-Length
// only), then what was spooled, then the rest with backpressure. The last
// read gave scratch[:m] (not spooled) and rerr; total counts it.
func (rc *Request) streamSpooled(b *BackendBody, t *tempFiles, scratch []byte, m int, total int64, rerr error) error {
	defer t.closeAll()
	rc.Logf("%v: the response to %s is streamed, not buffered, after %d bytes", errNoRoom, rc.URI.Path, total-int64(m))
	w, err := rc.StartStream(b.ContentLength)
	if err != nil {
		return nil
	}
	_, direct := w.(streamWriter)
	// The head leaves first: a file as the first body bytes would be taken
	// for the whole body (its size as the Content-Length).
	if err := rc.FlushStream(); err != nil {
		return nil
	}
	for _, s := range t.segs {
		if direct {
			if err := rc.w.SendFile(filefd.Of(s.f), 0, s.n); err != nil {
				return nil
			}
			rc.Resp.written += s.n
			continue
		}
		// A body filter takes the bytes: read them back (scratch holds the
		// piece that was not spooled).
		bp := filterBufs.Get().(*[]byte)
		err := copyFileRange(w, filefd.Of(s.f), 0, s.n, *bp)
		filterBufs.Put(bp)
		if err != nil {
			return nil
		}
	}
	return rc.pumpBody(w, b, scratch, m, total, rerr)
}

// pumpBody writes scratch[:n] and then the rest of the body to w, reading
// the backend only as the client takes the data; rerr, if set, is the
// error that came with scratch[:n]. total counts the body so far.
func (rc *Request) pumpBody(w io.Writer, b *BackendBody, scratch []byte, n int, total int64, rerr error) error {
	p := scratch[:n]
	for {
		if len(p) > 0 {
			if _, err := w.Write(p); err != nil {
				return nil
			}
			if rerr == nil && (b.Backend == nil || !b.Backend.Ready()) {
				if err := rc.FlushStream(); err != nil {
					return nil
				}
			}
		}
		if rerr == io.EOF {
			if err := rc.checkLength(b, total); err != nil {
				rc.AbortStream()
				return err
			}
			return nil
		}
		if rerr != nil {
			rc.AbortStream()
			return rerr
		}
		var m int
		m, rerr = b.R.Read(scratch)
		total += int64(m)
		p = scratch[:m]
	}
}

// aheadQueue holds what the backend sent and the client has not taken yet
// (mode 1): bytes in memory first, then in temporary files once more than
// spoolMem wait. The reader goroutine appends, the handler's goroutine
// sends; both under mu (file writes too: they are short, page-cache
// writes), except the sending itself.
type aheadQueue struct {
	mu    sync.Mutex
	more  sync.Cond
	mem   []byte
	files tempFiles
	total int64 // bytes read from the backend
	end   error // io.EOF or the failure that ended reading; valid once ended
	ended bool
	gone  bool // the client went away: stop reading
	spool error
}

// streamAhead streams while a goroutine reads the backend ahead of the
// client (mode 1).
func (rc *Request) streamAhead(b *BackendBody, scratch []byte, n int) error {
	// The reader starts first: even the head may wait for the client.
	q := &aheadQueue{total: int64(n), mem: append(make([]byte, 0, spoolMem), scratch[:n]...)}
	q.more.L = &q.mu
	q.files.init(&rc.Snap.Core.Server)
	done := make(chan struct{})
	go q.readAhead(b.R, done)
	defer func() {
		<-done
		q.files.closeAll()
	}()
	stop := func() {
		q.mu.Lock()
		q.gone = true
		q.mu.Unlock()
		q.more.Broadcast() // a reader waiting for room
		if b.Backend != nil {
			b.Backend.Abort()
		}
	}
	w, err := rc.StartStream(b.ContentLength)
	if err != nil {
		stop()
		return nil
	}
	// Without a body filter (mod_deflate) spooled bytes leave with sendfile,
	// after the head (a file as the first body bytes would be taken for the
	// whole body).
	_, direct := w.(streamWriter)
	if err := rc.FlushStream(); err != nil {
		stop()
		return nil
	}
	flushed := true
	for {
		q.mu.Lock()
		if len(q.mem) == 0 && q.files.size() == 0 && !q.ended {
			// Nothing queued: push out what was sent, then wait.
			if !flushed {
				q.mu.Unlock()
				if err := rc.FlushStream(); err != nil {
					stop()
					return nil
				}
				flushed = true
				continue
			}
			q.more.Wait()
			q.mu.Unlock()
			continue
		}
		flushed = false
		switch {
		case len(q.mem) > 0:
			k := copy(scratch, q.mem)
			q.mem = q.mem[:copy(q.mem, q.mem[k:])]
			q.mu.Unlock()
			if _, err := w.Write(scratch[:k]); err != nil {
				stop()
				return nil
			}
		case q.files.size() > 0:
			// sent drops finished files: the first one holds what is next.
			s := q.files.segs[0]
			q.mu.Unlock()
			k := s.n - s.done
			if direct {
				err = rc.w.SendFile(filefd.Of(s.f), s.done, k)
				rc.Resp.written += k
			} else {
				k = min(k, int64(len(scratch)))
				if _, err = s.f.ReadAt(scratch[:k], s.done); err == nil {
					_, err = w.Write(scratch[:k])
				}
			}
			if err != nil {
				stop()
				return nil
			}
			q.mu.Lock()
			q.files.sent(k)
			q.mu.Unlock()
			q.more.Broadcast() // a reader waiting for room
		default:
			end, spool := q.end, q.spool
			q.mu.Unlock()
			if spool != nil {
				rc.Logf("%v", spool)
				rc.AbortStream()
				return nil
			}
			if end == io.EOF {
				if err := rc.checkLength(b, q.total); err != nil {
					end = err
				} else {
					return nil
				}
			}
			rc.AbortStream()
			return end
		}
	}
}

// write spools p (mu held). When the file system nearly fills, reading
// ahead pauses until the client has taken what waits (lighttpd would go on
// until the disk is full): the backend then waits as with
// stream-response-body = 2.
func (q *aheadQueue) write(p []byte) error {
	for {
		err := q.files.write(p)
		if err != errNoRoom {
			return err
		}
		for q.files.size() > 0 && !q.gone {
			q.more.Wait()
		}
		if q.gone {
			return nil
		}
	}
}

// readAhead reads the backend into the queue until it ends, fails, or the
// client is gone.
func (q *aheadQueue) readAhead(r io.Reader, done chan<- struct{}) {
	defer close(done)
	bp := bodyScratch.Get().(*[]byte)
	defer bodyScratch.Put(bp)
	buf := *bp
	for {
		m, err := r.Read(buf)
		q.mu.Lock()
		if q.gone {
			q.mu.Unlock()
			return
		}
		if m > 0 {
			q.total += int64(m)
			if q.files.size() == 0 && len(q.mem)+m <= spoolMem {
				q.mem = append(q.mem, buf[:m]...)
			} else if werr := q.write(buf[:m]); werr != nil {
				q.spool, q.ended = werr, true
				q.mu.Unlock()
				q.more.Broadcast()
				return
			}
		}
		if err != nil {
			q.end, q.ended = err, true
		}
		q.mu.Unlock()
		q.more.Broadcast()
		if err != nil {
			return
		}
	}
}
