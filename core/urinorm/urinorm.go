// Package urinorm implements lighttpd 1.4.69's request-target normalization
// (server.http-parseopts url-* options), path decoding and path
// simplification (behaviors.md §2).
//
// The []byte functions append to a caller buffer and allocate nothing when
// it is large enough; Parse wraps them for string callers and allocates only
// when normalization changes something.
package urinorm

import (
	"bytes"
	"errors"
	"runtime"
	"unsafe"
)

// ErrInvalidTarget is returned for a target lighttpd answers with 400
// ("invalid character in URI -> 400" or "uri-path does not begin with '/'").
var ErrInvalidTarget = errors.New("urinorm: invalid request target")

const hexUpper = "0123456789ABCDEF"

// mustEncode marks bytes that are not allowed unencoded in a request-target:
// everything except A-Z a-z 0-9 - . _ ~ ! $ & ' ( ) * + , ; = : @ / ?
var mustEncode = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = true
	}
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/?") {
		t[c] = false
	}
	return t
}()

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// invalidUTF8Lead: bytes that never start valid UTF-8 and that lighttpd
// checks for (overlong ASCII leads and leads beyond U+10FFFF).
func invalidUTF8Lead(b byte) bool { return b >= 0xF5 || b|1 == 0xC1 }

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// pctByte decodes "%XX" at s[i].
func pctByte(s []byte, i int) (byte, bool) {
	if i+2 >= len(s) || s[i] != '%' {
		return 0, false
	}
	h, ok1 := unhex(s[i+1])
	l, ok2 := unhex(s[i+2])
	return h<<4 | l, ok1 && ok2
}

// NormalizeTarget appends the normalized form of a request-target (starting
// with '/', fragment allowed) to dst. qs is the index in out of the '?' that
// starts the query, or -1. An error means 400.
//
// With o.URLNormalize off, only the fragment is cut. Otherwise, in order:
// percent-encoding is normalized (unreserved or required mode), invalid UTF-8
// lead bytes and control characters are rejected, %2F in the path is decoded
// or rejected, "." ".." and "//" in the path are resolved or rejected, and
// %20 in the query becomes '+'.
func NormalizeTarget(dst, target []byte, o *Options) (out []byte, qs int, err error) {
	base := len(dst)
	if !o.URLNormalize {
		if i := bytes.IndexByte(target, '#'); i >= 0 {
			target = target[:i]
		}
		dst = append(dst, target...)
		return dst, index(dst[base:], '?'), nil
	}
	var invalid bool
	if o.NormalizeRequired {
		dst, qs, invalid = encodeTarget(dst, target, o, true)
	} else {
		dst, qs, invalid = encodeTarget(dst, target, o, false)
	}
	t := dst[base:]
	if invalid {
		if o.InvalidUTF8Reject {
			return dst[:base], -1, ErrInvalidTarget
		}
		// lighttpd re-scans for the first '?' in this case (which differs
		// from required mode's last '?').
		qs = index(t, '?')
	}
	if o.CtrlsReject && hasEncodedCtrl(t) {
		return dst[:base], -1, ErrInvalidTarget
	}
	if o.Path2FDecode || o.Path2FReject {
		pathEnd := len(t)
		if qs >= 0 {
			pathEnd = qs
		}
		if i := bytes.Index(t[:pathEnd], []byte("%2F")); i >= 0 {
			if !o.Path2FDecode {
				return dst[:base], -1, ErrInvalidTarget
			}
			n := replaceEscape(t[i:pathEnd], '2', 'F', '/')
			removed := pathEnd - i - n
			copy(t[i+n:], t[pathEnd:])
			t = t[:len(t)-removed]
			dst = dst[:base+len(t)]
			if qs >= 0 {
				qs -= removed
			}
		}
	}
	if o.PathDotsegRemove || o.PathDotsegReject {
		pathEnd := len(t)
		if qs >= 0 {
			pathEnd = qs
		}
		if needsSimplify(t[:pathEnd]) {
			if o.PathDotsegReject {
				return dst[:base], -1, ErrInvalidTarget
			}
			// Simplification only shrinks the path, so it can run in place.
			p := SimplifyPath(t[:0], t[:pathEnd])
			n := len(p)
			copy(t[n:], t[pathEnd:])
			t = t[:len(t)-(pathEnd-n)]
			dst = dst[:base+len(t)]
			if qs >= 0 {
				qs = n
			}
		}
	}
	if o.Query20Plus && qs >= 0 {
		q := t[qs+1:]
		n := replaceEscape(q, '2', '0', '+')
		dst = dst[:base+qs+1+n]
	}
	if qs >= 0 {
		qs += base
	}
	return dst, qs, nil
}

func index(b []byte, c byte) int { return bytes.IndexByte(b, c) }

