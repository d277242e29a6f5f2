package h1

import (
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/golighty/golighty/core/ascii"
	"github.com/golighty/golighty/core/filefd"
	"github.com/golighty/golighty/core/monoclock"
)

// ResponseWriter writes one response. The handler sets the status and
// header lines (in the order lighttpd would emit them); h1 adds
// Content-Length / Transfer-Encoding framing, Connection, Date and Server
// as lighttpd's http_response_write_header does.
type ResponseWriter struct {
	c   *conn
	req *Request

	status  int
	hdr     []byte // "Name: value\r\n" lines from the handler
	connPos int    // offset in hdr of a handler Connection header, -1 if none
	tag     string // server.tag of this response, when tagSet
	headAt  int    // offset of the head in c.wbuf
	sendsAt uint64 // c.sends when the head was buffered
	written int64
	doneAt  int64 // Done's reading (monoclock.Nanos); 0: none

	tail      fileSpan   // DeferFile: the body's end, sent after the handler
	tailState any        // SetTailState (and the suspended handler's state)
	susp      suspension // Suspend: the handler waits for its backend

	// The flags sit together so that none adds padding (TestConnSizeClass).
	hasDate, hasServer, hasCL, hasTE bool
	tagSet                           bool
	wroteHead                        bool
	dropped                          bool // Drop: no response at all, the connection closes
	keepAlive                        bool
	chunked                          bool  // body is sent with chunked framing
	noBody                           bool  // HEAD, 1xx, 204, 304: no body bytes on the wire
	tunnel                           bool  // Hijack: no body framing
	upgrade                          bool  // Hijack of a 101: "Connection: upgrade"
	headLen                          int32 // bytes of the serialised head (status line to empty line)
}

// Done gives the connection the handler's clock reading (monoclock's) at
// the end of the request: the wait for the next request counts from it
// instead of reading the clock again, unless sending the response had to
// wait.
func (w *ResponseWriter) Done(at time.Time) { w.doneAt = monoclock.Nanos(at) }

// takeDone is the reading Done gave, or the clock's when there is none or
// the connection waited to write since (setWriteDeadline forgets it).
func (w *ResponseWriter) takeDone() time.Time {
	if n := w.doneAt; n != 0 {
		w.doneAt = 0
		return monoclock.At(n)
	}
	return monoclock.Now()
}

func (w *ResponseWriter) reset(r *Request) {
	*w = ResponseWriter{c: w.c, req: r, status: 200, hdr: w.hdr[:0], connPos: -1}
	if r.Status != 0 {
		w.status = r.Status
	}
}

// Discard drops a response head (and body bytes) still buffered, so the
// handler can answer differently (a 500 after a panic). It reports false
// when part of the response already went out; the response cannot be
// taken back then.
func (w *ResponseWriter) Discard() bool {
	if !w.wroteHead {
		return true
	}
	c := w.c
	w.tail = fileSpan{} // a deferred file is not sent after a Discard
	if c.sends != w.sendsAt || c.werr != nil {
		return false
	}
	c.wbuf = c.wbuf[:w.headAt]
	*w = ResponseWriter{c: c, req: w.req, status: w.status, hdr: w.hdr[:0], connPos: -1}
	return true
}

// SetServerTag sets the Server header of this response (server.tag can
// differ per condition); a blank tag sends none.
func (w *ResponseWriter) SetServerTag(tag string) {
	if strings.TrimSpace(tag) == "" {
		tag = ""
	}
	w.tag, w.tagSet = tag, true
}

// SetStatus sets the response status (default 200, or the parse error).
func (w *ResponseWriter) SetStatus(code int) { w.status = code }

// Status is the status that was (or will be) sent.
func (w *ResponseWriter) Status() int { return w.status }

// HeadWritten reports whether the response head has been sent or buffered.
func (w *ResponseWriter) HeadWritten() bool { return w.wroteHead }

// Written is the number of body bytes written (before framing), including
// what went through a hijacked connection.
func (w *ResponseWriter) Written() int64 {
	if t := w.c.hijacked; t != nil {
		return w.written + t.sent.Load()
	}
	return w.written
}

// HeadLen is the size of the response head once written (traffic counters).
func (w *ResponseWriter) HeadLen() int { return int(w.headLen) }

