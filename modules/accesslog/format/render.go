package format

import (
	"strconv"
	"strings"
	"time"
)

// ConnState is the connection status printed by %X.
type ConnState uint8

const (
	ConnClose     ConnState = iota // "-": response complete, connection closes
	ConnKeepAlive                  // "+": response complete, connection kept alive
	ConnAborted                    // "X": connection aborted before the response completed
)

// Lookup gives the values a format may name. Header lookups are
// case-insensitive; repeated request headers are joined as the server
// joins them (Cookie with "; "). An empty string means absent.
type Lookup interface {
	RequestHeader(name string) string
	ResponseHeader(name string) string
	Env(name string) string // request environment; REMOTE_USER for %u
}

// Record is what one access-log line is rendered from. The server fills it
// when a request is done; every field is a plain value (strings it already
// holds), so filling it costs no allocation.
type Record struct {
	RemoteAddr string // %a %h: client IP as text
	RemotePort int    // %{remote}p
	LocalAddr  string // %A: listen address as configured (see SplitServerToken)
	LocalPort  string // %p: listen port as configured ("" for a Unix socket)

	// Start is when the request began (%{begin:...}t, %D, %T); End is the
	// time of logging (%t and its variants). Both are rendered in their
	// own Location: pass time.Now() values, i.e. local time, as lighttpd.
	Start, End time.Time

	Method     string // %m, %r; "" if the request line could not be parsed
	OrigTarget string // %r: the request-target as received
	Target     string // current target after rewrites; %U prints it up to any '?'
	Query      string // %q: current query string
	Protocol   string // %H, %r: "HTTP/1.1"; "" if unknown

	Status int // %s

	BytesIn        int64 // %I: bytes received incl. request line and headers
	BytesOut       int64 // %O: bytes sent incl. status line and headers
	HeaderBytesOut int64 // response header bytes; %b = BytesOut - HeaderBytesOut

	ServerName string // %v: server.name, else the request's host
	Host       string // %V: normalized (lower-case) request host
	Filename   string // %f: physical path; lighttpd logs "-" when no file was found (404)
	Requests   int    // %k: requests served earlier on this connection
	ConnState  ConnState

	Lookup Lookup // %i %o %e %u %C; nil means all absent
}

// SplitServerToken splits a listen token as lighttpd does for %A and %p:
// at the colon after "[...]" for IPv6, else at the first colon; a Unix
// socket path (or a token without a colon) has no port.
func SplitServerToken(token string, unixSocket bool) (addr, port string) {
	if unixSocket || token == "" || token[0] == '/' {
		return token, ""
	}
	i := -1
	if token[0] == '[' {
		if j := strings.Index(token, "]:"); j >= 0 {
			i = j + 1
		}
	} else {
		i = strings.IndexByte(token, ':')
	}
	if i < 0 {
		return token, ""
	}
	return token[:i], token[i+1:]
}

// Escaping selects how request-derived values are escaped
// (accesslog.escaping).
type Escaping uint8

const (
	EscapeDefault Escaping = iota // \" \\ \t ... and \xHH
	EscapeJSON                    // \" \\ \t ... and \u00HH; bytes >= 0x7F kept
)

// ParseEscaping maps an accesslog.escaping value: "json" selects JSON
// escaping, anything else the default, as in lighttpd.
func ParseEscaping(s string) Escaping {
	if s == "json" {
		return EscapeJSON
	}
	return EscapeDefault
}

type tsCache struct {
	sec  int64
	loc  *time.Location
	text []byte
}

