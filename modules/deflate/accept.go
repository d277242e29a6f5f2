package deflate

import "strings"

// Encodings as lighttpd 1.4.69's mod_deflate numbers them (bzip2 is not in
// Debian's build, and golighty has none either).
const (
	encGzip    uint16 = 1 << 1
	encDeflate uint16 = 1 << 2
	encXGzip   uint16 = 1 << 5
	encBr      uint16 = 1 << 7
	encZstd    uint16 = 1 << 8
)

// codec is the compressor a chosen encoding uses.
type codec uint8

const (
	codecNone codec = iota
	codecGzip
	codecZlib // "deflate" is the zlib format, as zlib's deflateInit2 writes it
	codecBr
	codecZstd
)

// defaultAllowed is what an empty deflate.allowed-encodings list means:
// every built-in encoding, zstd first, as lighttpd orders them. (Without the
// key nothing is compressed: the 1.4.69 defect users rely on.)
var defaultAllowed = []uint16{encZstd, encBr, encGzip | encXGzip | encDeflate}

// allowedFlags is mod_deflate_encodings_to_flags: every configured string
// adds an entry for each encoding name it contains as a substring ("gzip"
// also admits x-gzip, "brotli" means br), in this fixed order per string.
func allowedFlags(list []string) []uint16 {
	if len(list) == 0 {
		return defaultAllowed
	}
	out := []uint16{}
	for _, s := range list {
		if strings.Contains(s, "gzip") {
			out = append(out, encGzip|encXGzip)
		}
		if strings.Contains(s, "deflate") {
			out = append(out, encDeflate)
		}
		if strings.Contains(s, "br") {
			out = append(out, encBr)
		}
		if strings.Contains(s, "zstd") {
			out = append(out, encZstd)
		}
	}
	return out
}

// parseAcceptEncoding reads an Accept-Encoding value as lighttpd 1.4.69
// does: tokens split at ' ' and ',', compared case-sensitively; q-values and
// other parameters are skipped (so "gzip;q=0" still accepts gzip); "*",
// "identity" and unknown names are ignored.
func parseAcceptEncoding(v string) uint16 {
	var accept uint16
	i := 0
	for i < len(v) {
		for i < len(v) && (v[i] == ' ' || v[i] == ',') {
			i++
		}
		start := i
		for i < len(v) && v[i] != ' ' && v[i] != ',' && v[i] != ';' {
			i++
		}
		switch v[start:i] {
		case "br":
			accept |= encBr
		case "gzip":
			accept |= encGzip
		case "zstd":
			accept |= encZstd
		case "x-gzip":
			accept |= encXGzip
		case "deflate":
			accept |= encDeflate
		}
		if i < len(v) && v[i] == ';' {
			for i < len(v) && v[i] != ',' {
				i++
			}
		}
		i++ // the delimiter
	}
	return accept
}

// choose picks the encoding: the first allowed entry the client accepts,
// and within it zstd, br, gzip, x-gzip, deflate in that order. It returns
// the codec and the Content-Encoding label.
func choose(accept uint16, allowed []uint16) (codec, string) {
	var x uint16
	for _, a := range allowed {
		if a&accept != 0 {
			x = a & accept
			break
		}
	}
	switch {
	case x&encZstd != 0:
		return codecZstd, "zstd"
	case x&encBr != 0:
		return codecBr, "br"
	case x&encGzip != 0:
		return codecGzip, "gzip"
	case x&encXGzip != 0:
		return codecGzip, "x-gzip"
	case x&encDeflate != 0:
		return codecZlib, "deflate"
	}
	return codecNone, ""
}

// containsToken is lighttpd's http_header_str_contains_token: tok appears
// in the comma-separated list s (case-insensitive, no quoted strings).
func containsToken(s, tok string) bool {
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == ',') {
			i++
		}
		if len(s)-i < len(tok) {
			return false
		}
		if strings.EqualFold(s[i:i+len(tok)], tok) {
			i += len(tok)
			if i == len(s) || s[i] == ' ' || s[i] == '\t' || s[i] == ',' || s[i] == ';' {
				return true
			}
		}
		for i < len(s) && s[i] != ',' {
			i++
		}
		if i >= len(s) {
			return false
		}
	}
}
