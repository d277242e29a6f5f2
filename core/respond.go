package core

import (
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/golighty/golighty/core/filefd"
	"github.com/golighty/golighty/core/h1"
	"github.com/golighty/golighty/core/httpfile"
)

// StatusText returns lighttpd's reason phrase ("" for unknown codes); the
// table lives with the wire engine that writes status lines.
func StatusText(code int) string { return h1.StatusText(code) }

// errorPage returns lighttpd's built-in error document (behaviors.md §4.9)
// for status. The pages of codes 100-999 are built once and shared: a
// client probing for missing files gets one per request, and building it
// each time was 7.3% of a 404's user time. Shared pages are never written
// to; their capacity is their length, so an append copies.
func errorPage(status int) []byte {
	if status < 100 || status > 999 {
		return buildErrorPage(status)
	}
	slot := &errorPages[status-100]
	if p := slot.Load(); p != nil {
		return *p
	}
	b := buildErrorPage(status)
	b = b[:len(b):len(b)]
	slot.Store(&b)
	return b
}

var errorPages [900]atomic.Pointer[[]byte]

// buildErrorPage renders the error document for status.
func buildErrorPage(status int) []byte {
	st := strconv.Itoa(status) + " " + StatusText(status)
	var b strings.Builder
	b.Grow(320 + 2*len(st))
	b.WriteString("<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n" +
		"<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n" +
		"         \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n" +
		"<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n" +
		" <head>\n  <title>")
	b.WriteString(st)
	b.WriteString("</title>\n </head>\n <body>\n  <h1>")
	b.WriteString(st)
	b.WriteString("</h1>\n </body>\n</html>\n")
	return []byte(b.String())
}

// errorHandlerTarget returns the URL of the error handler that applies to
// the current response, or "".
func (rc *Request) errorHandlerTarget() string {
	st := rc.Resp.Status
	if st < 400 || rc.ErrorStatus != 0 || (rc.Resp.Dynamic && !rc.Conf.ErrorIntercept) || rc.Resp.kind == bodyStream {
		return ""
	}
	if rc.Conf.ErrorHandler != "" {
		return rc.Conf.ErrorHandler
	}
	if rc.Conf.ErrorHandler404 != "" && (st == 403 || st == 404) {
		return rc.Conf.ErrorHandler404
	}
	return ""
}

// runErrorHandler restarts the request at the configured error handler
// (behaviors.md §6) and reconciles the status afterwards as lighttpd does:
// server.error-handler runs as GET and keeps the original status;
// server.error-handler-404 keeps the method and, unless it fails with
// 403/404 itself, its own status (a static page answers 200).
func (rc *Request) runErrorHandler(target string) {
	orig := rc.Resp.Status
	only404 := rc.Conf.ErrorHandler == ""
	rc.ErrorStatus = orig
	method := rc.Method
	if !only404 {
		rc.Method = "GET"
	}
	rc.Resp.reset()
	if _, err := rc.Rewrite(target); err != nil {
		rc.Resp.Status = orig
		rc.Method = method
		return
	}
	rc.runPhases()
	rc.Method = method
	sub := rc.Resp.Status
	if rc.Resp.kind == bodyStream || rc.dropped {
		return
	}
	if rc.Resp.Dynamic && !rc.Conf.ErrorIntercept {
		// A backend answered (a PHP or CGI handler): lighttpd sends its
		// response as it is, status included, and reconciles the status
		// only for a static handler or with server.error-intercept.
		return
	}
	switch {
	case only404 && (sub == 403 || sub == 404):
		rc.Resp.reset()
		rc.Resp.Status = orig
	case only404:
		if sub >= 400 && !rc.Resp.Dynamic {
			rc.Resp.reset()
			rc.Resp.Status = sub
		}
	case sub >= 400:
		// The handler failed: the error document of the original status.
		rc.Resp.reset()
		rc.Resp.Status = orig
	default:
		rc.Resp.Status = orig
	}
}

