package core

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/golighty/golighty/core/filefd"
)

// BodyFilter transforms a response body on its way to the client
// (mod_deflate's compression). It receives the plain body through Write, in
// order; Flush makes it push out what it holds so far (a streamed response
// whose handler flushes); Close ends the body, writing whatever the filter
// still holds. A filter writes its output only to the destination it was
// built around. The core closes every filter of a complete body, also when
// feeding it failed; a streamed body's filter is not closed when the stream
// is aborted.
type BodyFilter interface {
	io.Writer
	Flush() error
	Close() error
}

// Filter makes the body of the response pass through the filter wrap
// builds around the destination it is given. Call it from a ResponseStart
// hook, which runs where lighttpd's response_start filters run: after error
// documents, before Range (a filter that sets Content-Encoding turns Range
// off, as in lighttpd).
//
// A complete body (in memory or a file) is filtered right after the hooks
// into memory, spilling to an unlinked temporary file in server.upload-dirs
// beyond filterMemMax, and the result becomes the body with its
// Content-Length. A streamed body (StartStream) is filtered as the handler
// writes it, with bounded memory: its Content-Length is dropped and the
// length is framed (chunked, or the connection's end for HTTP/1.0).
// The hook sets the headers that describe the filtered body itself
// (Content-Encoding, Vary, ETag). HEAD responses send no body and are not
// filtered; a filter installed for one only loses the Content-Length.
func (r *Response) Filter(wrap func(dst io.Writer) BodyFilter) { r.filter = wrap }

// BodyLen returns the length of the body: a complete body's size, or, while
// the response_start hooks run for a stream, its announced Content-Length.
// known is false when no body was decided yet and for a stream of unknown
// length.
func (r *Response) BodyLen() (n int64, known bool) {
	if r.streamHook {
		return r.streamLen, r.streamLen >= 0
	}
	if r.kind != bodyBytes && r.kind != bodyFile {
		return 0, false
	}
	return r.bodyLength(), true
}

// Streaming reports whether the hooks run for a streamed response, whose
// body does not exist yet (a large backend reply).
func (r *Response) Streaming() bool { return r.streamHook }

// WholeFile returns the file a response sends whole (a static file or an
// X-Sendfile, before any Range is applied): its path, its size, and a reader
// of the bytes the response would send. Filters that keep a transformed copy
// on disk (mod_deflate's cache-dir) use it; ok is false for any other body.
func (r *Response) WholeFile() (path string, size int64, ra io.ReaderAt, ok bool) {
	if r.kind != bodyFile || len(r.file.parts) != 1 || len(r.file.handles) != 1 || r.file.owned != nil {
		return "", 0, nil, false
	}
	p := r.file.parts[0]
	h := r.file.handles[0]
	if p.off != 0 || p.n != h.Entry.Size {
		return "", 0, nil, false
	}
	return h.Entry.Path, p.n, h, true
}

// SetBodyFile makes the whole file at path the response body, opened
// through the stat cache and sent with sendfile like any static file, and
// leaves the headers alone (mod_deflate serving a compressed copy from its
// cache-dir). The Content-Length becomes the file's size.
func (rc *Request) SetBodyFile(path string) error {
	h, err := rc.Snap.stat.Open(path)
	if err != nil {
		return err
	}
	if !h.Entry.IsRegular() {
		h.Release()
		return fmt.Errorf("%s: not a regular file", path)
	}
	r := &rc.Resp
	r.dropFile()
	r.bytes = nil
	r.kind = bodyFile
	r.file.handles = append(r.file.handles, h)
	part := filePart{fd: h.FD(), n: h.Entry.Size}
	if data, ok := h.Content(); ok {
		part.data = data
		if data == nil {
			part.data = []byte{}
		}
	}
	r.file.parts = append(r.file.parts, part)
	r.Header.Del("Content-Length")
	return nil
}

// filterMemMax is how much filtered output of a complete body stays in
// memory; the rest goes to a temporary file, so a large body costs disk,
// not memory (lighttpd's chunkqueue spills to temporary files the same way).
const filterMemMax = 1 << 20

// filterChunk is the read size for file bodies fed to a filter.
const filterChunk = 64 << 10

var filterBufs = sync.Pool{New: func() any { b := make([]byte, filterChunk); return &b }}

