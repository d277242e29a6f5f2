package magnet

import (
	"strings"

	"github.com/golighty/golighty/core/urinorm"
)

// The string helpers of lighty.c, each as lighttpd 1.4.69 computes it.
// They are pure functions of their input (fuzzed in codec_fuzz_test.go).

const hexUpper = "0123456789ABCDEF"

// base64 reverse tables: >= 0 a digit, -1 invalid, -2 skipped (blanks and
// control characters), -3 padding.
var b64Std, b64URL = b64Reverse("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
	b64Reverse("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

func b64Reverse(alphabet string) *[128]int8 {
	var t [128]int8
	for i := range t {
		switch {
		case i == 0:
			t[i] = -1
		case i <= ' ':
			t[i] = -2
		default:
			t[i] = -1
		}
	}
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = int8(i)
	}
	t['='] = -3
	return &t
}

// b64Decode is lighttpd's li_base64_dec: blanks and control characters
// are skipped, decoding stops at the first other invalid character or
// padding and keeps what it decoded, unless one lone digit is left over or
// a NUL stopped it (then nothing, ok false). An empty input is ok.
func b64Decode(s string, url bool) (string, bool) {
	table := b64Std
	if url {
		table = b64URL
	}
	out := make([]byte, 0, len(s)/4*3+3)
	var acc uint32
	n := 0
	ch := int8(0)
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		ch = -1
		if c < 128 {
			ch = table[c]
		}
		if ch < 0 {
			if ch == -2 {
				continue
			}
			break
		}
		acc = acc<<6 | uint32(ch)
		n++
		if n&3 == 0 {
			out = append(out, byte(acc>>16), byte(acc>>8), byte(acc))
			acc = 0
		}
	}
	rem := n & 3
	if !(i == len(s) || ch == -3 || s[i] != 0) {
		rem = 1
	}
	switch rem {
	case 3:
		out = append(out, byte(acc>>10))
		acc <<= 2
		fallthrough
	case 2:
		out = append(out, byte(acc>>4))
	case 1:
		return "", len(s) == 0
	}
	if len(out) == 0 && len(s) > 0 {
		return "", false
	}
	return string(out), true
}

// b64Encode encodes without padding.
func b64Encode(s string, url bool) string {
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	if url {
		alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	}
	var b strings.Builder
	b.Grow((len(s) + 2) / 3 * 4)
	i := 2
	for ; i < len(s); i += 3 {
		v := uint32(s[i-2])<<16 | uint32(s[i-1])<<8 | uint32(s[i])
		b.WriteByte(alphabet[v>>18&63])
		b.WriteByte(alphabet[v>>12&63])
		b.WriteByte(alphabet[v>>6&63])
		b.WriteByte(alphabet[v&63])
	}
	switch len(s) - (i - 2) {
	case 1:
		v := uint32(s[i-2]) << 4
		b.WriteByte(alphabet[v>>6&63])
		b.WriteByte(alphabet[v&63])
	case 2:
		v := uint32(s[i-2])<<10 | uint32(s[i-1])<<2
		b.WriteByte(alphabet[v>>12&63])
		b.WriteByte(alphabet[v>>6&63])
		b.WriteByte(alphabet[v&63])
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c|0x20 && c|0x20 <= 'f':
		return c | 0x20 - 'a' + 10, true
	}
	return 0, false
}

// hexDecode is li_hex2bin: an even number of hex digits, either case.
func hexDecode(s string) (string, bool) {
	if len(s)%2 != 0 {
		return "", false
	}
	out := make([]byte, len(s)/2)
	for i := 0; i < len(s); i += 2 {
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return "", false
		}
		out[i/2] = hi<<4 | lo
	}
	return string(out), true
}

func hexEncode(s string) string {
	b := make([]byte, 2*len(s))
	for i := 0; i < len(s); i++ {
		b[2*i], b[2*i+1] = hexUpper[s[i]>>4], hexUpper[s[i]&15]
	}
	return string(b)
}

