package h1

import (
	"bytes"
	"encoding/binary"
)

// Proto is the HTTP version of a request.
type Proto uint8

const (
	// ProtoUnknown: the version could not be determined (responses use HTTP/1.0).
	ProtoUnknown Proto = iota
	HTTP10
	HTTP11
)

func (p Proto) String() string {
	switch p {
	case HTTP11:
		return "HTTP/1.1"
	case HTTP10:
		return "HTTP/1.0"
	}
	return ""
}

// Header is one request header line. Name keeps the client's first spelling;
// both slices point into the connection's read buffer (or a per-request
// scratch area for joined values) and are valid until the handler returns.
type Header struct {
	Name  []byte
	Value []byte
}

// ParseOptions mirror server.http-parseopts plus the values the parser needs.
type ParseOptions struct {
	HeaderStrict  bool // header-strict (default on)
	HostStrict    bool // host-strict (default on; implies HostNormalize)
	HostNormalize bool // host-normalize
	MethodGetBody bool // method-get-body
	// MaxRequestSize is server.max-request-size in bytes (0 = unlimited):
	// a Content-Length above it is answered 413. A Server sets it from
	// Config.MaxRequestSize.
	MaxRequestSize int64
	// ProtocolHTTP11 false answers HTTP/1.1 requests as HTTP/1.0 without
	// keep-alive (server.protocol-http11 = "disable").
	ProtocolHTTP11 bool
	// SchemePort is the scheme's default port (80, or 443 for TLS): a Host
	// port equal to it is removed by host normalization.
	SchemePort int
	// CheckTarget, when set, runs where lighttpd normalizes the target (after
	// the headers, before the Host checks) so that a malformed target wins
	// over later whole-request errors, as in lighttpd. It is not called for
	// CONNECT and "OPTIONS *". Returning false yields 400.
	CheckTarget func(target []byte) bool
}

// DefaultParseOptions are lighttpd's defaults for a plain-HTTP listener.
func DefaultParseOptions() ParseOptions {
	return ParseOptions{HeaderStrict: true, HostStrict: true, ProtocolHTTP11: true, SchemePort: 80}
}

// Request is a parsed request head. It is reused across requests on a
// connection: do not keep it (or any slice in it) after the handler returns.
type Request struct {
	Method string // interned method name ("GET"), empty if unknown
	Target []byte // raw request-target, starting at '/' for absolute-form ("*" / authority for OPTIONS/CONNECT)
	// Headers in arrival order with lighttpd's joining rules applied; a
	// Host from an absolute-form target appears as a "Host" header.
	Headers []Header
	// Host is the validated, lower-cased, normalized Host (nil if none).
	Host []byte
	// ContentLength is the body length; -1 with Chunked.
	ContentLength int64
	Proto         Proto // (with the flags below: no padding of its own)
	Chunked       bool
	KeepAlive     bool
	// Expect100 reports "Expect: 100-continue" on an HTTP/1.1 request; the
	// connection answers it on the first Body read. The Expect header itself
	// stays in Headers (lighttpd removes it only when the body is read).
	Expect100         bool
	hasCL, hasUpgrade bool // (among the flags above: no padding of their own)
	// HeadLen is the size of the head block in bytes (request line to final
	// empty line), lighttpd's rqst_header_len.
	HeadLen int

	// Status is non-zero when the request is invalid (400, 411, 413, 431,
	// 501, 505); Reason is lighttpd's error-log text for it.
	Status int
	Reason string

	// Set by the connection for the handler (zero when parsed standalone).
	Conn *ConnInfo
	Seq  int // 1-based request number on the connection
	Body *Body

	hostIdx int       // index of the Host header, -1 if none
	names   uint64    // bloom set of header names seen (see nameBit)
	scratch []byte    // normalized values
	hosts   HostCache // kept across requests
}

func (r *Request) reset() {
	*r = Request{Headers: r.Headers[:0], scratch: r.scratch[:0], hostIdx: -1, Conn: r.Conn, Body: r.Body, hosts: r.hosts}
}

