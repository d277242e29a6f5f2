package h2

import (
	"bytes"
	"time"
	"unsafe"

	"github.com/golighty/golighty/core/h1"
	"golang.org/x/net/http2/hpack"
)

// Request is one request stream. Its slices are views of strings the HPACK
// decoder produced and of the stream's scratch buffer: valid until the
// handler returns.
type Request struct {
	StreamID uint32
	Method   string // interned ("GET"); "" when unknown (Status 501)
	Target   []byte // :path (the authority for CONNECT)
	// Headers in arrival order with lighttpd's joining rules; :authority
	// appears as a "host" field. Names are lower-case, as HTTP/2 sends them.
	Headers []h1.Header
	// Host is the validated, normalized authority (nil if none).
	Host []byte
	// ContentLength is the declared body length, -1 when a body comes
	// without content-length, 0 for none.
	ContentLength int64
	// Expect100 reports "expect: 100-continue": ":status 100" is sent on
	// the first body read if no body byte has arrived.
	Expect100 bool
	// HeadLen is the size of the decoded header fields as lighttpd counts
	// it (name + value + 4 per field, + 2).
	HeadLen int
	// Status is non-zero when lighttpd's rules refuse the request (400,
	// 411, 413, 431, 501); Reason is its error-log text.
	Status int
	Reason string

	Conn *h1.ConnInfo
	Seq  int // 1-based request number on the connection
	// Arrived is when the stream's header block was complete (the
	// request's start, as the stream's first read-idle stamp).
	Arrived time.Time
	Body    *Body // nil when the request has no body
}

// Header returns the value of the first field named name (ASCII
// case-insensitive), or nil.
func (r *Request) Header(name string) []byte {
	for i := range r.Headers {
		if eqFold(r.Headers[i].Name, name) {
			return r.Headers[i].Value
		}
	}
	return nil
}

// fieldParser turns decoded fields into a Request following lighttpd's
// http_request_parse_header for HTTP/2 and RFC 9113 §8.2-8.3.
type fieldParser struct {
	r       *Request
	scratch *[]byte
	opts    *h1.ParseOptions
	max     int // server.max-request-field-size
	size    int
	trailer bool
	over    bool // past max-request-field-size

	pseudoDone                    bool
	hasMethod, hasScheme, hasPath bool
	hasAuthority, hasCL           bool
	malformed                     string // RFC 9113 malformed: RST_STREAM PROTOCOL_ERROR
	hostIdx                       int
	cookieIdx                     int

	hosts h1.HostCache // the connection's, kept across requests
}

func (p *fieldParser) reset(r *Request, scratch *[]byte, opts *h1.ParseOptions, max int, trailer bool) {
	*p = fieldParser{r: r, scratch: scratch, opts: opts, max: max, trailer: trailer, hostIdx: -1, cookieIdx: -1, hosts: p.hosts}
}

// refuse records lighttpd's status for the request (the first one wins).
func (p *fieldParser) refuse(status int, why string) {
	if p.r.Status == 0 {
		p.r.Status, p.r.Reason = status, why
	}
}

func (p *fieldParser) bad(why string) {
	if p.malformed == "" {
		p.malformed = why
	}
}

