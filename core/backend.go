package core

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/golighty/golighty/core/h1"
)

// MaxBackendHead bounds a backend's response header block: past it the
// response is a 502, not an unbounded buffer (lighttpd uses 64 KiB too).
const MaxBackendHead = 64 << 10

// BackendKind says which gateway produced a response; a few header rules
// differ (lighttpd's opts->backend).
type BackendKind uint8

const (
	BackendFastCGI BackendKind = iota
	BackendCGI
	BackendSCGI
	BackendProxy
	BackendAJP13
)

// BackendOpts are the per-backend choices that shape response processing.
type BackendOpts struct {
	Kind       BackendKind
	Authorizer bool
	// XSendfile honours the handoff headers (x-sendfile / allow-x-send-file).
	XSendfile bool
	// XSendfileDocroots limits handoff paths (each ends in "/"); empty: any.
	XSendfileDocroots []string
}

// BackendHead is what BackendHeaders decided.
type BackendHead struct {
	// Handoff is set when an X-Sendfile-family header took over the
	// response: the backend body must be read and discarded.
	Handoff bool
	// ContentLength is the backend's Content-Length (-1 when absent).
	ContentLength int64
	// Chunked is set when the backend framed its body with chunked encoding.
	Chunked bool
	// Approved is set for an authorizer that allowed the request.
	Approved bool
	// StatusSet is set when the backend chose the status itself (a Status
	// header or a status line) rather than the default 200 or a Location's
	// 302: CGI local redirects apply only to the latter.
	StatusSet bool
	// Close is set when an HTTP backend ends the connection after this
	// response (Connection: close, or an HTTP/1.0 status line): it cannot
	// carry another request.
	Close bool
}

// ErrBadBackendHead is wrapped by every malformed-response error (502).
var ErrBadBackendHead = errors.New("invalid response headers from backend")