// Header returns the value of the first header whose name matches name
// case-insensitively, or nil.
func (r *Request) Header(name string) []byte {
	for i := range r.Headers {
		if eqFold(r.Headers[i].Name, name) {
			return r.Headers[i].Value
		}
	}
	return nil
}

var methods = [...]string{
	"GET", "HEAD", "QUERY", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
	"ACL", "BASELINE-CONTROL", "BIND", "CHECKIN", "CHECKOUT", "COPY", "LABEL", "LINK",
	"LOCK", "MERGE", "MKACTIVITY", "MKCALENDAR", "MKCOL", "MKREDIRECTREF", "MKWORKSPACE",
	"MOVE", "ORDERPATCH", "PATCH", "PROPFIND", "PROPPATCH", "REBIND", "REPORT", "SEARCH",
	"UNBIND", "UNCHECKOUT", "UNLINK", "UNLOCK", "UPDATE", "UPDATEREDIRECTREF", "VERSION-CONTROL",
}

// lookupMethod interns a method name; matching is case-sensitive as in
// lighttpd ("get" is unknown). PRI is only valid as the HTTP/2 preface,
// which this engine does not accept, so it is unknown here.
func lookupMethod(b []byte) string {
	if len(b) == 3 && b[0] == 'G' && b[1] == 'E' && b[2] == 'T' {
		return "GET"
	}
	for _, m := range methods {
		if len(m) == len(b) && string(b) == m {
			return m
		}
	}
	return ""
}

// FindHead looks for the end of a head block in buf, as lighttpd does: the
// first line that is empty ("\n" or "\r\n"). It returns the head length
// (including the final empty line) and the number of lines before it, or
// headLen 0 if the block is incomplete. lines counts what was scanned, so
// the caller can enforce the line limit on incomplete heads too.
func FindHead(buf []byte) (headLen, lines int) {
	pos := 0
	for {
		i := bytes.IndexByte(buf[pos:], '\n')
		if i < 0 {
			return 0, lines
		}
		if i == 0 || (i == 1 && buf[pos] == '\r') {
			return pos + i + 1, lines
		}
		lines++
		if lines >= maxHeadLines {
			return 0, lines
		}
		pos += i + 1
	}
}

// maxHeadLines is lighttpd's hoff[] capacity: 8190 lines before the final
// empty one (more → 431).
const maxHeadLines = 8192 - 2

// ParseRequest parses a complete head block (as delimited by FindHead, with
// at least one line before the final empty line) into r. The buffer is
// modified in place (folded lines, lower-cased Host). It returns r.Status:
// 0 when the request is valid, else the error status with r.Reason set.
func ParseRequest(head []byte, r *Request, o *ParseOptions) int {
	r.reset()
	r.HeadLen = len(head)
	st, why := parseHead(head, r, o)
	if st != 0 {
		r.Status, r.Reason = st, why
		r.KeepAlive = false
		r.ContentLength, r.Chunked = 0, false
		return st
	}
	if !o.ProtocolHTTP11 && r.Proto == HTTP11 {
		r.Proto = HTTP10
		r.KeepAlive = false
	}
	return 0
}

func parseHead(head []byte, r *Request, o *ParseOptions) (int, string) {
	nl := bytes.IndexByte(head, '\n')
	if nl < 0 {
		return 400, "invalid request line (too short) -> 400"
	}
	if st, why := parseRequestLine(head[:nl+1], r, o); st != 0 {
		return st, why
	}
	if st, why := parseHeaders(head, nl+1, r, o); st != 0 {
		return st, why
	}
	return checkRequest(r, o)
}

