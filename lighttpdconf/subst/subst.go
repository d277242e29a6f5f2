// Package subst implements the replacement strings of url.rewrite*,
// url.redirect and similar keys (config-syntax.md §11), as lighttpd 1.4.69's
// pcre_keyvalue_buffer_subst expands them. A template is parsed once;
// Expand appends to a caller buffer without allocating.
//
// Forms (N is 0-9 after $ or %, 0-99 inside braces):
//
//	$N  %N          rule / condition capture, raw
//	${N}  %{N}      capture, percent-encoded except unreserved and '/',
//	                existing %XX kept (lighttpd's "psnde", the default)
//	${esc:N} ${escape:N}     encode all but unreserved, '%' too
//	${escnde:N}              encode all but unreserved, keep existing %XX
//	${escpsnde:N}            the default ("psnde")
//	${noesc:N} ${noescape:N} raw
//	${tolower:N} ${toupper:N}  see below
//	${encb64u:N} ${decb64u:N}  base64url encode (no padding) / decode
//	${url.scheme} ${url.authority} ${url.port} ${url.path} ${url.query}
//	${qsa}          "?query" or "&query" (if the result already has '?')
//	$$ %%           literal $ and %
//	$x %x           (x not a digit or '{') kept as is
//
// Modifiers combine ("${escape:tolower:1}"); unknown words before ':' are
// skipped, other unknown characters inside braces are ignored. A brace form
// lighttpd cannot finish (no '}' or ':' where one is needed) ends the
// expansion there: everything after it is dropped.
//
// Behaviour of 1.4.69 reproduced on purpose (checked against the Debian
// binary): ${toupper:N} lower-cases (it sets the same flag as tolower), and
// tolower/toupper alone select no encoding, so ${tolower:N} and
// ${toupper:N} expand to nothing; combined with an encoding
// ("${esc:tolower:N}") the encoded text is lower-cased except the hex digits
// of %XX. "${nde:N}" is not a known modifier: it is the default encoding.
package subst

import (
	"bytes"
	"strconv"
	"strings"
)

// flags mirror lighttpd's burl_append recoding flags.
type flags uint8

const (
	fToLower flags = 1 << iota
	fEncodeNone
	fEncodeAll
	fEncodeNDE
	fEncodePSNDE
	fEncodeB64U
	fDecodeB64U
)

type kind uint8

const (
	kLiteral kind = iota
	kRule         // $N
	kCond         // %N
	kScheme
	kAuthority
	kPort
	kPath
	kQuery
	kQSA
)

type part struct {
	kind  kind
	flags flags
	num   int
	lit   string
}

// Template is a compiled replacement string. It is immutable and safe for
// concurrent use.
type Template struct {
	src       string
	parts     []part
	truncated bool
}

// URLParts are the request values the ${url.*} and ${qsa} forms read.
type URLParts struct {
	Scheme    string
	Authority string // the Host, or server.name when the request has none
	Port      int    // port of the listening socket
	// Path is the current target; ${url.path} uses it up to the first '?'.
	Path     string
	Query    string
	HasQuery bool // a '?' was present (${qsa} then adds "?" even if Query is empty)
}

// Compile parses a replacement string. lighttpd accepts every replacement
// string, so the error is always nil; a malformed brace form truncates the
// expansion (see Truncated).
func Compile(s string) (*Template, error) {
	t := &Template{src: s}
	start := 0
	lit := func(end int) {
		if end > start {
			t.parts = append(t.parts, part{kind: kLiteral, lit: s[start:end]})
		}
	}
	for k := 0; k+1 < len(s); k++ {
		c := s[k]
		if c != '$' && c != '%' {
			continue
		}
		lit(k)
		next := s[k+1]
		switch {
		case next == '{':
			end, ok := t.braced(s, k)
			if !ok {
				t.truncated = true
				t.mergeLiterals()
				return t, nil
			}
			k = end
		case isDigit(next):
			kd := kRule
			if c == '%' {
				kd = kCond
			}
			t.parts = append(t.parts, part{kind: kd, num: int(next - '0')})
			k++
		case next == c:
			t.parts = append(t.parts, part{kind: kLiteral, lit: s[k : k+1]})
			k++
		default:
			t.parts = append(t.parts, part{kind: kLiteral, lit: s[k : k+2]})
			k++
		}
		start = k + 1
	}
	lit(len(s))
	t.mergeLiterals()
	return t, nil
}