// filterBody runs a complete body through the installed filter and makes
// the result the body (prepareResponse, after the hooks).
func (rc *Request) filterBody() {
	r := &rc.Resp
	wrap := r.filter
	r.filter = nil
	r.Header.Del("Content-Length")
	if r.kind == bodyStream {
		return
	}
	if rc.Method == "HEAD" {
		r.SetBody(nil) // the filtered length is unknown: no Content-Length
		return
	}
	sp := &spool{dirs: rc.Snap.Core.Server.UploadDirs}
	f := wrap(sp)
	err := rc.feedFilter(f)
	if cerr := f.Close(); err == nil { // closed also after a failure: it may hold resources
		err = cerr
	}
	if err == nil {
		err = sp.err
	}
	if err != nil {
		sp.discard()
		rc.Logf("filtering the response to %s failed: %v", rc.URI.Path, err)
		r.Status = 500
		r.Dynamic = false
		r.clearForError()
		rc.errorDocument(500)
		return
	}
	if sp.f == nil {
		r.SetBody(sp.mem)
		return
	}
	r.dropFile()
	r.bytes = nil
	r.kind = bodyFile
	r.file.owned = sp.f
	r.file.parts = append(r.file.parts, filePart{fd: filefd.Of(sp.f), n: sp.n})
}

// feedFilter writes the complete body into f.
func (rc *Request) feedFilter(f BodyFilter) error {
	r := &rc.Resp
	switch r.kind {
	case bodyBytes:
		if len(r.bytes) > 0 {
			_, err := f.Write(r.bytes)
			return err
		}
		return nil
	case bodyFile:
		bp := filterBufs.Get().(*[]byte)
		defer filterBufs.Put(bp)
		for _, p := range r.file.parts {
			if len(p.head) > 0 {
				if _, err := f.Write(p.head); err != nil {
					return err
				}
			}
			if p.data != nil {
				if _, err := f.Write(p.data[p.off : p.off+p.n]); err != nil {
					return err
				}
				continue
			}
			if err := copyFileRange(f, p.fd, p.off, p.n, *bp); err != nil {
				return err
			}
		}
		if t := multipartTrailer(r); t != nil {
			_, err := f.Write(t)
			return err
		}
	}
	return nil
}

// copyFileRange writes n bytes of src from off to dst with positional
// reads (the descriptor may be shared with other requests).
func copyFileRange(dst io.Writer, src filefd.FD, off, n int64, buf []byte) error {
	for n > 0 {
		m, err := src.ReadAt(buf[:min(int64(len(buf)), n)], off)
		if m > 0 {
			if _, werr := dst.Write(buf[:m]); werr != nil {
				return werr
			}
			off += int64(m)
			n -= int64(m)
		}
		if n > 0 && err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("file truncated: %d bytes short at offset %d", n, off)
			}
			return err
		}
	}
	return nil
}

// spool collects filtered output: in memory up to filterMemMax, then in an
// unlinked temporary file.
type spool struct {
	dirs []string
	mem  []byte
	f    *os.File
	n    int64
	err  error
}

func (s *spool) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.f == nil && len(s.mem)+len(p) <= filterMemMax {
		s.mem = append(s.mem, p...)
		s.n += int64(len(p))
		return len(p), nil
	}
	if s.f == nil {
		if s.f, s.err = tempFile(s.dirs); s.err != nil {
			return 0, s.err
		}
		if _, s.err = s.f.Write(s.mem); s.err != nil {
			return 0, s.err
		}
		s.mem = nil
	}
	n, err := s.f.Write(p)
	s.n += int64(n)
	if err != nil {
		s.err = err
	}
	return n, err
}

func (s *spool) discard() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	s.mem = nil
}

// tempFile creates an unlinked file in the first usable upload directory
// (lighttpd's server.upload-dirs, default /var/tmp).
func tempFile(dirs []string) (*os.File, error) {
	if len(dirs) == 0 {
		dirs = []string{"/var/tmp"}
	}
	var first error
	for _, d := range dirs {
		f, err := os.CreateTemp(d, "golighty-")
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		os.Remove(f.Name())
		return f, nil
	}
	return nil, first
}

// startStreamFilter wraps a streamed body's writer in the installed filter
// (StartStream, after the hooks).
func (rc *Request) startStreamFilter() io.Writer {
	r := &rc.Resp
	wrap := r.filter
	r.filter = nil
	if rc.Method == "HEAD" {
		return streamWriter{rc}
	}
	r.streamOut = wrap(streamWriter{rc})
	return r.streamOut
}

// endStreamFilter ends a filtered stream once the handler returned: the
// filter writes what it still holds. An aborted stream is not completed.
func (rc *Request) endStreamFilter() error {
	f := rc.Resp.streamOut
	if f == nil {
		return nil
	}
	rc.Resp.streamOut = nil
	if rc.Aborted {
		return nil
	}
	return f.Close()
}