func parseRequestLine(line []byte, r *Request, o *ParseOptions) (int, string) {
	n := len(line) // includes the line ending
	if n < 13 {
		return 400, "invalid request line (too short) -> 400"
	}
	if line[n-2] == '\r' {
		n -= 2
	} else if !o.HeaderStrict {
		n--
	} else {
		return 400, "missing CR before LF in header -> 400"
	}
	line = line[:n]
	p := n - 8 // start of the protocol in the common case
	switch {
	case line[p-1] == ' ' && string(line[p:]) == "HTTP/1.1":
		r.Proto, r.KeepAlive = HTTP11, true
	case line[p-1] == ' ' && string(line[p:]) == "HTTP/1.0":
		r.Proto, r.KeepAlive = HTTP10, false
	default:
		sp1 := bytes.IndexByte(line, ' ')
		if sp1 < 0 {
			return 400, "incomplete request line -> 400"
		}
		sp2 := bytes.IndexByte(line[sp1+1:], ' ')
		if sp2 < 0 {
			return 400, "incomplete request line -> 400"
		}
		proto := line[sp1+1+sp2+1:]
		at := func(i int) byte { // bytes past the line compare as CR did in C
			if i < len(proto) {
				return proto[i]
			}
			return '\r'
		}
		if at(0) != 'H' || at(1) != 'T' || at(2) != 'T' || at(3) != 'P' || at(4) != '/' {
			return 400, "unknown protocol -> 400"
		}
		if at(5) != '1' || at(6) != '.' || (at(7) != '1' && at(7) != '0') {
			return 505, "unknown HTTP version -> 505"
		}
		if o.HeaderStrict {
			return 400, "incomplete request line -> 400"
		}
		if at(7) == '1' {
			r.Proto, r.KeepAlive = HTTP11, true
		} else {
			r.Proto, r.KeepAlive = HTTP10, false
		}
		// The target ends at the last space before the final 8 bytes.
		for p = n - 9; p > 1 && line[p-1] != ' '; p-- {
		}
	}
	i := bytes.IndexByte(line, ' ')
	r.Method = lookupMethod(line[:i])
	if r.Method == "" {
		return 501, "unknown http-method -> 501"
	}
	u := i + 1
	if u >= p {
		return 400, "no uri specified -> 400"
	}
	target := line[u : p-1]
	if len(target) == 0 { // two spaces before the protocol
		if o.HeaderStrict {
			return 400, "request-URI parse error -> 400"
		}
		return 400, "no uri specified -> 400"
	}
	if target[0] != '/' {
		switch {
		case hasPrefixFold(target, "http://") && len(target) > 7 || hasPrefixFold(target, "https://") && len(target) > 8:
			hs := 7
			if target[4] != ':' {
				hs = 8
			}
			slash := bytes.IndexByte(target[hs:], '/')
			if slash < 0 {
				return 400, "request-URI parse error -> 400"
			}
			host := target[hs : hs+slash]
			if len(host) == 0 || len(host) >= 1024 {
				return 400, "uri-authority empty or too long -> 400"
			}
			lower(host)
			r.hostIdx = len(r.Headers)
			r.Headers = append(r.Headers, Header{Name: hostName, Value: host})
			r.names |= nameBit(hostName)
			r.Host = host
			target = target[hs+slash:]
		case !o.HeaderStrict,
			r.Method == "CONNECT" && (target[0] == ':' || isDigit(target[0])),
			r.Method == "OPTIONS" && target[0] == '*' && len(target) == 1:
		default:
			return 400, "request-URI parse error -> 400"
		}
	}
	if len(target) == 0 {
		return 400, "no uri specified -> 400"
	}
	r.Target = target
	return 0, ""
}

var hostName = []byte("Host")

