package core

import (
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/golighty/golighty/core/bufpoison"
	"github.com/golighty/golighty/core/filefd"
	"github.com/golighty/golighty/core/httpfile"
	"github.com/golighty/golighty/core/statcache"
)

type bodyKind uint8

const (
	bodyNone   bodyKind = iota // nothing decided yet (error documents apply)
	bodyBytes                  // a complete body in memory
	bodyFile                   // a file (or part of one) sent by the file sender
	bodyStream                 // the handler wrote the response itself
)

// Response is the response being built for a request.
type Response struct {
	Status int
	Header Headers

	bytes []byte
	file  fileBody
	// pooled is the pool buffer a backend's body was read into, given back
	// at reset and not before: bytes, ranges of it, file parts and filters
	// may view it until the response is out (setPooledBody).
	pooled     *[]byte
	pooledFrom *sync.Pool
	// written counts body bytes put on the wire (%b in the access log).
	written int64

	// (The one-byte fields share a word: a Response is part of every
	// Request, which is kept for a whole download.)
	kind bodyKind
	// Dynamic is set when a backend (FastCGI, CGI, proxy) produced the
	// response: error documents and error handlers leave it alone unless
	// server.error-intercept is enabled.
	Dynamic bool
	// started is set once the head went to the client.
	started bool
	// deferred: the wire engine sends the file body after the handler
	// returned, and ends the request then (fileDeferrer).
	deferred bool
	// Range results, written after the response_start hooks' headers as
	// lighttpd orders them.
	acceptRanges bool
	// rangePending marks a file body whose Range is applied after the
	// response_start hooks (rangeOnParts), as lighttpd applies it: a
	// static file or X-Sendfile (the file sender sends the whole file
	// until then), X-Sendfile2's concatenated ranges.
	rangePending bool
	streamHook   bool // the hooks run for StartStream

	contentRange string
	plan         httpfile.Plan
	clBuf        [20]byte
	// filter, set by a response_start hook, transforms the body (filter.go).
	filter    func(dst io.Writer) BodyFilter
	streamOut BodyFilter // the filter of a streamed body, closed at its end
	streamLen int64      // a stream's announced length while the hooks run (-1 unknown)
}

// fileBody is a file response: one or more byte ranges of files, each sent
// with sendfile, or from memory for small cached files.
type fileBody struct {
	parts     []filePart
	multipart bool
	handles   []*statcache.Handle // released when the response is done
	owned     *os.File            // a spooled body's temporary file, closed when done
	temps     []*os.File          // a spooled backend body's files, closed when done
}

type filePart struct {
	fd     filefd.FD // the file, sent while the response holds it open
	data   []byte    // the whole content of a small cached file, or nil
	off, n int64
	head   []byte // multipart part header, nil otherwise
}

func (r *Response) reset() {
	r.dropFile()
	if r.pooled != nil {
		bufpoison.Fill(*r.pooled) // a view kept past the response reads as garbage in tests
		r.pooledFrom.Put(r.pooled)
		r.pooled, r.pooledFrom = nil, nil
	}
	r.Status = 0
	r.Header.Reset()
	r.kind = bodyNone
	r.bytes = nil
	r.Dynamic = false
	r.started = false
	r.written = 0
	r.deferred = false
	r.acceptRanges = false
	r.rangePending = false
	r.contentRange = ""
	r.filter, r.streamOut, r.streamHook = nil, nil, false
}

// SetBody makes b the complete response body (nil: an empty body).
func (r *Response) SetBody(b []byte) {
	r.dropFile()
	r.kind = bodyBytes
	r.bytes = b
}

// setPooledBody makes (*bp)[:n], read into a buffer of pool, the complete
// body without copying it (a backend's page cost an allocation of its size
// per request, and the collector's work with it: PHP pages of 20 KiB spent
// two thirds of golighty's CPU in it). The buffer returns to pool when the
// response is reset; should one be held already, the body is copied.
func (r *Response) setPooledBody(bp *[]byte, n int, pool *sync.Pool) {
	b := (*bp)[:n:n] // an AppendBody copies rather than writes past n
	if r.pooled != nil {
		r.SetBody(append([]byte(nil), b...))
		pool.Put(bp)
		return
	}
	r.SetBody(b)
	r.pooled, r.pooledFrom = bp, pool
}

// HasBody reports whether a handler decided the body.
func (r *Response) HasBody() bool { return r.kind != bodyNone }

// BodyBytes returns an in-memory body (nil for files and streams).
func (r *Response) BodyBytes() []byte { return r.bytes }

// Written is the number of body bytes sent to the client.
func (r *Response) Written() int64 { return r.written }

// Started reports whether the response head was already written.
func (r *Response) Started() bool { return r.started }

func (r *Response) dropFile() {
	for _, h := range r.file.handles {
		h.Release()
	}
	for _, f := range r.file.temps {
		f.Close()
	}
	clear(r.file.handles)
	clear(r.file.parts)
	clear(r.file.temps)
	if r.file.owned != nil {
		r.file.owned.Close()
	}
	r.file = fileBody{parts: r.file.parts[:0], handles: r.file.handles[:0], temps: r.file.temps[:0]}
	r.rangePending = false
}

// clearForError drops headers and body before an error document, keeping
// WWW-Authenticate on 401 as lighttpd does.
func (r *Response) clearForError() {
	// A 401 keeps its challenges (mod_auth sends one line per algorithm).
	var auth [4]string
	n := 0
	if r.Status == 401 {
		for i := 0; i < r.Header.Len() && n < len(auth); i++ {
			if h := r.Header.At(i); h.Value != "" && strings.EqualFold(h.Name, "WWW-Authenticate") {
				auth[n] = h.Value
				n++
			}
		}
	}
	r.Header.Reset()
	for _, v := range auth[:n] {
		r.Header.Append("WWW-Authenticate", v)
	}
	r.dropFile()
	r.kind = bodyNone
	r.bytes = nil
}

// bodyLength returns the size of the body when it is complete.
func (r *Response) bodyLength() int64 {
	switch r.kind {
	case bodyBytes:
		return int64(len(r.bytes))
	case bodyFile:
		var n int64
		for _, p := range r.file.parts {
			n += int64(len(p.head)) + p.n
		}
		return n + int64(len(multipartTrailer(r)))
	}
	return 0
}

func multipartTrailer(r *Response) []byte {
	if r.file.multipart {
		return httpfile.AppendMultipartEnd(nil)
	}
	return nil
}

// setContentLength writes Content-Length in its slot (or appends it). The
// digits live in the Response itself, so the hot path allocates nothing.
func (r *Response) setContentLength(n int64) {
	b := strconv.AppendInt(r.clBuf[:0], n, 10)
	r.Header.Set("Content-Length", unsafe.String(&b[0], len(b)))
}