// prepareResponse is lighttpd's response_start preparation: error handlers,
// error documents, body-less statuses, response_start hooks, Range.
func (rc *Request) prepareResponse() {
	if rc.Resp.started {
		return
	}
	if rc.Resp.Status == 0 {
		rc.Resp.Status = 200
	}
	if t := rc.errorHandlerTarget(); t != "" {
		rc.runErrorHandler(t)
		if rc.dropped {
			return
		}
	}
	st := rc.Resp.Status
	if st >= 400 && (!rc.Resp.HasBody() || (rc.Resp.Dynamic && rc.Conf.ErrorIntercept)) {
		rc.Resp.clearForError()
		rc.errorDocument(st)
	}
	for _, m := range rc.Snap.hooks.responseStart {
		m.ResponseStart(rc)
	}
	// A hook may have changed the status (mod_deflate's 304/412) or
	// installed a body filter.
	st = rc.Resp.Status
	if rc.Resp.filter != nil {
		rc.filterBody()
		st = rc.Resp.Status
	}
	if st == 200 {
		switch {
		case rc.Resp.kind == bodyBytes:
			rc.rangeOnBytes()
		case rc.Resp.kind == bodyFile && rc.Resp.rangePending:
			rc.rangeOnParts()
		}
	}
	if rc.Resp.acceptRanges && st == 200 && !rc.Resp.Header.Has("Accept-Ranges") && !rc.Resp.Header.Has("Content-Encoding") {
		rc.Resp.Header.Set("Accept-Ranges", "bytes")
	}
	if rc.Resp.contentRange != "" {
		rc.Resp.Header.Set("Content-Range", rc.Resp.contentRange)
	}
	switch st {
	case 204, 205, 304:
		rc.Resp.dropFile()
		rc.Resp.kind = bodyBytes
		rc.Resp.bytes = nil
		rc.Resp.Header.Del("Content-Length")
	}
	if rc.Resp.kind == bodyBytes || rc.Resp.kind == bodyFile {
		if !rc.Resp.Header.Has("Content-Length") && !rc.Resp.Header.Has("Transfer-Encoding") {
			n := rc.Resp.bodyLength()
			if n > 0 || (rc.Method != "HEAD" && st != 204 && st != 304) {
				rc.Resp.setContentLength(n)
			}
		}
	}
}

// errorDocument fills the body of an error response: PREFIX<status>.html when
// server.errorfile-prefix names an existing file, else the built-in page.
func (rc *Request) errorDocument(st int) {
	if p := rc.Conf.ErrorfilePrefix; p != "" {
		name := p + strconv.Itoa(st) + ".html"
		if b, err := os.ReadFile(name); err == nil {
			if ct, ok := rc.Conf.Mime.Lookup(name); ok {
				rc.Resp.Header.Set("Content-Type", ct)
			}
			rc.Resp.SetBody(b)
			return
		}
	}
	rc.Resp.Header.Set("Content-Type", "text/html")
	rc.Resp.SetBody(errorPage(st))
}

// ErrDropped is what writing the response of a dropped request (see
// Request.Drop) returns: nothing was written, the connection must close.
var ErrDropped = errors.New("request dropped without a response")

// writeResponse puts the prepared response on the wire.
func (rc *Request) writeResponse() error {
	r := &rc.Resp
	if rc.dropped {
		return ErrDropped
	}
	if r.started {
		return rc.endStreamFilter()
	}
	r.started = true
	head := rc.Method == "HEAD"
	switch r.kind {
	case bodyFile:
		n := r.bodyLength()
		if head {
			return rc.w.WriteHead(r.Status, &r.Header, 0, nil)
		}
		if len(r.file.parts) == 1 && r.file.parts[0].data != nil {
			p := r.file.parts[0]
			r.written = p.n
			return rc.w.WriteHead(r.Status, &r.Header, n, p.data[p.off:p.off+p.n])
		}
		if err := rc.w.WriteHead(r.Status, &r.Header, n, nil); err != nil {
			return err
		}
		return rc.sendFileParts()
	default:
		body := r.bytes
		if head {
			body = nil
		}
		r.written = int64(len(body))
		n := int64(len(r.bytes))
		if head {
			n = 0
		}
		return rc.w.WriteHead(r.Status, &r.Header, n, body)
	}
}

