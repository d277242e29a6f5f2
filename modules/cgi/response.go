package cgi

import (
	"bufio"
	"bytes"
	"io"
	"net/http/httputil"
	"strings"
	"syscall"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/modules/internal/gw"
)

// outputKind is what a script's output starts with.
type outputKind uint8

const (
	outHeaders outputKind = iota // a header block (CGI or NPH), complete
	outBody                      // no header block: everything is the body
	outEmpty                     // nothing at all
)

// sniff looks at the script's output before the header parser consumes it,
// as lighttpd's http_response_parse_headers does for CGI: a first line
// without ':' (other than an empty line) makes the whole output the body of
// a 200, and so does output that ends before its header block does. It
// only peeks: everything stays in br.
func sniff(br *bufio.Reader) (outputKind, error) {
	scanned := 0      // bytes searched for the end of the head
	firstLine := true // the first line is still to be classified
	for {
		_, err := br.Peek(br.Buffered() + 1)
		data, _ := br.Peek(br.Buffered())
		if len(data) > core.MaxBackendHead {
			return outHeaders, nil // the header parser refuses it (502)
		}
		if firstLine {
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				firstLine = false
				line := data[:i+1]
				nph := len(line) >= 12 && bytes.HasPrefix(line, []byte("HTTP/"))
				switch {
				case i == 0 || (i == 1 && line[0] == '\r'):
					return outHeaders, nil // an empty header block
				case !nph && bytes.IndexByte(line, ':') < 0:
					return outBody, nil
				}
			}
		}
		if !firstLine {
			for scanned < len(data) {
				i := bytes.IndexByte(data[scanned:], '\n')
				if i < 0 {
					scanned = len(data)
					break
				}
				j := scanned + i + 1 // the start of the next line
				if j < len(data) && data[j] == '\n' || j+1 < len(data) && data[j] == '\r' && data[j+1] == '\n' {
					return outHeaders, nil
				}
				if j+1 >= len(data) {
					break // the next line's start is not known yet
				}
				scanned = j
			}
		}
		if err == io.EOF {
			if len(data) == 0 {
				return outEmpty, nil
			}
			// Output that ends inside its header block is a body
			// ("unfinished header package which is a body in reality",
			// which lighttpd applies when the script's exit is seen apart
			// from its last output; when both arrive in one event it
			// answers 500 instead).
			return outBody, nil
		}
		if err != nil {
			return outHeaders, err
		}
	}
}

// response reads the script's output and answers the request.
func (h *handler) response(rc *core.Request, ch *child, upgrade bool) core.Result {
	var readTimeout time.Duration
	if l := h.conf.limits; l != nil {
		readTimeout = l.readTimeout
	}
	tr := &timedReader{f: ch.stdout, d: readTimeout}
	er := &gw.ErrReader{R: tr}
	abort := func() {
		tr.aborted.Store(true)
		ch.kill(syscall.SIGTERM)
		ch.stdout.SetReadDeadline(time.Unix(1, 0))
	}
	w := gw.WatchClient(rc, abort)
	// The read buffer (64 KiB) is taken once the script has written
	// something (or ended): a script that works a while holds none.
	err := tr.await()
	br := readers.Get(er)
	defer readers.Put(br)
	kind := outEmpty
	if err == nil {
		kind, err = sniff(br)
	}
	if w.Stop() {
		// The client reset the connection while the script worked: the
		// script is killed and nothing is answered, as lighttpd.
		rc.AbortStream()
		return core.Finished
	}
	if ch.writeTimedOut.Load() {
		return rc.Status(504)
	}
	if err != nil {
		return h.readFailed(rc, ch, err)
	}
	switch kind {
	case outEmpty:
		// The script ended without output: lighttpd's backend_done on a
		// response that never started.
		return rc.Status(500)
	case outBody:
		rc.Resp.Status = 200
		rc.Resp.Dynamic = true
		return gw.TransferBody(rc, br, -1, h.peer(ch), er.TimedOut)
	}
	bh, err := rc.BackendHeaders(br, &core.BackendOpts{
		Kind:              core.BackendCGI,
		XSendfile:         h.conf.xsendfile,
		XSendfileDocroots: h.conf.xsDocroots,
	})
	if err != nil {
		if er.TimedOut(err) {
			return h.readFailed(rc, ch, er.Err)
		}
		return core.Finished
	}
	if bh.Handoff {
		return core.Finished
	}
	if h.conf.localRedir && !bh.StatusSet && br.Buffered() == 0 {
		if res, ok := h.localRedirect(rc); ok {
			return res
		}
	}
	if upgrade {
		if rc.Resp.Status == 101 && rc.Resp.Header.Has("Upgrade") {
			return h.tunnel(rc, ch, br, abort)
		}
		ch.stdin.Close() // not upgraded: the script sees the end of its input
	}
	if bh.ContentLength < 0 {
		rc.Resp.Header.Del("Content-Length")
	}
	var src io.Reader = br
	switch {
	case bh.Chunked:
		src = httputil.NewChunkedReader(br)
	case bh.ContentLength >= 0:
		// The script's Content-Length truncates its output, as lighttpd.
		src = io.LimitReader(br, bh.ContentLength)
	}
	return gw.TransferBody(rc, src, bh.ContentLength, h.peer(ch), er.TimedOut)
}