// xmlEncode is ENCODING_MINIMAL_XML: control characters, " & ' < > ` and
// DEL become &#xHH; bytes of other characters pass.
func xmlEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '&' || c == '\'' || c == '<' || c == '>' || c == '`' || c == 0x7f {
			b.WriteString("&#x")
			b.WriteByte(hexUpper[c>>4])
			b.WriteByte(hexUpper[c&15])
			b.WriteByte(';')
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// urlDecode is buffer_urldecode_path: valid %XX escapes are decoded,
// decoded control characters become '_', '+' stays. Like lighttpd, once a
// '%' was seen the result ends at the next NUL.
func urlDecode(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	b := append(make([]byte, 0, len(s)), s[:i]...)
	for i < len(s) { // s[i] == '%'
		var hi, lo byte
		var ok1, ok2 bool
		if i+1 < len(s) && s[i+1] != 0 {
			hi, ok1 = unhex(s[i+1])
			if i+2 < len(s) {
				lo, ok2 = unhex(s[i+2])
			}
		}
		if ok1 && ok2 {
			x := hi<<4 | lo
			if x < 32 || x == 127 {
				x = '_'
			}
			b = append(b, x)
			i += 3
		} else {
			b = append(b, '%')
			i++
		}
		for i < len(s) && s[i] != '%' {
			if s[i] == 0 {
				return string(b)
			}
			b = append(b, s[i])
			i++
		}
	}
	return string(b)
}

// urlEncode is ENCODING_REL_URI ('/' stays, '?' is encoded).
func urlEncode(s string) string { return string(urinorm.AppendRelURI(nil, s)) }

// cstr cuts s at a NUL: lighttpd walks these inputs as C strings.
func cstr(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// queryDecode splits a query string on '&' and '=' into keys and values,
// each with '+' as space and %XX decoded (control characters as '_'); a key
// without '=' gets "", empty pairs are skipped, a later key replaces an
// earlier one.
func queryDecode(s string) [][2]string {
	s = cstr(s)
	var out [][2]string
	dec := func(p string) string { return urlDecode(strings.ReplaceAll(p, "+", " ")) }
	for s != "" {
		pair := s
		if i := strings.IndexByte(s, '&'); i >= 0 {
			pair, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		out = append(out, [2]string{dec(k), dec(v)})
	}
	return out
}

// queryEncodePart encodes a key (isKey: '=' too) or value of a query:
// letters, digits and ! $ ( ) * , - . / : ? @ _ ~ stay, space becomes '+'.
func queryEncodePart(b *strings.Builder, s string, isKey bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == ' ':
			c = '+'
		case strings.IndexByte("!$()*,-./:?@_~", c) >= 0:
		case c == '=' && !isKey:
		default:
			b.WriteByte('%')
			b.WriteByte(hexUpper[c>>4])
			b.WriteByte(hexUpper[c&15])
			continue
		}
		b.WriteByte(c)
	}
}

// normalizeOpts are the fixed options of lighty.c.urlenc_normalize.
var normalizeOpts = urinorm.Options{
	URLNormalize: true, NormalizeUnreserved: true, NormalizeRequired: true,
	Path2FDecode: true, PathDotsegRemove: true, Query20Plus: true,
}

// urlNormalize is burl_normalize with lighttpd's fixed flags for
// lighty.c.urlenc_normalize: encoding normalized, %2F decoded in the path,
// dot segments removed, %20 in the query as '+'.
func urlNormalize(s string) string {
	out, _, err := urinorm.NormalizeTarget(nil, []byte(s), &normalizeOpts)
	if err != nil {
		return s
	}
	return string(out)
}

// pathSimplify is buffer_path_simplify.
func pathSimplify(s string) string {
	return string(urinorm.SimplifyPath(nil, []byte(s)))
}

// scanQuoted returns the index just past the quoted-string starting at
// s[i] == '"' (a loose scan: a missing closing quote runs to the end, a
// backslash escapes the next byte).
func scanQuoted(s string, i int) int {
	i++
	for i < len(s) && s[i] != '"' {
		if s[i] == '\\' {
			if i+1 >= len(s) {
				break
			}
			i++
		}
		i++
	}
	return i
}

// quotedToken returns the quoted-string at s[start:] as written (quotes
// included, a missing closing quote added) and the index after it.
func quotedToken(s string, start int) (string, int) {
	end := scanQuoted(s, start)
	if end < len(s) && s[end] == '"' {
		return s[start : end+1], end + 1
	}
	if end < len(s) && s[end] == '\\' { // stray backslash at the end
		return s[start:end] + `\\"`, end + 1
	}
	return s[start:end] + `"`, end
}

func isSpaceCRLF(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// cookieTokens parses a Cookie header into names and values (a value as
// written; a quoted-string keeps its quotes; "" for a name alone).
func cookieTokens(s string) [][2]string {
	s = cstr(s)
	var out [][2]string
	i := 0
	for {
		for i < len(s) && (s[i] == ';' || isSpaceCRLF(s[i])) {
			i++
		}
		if i >= len(s) {
			return out
		}
		j := i
		for j < len(s) && s[j] != '=' && s[j] != ';' && !isSpaceCRLF(s[j]) {
			j++
		}
		name := s[i:j]
		i = j
		for i < len(s) && isSpaceCRLF(s[i]) {
			i++
		}
		value := ""
		if i < len(s) && s[i] == '=' {
			i++
			for i < len(s) && isSpaceCRLF(s[i]) {
				i++
			}
			switch {
			case i >= len(s) || s[i] == ';':
			case s[i] != '"':
				j = i
				for j < len(s) && s[j] != '=' && s[j] != ';' && !isSpaceCRLF(s[j]) {
					j++
				}
				value, i = s[i:j], j
			default:
				value, i = quotedToken(s, i)
			}
		}
		out = append(out, [2]string{name, value})
		for i < len(s) && s[i] != ';' {
			i++
		}
		if i >= len(s) {
			return out
		}
		i++
	}
}

// headerTokens splits a header value into tokens: words, quoted-strings
// (kept with their quotes) and the separators , ; = on their own.
func headerTokens(s string) []string {
	s = cstr(s)
	var out []string
	i := 0
	for {
		for i < len(s) && isSpaceCRLF(s[i]) {
			i++
		}
		if i >= len(s) {
			return out
		}
		switch c := s[i]; {
		case c == ',' || c == ';' || c == '=':
			out = append(out, s[i:i+1])
			i++
		case c != '"':
			j := i
			for j < len(s) && !isSpaceCRLF(s[j]) && s[j] != ',' && s[j] != ';' && s[j] != '=' {
				j++
			}
			out = append(out, s[i:j])
			i = j
		default:
			var tok string
			tok, i = quotedToken(s, i)
			out = append(out, tok)
		}
	}
}

// quotedDecode decodes a quoted-string; a string not starting with '"'
// comes back unchanged, a malformed one gives ok false.
func quotedDecode(s string) (string, bool) {
	if s == "" || s[0] != '"' {
		return s, true
	}
	var b strings.Builder
	i := 1
	for ; i < len(s) && s[i] != '"'; i++ {
		if s[i] == '\\' {
			if i+2 < len(s) {
				i++
			} else {
				break
			}
		}
		b.WriteByte(s[i])
	}
	if i == len(s)-1 && s[i] == '"' {
		return b.String(), true
	}
	return "", false
}

// quotedEncode makes a quoted-string, escaping '"' and '\'.
func quotedEncode(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// bsDecode decodes backslash escapes (\" \\ \a \b \t \n \v \f \r, \xHH,
// \uHHHH as UTF-8, \ooo octal, \0) byte for byte as lighttpd's
// magnet_buffer_append_bsdec, quirks included (a \u escape with a bad high
// byte or a surrogate writes one truncated byte and keeps the digits;
// octal escapes accept digits below '0'). Surrounding double quotes are
// dropped first.
func bsDecode(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b = append(b, s[i])
			continue
		}
		i++
		if i == len(s) {
			b = append(b, '\\') // a stray backslash at the end stays
			break
		}
		c := int(s[i])
		switch c {
		case 'x':
			if i+3 <= len(s) {
				hi, ok1 := unhex(s[i+1])
				lo, ok2 := unhex(s[i+2])
				if ok1 && ok2 {
					c = int(hi)<<4 | int(lo)
					i += 2
				}
			}
		case 'a', 'b', 't', 'n', 'v', 'f', 'r':
			c = int("\a\bcde\fghijklm\nopq\rstu\vwxyz"[c-'a'])
		case 'u':
			if i+5 > len(s) {
				break
			}
			hi, ok1 := unhex(s[i+3])
			lo, ok2 := unhex(s[i+4])
			if !ok1 || !ok2 {
				break
			}
			c = int(hi)<<4 | int(lo)
			if s[i+1] != '0' || s[i+2] != '0' {
				hhi, ok3 := unhex(s[i+1])
				hlo, ok4 := unhex(s[i+2])
				if !ok3 || !ok4 {
					break
				}
				c |= int(hhi)<<12 | int(hlo)<<8
				if c >= 0xd800 && c < 0xe000 {
					break // ill-formed: one byte, the digits follow as text
				}
			}
			if c > 0x7f {
				if c < 0x800 {
					b = append(b, byte(0xc0|c>>6))
				} else {
					b = append(b, byte(0xe0|c>>12), byte(0x80|(c>>6)&0x3f))
				}
				c = 0x80 | c&0x3f
			}
			i += 4
		case '0', '1', '2', '3':
			// lighttpd compares (unsigned char) - '0' < 8 as int, so
			// bytes below '0' pass as "octal digits" too.
			if i+3 <= len(s) && int(s[i+1])-'0' < 8 && int(s[i+2])-'0' < 8 {
				c = (c-'0')<<6 | (int(s[i+1])-'0')<<3 | (int(s[i+2]) - '0')
				i += 2
			} else if c == '0' {
				c = 0
			}
		}
		b = append(b, byte(c))
	}
	return string(b)
}

// bsEncode escapes for a double-quoted string: " and \ and the C escapes
// (\a \b \t \n \v \f \r); other bytes outside printable ASCII as \xHH, or
// with json as \u00HH for control characters only.
func bsEncode(s string, json bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		plain := c >= ' ' && c != '"' && c != '\\' && (json || c <= '~')
		if plain {
			b.WriteByte(c)
			continue
		}
		switch c {
		case '\a', '\b', '\t', '\n', '\v', '\f', '\r':
			b.WriteByte('\\')
			b.WriteByte("0000000abtnvfr"[c])
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			if json {
				b.WriteString(`\u00`)
			} else {
				b.WriteString(`\x`)
			}
			b.WriteByte(hexUpper[c>>4])
			b.WriteByte(hexUpper[c&15])
		}
	}
	return b.String()
}