// fileDeferrer is a ResponseWriter that can send a file body after the
// handler returned (h1.ResponseWriter.DeferFile): a slow download then
// holds no goroutine, and the engine ends the request when the file is out.
type fileDeferrer interface {
	DeferFile(fd filefd.FD, off, n int64) bool
}

func (rc *Request) sendFileParts() error {
	r := &rc.Resp
	if len(r.file.parts) == 1 && !r.file.multipart {
		if p := r.file.parts[0]; p.fd.Valid() && p.data == nil && len(p.head) == 0 {
			if fd, ok := rc.w.(fileDeferrer); ok && fd.DeferFile(p.fd, p.off, p.n) {
				r.deferred = true
				return nil
			}
		}
	}
	for _, p := range r.file.parts {
		if len(p.head) > 0 {
			if _, err := rc.w.Write(p.head); err != nil {
				return err
			}
		}
		var err error
		switch {
		case p.n == 0:
		case p.data != nil:
			_, err = rc.w.Write(p.data[p.off : p.off+p.n])
		default:
			err = rc.w.SendFile(p.fd, p.off, p.n)
		}
		if err != nil {
			return err
		}
		r.written += p.n
	}
	if t := multipartTrailer(r); t != nil {
		_, err := rc.w.Write(t)
		return err
	}
	return nil
}

// streamWriter is the body writer of a streamed response.
type streamWriter struct{ rc *Request }

func (s streamWriter) Write(p []byte) (int, error) {
	n, err := s.rc.w.Write(p)
	s.rc.Resp.written += int64(n)
	return n, err
}

// StartStream sends the response head now, for handlers that produce the
// body while the client waits (backends whose reply does not fit the
// buffer). contentLength is the body size when known, else -1: HTTP/1.1
// then frames the body with chunked encoding, HTTP/1.0 ends it by closing.
// Error documents and error handlers no longer apply; response_start hooks
// run before the head is written. The returned writer takes the body.
func (rc *Request) StartStream(contentLength int64) (io.Writer, error) {
	r := &rc.Resp
	if r.started {
		return streamWriter{rc}, nil
	}
	if r.Status == 0 {
		r.Status = 200
	}
	status := r.Status
	r.streamHook, r.streamLen = true, contentLength
	for _, m := range rc.Snap.hooks.responseStart {
		m.ResponseStart(rc)
	}
	r.streamHook = false
	r.kind = bodyStream
	r.started = true
	rc.conditionalServerTag()
	if r.Status != status {
		// A hook answered instead (mod_deflate's 304/412 for a compressed
		// variant's ETag): the handler's body goes nowhere.
		r.filter = nil
		r.Header.Del("Content-Length")
		if err := rc.w.WriteHead(r.Status, &r.Header, 0, nil); err != nil {
			return nil, err
		}
		return io.Discard, nil
	}
	var w io.Writer = streamWriter{rc}
	if r.filter != nil {
		contentLength = -1
		r.Header.Del("Content-Length")
		w = rc.startStreamFilter()
	}
	if contentLength >= 0 {
		r.setContentLength(contentLength)
	}
	if err := rc.w.WriteHead(r.Status, &r.Header, contentLength, nil); err != nil {
		return nil, err
	}
	return w, nil
}

// AbortStream ends a streamed response that cannot be completed (the
// backend died mid-body): the connection is closed without the final
// chunk, so the client sees a truncated response, never a complete one.
func (rc *Request) AbortStream() {
	rc.Aborted = true
	rc.KeepAlive = false
	if rc.netConn != nil {
		rc.netConn.Close()
	}
}

// FlushStream pushes streamed bytes to the client now (through the body
// filter's own flush when one is installed).
func (rc *Request) FlushStream() error {
	if f := rc.Resp.streamOut; f != nil {
		if err := f.Flush(); err != nil {
			return err
		}
	}
	return rc.w.Flush()
}