// KeepAlive reports whether the connection stays open after this response
// (final once the head is written).
func (w *ResponseWriter) KeepAlive() bool { return w.keepAlive }

// SetKeepAliveIdle overrides server.max-keep-alive-idle for the wait after
// this response (lighttpd reads it per request, so conditions can change
// it); d <= 0 disables keep-alive. Effective before the head is written.
func (w *ResponseWriter) SetKeepAliveIdle(d time.Duration) {
	if w.wroteHead {
		return
	}
	w.c.kaIdle = d
	if d <= 0 {
		w.req.KeepAlive = false
	}
}

// AddHeader appends a header line. Empty values, X-Sendfile and
// X-LIGHTTPD-* are never written (lighttpd's rule), nor values holding CR,
// LF or NUL. A Content-Length given
// here is trusted as the body length; a Date or Server given here replaces
// h1's; a Connection header marks where h1's Connection value goes (h1
// picks the value: to close, set Request.KeepAlive = false first).
func (w *ResponseWriter) AddHeader(name, value string) {
	if value == "" || w.wroteHead || !safeValue(value) || w.omit(name) {
		return
	}
	w.hdr = append(w.hdr, name...)
	w.hdr = append(w.hdr, ": "...)
	w.hdr = append(w.hdr, value...)
	w.hdr = append(w.hdr, "\r\n"...)
}

// AddHeaderBytes is AddHeader with a byte-slice value (no allocation).
func (w *ResponseWriter) AddHeaderBytes(name string, value []byte) {
	if len(value) == 0 || w.wroteHead || !safeValue(value) || w.omit(name) {
		return
	}
	w.hdr = append(w.hdr, name...)
	w.hdr = append(w.hdr, ": "...)
	w.hdr = append(w.hdr, value...)
	w.hdr = append(w.hdr, "\r\n"...)
}

// safeValue guards against response splitting: a value holding CR, LF or
// NUL is never written (the core refuses such backend headers with 502
// before they get here; this is the last line of defence).
func safeValue[T string | []byte](v T) bool {
	for i := 0; i < len(v); i++ {
		// One compare per byte of a normal value (a third of the loop's
		// time in a 1 KiB response's seven headers); it stays inlined.
		if c := v[i]; c <= '\r' && (c == '\r' || c == '\n' || c == 0) {
			return false
		}
	}
	return true
}

func (w *ResponseWriter) omit(name string) bool {
	switch len(name) {
	case 4:
		w.hasDate = w.hasDate || ascii.EqualFold(name, "Date")
	case 6:
		w.hasServer = w.hasServer || ascii.EqualFold(name, "Server")
	case 10:
		if ascii.EqualFold(name, "X-Sendfile") {
			return true
		}
		if ascii.EqualFold(name, "Connection") {
			if w.connPos < 0 {
				w.connPos = len(w.hdr)
			}
			return true
		}
	case 14:
		w.hasCL = w.hasCL || ascii.EqualFold(name, "Content-Length")
	case 11:
		if ascii.EqualFold(name, "X-Sendfile2") {
			return true
		}
	case 17:
		w.hasTE = w.hasTE || ascii.EqualFold(name, "Transfer-Encoding")
	case 20:
		if ascii.EqualFold(name, "X-send-response-body") {
			return true
		}
	}
	return len(name) >= 11 && ascii.EqualFold(name[:11], "X-LIGHTTPD-")
}