// Append renders the line for r (without a trailing newline) onto dst.
// flush reports that the cached %t timestamp moved to a new second, the
// moment lighttpd writes out its buffered access log.
func (f *Format) Append(dst []byte, r *Record, esc Escaping) (line []byte, flush bool) {
	for i := range f.fields {
		fd := &f.fields[i]
		switch fd.kind {
		case kLiteral:
			dst = append(dst, fd.str...)
		case kRequestHeader, kResponseHeader, kEnv:
			var v string
			if r.Lookup != nil {
				switch fd.kind {
				case kRequestHeader:
					v = r.Lookup.RequestHeader(fd.str)
				case kResponseHeader:
					v = r.Lookup.ResponseHeader(fd.str)
				default:
					v = r.Lookup.Env(fd.str)
				}
			}
			dst = appendOrDash(dst, v, esc)
		case kTimestamp:
			var fl bool
			dst, fl = f.appendTimestamp(dst, fd, r)
			flush = flush || fl
		case kTimeUsed:
			dst = appendTimeUsed(dst, fd.opt, r)
		case kRemoteAddr:
			dst = append(dst, r.RemoteAddr...)
		case kHost:
			dst = appendOrDash(dst, r.Host, esc)
		case kRequestLine:
			dst = append(dst, r.Method...)
			dst = append(dst, ' ')
			dst = appendEscaped(dst, r.OrigTarget, esc)
			dst = append(dst, ' ')
			dst = append(dst, r.Protocol...)
		case kStatus:
			dst = strconv.AppendInt(dst, int64(r.Status), 10)
		case kBytesOutNoHeader:
			dst = appendBytes(dst, r.BytesOut, r.HeaderBytesOut)
		case kBytesOut:
			dst = appendBytes(dst, r.BytesOut, 0)
		case kBytesIn:
			dst = appendBytes(dst, r.BytesIn, 0)
		case kServerName:
			dst = appendOrDash(dst, r.ServerName, esc)
		case kProtocol:
			dst = append(dst, r.Protocol...)
		case kMethod:
			dst = append(dst, r.Method...)
		case kCookie:
			if r.Lookup != nil {
				if v, ok := cookieValue(r.Lookup.RequestHeader("Cookie"), fd.str); ok {
					dst = appendEscaped(dst, v, esc)
				}
			}
		case kServerPort:
			if fd.opt == portRemote {
				dst = strconv.AppendInt(dst, int64(r.RemotePort), 10)
			} else {
				dst = append(dst, r.LocalPort...)
			}
		case kLocalAddr:
			dst = append(dst, r.LocalAddr...)
		case kKeepAliveCount:
			dst = strconv.AppendInt(dst, int64(max(r.Requests, 0)), 10)
		case kURL:
			t := r.Target
			if q := strings.IndexByte(t, '?'); q >= 0 {
				t = t[:q]
			}
			dst = appendEscaped(dst, t, esc)
		case kQuery:
			dst = appendEscaped(dst, r.Query, esc)
		case kFilename:
			dst = appendOrDash(dst, r.Filename, esc)
		case kConnStatus:
			dst = append(dst, "-+X"[min(r.ConnState, ConnAborted)])
		}
	}
	return dst, flush
}

func appendOrDash(dst []byte, v string, esc Escaping) []byte {
	if v == "" {
		return append(dst, '-')
	}
	return appendEscaped(dst, v, esc)
}

// appendBytes prints n-adj (not below 0), or "-" when nothing at all was
// transferred.
func appendBytes(dst []byte, n, adj int64) []byte {
	if n <= 0 {
		return append(dst, '-')
	}
	return strconv.AppendInt(dst, max(n-adj, 0), 10)
}

// cookieValue finds name in a Cookie header the way lighttpd does: pairs
// are separated by ';', blanks before a name skipped, trailing blanks of
// the value trimmed; an empty value counts as absent.
func cookieValue(h, name string) (string, bool) {
	i := 0
	for {
		for i < len(h) && (h[i] == ' ' || h[i] == '\t') {
			i++
		}
		if strings.HasPrefix(h[i:], name) && i+len(name) < len(h) && h[i+len(name)] == '=' {
			v := h[i+len(name)+1:]
			if j := strings.IndexByte(v, ';'); j >= 0 {
				v = v[:j]
			}
			if v == "" {
				return "", false
			}
			// lighttpd's backwards trim stops at the first byte, so an
			// all-blank value keeps one blank.
			if t := strings.TrimRight(v, " \t"); t != "" {
				return t, true
			}
			return v[:1], true
		}
		for i < len(h) && h[i] != ';' && h[i] != ' ' && h[i] != '\t' {
			i++
		}
		for i < len(h) && (h[i] == ' ' || h[i] == '\t') {
			i++
		}
		if i >= len(h) || h[i] != ';' {
			return "", false
		}
		i++
	}
}