func parseHeaders(head []byte, pos int, r *Request, o *ParseOptions) (int, string) {
	strict := o.HeaderStrict
	for {
		end := pos + bytes.IndexByte(head[pos:], '\n') + 1 // start of the next line
		if end-pos <= 2 && (end-pos == 1 || head[pos] == '\r') {
			return 0, "" // the final empty line
		}
		k := pos
		colon := bytes.IndexByte(head[k:end], ':')
		if colon < 0 {
			return 400, "invalid header missing ':' -> 400"
		}
		colon += k
		v := colon + 1
		if c := head[colon-1]; (c == ' ' || c == '\t') && colon > k {
			if strict {
				return 400, "invalid whitespace between field-name and colon -> 400"
			}
			for colon > k && (head[colon-1] == ' ' || head[colon-1] == '\t') {
				colon--
			}
		}
		if colon == k {
			return 400, "invalid header key -> 400"
		}
		name := head[k:colon]
		if st, why := checkName(name, strict); st != 0 {
			return st, why
		}
		for head[v] == ' ' || head[v] == '\t' {
			v++
		}
		// Obsolete line folding: continuation lines join the value, their
		// line ending becoming spaces.
		for head[end] == ' ' || head[end] == '\t' {
			if head[end-2] == '\r' {
				head[end-2] = ' '
			} else if strict {
				return 400, "missing CR before LF in header -> 400"
			}
			head[end-1] = ' '
			end += bytes.IndexByte(head[end:], '\n') + 1
		}
		pos = end
		e := end
		if head[e-2] == '\r' {
			e--
		} else if strict {
			return 400, "missing CR before LF in header -> 400"
		}
		e--
		for e > v && (head[e-1] == ' ' || head[e-1] == '\t') {
			e--
		}
		if e <= v {
			continue // empty values are dropped
		}
		val := head[v:e]
		if strict {
			if !valueOK(val) {
				return 400, "invalid character in header -> 400"
			}
		}
		if st, why := r.addHeader(name, val); st != 0 {
			return st, why
		}
	}
}

// nameByteOK marks bytes allowed in a field name under header-strict;
// anything else goes through checkNameSlow for lighttpd's exact verdict.
var nameByteOK, valueByteBad [256]bool

func init() {
	for c := 33; c < 127; c++ {
		nameByteOK[c] = !bytes.ContainsRune([]byte("()<>@,;:\\\"/[]?={}"), rune(c))
	}
	for c := 0; c < 256; c++ {
		valueByteBad[c] = (c < 32 && c != '\t') || c == 127
	}
}

// valueOK reports whether v has no control byte other than TAB and no
// DEL. Eight bytes are tested at once (a word with no byte below 0x20 and
// none equal to 0x7f is fine); a word that may hold one is checked bytewise.
func valueOK(v []byte) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for len(v) >= 8 {
		x := binary.LittleEndian.Uint64(v)
		y := x ^ (lo * 0x7f)
		if ((x-lo*0x20)&^x|(y-lo)&^y)&hi != 0 {
			for _, c := range v[:8] {
				if valueByteBad[c] {
					return false
				}
			}
		}
		v = v[8:]
	}
	for _, c := range v {
		if valueByteBad[c] {
			return false
		}
	}
	return true
}

func checkName(k []byte, strict bool) (int, string) {
	for _, c := range k {
		if !nameByteOK[c] {
			return checkNameSlow(k, strict)
		}
	}
	return 0, ""
}

func checkNameSlow(k []byte, strict bool) (int, string) {
	for _, c := range k {
		if isAlpha(c) || c == '-' {
			continue
		}
		switch c {
		case ' ', '\t':
			return 400, "WS character in key -> 400"
		case '\r', '\n', '(', ')', '<', '>', '@', ',', ':', ';', '\\', '"', '/', '[', ']', '?', '=', '{', '}':
			return 400, "invalid character in header key -> 400"
		}
		if strict && (c < 32 || c >= 127) || !strict && c == 0 {
			return 400, "invalid character in header key -> 400"
		}
	}
	return 0, ""
}

// header ids that need special treatment
const (
	hOther = iota
	hHost
	hContentLength
	hTransferEncoding
	hConnection
	hContentType
	hIfModifiedSince
	hIfNoneMatch
	hHTTP2Settings
	hUpgrade
	hCookie
	hExpect
)

