package httpfile

import (
	"strconv"
)

// MultipartBoundary is lighttpd's fixed multipart/byteranges boundary.
const MultipartBoundary = "fkj49sn38dcn3"

// MultipartContentType replaces Content-Type (in the same header slot) on a
// multi-range 206.
const MultipartContentType = "multipart/byteranges; boundary=" + MultipartBoundary

// multipartEnd closes a multipart/byteranges body.
const multipartEnd = "\r\n--" + MultipartBoundary + "--\r\n"

// Request carries what the file sender needs from the request. Header
// fields hold the (combined, trimmed) value; "" means absent, which is how
// lighttpd treats empty header values too.
type Request struct {
	Method string // "GET", "HEAD", "QUERY", "POST", ...
	// RangeAllowed is true when server.range-requests is enabled and the
	// request is HTTP/1.1 (or the http10.range feature flag is set).
	RangeAllowed bool

	IfNoneMatch     string
	IfModifiedSince string
	Range           string
	IfRange         string
}

// File describes the representation being sent.
type File struct {
	Size int64
	// MtimeSec is the file's modification time in Unix seconds.
	MtimeSec int64
	// ContentType is the Content-Type to send; when TypeMatched is false it
	// is ignored and "application/octet-stream" is sent without ETag and
	// Last-Modified (lighttpd's guard against caching misconfigured types).
	// For X-Sendfile with a backend-set Content-Type, pass that value and
	// TypeMatched = true: lighttpd then keeps the caching headers.
	ContentType string
	TypeMatched bool
	// ETag is the quoted ETag ("" when etags are disabled), or the
	// backend's ETag header when it sent one (lighttpd keeps it).
	ETag string
	// LastModified is AppendHTTPDate(MtimeSec) (callers usually cache it),
	// or the backend's Last-Modified; If-Modified-Since still compares
	// dates against MtimeSec, as lighttpd does.
	LastModified string
}

// Plan is the decided response. Headers are listed in lighttpd's order:
// Content-Type, ETag, Last-Modified, Content-Length, then (after any
// response_start headers) Accept-Ranges and Content-Range.
type Plan struct {
	// Status is 200, 206, 304, 412 or 416. For 412 and 416 the caller
	// produces lighttpd's error document (which drops every header set
	// here, including 416's Content-Range).
	Status int

	ContentType  string // "" = no header
	ETag         string // "" = no header
	LastModified string // "" = no header
	// ContentLength is the body length; -1 means no Content-Length header
	// (304). HEAD sends the same value with no body.
	ContentLength int64
	AcceptRanges  bool

	// Ranges holds the parts of a 206 in send order; len 1 is a single
	// range with a Content-Range header, more is multipart/byteranges.
	Ranges []Range
	// PartType is the Content-Type repeated inside each multipart part.
	PartType string
	Size     int64

	buf [MaxRanges]Range
}

// OctetStream is the fallback Content-Type.
const OctetStream = "application/octet-stream"

// isGetHeadQuery: the methods lighttpd answers with 304 (others get 412).
func isGetHeadQuery(m string) bool { return m == "GET" || m == "HEAD" || m == "QUERY" }

// Decide fills p with lighttpd's answer for sending f in reply to req:
// conditional evaluation (If-None-Match, then If-Modified-Since; lighttpd
// ignores If-Match and If-Unmodified-Since for files), then Range handling
// on the resulting 200. now (Unix seconds) is used only to read RFC 850
// two-digit years. p.Ranges points into p itself: do not copy a Plan.
func Decide(p *Plan, req *Request, f *File, now int64) {
	*p = Plan{Status: 200, ContentLength: f.Size, Size: f.Size}
	if !f.TypeMatched {
		p.ContentType = OctetStream
	} else {
		p.ContentType = f.ContentType
		p.ETag = f.ETag
		p.LastModified = f.LastModified
		if st := Conditional(req, f, now); st != 0 {
			p.Status = st
			if st == 304 {
				p.ContentLength = -1
			}
			return
		}
	}
	applyRange(p, req, f.Size)
}

// DecideRange fills p for Range handling of any other complete 200
// response (buffered FastCGI output, generated bodies) of size bytes whose
// response headers carry contentType, etag and lastModified ("" = absent).
// As in lighttpd, call it only when the body is complete, the response has
// no Content-Encoding or Transfer-Encoding, and the handler did not send
// "Accept-Ranges: none"; a handler-sent Accept-Ranges other than "none"
// means p.AcceptRanges must not add a second one.
func DecideRange(p *Plan, req *Request, size int64, contentType, etag, lastModified string) {
	*p = Plan{Status: 200, ContentLength: size, Size: size,
		ContentType: contentType, ETag: etag, LastModified: lastModified}
	applyRange(p, req, size)
}

