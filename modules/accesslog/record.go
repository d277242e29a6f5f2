package accesslog

import (
	"strings"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/monoclock"
	"github.com/golighty/golighty/modules/accesslog/format"
)

// reqLookup serves %i, %o, %e and %u from a request. A struct holding one
// pointer is stored in an interface as is, so setting Record.Lookup costs
// no allocation.
type reqLookup struct{ rc *core.Request }

var _ format.Lookup = reqLookup{}

func (l reqLookup) RequestHeader(name string) string  { return l.rc.Header.Get(name) }
func (l reqLookup) ResponseHeader(name string) string { return l.rc.Resp.Header.Get(name) }

// Env is the request environment. REMOTE_USER comes from the
// authentication result, where mod_auth puts it in lighttpd.
func (l reqLookup) Env(name string) string {
	if name == "REMOTE_USER" && l.rc.RemoteUser != "" {
		return l.rc.RemoteUser
	}
	return l.rc.Env.Get(name)
}

// fillRecord copies what a format can print from rc into r, without
// allocating: every string is one the request already holds.
func fillRecord(r *format.Record, rc *core.Request, serverTag string) {
	r.RemoteAddr = rc.Conn.RemoteIP
	r.RemotePort = rc.Conn.RemotePort
	r.LocalAddr, r.LocalPort = format.SplitServerToken(rc.Conn.Socket, false)
	r.Start = rc.Start
	r.End = monoclock.Time() // one clock read, as for rc.Start
	r.Method = rc.Method
	r.OrigTarget = rc.Target
	r.Target = rc.URI.Target
	if r.Target == "" {
		// Rejected before the target was processed (400 for a missing
		// Host): lighttpd still has the target as received.
		r.Target = rc.Target
	}
	r.Query = rc.URI.Query
	r.Protocol = protocol(rc.Proto)
	r.Status = rc.Resp.Status

	r.BytesIn = int64(rc.HeadLen) + rc.BodyRead
	body := rc.Resp.Written()
	if rc.Aborted && body == 0 {
		// The write failed and nothing of the body left: count nothing,
		// which prints "-" as lighttpd does when no byte was sent.
		r.BytesOut, r.HeaderBytesOut = 0, 0
	} else {
		head := responseHeadLen(rc, serverTag)
		r.BytesOut, r.HeaderBytesOut = head+body, head
	}

	r.ServerName = rc.Conf.ServerName
	if r.ServerName == "" {
		r.ServerName = rc.URI.Authority
	}
	r.Host = rc.URI.Authority
	r.Filename = rc.Phys.Path
	if st := rc.Resp.Status; st >= 400 && (!rc.Resp.Dynamic || rc.Conf.ErrorIntercept) {
		// lighttpd clears the physical path when it builds an error
		// document, so a 404 logs "-" for %f.
		r.Filename = ""
	}
	r.Requests = rc.Conn.Requests
	switch {
	case rc.Aborted:
		r.ConnState = format.ConnAborted
	case rc.KeepAlive:
		r.ConnState = format.ConnKeepAlive
	default:
		r.ConnState = format.ConnClose
	}
	r.Lookup = reqLookup{rc}
}

func digits(v int) int {
	n := 1
	if v < 0 {
		n, v = 2, -v
	}
	for ; v >= 10; v /= 10 {
		n++
	}
	return n
}

func protocol(p int) string {
	switch p {
	case 20:
		return "HTTP/2.0"
	case 11:
		return "HTTP/1.1"
	case 10:
		return "HTTP/1.0"
	}
	return ""
}

// Lengths of the header lines the HTTP/1.x engine adds itself.
const (
	lenDate          = len("Date: Wed, 25 Nov 2026 19:05:35 GMT\r\n")
	lenConnClose     = len("Connection: close\r\n")
	lenConnKeepAlive = len("Connection: keep-alive\r\n")
	lenChunked       = len("Transfer-Encoding: chunked\r\n")
	lenZeroLength    = len("Content-Length: 0\r\n")
)

// responseHeadLen reconstructs the size of the response head the HTTP/1.x
// engine wrote for rc (status line, the response headers, the Connection,
// Date and Server lines it adds, the blank line), for %O and %b. The core
// does not report the written head size yet; this mirrors core/h1's
// ResponseWriter rules and must follow them if they change.
func responseHeadLen(rc *core.Request, serverTag string) int64 {
	st := rc.Resp.Status
	n := len("HTTP/1.1 ") + digits(st) + 1 + len(core.StatusText(st)) + 2
	var hasDate, hasServer, hasCL, hasTE bool
	h := &rc.Resp.Header
	for i := 0; i < h.Len(); i++ {
		kv := h.At(i)
		if kv.Value == "" {
			continue
		}
		// The length picks the one name worth comparing.
		switch name := kv.Name; len(name) {
		case 4:
			hasDate = hasDate || strings.EqualFold(name, "Date")
		case 6:
			hasServer = hasServer || strings.EqualFold(name, "Server")
		case 10:
			if strings.EqualFold(name, "X-Sendfile") || strings.EqualFold(name, "Connection") {
				continue // never written as given
			}
		case 14:
			hasCL = hasCL || strings.EqualFold(name, "Content-Length")
		case 17:
			hasTE = hasTE || strings.EqualFold(name, "Transfer-Encoding")
		}
		if len(kv.Name) >= 11 && strings.EqualFold(kv.Name[:11], "X-LIGHTTPD-") {
			continue // internal to the server
		}
		n += len(kv.Name) + 2 + len(kv.Value) + 2
	}
	noBody := rc.Method == "HEAD" || st < 200 || st == 204 || st == 304
	if !hasCL && !hasTE && !noBody {
		switch {
		case !rc.Resp.HasBody():
			n += lenZeroLength // an empty body gets "Content-Length: 0"
		case rc.Proto == 11 && !(rc.Method == "CONNECT" && st == 200):
			n += lenChunked // a streamed body
		}
	}
	switch {
	case !rc.KeepAlive:
		n += lenConnClose
	case rc.Proto != 11:
		n += lenConnKeepAlive
	}
	if !hasDate {
		n += lenDate
	}
	if !hasServer && serverTag != "" {
		n += len("Server: ") + len(serverTag) + 2
	}
	return int64(n + 2)
}