func headerID(k []byte) int {
	switch len(k) {
	case 4:
		if eqFold(k, "Host") {
			return hHost
		}
	case 6:
		if eqFold(k, "Cookie") {
			return hCookie
		}
		if eqFold(k, "Expect") {
			return hExpect
		}
	case 7:
		if eqFold(k, "Upgrade") {
			return hUpgrade
		}
	case 10:
		if eqFold(k, "Connection") {
			return hConnection
		}
	case 12:
		if eqFold(k, "Content-Type") {
			return hContentType
		}
	case 13:
		if eqFold(k, "If-None-Match") {
			return hIfNoneMatch
		}
	case 14:
		if eqFold(k, "Content-Length") {
			return hContentLength
		}
		if eqFold(k, "HTTP2-Settings") {
			return hHTTP2Settings
		}
	case 17:
		if eqFold(k, "Transfer-Encoding") {
			return hTransferEncoding
		}
		if eqFold(k, "If-Modified-Since") {
			return hIfModifiedSince
		}
	}
	return hOther
}

// nameBit hashes a name's length and case-folded first and last bytes to
// one of 64 bits: most headers differ there, so the duplicate search is
// skipped for names never seen.
func nameBit(k []byte) uint64 {
	return 1 << ((uint(len(k)) + uint(k[0]|0x20)*7 + uint(k[len(k)-1]|0x20)*13) & 63)
}

func (r *Request) find(k []byte) int {
	if r.names&nameBit(k) == 0 {
		return -1
	}
	for i := range r.Headers {
		if eqFoldB(r.Headers[i].Name, k) {
			return i
		}
	}
	return -1
}

func (r *Request) addHeader(k, v []byte) (int, string) {
	id := headerID(k)
	switch id {
	case hHost:
		if r.hostIdx < 0 {
			if len(v) >= 1024 {
				return 400, "uri-authority too long -> 400"
			}
			lower(v)
			r.hostIdx = len(r.Headers)
			r.Headers = append(r.Headers, Header{Name: k, Value: v})
			r.names |= nameBit(k)
			r.Host = v
			return 0, ""
		}
		if eqFoldB(r.Headers[r.hostIdx].Value, v) {
			return 0, ""
		}
		return 400, "duplicate Host header -> 400"
	case hContentType, hIfModifiedSince, hIfNoneMatch, hHTTP2Settings:
		if i := r.find(k); i >= 0 {
			if id == hIfNoneMatch || eqFoldB(r.Headers[i].Value, v) {
				return 0, ""
			}
			switch id {
			case hContentType:
				return 400, "duplicate Content-Type header -> 400"
			case hIfModifiedSince:
				return 400, "duplicate If-Modified-Since header -> 400"
			}
			return 400, "duplicate HTTP2-Settings header -> 400"
		}
		if id == hHTTP2Settings {
			r.hasUpgrade = true
		}
	case hConnection:
		if hasToken(v, "close") {
			r.KeepAlive = false
		} else if hasToken(v, "keep-alive") {
			r.KeepAlive = true
		}
	case hContentLength:
		if r.hasCL {
			return 400, "duplicate Content-Length header -> 400"
		}
		n, ok := parseDigits(v)
		if !ok {
			return 400, "invalid Content-Length header -> 400"
		}
		r.hasCL = true
		if !r.Chunked {
			r.ContentLength = n
		}
	case hTransferEncoding:
		if r.Proto != HTTP11 {
			return 400, "HTTP/1.0 with Transfer-Encoding (bad HTTP/1.0 proxy?) -> 400"
		}
		if !eqFold(v, "chunked") {
			return 501, "Transfer-Encoding other than chunked -> 501"
		}
		r.Chunked, r.ContentLength = true, -1
		return 0, "" // hop-by-hop: not passed on
	case hUpgrade:
		r.hasUpgrade = true
	}
	if i := r.find(k); i >= 0 {
		sep := ", "
		if id == hCookie {
			sep = "; "
		}
		old := r.Headers[i].Value
		start := len(r.scratch)
		r.scratch = append(r.scratch, old...)
		r.scratch = append(r.scratch, sep...)
		r.scratch = append(r.scratch, v...)
		r.Headers[i].Value = r.scratch[start:len(r.scratch):len(r.scratch)]
		return 0, ""
	}
	r.Headers = append(r.Headers, Header{Name: k, Value: v})
	r.names |= nameBit(k)
	return 0, ""
}