func view(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// field handles one decoded field. Decoding goes on after an error so the
// HPACK state stays in step with the client's encoder.
func (p *fieldParser) field(f hpack.HeaderField) {
	p.size += len(f.Name) + len(f.Value) + 4
	if p.malformed != "" || p.over {
		return
	}
	if p.size > p.max && !p.trailer {
		// Decoding goes on (HPACK state), keeping nothing more.
		p.over = true
		p.refuse(431, "oversized request header -> 431")
		return
	}
	if f.Name == "" {
		p.bad("empty field name")
		return
	}
	if p.trailer {
		if f.Name[0] == ':' {
			p.bad("pseudo-header in trailers")
		} else if !lowerName(f.Name) {
			p.bad("upper-case field name")
		}
		return // trailers are decoded, checked and dropped, as lighttpd does
	}
	if f.Name[0] == ':' {
		p.pseudo(f)
		return
	}
	if !p.pseudoDone {
		p.pseudoDone = true
		p.checkPseudo()
		if p.malformed != "" {
			return
		}
	}
	p.regular(f)
}

func (p *fieldParser) pseudo(f hpack.HeaderField) {
	r := p.r
	if p.pseudoDone {
		p.bad("pseudo-header after regular field")
		return
	}
	v := view(f.Value)
	switch f.Name {
	case ":method":
		if p.hasMethod || v == nil {
			p.bad("repeated or empty :method")
			return
		}
		p.hasMethod = true
		r.Method = h1.LookupMethod(v)
		if r.Method == "" {
			p.refuse(501, "unknown http-method -> 501")
		}
	case ":scheme":
		if p.hasScheme || v == nil {
			p.bad("repeated or empty :scheme")
			return
		}
		p.hasScheme = true
	case ":path":
		if p.hasPath || v == nil {
			p.bad("repeated or empty :path")
			return
		}
		p.hasPath = true
		r.Target = v
	case ":authority":
		if p.hasAuthority {
			p.bad("repeated :authority")
			return
		}
		p.hasAuthority = true
		if v == nil {
			return
		}
		if len(v) >= 1024 {
			p.refuse(400, "invalid pseudo-header authority too long -> 400")
			return
		}
		p.setHost(v)
	default:
		// :status, and :protocol (extended CONNECT is not advertised)
		p.bad("unknown pseudo-header " + f.Name)
	}
}

// checkPseudo runs when the pseudo-header fields are complete
// (http_request_validate_pseudohdrs).
func (p *fieldParser) checkPseudo() {
	r := p.r
	if !p.hasMethod {
		p.bad("missing :method")
		return
	}
	if r.Method == "CONNECT" {
		if !p.hasAuthority || p.hasScheme || p.hasPath {
			p.bad("CONNECT needs :authority alone")
			return
		}
		r.Target = r.Host
		return
	}
	if !p.hasScheme || !p.hasPath {
		p.bad("missing :scheme or :path")
		return
	}
	if t := r.Target; t[0] != '/' && !(len(t) == 1 && t[0] == '*' && r.Method == "OPTIONS") {
		p.refuse(400, "invalid pseudo-header path -> 400")
		return
	}
	for _, c := range r.Target {
		if c <= ' ' || c == 0x7f {
			p.refuse(400, "invalid character in URI -> 400")
			return
		}
	}
}

func (p *fieldParser) setHost(v []byte) {
	s := *p.scratch
	start := len(s)
	for _, c := range v {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		s = append(s, c)
	}
	*p.scratch = s
	h := s[start:len(s):len(s)]
	p.r.Host = h
	p.hostIdx = len(p.r.Headers)
	p.r.Headers = append(p.r.Headers, h1.Header{Name: hostName, Value: h})
}

var (
	hostName   = []byte("host")
	cookieName = []byte("cookie")
)

func lowerName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

func (p *fieldParser) regular(f hpack.HeaderField) {
	r := p.r
	if !lowerName(f.Name) {
		p.bad("upper-case field name")
		return
	}
	name, v := view(f.Name), view(f.Value)
	if st, _ := h1.CheckFieldName(name, true); st != 0 {
		p.bad("invalid field name")
		return
	}
	// CR, LF and NUL are among the bytes header-strict refuses: a value
	// that passes the (word-at-a-time) strict check holds none of them.
	if !h1.ValidFieldValue(v) {
		if bytes.ContainsAny(v, "\r\n\x00") {
			p.bad("CR, LF or NUL in a field value")
			return
		}
		if p.opts.HeaderStrict {
			p.refuse(400, "invalid character in header -> 400")
			return
		}
	}
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	switch f.Name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		p.bad("connection-specific field " + f.Name)
		return
	case "te":
		if !eqFold(v, "trailers") {
			p.bad("te other than trailers")
			return
		}
	}
	if len(v) == 0 {
		return // empty values are dropped, as lighttpd does
	}
	switch f.Name {
	case "host":
		if r.Host == nil {
			if len(v) >= 1024 {
				p.refuse(400, "uri-authority too long -> 400")
				return
			}
			p.setHost(v)
			return
		}
		if !eqFoldB(r.Host, v) {
			p.refuse(400, "duplicate Host header -> 400")
		}
		return
	case "content-length":
		if p.hasCL {
			p.refuse(400, "duplicate Content-Length header -> 400")
			return
		}
		n, ok := parseDigits(v)
		if !ok {
			p.refuse(400, "invalid Content-Length header -> 400")
			return
		}
		p.hasCL = true
		r.ContentLength = n
	case "content-type", "if-modified-since", "http2-settings":
		if i := p.find(name); i >= 0 {
			if !eqFoldB(r.Headers[i].Value, v) {
				p.refuse(400, "duplicate "+f.Name+" header -> 400")
			}
			return
		}
		if f.Name == "http2-settings" {
			p.refuse(400, "invalid hop-by-hop header w/o HTTP/1.1 -> 400")
			return
		}
	case "if-none-match":
		if p.find(name) >= 0 {
			return
		}
	case "expect":
		if eqFold(v, "100-continue") {
			r.Expect100 = true
		}
	case "cookie":
		// RFC 9113 §8.2.3: split crumbs are joined with "; ".
		if p.cookieIdx >= 0 {
			p.join(p.cookieIdx, "; ", v)
			return
		}
		p.cookieIdx = len(r.Headers)
		r.Headers = append(r.Headers, h1.Header{Name: cookieName, Value: v})
		return
	}
	if i := p.find(name); i >= 0 {
		p.join(i, ", ", v)
		return
	}
	r.Headers = append(r.Headers, h1.Header{Name: name, Value: v})
}

