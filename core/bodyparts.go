package core

import (
	"errors"
	"io"
)

// Response bodies built piece by piece (mod_magnet's lighty.content and
// r.resp_body): bytes and ranges of files, sent in order, files with
// sendfile as the file sender sends them. A 200 built this way gets
// lighttpd's Range processing like any complete body.

// AppendBody adds b (kept, not copied: the caller hands it over) to the end
// of the body; a body decided earlier stays in front of it.
func (r *Response) AppendBody(b []byte) {
	r.Header.Del("Content-Length")
	switch r.kind {
	case bodyNone:
		r.kind = bodyBytes
		r.bytes = b
	case bodyBytes:
		r.bytes = append(r.bytes[:len(r.bytes):len(r.bytes)], b...)
	case bodyFile:
		r.file.parts = append(r.file.parts, filePart{data: b, n: int64(len(b))})
		r.rangePending = true
	}
}

// ErrNotRegular is returned for a body file that is not a regular file.
var ErrNotRegular = errors.New("core: not a regular file")

// AppendBodyFile adds n bytes of the file at path, from off, to the end of
// the body. The file is opened through the stat cache (refused when it is
// behind a symlink and server.follow-symlink is off); off and n must lie
// within the file.
func (rc *Request) AppendBodyFile(path string, off, n int64) error {
	h, err := rc.Snap.stat.Open(path)
	if err != nil {
		return err
	}
	e := h.Entry
	if !e.IsRegular() {
		h.Release()
		return ErrNotRegular
	}
	if !rc.Conf.FollowSymlink {
		if yes, _ := e.ContainsSymlink(); yes {
			h.Release()
			return ErrNotRegular
		}
	}
	if off < 0 || n < 0 || off+n > e.Size {
		h.Release()
		return io.ErrUnexpectedEOF
	}
	r := &rc.Resp
	r.Header.Del("Content-Length")
	switch r.kind {
	case bodyNone:
		r.file.parts = r.file.parts[:0]
	case bodyBytes:
		b := r.bytes
		r.file.parts = append(r.file.parts[:0], filePart{data: b, n: int64(len(b))})
		r.bytes = nil
	}
	r.kind = bodyFile
	r.rangePending = true
	r.file.handles = append(r.file.handles, h)
	part := filePart{fd: h.FD(), off: off, n: n}
	if data, ok := h.Content(); ok && data != nil {
		part.data = data
	}
	r.file.parts = append(r.file.parts, part)
	return nil
}

// ClearBody forgets the body and its Content-Length (lighttpd's
// http_response_body_clear).
func (r *Response) ClearBody() {
	r.dropFile()
	r.kind = bodyNone
	r.bytes = nil
	r.rangePending = false
	r.Header.Del("Content-Length")
}

// ReadBody returns a copy of a complete body, reading file parts.
func (r *Response) ReadBody() ([]byte, bool, error) {
	switch r.kind {
	case bodyBytes:
		return append([]byte(nil), r.bytes...), true, nil
	case bodyFile:
		out := make([]byte, 0, r.bodyLength())
		for _, p := range r.file.parts {
			out = append(out, p.head...)
			if p.data != nil {
				out = append(out, p.data[p.off:p.off+p.n]...)
				continue
			}
			start := len(out)
			out = append(out, make([]byte, p.n)...)
			if _, err := p.fd.ReadAt(out[start:], p.off); err != nil {
				return nil, true, err
			}
		}
		return append(out, multipartTrailer(r)...), true, nil
	}
	return nil, false, nil
}