// braced parses "${...}" or "%{...}" starting at s[k] and returns the index
// of its closing '}', or false where lighttpd gives up.
func (t *Template) braced(s string, k int) (int, bool) {
	p := k + 2
	var f flags
	skipTo := func(c byte) bool {
		i := strings.IndexByte(s[p:], c)
		if i < 0 {
			return false
		}
		p += i
		return true
	}
	for p < len(s) && !isDigit(s[p]) && s[p] != '}' {
		rest := s[p:]
		switch {
		case strings.HasPrefix(rest, "esc"):
			p += 3
			switch rest = s[p:]; {
			case strings.HasPrefix(rest, ":"):
				f |= fEncodeAll
				p++
			case strings.HasPrefix(rest, "ape:"):
				f |= fEncodeAll
				p += 4
			case strings.HasPrefix(rest, "nde:"):
				f |= fEncodeNDE
				p += 4
			case strings.HasPrefix(rest, "psnde:"):
				f |= fEncodePSNDE
				p += 6
			default:
				if !skipTo(':') {
					return 0, false
				}
				p++
			}
		case strings.HasPrefix(rest, "no"):
			p += 2
			switch rest = s[p:]; {
			case strings.HasPrefix(rest, "esc:"):
				f |= fEncodeNone
				p += 4
			case strings.HasPrefix(rest, "escape:"):
				f |= fEncodeNone
				p += 7
			default:
				if !skipTo(':') {
					return 0, false
				}
				p++
			}
		case strings.HasPrefix(rest, "to"):
			p += 2
			switch rest = s[p:]; {
			case strings.HasPrefix(rest, "lower:"), strings.HasPrefix(rest, "upper:"):
				// 1.4.69 bug reproduced: "upper" sets the tolower flag.
				f |= fToLower
				p += 6
			default:
				if !skipTo(':') {
					return 0, false
				}
				p++
			}
		case strings.HasPrefix(rest, "url."):
			p += 4
			rest = s[p:]
			for _, u := range [...]struct {
				name string
				kind kind
			}{{"scheme}", kScheme}, {"authority}", kAuthority}, {"port}", kPort}, {"path}", kPath}, {"query}", kQuery}} {
				if strings.HasPrefix(rest, u.name) {
					t.parts = append(t.parts, part{kind: u.kind, flags: f})
					return p + len(u.name) - 1, true
				}
			}
			if !skipTo('}') {
				return 0, false
			}
			return p, true
		case strings.HasPrefix(rest, "qsa}"):
			t.parts = append(t.parts, part{kind: kQSA, flags: f})
			return p + 3, true
		case strings.HasPrefix(rest, "encb64u:"):
			f |= fEncodeB64U
			p += 8
		case strings.HasPrefix(rest, "decb64u:"):
			f |= fDecodeB64U
			p += 8
		default:
			p++ // unknown characters are skipped
		}
	}
	if p >= len(s) {
		return 0, false
	}
	if s[p] == '}' {
		return p, true
	}
	num := int(s[p] - '0')
	p++
	if p < len(s) && isDigit(s[p]) {
		num = num*10 + int(s[p]-'0')
		p++
	}
	if p >= len(s) || s[p] != '}' {
		if !skipTo('}') {
			return 0, false
		}
	}
	if f == 0 {
		f = fEncodePSNDE
	}
	kd := kRule
	if s[k] == '%' {
		kd = kCond
	}
	t.parts = append(t.parts, part{kind: kd, flags: f, num: num})
	return p, true
}