// encodeTarget encodes every byte that must not appear raw, re-encodes a
// '%' that does not start a valid escape as %25, upper-cases the hex of the
// escapes it keeps, and stops at '#'. Which escapes it decodes depends on
// the mode:
//   - url-normalize-unreserved: only unreserved characters; qs is the first
//     '?'.
//   - url-normalize-required: every byte that may appear raw, except '/'
//     and '?' in the path and '&' '=' ';' '+' in the query; as in lighttpd,
//     every raw '?' moves the start of the query, so qs is the last one.
func encodeTarget(dst, s []byte, o *Options, required bool) ([]byte, int, bool) {
	base := len(dst)
	qs := -1
	invalid := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && o.PathBackslashTrans && runtime.GOOS == "windows" && qs < 0 {
			c = '/'
		}
		switch {
		case !mustEncode[c]:
			if c == '?' && (required || qs < 0) {
				qs = len(dst) - base
			}
			dst = append(dst, c)
		case c == '%':
			if x, ok := pctByte(s, i); ok {
				i += 2
				if decodeEscape(x, required, qs >= 0) {
					dst = append(dst, x)
				} else {
					dst = append(dst, '%', hexUpper[x>>4], hexUpper[x&15])
					invalid = invalid || invalidUTF8Lead(x)
				}
				continue
			}
			dst = append(dst, "%25"...)
		case c == '#':
			return dst, qs, invalid
		default:
			dst = append(dst, '%', hexUpper[c>>4], hexUpper[c&15])
			invalid = invalid || invalidUTF8Lead(c)
		}
	}
	return dst, qs, invalid
}

// decodeEscape reports whether the escaped byte x is written raw.
func decodeEscape(x byte, required, inQuery bool) bool {
	if !required {
		return isUnreserved(x)
	}
	if mustEncode[x] {
		return false
	}
	if inQuery {
		return x != '&' && x != '=' && x != ';' && x != '+'
	}
	return x != '/' && x != '?'
}

// hasEncodedCtrl: after normalization every '%' is followed by two upper-case
// hex digits, so %00-%1F and %7F are recognised by their first digit.
func hasEncodedCtrl(t []byte) bool {
	for i := 0; i+2 < len(t); i++ {
		if t[i] == '%' && (t[i+1] < '2' || t[i+1] == '7' && t[i+2] == 'F') {
			return true
		}
	}
	return false
}

// replaceEscape rewrites every "%HL" (hex digits as written, upper-case
// after normalization) to the byte c in place and returns the new length:
// "%2F" -> '/' in paths, "%20" -> '+' in queries.
func replaceEscape(p []byte, h, l, c byte) int {
	j := 0
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) && p[i+1] == h && p[i+2] == l {
			p[j] = c
			i += 2
		} else {
			p[j] = p[i]
		}
		j++
	}
	return j
}

// needsSimplify reports a "." or ".." segment (ended by '/', '?' or the end)
// or a "//" in path, lighttpd's trigger for simplification.
func needsSimplify(p []byte) bool {
	segStart := true
	for i := 0; i < len(p); i++ {
		c := p[i]
		if segStart && c == '.' {
			j := i + 1
			if j < len(p) && p[j] == '.' {
				j++
			}
			if j == len(p) || p[j] == '/' || p[j] == '?' {
				return true
			}
		}
		if c == '/' && i+1 < len(p) && p[i+1] == '/' {
			return true
		}
		segStart = c == '/'
	}
	return false
}

// SplitQuery splits a normalized target at qs (from NormalizeTarget; -1 for
// none) into path and query.
func SplitQuery(normalized []byte, qs int) (path, query []byte) {
	if qs < 0 || qs >= len(normalized) {
		return normalized, nil
	}
	return normalized[:qs], normalized[qs+1:]
}

// DecodePath appends path to dst with every valid %XX decoded ('+' is not
// special) and decoded control characters (< 0x20, 0x7F) replaced by '_'.
// dst may be path[:0] to decode in place.
func DecodePath(dst, path []byte) []byte {
	for i := 0; i < len(path); i++ {
		if x, ok := pctByte(path, i); ok {
			if x < 0x20 || x == 0x7f {
				x = '_'
			}
			dst = append(dst, x)
			i += 2
			continue
		}
		dst = append(dst, path[i])
	}
	return dst
}