func (h *handler) peer(ch *child) *gw.Peer {
	return &gw.Peer{Proto: "cgi", Addr: ch.path, PID: ch.pid}
}

// readFailed answers a script that produced no usable head: 504 after
// cgi.limits read-timeout (the script is killed), else 500.
func (h *handler) readFailed(rc *core.Request, ch *child, err error) core.Result {
	if gw.IsTimeout(err) {
		rc.Logf("read timeout on CGI: %s (pid: %d)", ch.path, ch.pid)
		ch.kill(syscall.SIGTERM)
		return rc.Status(504)
	}
	rc.Logf("reading CGI output of %s (pid: %d): %v", ch.path, ch.pid, err)
	return rc.Status(500)
}

// localRedirect is RFC 3875's local redirect response as lighttpd's
// http_cgi_local_redir applies it (cgi.local-redir): a script that sent
// only a Location with a local path (no Status, no other header, no body
// yet) has the request restarted at that path, as GET. A Location to the
// script's own path or below it is sent to the client instead.
func (h *handler) localRedirect(rc *core.Request) (core.Result, bool) {
	st := rc.Resp.Status
	if st < 300 || st >= 400 || rc.Resp.Header.Len() != 1 {
		return 0, false
	}
	loc := rc.Resp.Header.Get("Location")
	if loc == "" || loc[0] != '/' {
		return 0, false
	}
	if p := rc.URI.Path; strings.HasPrefix(loc, p) && (len(loc) == len(p) || loc[len(p)] == '/' || loc[len(p)] == '?') {
		return 0, false
	}
	n := h.m.loops.Get(rc)
	if n == nil {
		n = new(int)
		h.m.loops.Set(rc, n)
	}
	if *n++; *n > 5 {
		rc.Logf("too many internal loops while processing request: %s", rc.Target)
		rc.Resp.Header.Reset()
		rc.Resp.Dynamic = false
		return rc.Status(500), true
	}
	loc = strings.Clone(loc) // the response headers are reset below
	rc.Resp.Header.Reset()
	rc.Resp.Status = 0
	rc.Resp.Dynamic = false
	if rc.BodyLength != 0 {
		// The body went to the script; the redirected request has none.
		rc.KeepAlive = false
		rc.Body, rc.BodyLength = nil, 0
	}
	if st != 307 && st != 308 {
		rc.Method = "GET"
	}
	res, err := rc.Rewrite(loc)
	if err != nil {
		rc.Logf("local redirect to %s: %v", loc, err)
		return rc.Status(500), true
	}
	return res, true
}

// tunnel serves an Upgrade the script accepted with 101 (cgi.upgrade): the
// head goes to the client and bytes then flow both ways between the client
// and the script's stdin and stdout until the script ends its output.
func (h *handler) tunnel(rc *core.Request, ch *child, br *bufio.Reader, abort func()) core.Result {
	conn, err := rc.Tunnel()
	if err != nil {
		ch.stdin.Close()
		rc.Logf("upgrade of %s: %v", rc.URI.Path, err)
		return core.Finished
	}
	gw.Tunnel(conn, ch.stdin, br, &gw.TunnelOpts{
		ReadIdle:  time.Duration(rc.Conf.MaxReadIdle) * time.Second,
		WriteIdle: time.Duration(rc.Conf.MaxWriteIdle) * time.Second,
		Abort:     abort,
		CloseUp:   ch.stdin.Close,
	})
	return core.Finished
}