// BackendHeaders reads a CGI-style response head from br (lines ended by LF
// or CRLF, then an empty line) into rc.Resp with lighttpd's rules
// (behaviors.md §7.4), then honours the X-Sendfile family when the backend
// enables it (§7.5). On error the response is set to 502 and logged; the
// caller stops reading the backend.
func (rc *Request) BackendHeaders(br *bufio.Reader, o *BackendOpts) (BackendHead, error) {
	bh := BackendHead{ContentLength: -1}
	resp := &rc.Resp
	resp.Dynamic = true
	fail := func(format string, args ...any) (BackendHead, error) {
		err := fmt.Errorf("%w: "+format, append([]any{ErrBadBackendHead}, args...)...)
		rc.Logf("%v (%s)", err, rc.URI.Path)
		resp.Header.Reset()
		resp.Status = 502
		resp.Dynamic = false
		return bh, err
	}
	total := 0
	first := true
	clSeen := false
	var xsf, xsf2 string
	var va valueArena
	for {
		line, err := br.ReadSlice('\n')
		total += len(line)
		if total > MaxBackendHead {
			return fail("response headers too large for %s", rc.URI.Path)
		}
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return fail("response headers too large for %s", rc.URI.Path)
			}
			if errors.Is(err, io.EOF) && len(line) == 0 && first {
				return fail("no response received")
			}
			return fail("response ended inside the headers: %v", err)
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte{'\n'}), []byte{'\r'})
		if len(line) == 0 {
			if st := resp.Status; st >= 100 && st < 200 && st != 101 && !first {
				// An interim response (100 Continue, 103 Early Hints):
				// lighttpd discards it and reads the final one.
				resp.Status = 0
				resp.Header.Reset()
				va.reset()
				first, xsf, xsf2, clSeen = true, "", "", false
				bh = BackendHead{ContentLength: -1}
				continue
			}
			break
		}
		if first {
			first = false
			if len(line) >= 12 && bytes.HasPrefix(line, []byte("HTTP/")) {
				st, ok := nphStatus(line, o.Kind == BackendProxy)
				if !ok {
					return fail("invalid HTTP status line: %q", truncate(line))
				}
				resp.Status = st
				bh.StatusSet = true
				bh.Close = line[7] == '0'
				continue
			}
			if o.Kind == BackendProxy {
				// An HTTP backend must start with a status line.
				return fail("invalid HTTP status line: %q", truncate(line))
			}
			if bytes.IndexByte(line, ':') < 0 {
				return fail("first line is not a header: %q", truncate(line))
			}
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue // lighttpd skips lines without a name
		}
		name := line[:colon]
		value := trimSpaceLeft(line[colon+1:])
		if splits(value) || bytes.IndexByte(name, 0) >= 0 {
			// Stricter than lighttpd on purpose: a value that could split
			// the response is refused, never forwarded.
			return fail("header %q holds a control character", truncate(name))
		}
		if c := name[len(name)-1]; c == ' ' || c == '\t' {
			continue // whitespace before ':' is dropped, as lighttpd
		}
		if !isToken(name) {
			// Stricter than lighttpd: " x: y" would reach the client as a
			// folded continuation of the previous field.
			continue
		}
		n, in := internName(name)
		f := fieldOf(n, in)
		if o.Authorizer && (resp.Status == 0 || resp.Status == 200) {
			switch {
			case f == fieldStatus:
				st, ok := statusValue(value)
				if !ok {
					return fail("invalid Status: %q", truncate(value))
				}
				resp.Status = st
			case len(n) > 9 && strings.EqualFold(n[:9], "Variable-"):
				rc.Env.Append(n[9:], string(value))
			}
			continue
		}
		switch {
		case f == fieldStatus && o.Kind != BackendProxy:
			st, ok := statusValue(value)
			if !ok {
				return fail("invalid Status: %q", truncate(value))
			}
			resp.Status = st
			bh.StatusSet = true
			continue
		case f == fieldUpgrade && o.Kind != BackendProxy && o.Kind != BackendCGI:
			continue
		case f == fieldConnection:
			if o.Kind == BackendProxy {
				if h1.HasToken(value, "close") {
					bh.Close = true
				}
				continue
			}
			if h1.HasToken(value, "close") {
				rc.KeepAlive = false
			}
		case f == fieldContentType:
			if bytes.HasPrefix(value, []byte("application/javascript")) {
				value = append([]byte("text/"), value[len("application/"):]...)
			}
		case f == fieldContentLength:
			// The first one counts, as in lighttpd; an unparsable one
			// leaves the body to end with the connection and is not
			// forwarded (lighttpd forwards it and "hopes for the best").
			if bh.Chunked || clSeen {
				continue
			}
			clSeen = true
			v := bytes.TrimRight(bytes.TrimPrefix(value, []byte{'+'}), " \t")
			cl, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil || cl < 0 {
				continue
			}
			bh.ContentLength = cl
		case f == fieldTransferEncoding:
			bh.Chunked = true
			bh.ContentLength = -1
			va.flush(&resp.Header) // a Content-Length waiting for its value is emptied too
			resp.Header.Del("Content-Length")
			continue
		case f == fieldHTTP2Settings:
			continue
		case f == fieldXSendfile, f == fieldXSendResponseBody:
			if xsf == "" {
				xsf = string(value)
			}
			continue
		case f == fieldXLighttpdSendFile:
			if xsf == "" && o.Kind == BackendFastCGI {
				xsf = string(value)
			}
			continue
		case f == fieldXSendfile2:
			// Never forwarded, unlike lighttpd with x-sendfile disabled: a
			// handoff header must not leak a path to the client.
			if o.Kind == BackendFastCGI && xsf2 == "" {
				xsf2 = string(value)
			}
			continue
		}
		switch {
		case len(value) == 0:
		case in != nil && in.keepValue:
			resp.Header.Append(n, internValue(in, value))
		default:
			va.add(&resp.Header, n, value)
		}
	}
	va.flush(&resp.Header)
	if o.Authorizer {
		if resp.Status == 0 || resp.Status == 200 {
			bh.Approved = true
		}
		return bh, nil
	}
	if resp.Status == 0 {
		resp.Status = 200
		if resp.Header.Has("Location") {
			resp.Status = 302
		}
	}
	if !o.XSendfile {
		return bh, nil
	}
	switch {
	case xsf2 != "":
		bh.Handoff = true
		rc.sendfile2(xsf2, o)
	case xsf != "":
		bh.Handoff = true
		rc.xsendfile(xsf, o)
	}
	return bh, nil
}

func truncate(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}

// nphStatus reads "HTTP/1.x NNN ..." (non-parsed-header backends; other
// major versions are accepted too, except from an HTTP proxy backend).
func nphStatus(line []byte, proxy bool) (int, bool) {
	if len(line) < 12 || (proxy && line[5] != '1') || line[6] != '.' || (line[7] != '0' && line[7] != '1') || line[8] != ' ' {
		return 0, false
	}
	return statusValue(line[9:])
}

// statusValue parses "NNN[ text]" with NNN in 100..999.
func statusValue(v []byte) (int, bool) {
	if len(v) < 3 || (len(v) > 3 && v[3] != ' ' && v[3] != '\t') {
		return 0, false
	}
	n := 0
	for _, c := range v[:3] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n >= 100
}

// trimSpaceLeft drops the spaces and tabs a value starts with (what
// bytes.TrimLeft(v, " \t") does, without building its character set).
func trimSpaceLeft(v []byte) []byte {
	i := 0
	for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	return v[i:]
}

// splits reports a CR or NUL in a header value, in one pass.
func splits(v []byte) bool {
	for _, c := range v {
		if c <= '\r' && (c == '\r' || c == 0) {
			return true
		}
	}
	return false
}

// isToken reports whether name is an HTTP field name (RFC 9110 token).
func isToken(name []byte) bool {
	for _, c := range name {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return len(name) > 0
}