// writeHead serialises the head into the output buffer. bodyLen is the
// complete body length, or -1 when the body is streamed.
func (w *ResponseWriter) writeHead(bodyLen int64) {
	w.wroteHead = true
	c, r := w.c, w.req
	w.noBody = r.Method == "HEAD" || w.status < 200 || w.status == 204 || w.status == 304
	ka := r.KeepAlive && r.Status == 0 && !c.noKeepAlive && r.Body.done && !c.srv.closing.Load()
	switch {
	case bodyLen >= 0 && !w.hasCL && !w.hasTE:
		// lighttpd: Content-Length for a complete body, but no
		// "Content-Length: 0" for HEAD, 204 and 304.
		// (lighttpd clears the body of 204/205/304 responses.)
		bodyless := w.status == 204 || w.status == 205 || w.status == 304
		if !bodyless && (bodyLen > 0 || r.Method != "HEAD") {
			w.hdr = append(w.hdr, "Content-Length: "...)
			w.hdr = strconv.AppendInt(w.hdr, bodyLen, 10)
			w.hdr = append(w.hdr, "\r\n"...)
			w.hasCL = true
		}
	case w.tunnel:
		ka = false
	case bodyLen < 0 && !w.hasCL && !w.hasTE && !w.noBody:
		if r.Proto == HTTP11 && !(r.Method == "CONNECT" && w.status == 200) {
			w.hdr = append(w.hdr, "Transfer-Encoding: chunked\r\n"...)
			w.chunked = true
		} else {
			ka = false // length known only by closing
		}
	}
	w.keepAlive = ka
	c.acquireW()
	w.headAt, w.sendsAt = len(c.wbuf), c.sends
	b := c.wbuf
	if r.Proto == HTTP11 {
		b = append(b, "HTTP/1.1 "...)
	} else {
		b = append(b, "HTTP/1.0 "...)
	}
	b = appendStatus(b, w.status)
	b = append(b, "\r\n"...)
	var conn string
	switch {
	case w.upgrade && r.Proto == HTTP11:
		conn = "Connection: upgrade\r\n"
	case !ka:
		conn = "Connection: close\r\n"
	case r.Proto != HTTP11:
		conn = "Connection: keep-alive\r\n"
	}
	if w.connPos >= 0 {
		b = append(b, w.hdr[:w.connPos]...)
		b = append(b, conn...)
		b = append(b, w.hdr[w.connPos:]...)
	} else {
		b = append(b, w.hdr...)
		b = append(b, conn...)
	}
	if !w.hasDate {
		b = append(b, "Date: "...)
		b = append(b, httpDate()...)
		b = append(b, "\r\n"...)
	}
	tag := c.cfg.ServerTag
	if w.tagSet {
		tag = w.tag
	}
	if !w.hasServer && tag != "" {
		b = append(b, "Server: "...)
		b = append(b, tag...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	w.headLen = int32(len(b) - w.headAt)
	c.wbuf = b
}

// Respond completes the response with body (nil for none): Content-Length
// is added unless the handler set one, and head plus body leave in one
// write.
func (w *ResponseWriter) Respond(body []byte) error {
	if w.wroteHead {
		_, err := w.Write(body)
		return err
	}
	w.writeHead(int64(len(body)))
	if w.noBody || len(body) == 0 {
		return w.c.werr
	}
	w.written += int64(len(body))
	return w.c.writeBufs(body)
}

// Write streams body bytes. Without a Content-Length header the first Write
// sends the head with chunked framing (HTTP/1.1) or close-delimited
// (HTTP/1.0).
func (w *ResponseWriter) Write(p []byte) (int, error) {
	if !w.wroteHead {
		w.writeHead(-1)
	}
	if w.noBody || len(p) == 0 {
		return len(p), w.c.werr
	}
	c := w.c
	if w.chunked {
		c.acquireW()
		if w.written == 0 && oddHexDigits(len(p)) {
			// lighttpd sizes the first chunk in whole bytes ("0a").
			c.wbuf = append(c.wbuf, '0')
		}
		c.wbuf = strconv.AppendInt(c.wbuf, int64(len(p)), 16)
		c.wbuf = append(c.wbuf, "\r\n"...)
		if err := c.writeBufs(p); err != nil {
			return 0, err
		}
		c.wbuf = append(c.wbuf, "\r\n"...)
	} else if err := c.writeBufs(p); err != nil {
		return 0, err
	}
	w.written += int64(len(p))
	return len(p), nil
}

// oddHexDigits reports whether n has an odd number of hex digits.
func oddHexDigits(n int) bool {
	d := 1
	for n >>= 4; n > 0; n >>= 4 {
		d++
	}
	return d%2 == 1
}

// WriteString is Write for a string.
func (w *ResponseWriter) WriteString(s string) (int, error) {
	return w.Write([]byte(s))
}

// Flush sends everything buffered (writing the head first if needed, as a
// streamed response).
func (w *ResponseWriter) Flush() error {
	if !w.wroteHead {
		w.writeHead(-1)
	}
	return w.c.flush()
}

// smallFile is the size up to which a file body is read into the output
// buffer so head and body leave in one write (lighttpd's small-response
// optimisation uses 16 KiB too).
const smallFile = 16 << 10

// SendFile sends n bytes of the file fd from offset off as (part of) the
// body. As the first body output it sets Content-Length: n unless the
// handler gave a Content-Length. Small bodies are copied behind the head;
// larger ones go out with sendfile(2) when the connection is a plain
// socket.
func (w *ResponseWriter) SendFile(fd filefd.FD, off, n int64) error {
	if !w.wroteHead {
		w.writeHead(n)
	}
	if w.noBody || n <= 0 {
		return w.c.werr
	}
	c := w.c
	if c.werr != nil {
		return c.werr
	}
	if w.chunked {
		c.wbuf = strconv.AppendInt(c.wbuf, n, 16)
		c.wbuf = append(c.wbuf, "\r\n"...)
	}
	if n <= smallFile && int64(cap(c.wbuf)-len(c.wbuf)) >= n {
		start := len(c.wbuf)
		c.wbuf = c.wbuf[:start+int(n)]
		if err := fd.ReadFull(c.wbuf[start:], off); err != nil {
			c.wbuf = c.wbuf[:start]
			c.werr = err // a partial body cannot be repaired
			return err
		}
		w.written += n
	} else {
		if err := c.flushMore(); err != nil {
			return err
		}
		c.releaseW() // not held through a long download
		if err := c.sendFile(&fileSpan{fd: fd, off: off, n: n}); err != nil {
			c.werr = err
			return err
		}
	}
	if w.chunked {
		c.acquireW()
		c.wbuf = append(c.wbuf, "\r\n"...)
	}
	return nil
}

// DeferFile is SendFile for the last part of a body, sent by the engine
// after the handler returned (Handler.FinishTail then ends the request).
// Serving a large file to a slow client, the connection then waits for
// room in the idle poller (idle.go) without a goroutine: the handler's
// stack (8 KiB after a PHP request) and its wait go away, the connection
// and the request's state stay. It reports false, having sent nothing,
// where the engine cannot: a handler without FinishTail, TLS or another
// wrapped connection, chunked framing, HEAD, a small body (copied behind
// the head instead) or an engine not serving a listener; the caller then
// uses SendFile.
func (w *ResponseWriter) DeferFile(fd filefd.FD, off, n int64) bool {
	c := w.c
	if _, ok := c.srv.Handler.(TailHandler); !ok || n <= smallFile || !c.canPark || !c.srv.parking.Load() {
		return false
	}
	if !w.wroteHead {
		w.writeHead(n)
	}
	if w.noBody || w.chunked || c.werr != nil || c.sock() == nil {
		return false
	}
	if err := c.flushMore(); err != nil {
		return false // SendFile reports c.werr
	}
	c.releaseW()
	w.tail = fileSpan{fd: fd, off: off, n: n}
	c.sends++
	return true
}

// DeferClose has x closed once the response is out: after its flush, or
// as soon as a write must wait for the client, or before the connection
// waits for anything else (a deferred file, a suspension, a tunnel, the
// next pipelined request). A backend that waits for its connection to
// close (php-cgi reads until EOF after answering) then runs after the
// client has its response, not in the middle of writing it, and a client
// that reads slowly never holds it. On a connection the engine does not
// write with raw system calls (TLS) x is closed now.
func (w *ResponseWriter) DeferClose(x io.Closer) {
	if w.c.sock() == nil {
		x.Close()
		return
	}
	w.c.closeLater = append(w.c.closeLater, x)
}

// TailHandler is a Handler whose responses may end with a file the engine
// sends after ServeH1 returned (ResponseWriter.DeferFile). FinishTail runs
// once that file went out, or failed (err), before the connection goes on:
// it ends the request as ServeH1 would have (w and r are still valid, and
// so is the state the handler left with SetTailState).
type TailHandler interface {
	Handler
	FinishTail(w *ResponseWriter, r *Request, err error)
}

// SetTailState keeps v with a response whose file was deferred, for
// FinishTail (TailState).
func (w *ResponseWriter) SetTailState(v any) { w.tailState = v }

// TailState is what SetTailState kept.
func (w *ResponseWriter) TailState() any { return w.tailState }

// Drop abandons the response before its head: nothing is written for this
// request and the connection closes after the responses before it went out
// (lighttpd's connection error state, e.g. mod_rewrite's loop limit).
func (w *ResponseWriter) Drop() {
	if w.wroteHead {
		return
	}
	w.dropped = true
	w.keepAlive = false
	w.req.KeepAlive = false
}

// finish completes the response after the handler returned.
func (w *ResponseWriter) finish() {
	if w.dropped {
		return
	}
	if !w.wroteHead {
		w.writeHead(0)
		return
	}
	if w.chunked {
		w.c.acquireW()
		w.c.wbuf = append(w.c.wbuf, "0\r\n\r\n"...)
	}
}

// copyBufSize is the chunk a file is read in where sendfile(2) cannot be
// used (TLS): large enough to keep read calls few (crypto/tls cuts it into
// 16 KiB records), pooled so a download allocates nothing.
const copyBufSize = 128 << 10

var copyBufPool = sync.Pool{New: func() any { return new([copyBufSize]byte) }}

// sendFile copies n bytes of f at off to the socket with sendfile(2),
// waiting on the netpoller when the socket buffer is full; other
// connections (TLS, pipes) get read and write.
func (c *conn) sendFile(sp *fileSpan) error {
	c.sends++
	sc, ok := c.rwc.(syscall.Conn)
	if !ok {
		return c.copyFile(sp.fd, sp.off, sp.n)
	}
	rc := c.sock()
	if rc == nil {
		var err error
		if rc, err = sc.SyscallConn(); err != nil {
			return err
		}
	}
	return c.sendfileChunks(rc, sp, sendWait)
}

// copyFile is sendFile for connections without a descriptor: each chunk
// renews the write deadline, as each sendfile(2) round does, so a slow
// client of a large file is bounded by server.max-write-idle per chunk.
func (c *conn) copyFile(fd filefd.FD, off, n int64) error {
	buf := copyBufPool.Get().(*[copyBufSize]byte)
	defer copyBufPool.Put(buf)
	for n > 0 {
		m, err := fd.ReadAt(buf[:min(n, copyBufSize)], off)
		if m == 0 {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF // file shrank
			}
			return err
		}
		c.setWriteDeadline()
		if _, err := c.rwc.Write(buf[:m]); err != nil {
			return err
		}
		c.rw.written += int64(m)
		off += int64(m)
		n -= int64(m)
	}
	return nil
}

// Date header value cached per second. The second is the ticking clock's,
// as lighttpd's is its once-a-second timer's: no clock read per response.
type dateCache struct {
	sec int64
	val string
}

var curDate atomic.Pointer[dateCache]

func httpDate() string {
	sec := monoclock.Unix()
	if d := curDate.Load(); d != nil && d.sec == sec {
		return d.val
	}
	d := &dateCache{sec: sec, val: time.Unix(sec, 0).UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")}
	curDate.Store(d)
	return d.val
}

var statusText = map[int]string{
	100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints",
	200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information",
	204: "No Content", 205: "Reset Content", 206: "Partial Content", 207: "Multi-status",
	208: "Already Reported", 226: "IM Used",
	300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
	304: "Not Modified", 305: "Use Proxy", 306: "(Unused)", 307: "Temporary Redirect",
	308: "Permanent Redirect",
	400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
	404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
	407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict",
	410: "Gone", 411: "Length Required", 412: "Precondition Failed",
	413: "Payload Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
	416: "Range Not Satisfiable", 417: "Expectation Failed", 421: "Misdirected Request",
	422: "Unprocessable Entity", 423: "Locked", 424: "Failed Dependency",
	426: "Upgrade Required", 428: "Precondition Required", 429: "Too Many Requests",
	431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
	500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
	503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
	506: "Variant Also Negotiates", 507: "Insufficient Storage", 508: "Loop Detected",
	510: "Not Extended", 511: "Network Authentication Required",
}

// StatusText is lighttpd's reason phrase for code ("" if unknown).
func StatusText(code int) string { return statusText[code] }

// statusLines holds "CODE Reason" for the codes statusText names.
var statusLines = func() (l [600]string) {
	for code, text := range statusText {
		l[code] = strconv.Itoa(code) + " " + text
	}
	return l
}()

// appendStatus appends "CODE Reason" (an unknown code as "CODE ").
func appendStatus(b []byte, code int) []byte {
	if code >= 0 && code < len(statusLines) && statusLines[code] != "" {
		return append(b, statusLines[code]...)
	}
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	return append(b, statusText[code]...)
}