// Conditional returns 304, 412 or 0 (carry on), in lighttpd's precedence:
// If-None-Match decides alone whenever the response has an ETag (weak
// comparison unless the request has Range; match on GET/HEAD/QUERY is 304,
// on other methods 412), and a non-matching list disables
// If-Modified-Since; otherwise If-Modified-Since on GET/HEAD/QUERY gives
// 304 per NotModifiedSince. If-Match and If-Unmodified-Since are not
// evaluated by lighttpd for files. Decide calls it only for matched types.
func Conditional(req *Request, f *File, now int64) int {
	if req.IfNoneMatch == "" && req.IfModifiedSince == "" {
		return 0
	}
	if req.IfNoneMatch != "" && f.ETag != "" {
		// Weak comparison is not allowed when the request has Range.
		if ETagMatches(f.ETag, req.IfNoneMatch, req.Range == "") {
			if isGetHeadQuery(req.Method) {
				return 304
			}
			return 412
		}
		return 0
	}
	if isGetHeadQuery(req.Method) && req.IfModifiedSince != "" && f.LastModified != "" {
		if NotModifiedSince(req.IfModifiedSince, f.LastModified, f.MtimeSec, now) {
			return 304
		}
	}
	return 0
}

func applyRange(p *Plan, req *Request, size int64) {
	if !req.RangeAllowed || (req.Method != "GET" && req.Method != "HEAD") {
		return
	}
	p.AcceptRanges = true
	if req.Method != "GET" || req.Range == "" {
		return
	}
	if req.IfRange != "" {
		// A quoted value compares with the ETag, anything else with the
		// Last-Modified string; both exactly, so a weak W/"..." never
		// matches.
		cmp := p.LastModified
		if req.IfRange[0] == '"' {
			cmp = p.ETag
		}
		if cmp == "" || cmp != req.IfRange {
			return
		}
	}
	rs, outcome := ParseRange(p.buf[:0], req.Range, size)
	switch outcome {
	case RangeIgnored:
		return
	case RangeUnsatisfiable:
		p.Status = 416
		p.ContentLength = -1
		return
	}
	p.Status = 206
	p.Ranges = rs
	if len(rs) == 1 {
		p.ContentLength = rs[0].Len()
		return
	}
	p.PartType = p.ContentType
	p.ContentType = MultipartContentType
	var total int64
	for i, r := range rs {
		total += int64(partHeaderLen(i == 0, p.PartType, r, size)) + r.Len()
	}
	p.ContentLength = total + int64(len(multipartEnd))
}

// AppendContentRange appends the single-range Content-Range value.
func (p *Plan) AppendContentRange(dst []byte) []byte {
	return AppendContentRange(dst, p.Ranges[0], p.Size)
}

// Multipart reports whether the 206 body is multipart/byteranges.
func (p *Plan) Multipart() bool { return len(p.Ranges) > 1 }

// AppendPartHeader appends the boundary and headers that precede part i of
// a multipart body. The body is, for each part, this header followed by the
// part's bytes, then AppendMultipartEnd.
func (p *Plan) AppendPartHeader(dst []byte, i int) []byte {
	return appendPartHeader(dst, i == 0, p.PartType, p.Ranges[i], p.Size)
}

// AppendMultipartEnd appends the closing boundary.
func AppendMultipartEnd(dst []byte) []byte { return append(dst, multipartEnd...) }

// Each part header is "\r\n--BOUNDARY[\r\nContent-Type: T]\r\nContent-Range:
// bytes A-B/N\r\n\r\n", the very first without its leading CRLF.
func appendPartHeader(dst []byte, first bool, ctype string, r Range, size int64) []byte {
	if !first {
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "--"+MultipartBoundary...)
	if ctype != "" {
		dst = append(dst, "\r\nContent-Type: "...)
		dst = append(dst, ctype...)
	}
	dst = append(dst, "\r\nContent-Range: "...)
	dst = AppendContentRange(dst, r, size)
	return append(dst, "\r\n\r\n"...)
}

func partHeaderLen(first bool, ctype string, r Range, size int64) int {
	n := len("--"+MultipartBoundary) + len("\r\nContent-Range: bytes ") + 2 + len("\r\n\r\n")
	if !first {
		n += 2
	}
	if ctype != "" {
		n += len("\r\nContent-Type: ") + len(ctype)
	}
	return n + decLen(r.Start) + decLen(r.End) + decLen(size)
}

func decLen(v int64) int {
	var b [20]byte
	return len(strconv.AppendInt(b[:0], v, 10))
}