// mergeLiterals joins adjacent literal parts ("$$" and "%%" make extra ones).
func (t *Template) mergeLiterals() {
	out := t.parts[:0]
	for _, p := range t.parts {
		if n := len(out); n > 0 && p.kind == kLiteral && out[n-1].kind == kLiteral {
			out[n-1].lit += p.lit
			continue
		}
		out = append(out, p)
	}
	t.parts = out
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// String returns the replacement string as written.
func (t *Template) String() string { return t.src }

// Truncated reports a brace form lighttpd cannot finish; the expansion stops
// there. Worth a warning at load time.
func (t *Template) Truncated() bool { return t.truncated }

// UsesCondCaptures reports a '%' followed by a digit or '{' ("%%" skipped),
// lighttpd's test for keeping the enclosing condition's captures.
func (t *Template) UsesCondCaptures() bool { return UsesCondCaptures(t.src) }

// UsesCondCaptures is Template.UsesCondCaptures for a replacement string
// (the config parser checks values before any template is compiled).
func UsesCondCaptures(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if s[i+1] == '%' {
			i++
		} else if isDigit(s[i+1]) || s[i+1] == '{' {
			return true
		}
	}
	return false
}

var noURL URLParts

// Expand appends the expansion to dst (u may be nil: empty parts). rule holds the captures of the rule's
// regex ($0 = whole match), cond those of the enclosing condition (%0...);
// a group that did not take part is "", and a number beyond the slice
// expands to nothing, as does %N when cond is nil.
func (t *Template) Expand(dst []byte, rule, cond []string, u *URLParts) []byte {
	if u == nil {
		u = &noURL
	}
	base := len(dst)
	for i := range t.parts {
		p := &t.parts[i]
		switch p.kind {
		case kLiteral:
			dst = append(dst, p.lit...)
		case kRule:
			if p.num < len(rule) {
				dst = appendRecoded(dst, rule[p.num], p.flags)
			}
		case kCond:
			if p.num < len(cond) {
				dst = appendRecoded(dst, cond[p.num], p.flags)
			}
		case kScheme:
			dst = appendRecoded(dst, u.Scheme, p.flags)
		case kAuthority:
			dst = appendRecoded(dst, u.Authority, p.flags)
		case kPort:
			dst = strconv.AppendInt(dst, int64(u.Port), 10)
		case kPath:
			path := u.Path
			if q := strings.IndexByte(path, '?'); q >= 0 {
				path = path[:q]
			}
			dst = appendRecoded(dst, path, p.flags)
		case kQuery:
			dst = appendRecoded(dst, u.Query, p.flags)
		case kQSA:
			if !u.HasQuery {
				break
			}
			if bytes.IndexByte(dst[base:], '?') >= 0 {
				if u.Query != "" {
					dst = append(dst, '&')
				}
			} else {
				dst = append(dst, '?')
			}
			dst = appendRecoded(dst, u.Query, p.flags)
		}
	}
	return dst
}

// appendRecoded is lighttpd's burl_append: flags 0 means raw; otherwise the
// first encoding flag in lighttpd's order applies (none at all if only
// tolower is set), then tolower acts on what was appended.
func appendRecoded(dst []byte, s string, f flags) []byte {
	if s == "" {
		return dst
	}
	if f == 0 {
		return append(dst, s...)
	}
	off := len(dst)
	switch {
	case f&fEncodeNone != 0:
		dst = append(dst, s...)
	case f&fEncodeAll != 0:
		dst = encodeAll(dst, s)
	case f&fEncodeNDE != 0:
		dst = encodeNDE(dst, s, false)
	case f&fEncodePSNDE != 0:
		dst = encodeNDE(dst, s, true)
	case f&fEncodeB64U != 0:
		dst = encodeB64U(dst, s)
	case f&fDecodeB64U != 0:
		dst = decodeB64U(dst, s)
	}
	if f&fToLower != 0 {
		toLowerSkipEscapes(dst[off:])
	}
	return dst
}

const hexUpper = "0123456789ABCDEF"

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func encodeAll(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; isUnreserved(c) {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', hexUpper[c>>4], hexUpper[c&15])
		}
	}
	return dst
}

// encodeNDE encodes all but unreserved (and '/' with keepSlash); an existing
// %XX is decoded if it is unreserved and otherwise kept as written.
func encodeNDE(dst []byte, s string, keepSlash bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			if x := unhex(s[i+1])<<4 | unhex(s[i+2]); isUnreserved(x) {
				dst = append(dst, x)
			} else {
				dst = append(dst, s[i:i+3]...)
			}
			i += 2
		case isUnreserved(c) || keepSlash && c == '/':
			dst = append(dst, c)
		default:
			dst = append(dst, '%', hexUpper[c>>4], hexUpper[c&15])
		}
	}
	return dst
}