// SimplifyPath appends path to dst with "//" collapsed, "." segments removed
// and ".." segments removing the previous one (never above the root). A
// trailing "." or ".." leaves a trailing '/'. dst may be path[:0] to work in
// place (the result is never longer than the input).
//
// A path not starting with '/' is handled like lighttpd's
// buffer_path_simplify: "./x" and "../x" become "/x", a first segment is
// kept unless a ".." removes it, and "." or ".." alone become empty.
func SimplifyPath(dst, path []byte) []byte {
	if len(path) == 0 {
		return dst
	}
	base := len(dst)
	i := 0
	root := true
	if path[0] != '/' {
		switch {
		case bytes.HasPrefix(path, []byte("./")):
			i = 1
		case bytes.HasPrefix(path, []byte("../")):
			i = 2
		case len(path) <= 2 && path[0] == '.' && (len(path) == 1 || path[1] == '.'):
			return dst
		default:
			j := bytes.IndexByte(path, '/')
			if j < 0 {
				return append(dst, path...)
			}
			dst = append(dst, path[:j]...)
			i = j
			root = false
		}
	}
	if root {
		dst = append(dst, '/')
	}
	// Invariant: dst[base:] is "/" or a sequence of names joined by '/'
	// (with or without the leading '/'); a name is preceded by its '/' only
	// when written, so output never runs ahead of input (in place is safe).
	trailing := false
	for i < len(path) { // path[i] == '/'
		i++
		j := i
		for j < len(path) && path[j] != '/' {
			j++
		}
		seg := path[i:j]
		switch {
		case len(seg) == 0 || len(seg) == 1 && seg[0] == '.':
			trailing = true
		case len(seg) == 2 && seg[0] == '.' && seg[1] == '.':
			out := dst[base:]
			switch k := bytes.LastIndexByte(out, '/'); {
			case k < 0:
				// ".." removed the first segment of a relative path.
				dst = append(dst[:base], '/')
			case k == 0:
				dst = dst[:base+1]
			default:
				dst = dst[:base+k]
			}
			trailing = true
		default:
			if dst[len(dst)-1] != '/' {
				dst = append(dst, '/')
			}
			dst = append(dst, seg...)
			trailing = false
		}
		i = j
	}
	if trailing && dst[len(dst)-1] != '/' {
		dst = append(dst, '/')
	}
	return dst
}

// Target is a parsed request-target.
type Target struct {
	Normalized string // normalized target incl. query (url.rewrite*, url.redirect)
	Path       string // decoded, simplified path (r->uri.path)
	Query      string // query after the first/selected '?', still encoded
	HasQuery   bool
}

// Parse normalizes target, decodes and simplifies its path (behaviors.md §2)
// and returns ErrInvalidTarget where lighttpd answers 400, including a
// decoded path that does not start with '/'. Strings that normalization
// leaves unchanged are substrings of target, so a typical target costs no
// allocation.
func Parse(target string, o *Options) (Target, error) {
	if t, ok := plainTarget(target, o); ok {
		return t, nil
	}
	return parse(target, o)
}

// plainTarget is Parse for the usual target, which every step leaves as it
// is: it starts with '/', every byte may appear raw (no '%' escape, no '#',
// nothing to encode) and its path has no "." or ".." segment and no "//".
// Whatever the options, it is then its own normalized form and its path
// needs no decoding or simplifying: one pass over it instead of five
// (BenchmarkParse: 340 ns for a 51-byte target, a few percent of a small
// static request).
func plainTarget(target string, o *Options) (Target, bool) {
	if len(target) == 0 || target[0] != '/' {
		return Target{}, false
	}
	// Only required mode lets every '?' move the query's start.
	lastQ := o.URLNormalize && o.NormalizeRequired
	qs := -1
	for i := 1; i < len(target); i++ {
		c := target[i]
		if mustEncode[c] {
			return Target{}, false
		}
		if c == '?' && (qs < 0 || lastQ) {
			qs = i
		}
	}
	t := Target{Normalized: target, Path: target}
	if qs >= 0 {
		t.Path, t.Query, t.HasQuery = target[:qs], target[qs+1:], true
	}
	if needsSimplify(readOnlyBytes(t.Path)) {
		return Target{}, false
	}
	return t, true
}

// parse is Parse step by step.
func parse(target string, o *Options) (Target, error) {
	var nbuf, pbuf [256]byte
	out, qs, err := NormalizeTarget(nbuf[:0], readOnlyBytes(target), o)
	if err != nil {
		return Target{}, err
	}
	var t Target
	if string(out) == target {
		t.Normalized = target
	} else {
		t.Normalized = string(out)
	}
	path := t.Normalized
	if qs >= 0 {
		path, t.Query, t.HasQuery = t.Normalized[:qs], t.Normalized[qs+1:], true
	}
	p := DecodePath(pbuf[:0], readOnlyBytes(path))
	p = SimplifyPath(p[:0], p)
	if len(p) == 0 || p[0] != '/' {
		return Target{}, ErrInvalidTarget
	}
	if string(p) == path {
		t.Path = path
	} else {
		t.Path = string(p)
	}
	return t, nil
}

// readOnlyBytes views s as bytes without copying ([]byte(s) allocates for
// strings over 32 bytes). Only for NormalizeTarget's target and DecodePath's
// path arguments, which are read, never written.
func readOnlyBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// relURIKeep marks the bytes lighttpd's ENCODING_REL_URI leaves as they
// are: A-Z a-z 0-9 ! ( ) * - . / _ ~.
var relURIKeep = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!()*-./_~") {
		t[c] = true
	}
	return t
}()

// AppendRelURI appends s percent-encoded as lighttpd encodes paths it puts
// into URLs (directory redirects, WebDAV hrefs, mod_magnet's urlenc): every
// byte but A-Z a-z 0-9 ! ( ) * - . / _ ~ becomes %XX (upper-case hex).
func AppendRelURI(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if relURIKeep[c] {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', hexUpper[c>>4], hexUpper[c&15])
		}
	}
	return dst
}