func (p *fieldParser) find(name []byte) int {
	for i := range p.r.Headers {
		if string(p.r.Headers[i].Name) == string(name) {
			return i
		}
	}
	return -1
}

func (p *fieldParser) join(i int, sep string, v []byte) {
	s := *p.scratch
	start := len(s)
	s = append(s, p.r.Headers[i].Value...)
	s = append(s, sep...)
	s = append(s, v...)
	*p.scratch = s
	p.r.Headers[i].Value = s[start:len(s):len(s)]
}

// finish runs lighttpd's whole-request checks once the block is decoded.
// endStream is the HEADERS frame's END_STREAM flag.
func (p *fieldParser) finish(endStream bool) {
	r := p.r
	r.HeadLen = p.size + 2
	if p.trailer || p.malformed != "" {
		return
	}
	if !p.pseudoDone {
		p.pseudoDone = true
		p.checkPseudo()
		if p.malformed != "" {
			return
		}
	}
	if p.hasCL && endStream && r.ContentLength > 0 {
		p.bad("content-length without body")
		return
	}
	if !p.hasCL && !endStream {
		r.ContentLength = -1
	}
	if r.Status != 0 {
		return
	}
	o := p.opts
	if o.CheckTarget != nil && r.Method != "CONNECT" && !(r.Method == "OPTIONS" && string(r.Target) == "*") &&
		!o.CheckTarget(r.Target) {
		p.refuse(400, "invalid character in URI -> 400")
		return
	}
	if r.Host == nil {
		p.refuse(400, "HTTP/1.1 but Host missing -> 400")
		return
	}
	h, ok := p.hosts.Policy(r.Host, o, p.scratch)
	if !ok {
		p.refuse(400, "Invalid Hostname -> 400")
		return
	}
	r.Host = h
	r.Headers[p.hostIdx].Value = h
	// lighttpd checks the length before HTTP/2 sets it from END_STREAM: a
	// POST without content-length is refused even when DATA follows.
	if r.Method == "POST" && !p.hasCL {
		p.refuse(411, "POST-request, but content-length missing -> 411")
		return
	}
	if p.hasCL && r.ContentLength > 0 && (r.Method == "GET" || r.Method == "HEAD") && !o.MethodGetBody {
		p.refuse(400, "GET/HEAD with content-length -> 400")
		return
	}
	if o.MaxRequestSize > 0 && r.ContentLength > o.MaxRequestSize {
		p.refuse(413, "request-size too long -> 413")
	}
}

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

func toLower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
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