// rangeApplies is what lighttpd checks of the response before Range: no
// Content-Encoding (mod_deflate compressed it) or Transfer-Encoding, and no
// "Accept-Ranges: none" from the handler or a response_start hook.
func (rc *Request) rangeApplies() bool {
	h := &rc.Resp.Header
	return !h.Has("Content-Encoding") && !h.Has("Transfer-Encoding") && h.Get("Accept-Ranges") != "none"
}

// decideBodyRange is lighttpd's Range processing of a complete 200 response
// of n bytes, as it runs for every finished response after the
// response_start hooks. It reports whether a plan was made (false: Range
// does not apply); a 416 is answered here.
func (rc *Request) decideBodyRange(n int64) bool {
	r := &rc.Resp
	if !rc.Conf.RangeRequests || (rc.Proto < 11 && !rc.Snap.Core.Server.HTTP10Range) || !rc.rangeApplies() {
		return false
	}
	req := httpfile.Request{
		Method:       rc.Method,
		RangeAllowed: true,
		Range:        rc.Header.Get("Range"),
		IfRange:      rc.Header.Get("If-Range"),
	}
	p := &r.plan
	httpfile.DecideRange(p, &req, n, r.Header.Get("Content-Type"), r.Header.Get("ETag"), r.Header.Get("Last-Modified"))
	r.acceptRanges = p.AcceptRanges
	if p.Status == 416 {
		r.Status = 416
		r.Dynamic = false
		r.clearForError()
		rc.errorDocument(416)
		r.acceptRanges = false
		return false
	}
	return true
}

// rangeOnParts applies Range to a body of file parts that the file sender
// did not plan (X-Sendfile2's concatenated ranges): the requested byte
// ranges of the concatenation become the new parts.
func (rc *Request) rangeOnParts() {
	r := &rc.Resp
	r.rangePending = false
	total := r.bodyLength()
	if !rc.decideBodyRange(total) || r.plan.Status != 206 {
		return
	}
	p := &r.plan
	src := append([]filePart(nil), r.file.parts...)
	parts := r.file.parts[:0]
	for i, rg := range p.Ranges {
		var head []byte
		if p.Multipart() {
			head = p.AppendPartHeader(nil, i)
		}
		parts = appendPartsRange(parts, src, rg.Start, rg.End+1, head)
	}
	r.file.parts = parts
	r.Status = 206
	r.Header.Del("Content-Length")
	if p.Multipart() {
		r.file.multipart = true
		r.Header.Set("Content-Type", p.ContentType)
	} else {
		r.contentRange = string(p.AppendContentRange(nil))
	}
}

// appendPartsRange appends to dst the pieces of src (one byte stream made
// of consecutive parts) from offset start up to end; head goes before the
// first piece.
func appendPartsRange(dst, src []filePart, start, end int64, head []byte) []filePart {
	var pos int64
	for _, sp := range src {
		lo, hi := max(start, pos), min(end, pos+sp.n)
		if lo < hi {
			piece := sp
			piece.off += lo - pos
			piece.n = hi - lo
			piece.head = head
			head = nil
			dst = append(dst, piece)
		}
		pos += sp.n
	}
	return dst
}

// rangeOnBytes applies lighttpd's Range processing to a complete in-memory
// 200 response (a buffered backend reply, a generated page).
func (rc *Request) rangeOnBytes() {
	r := &rc.Resp
	if !rc.decideBodyRange(int64(len(r.bytes))) {
		return
	}
	p := &r.plan
	switch {
	case p.Status == 206 && p.Multipart():
		body := make([]byte, 0, p.ContentLength)
		for i, rg := range p.Ranges {
			body = p.AppendPartHeader(body, i)
			body = append(body, r.bytes[rg.Start:rg.End+1]...)
		}
		body = httpfile.AppendMultipartEnd(body)
		r.Status = 206
		r.Header.Set("Content-Type", p.ContentType)
		r.Header.Del("Content-Length")
		r.bytes = body
	case p.Status == 206:
		rg := p.Ranges[0]
		r.Status = 206
		r.Header.Del("Content-Length")
		r.bytes = r.bytes[rg.Start : rg.End+1]
		r.contentRange = string(p.AppendContentRange(nil))
	}
}