func checkRequest(r *Request, o *ParseOptions) (int, string) {
	if o.CheckTarget != nil && r.Method != "CONNECT" &&
		!(r.Method == "OPTIONS" && len(r.Target) == 1 && r.Target[0] == '*') &&
		!o.CheckTarget(r.Target) {
		return 400, "invalid character in URI -> 400"
	}
	if r.hostIdx >= 0 {
		h, ok := r.hosts.Policy(r.Host, o, &r.scratch)
		if !ok {
			return 400, "Invalid Hostname -> 400"
		}
		r.Host = h
		r.Headers[r.hostIdx].Value = h
	} else if r.Proto == HTTP11 {
		return 400, "HTTP/1.1 but Host missing -> 400"
	}
	if r.Proto != HTTP11 && r.hasUpgrade {
		return 400, "invalid hop-by-hop header w/o HTTP/1.1 -> 400"
	}
	if r.ContentLength == 0 {
		if r.Method == "POST" && !r.hasCL {
			return 411, "POST-request, but content-length missing -> 411"
		}
	} else {
		if r.Chunked && r.hasCL {
			if o.HeaderStrict {
				return 400, "invalid Transfer-Encoding + Content-Length -> 400"
			}
			if i := r.find([]byte("Content-Length")); i >= 0 {
				r.Headers = append(r.Headers[:i], r.Headers[i+1:]...)
				if r.hostIdx > i {
					r.hostIdx--
				}
			}
		}
		if (r.Method == "GET" || r.Method == "HEAD") && !o.MethodGetBody {
			return 400, "GET/HEAD with content-length -> 400"
		}
	}
	if ev := r.Header("Expect"); ev != nil && r.Proto == HTTP11 && eqFold(ev, "100-continue") {
		r.Expect100 = true
	}
	if r.ContentLength > 0 && o.MaxRequestSize > 0 && r.ContentLength > o.MaxRequestSize {
		return 413, "request-size too long -> 413"
	}
	return 0, ""
}

// parseDigits parses 1+ decimal digits (no sign, no space), refusing
// values above int64.
func parseDigits(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		d := int64(c - '0')
		if c < '0' || c > '9' || n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// hasToken reports whether the list v holds token tok the way lighttpd
// scans it: items separated by ',' (SP and HT before one skipped), a match
// followed by the end, SP, HT, ',' or ';' (case-insensitive, quoted
// strings not handled).
func hasToken[V string | []byte](v V, tok string) bool {
	i := 0
	for {
		for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == ',') {
			i++
		}
		if len(v)-i < len(tok) {
			return false
		}
		if foldAt(v, i, tok) {
			i += len(tok)
			if i == len(v) || v[i] == ' ' || v[i] == '\t' || v[i] == ',' || v[i] == ';' {
				return true
			}
		}
		for i < len(v) && v[i] != ',' {
			i++
		}
		if i >= len(v) {
			return false
		}
	}
}

// foldAt reports whether v holds tok at i, ASCII case-insensitively
// (len(v)-i >= len(tok)).
func foldAt[V string | []byte](v V, i int, tok string) bool {
	for j := 0; j < len(tok); j++ {
		if toLower(v[i+j]) != toLower(tok[j]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool  { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }
func isXDigit(c byte) bool { return isDigit(c) || (c|0x20) >= 'a' && (c|0x20) <= 'f' }

func lower(b []byte) {
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
}

func toLower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 32
	}
	return c
}

func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if toLower(b[i]) != toLower(s[i]) {
			return false
		}
	}
	return true
}

func eqFoldB(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if toLower(a[i]) != toLower(b[i]) {
			return false
		}
	}
	return true
}

func hasPrefixFold(b []byte, p string) bool {
	return len(b) >= len(p) && eqFold(b[:len(p)], p)
}