const b64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// encodeB64U is base64url without padding, reading a string directly
// (encoding/base64 would need a []byte copy).
func encodeB64U(dst []byte, s string) []byte {
	i := 0
	for ; i+3 <= len(s); i += 3 {
		v := uint32(s[i])<<16 | uint32(s[i+1])<<8 | uint32(s[i+2])
		dst = append(dst, b64URLAlphabet[v>>18], b64URLAlphabet[v>>12&63], b64URLAlphabet[v>>6&63], b64URLAlphabet[v&63])
	}
	switch len(s) - i {
	case 2:
		v := uint32(s[i])<<16 | uint32(s[i+1])<<8
		dst = append(dst, b64URLAlphabet[v>>18], b64URLAlphabet[v>>12&63], b64URLAlphabet[v>>6&63])
	case 1:
		v := uint32(s[i]) << 16
		dst = append(dst, b64URLAlphabet[v>>18], b64URLAlphabet[v>>12&63])
	}
	return dst
}

// b64URLValue: 0-63 for the base64url alphabet, skip for controls and
// space (lighttpd skips formatting), pad for '=', bad otherwise.
const (
	b64Skip = -2
	b64Pad  = -3
	b64Bad  = -1
)

func b64URLValue(c byte) int {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 26
	case '0' <= c && c <= '9':
		return int(c-'0') + 52
	case c == '-':
		return 62
	case c == '_':
		return 63
	case c == '=':
		return b64Pad
	case c >= 1 && c <= 0x20:
		return b64Skip
	}
	return b64Bad
}

// decodeB64U decodes like lighttpd's li_base64_dec (URL alphabet): it stops
// at the first character outside the alphabet and keeps what was decoded
// if the trailing group is complete enough (2 or 3 characters); a NUL, or a
// single dangling character, yields nothing.
func decodeB64U(dst []byte, s string) []byte {
	base := len(dst)
	var acc uint32
	n := 0
	i := 0
	ch := 0
	for ; i < len(s); i++ {
		ch = b64URLValue(s[i])
		if ch < 0 {
			if ch == b64Skip {
				continue
			}
			break
		}
		acc = acc<<6 | uint32(ch)
		n++
		if n&3 == 0 {
			dst = append(dst, byte(acc>>16), byte(acc>>8), byte(acc))
			acc = 0
		}
	}
	rem := n & 3
	if i < len(s) && ch != b64Pad && s[i] == 0 {
		rem = 1
	}
	switch rem {
	case 3:
		dst = append(dst, byte(acc>>10), byte(acc>>2))
	case 2:
		dst = append(dst, byte(acc>>4))
	case 1:
		return dst[:base]
	}
	return dst
}

// toLowerSkipEscapes lower-cases ASCII letters, leaving the hex digits of
// %XX escapes alone.
func toLowerSkipEscapes(b []byte) {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			b[i] = c | 0x20
		} else if c == '%' && i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]) {
			i += 2
		}
	}
}

// NormalizeKey applies lighttpd's load-time normalization of a url.rewrite*
// or url.redirect regex when url-normalize is on: upper-case the hex of
// %xx and percent-encode bytes >= 0x80 (request targets are normalized the
// same way).
func NormalizeKey(k string) string {
	return normalize(k, "%")
}

// NormalizeValue is NormalizeKey for the replacement string, where "%%"
// stands for a literal '%': "%%xx" gets upper-case hex and bytes >= 0x80
// become "%%XX" (which expands to "%XX").
func NormalizeValue(v string) string {
	return normalize(v, "%%")
}

func normalize(s, pct string) string {
	var b []byte
	copied := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80:
			b = append(b, s[copied:i]...)
			b = append(b, pct...)
			b = append(b, hexUpper[c>>4], hexUpper[c&15])
			copied = i + 1
		case strings.HasPrefix(s[i:], pct) && i+len(pct)+1 < len(s) && isHex(s[i+len(pct)]) && isHex(s[i+len(pct)+1]):
			j := i + len(pct)
			b = append(b, s[copied:j]...)
			b = append(b, upperHex(s[j]), upperHex(s[j+1]))
			i = j + 1
			copied = j + 2
		}
	}
	if b == nil {
		return s
	}
	return string(append(b, s[copied:]...))
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 0x20
	}
	return c
}