func (f *Format) appendTimestamp(dst []byte, fd *field, r *Record) ([]byte, bool) {
	t := r.End
	if fd.opt&tBegin != 0 {
		t = r.Start
	}
	switch {
	case fd.opt&tSec != 0:
		return strconv.AppendInt(dst, t.Unix(), 10), false
	case fd.opt&(tMsec|tUsec|tNsec) != 0:
		s, ns := t.Unix(), int64(t.Nanosecond())
		switch {
		case fd.opt&tMsec != 0:
			s = s*1000 + (ns+999999)/1000000 // lighttpd rounds up
		case fd.opt&tUsec != 0:
			s = s*1000000 + (ns+999)/1000
		default:
			s = s*1000000000 + ns
		}
		return strconv.AppendInt(dst, s, 10), false
	case fd.opt&(tMsecFrac|tUsecFrac|tNsecFrac) != 0:
		ns := int64(t.Nanosecond())
		digits := 9
		switch {
		case fd.opt&tMsecFrac != 0:
			ns, digits = min((ns+999999)/1000000, 999), 3
		case fd.opt&tUsecFrac != 0:
			ns, digits = min((ns+999)/1000, 999999), 6
		}
		var d [9]byte
		for i := digits - 1; i >= 0; i-- {
			d[i] = byte('0' + ns%10)
			ns /= 10
		}
		return append(dst, d[:digits]...), false
	}
	layout := fd.str
	if layout == "" {
		layout = "[%d/%b/%Y:%T %z]"
	}
	if fd.opt&tBegin != 0 {
		return appendStrftimeLimited(dst, layout, t), false
	}
	sec, loc := t.Unix(), t.Location()
	if c := f.ts.Load(); c != nil && c.sec == sec && c.loc == loc {
		return append(dst, c.text...), false
	}
	// A new second: format once, share with every request in this second.
	c := &tsCache{sec: sec, loc: loc, text: appendStrftimeLimited(nil, layout, t)}
	f.ts.Store(c)
	return append(dst, c.text...), true
}

// appendStrftimeLimited drops results over 4095 bytes, as lighttpd's
// buffer_append_strftime does.
func appendStrftimeLimited(dst []byte, layout string, t time.Time) []byte {
	n := len(dst)
	dst = appendStrftime(dst, layout, t)
	if len(dst)-n > 4095 {
		return dst[:n]
	}
	return dst
}

func appendTimeUsed(dst []byte, opt uint16, r *Record) []byte {
	if opt == tSec {
		return strconv.AppendInt(dst, r.End.Unix()-r.Start.Unix(), 10)
	}
	d := r.End.Sub(r.Start).Nanoseconds()
	switch {
	case d <= 0:
		d = -1 // clock went backwards
	case opt == tMsec:
		d = (d + 999999) / 1000000
	case opt == tUsec:
		d = (d + 999) / 1000
	}
	return strconv.AppendInt(dst, d, 10)
}

const hexUpper = "0123456789ABCDEF"

// bsEscapes maps control bytes with a short escape to its letter.
var bsEscapes = [32]byte{'\a': 'a', '\b': 'b', '\t': 't', '\n': 'n', '\v': 'v', '\f': 'f', '\r': 'r'}

// appendEscaped escapes a request-derived value for use between double
// quotes, as lighttpd's buffer_append_bs_escaped(_json).
func appendEscaped(dst []byte, s string, esc Escaping) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= ' ' && c != '"' && c != '\\' && (c <= '~' || esc == EscapeJSON) {
			continue
		}
		dst = append(dst, s[start:i]...)
		start = i + 1
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < ' ' && bsEscapes[c] != 0:
			dst = append(dst, '\\', bsEscapes[c])
		case esc == EscapeJSON:
			dst = append(dst, '\\', 'u', '0', '0', hexUpper[c>>4], hexUpper[c&15])
		default:
			dst = append(dst, '\\', 'x', hexUpper[c>>4], hexUpper[c&15])
		}
	}
	return append(dst, s[start:]...)
}
