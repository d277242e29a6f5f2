package h1

import (
	"bytes"
	"net/netip"
	"strconv"
)

// hostPolicy validates and normalizes a lower-cased Host value as
// lighttpd's http_request_host_policy does. The result may alias h (which
// may be modified in place) or live in scratch.
func hostPolicy(h []byte, o *ParseOptions, scratch *[]byte) ([]byte, bool) {
	if o.HostStrict {
		var ok bool
		if h, ok = checkHostname(h); !ok {
			return nil, false
		}
	} else if bytes.ContainsAny(h, "\x00\r\n") {
		return nil, false
	}
	if o.HostStrict || o.HostNormalize {
		return normalizeHost(h, o.SchemePort, scratch)
	}
	return h, true
}

// HostCache remembers the last Host value the host policy passed as it
// came, and the options it passed under: a connection's requests nearly
// always name the same host, and checking it again was 2-3% of a small
// request's user time (1 KiB keep-alive, HTTP/2 small responses). The zero
// value is empty; a value kept from another connection is as good (the
// check depends only on the bytes and the options).
type HostCache struct {
	host []byte // a copy: the request's bytes are reused
	opts uint32 // the options it passed under (hostOpts)
}

// hostOpts is what the host policy depends on in o, as one value.
func hostOpts(o *ParseOptions) uint32 {
	v := uint32(o.SchemePort) << 2
	if o.HostStrict {
		v |= 1
	}
	if o.HostNormalize {
		v |= 2
	}
	return v
}

// maxCachedHost bounds the copy a HostCache keeps.
const maxCachedHost = 256

// Policy validates and normalizes a lower-cased Host value as lighttpd's
// http_request_host_policy does (host-strict, host-normalize, the scheme's
// default port), answering at once for the host last passed unchanged
// under the same options. h may be modified in place; the result aliases h
// or lives in scratch.
func (hc *HostCache) Policy(h []byte, o *ParseOptions, scratch *[]byte) ([]byte, bool) {
	if len(hc.host) != 0 && hc.opts == hostOpts(o) && bytes.Equal(h, hc.host) {
		return h, true
	}
	out, ok := hostPolicy(h, o, scratch)
	// The same bytes came back (a change shortens them or moves them to
	// scratch).
	if ok && len(h) != 0 && len(out) == len(h) && &out[0] == &h[0] && len(h) <= maxCachedHost {
		hc.host = append(hc.host[:0], h...)
		hc.opts = hostOpts(o)
	}
	return out, ok
}

// checkHostname applies host-strict: hostname labels, a 4-part IPv4 when
// the last label is numeric, or a bracketed IPv6 literal, then an optional
// all-digit port. A trailing '.' on the name and a bare trailing ':' are
// removed.
func checkHostname(h []byte) ([]byte, bool) {
	idx := 0
	if len(h) == 0 {
		return nil, false
	}
	if h[0] != '[' {
		hlen := bytes.IndexByte(h, ':')
		if hlen < 0 {
			hlen = len(h)
		}
		if hlen == 0 {
			return nil, false
		}
		if h[hlen-1] == '.' {
			if hlen--; hlen == 0 {
				return nil, false
			}
			copy(h[hlen:], h[hlen+1:])
			h = h[:len(h)-1]
		}
		labelLen, level := 0, 0
		allNumeric, numeric := true, true
		for i := 0; i < hlen; i++ {
			c := h[i]
			labelLen++
			switch {
			case isDigit(c):
			case isAlpha(c) || (c == '-' && i != 0):
				numeric = false
			case c == '.' && labelLen != 1 && (i+1 >= len(h) || h[i+1] != '-'):
				allNumeric = allNumeric && numeric
				numeric = true
				labelLen = 0
				level++
			default:
				return nil, false
			}
		}
		if labelLen == 0 || (numeric && (level != 3 || !allNumeric)) {
			return nil, false
		}
		idx = hlen
	} else {
		idx = 1
		colons := 0
		for idx < len(h) {
			c := h[idx]
			if c == ':' {
				colons++
				if colons >= 8 {
					break
				}
			} else if !isXDigit(c) && c != '.' {
				break
			}
			idx++
		}
		if idx >= len(h) || h[idx] != ']' || idx == 1 {
			return nil, false
		}
		idx++
	}
	if idx < len(h) && h[idx] == ':' {
		if idx+1 == len(h) {
			return h[:idx], true
		}
		idx++
		for idx < len(h) && isDigit(h[idx]) {
			idx++
		}
	}
	return h, idx == len(h)
}

// normalizeHost canonicalizes an IPv6 literal and drops a port equal to
// the scheme's default port (lighttpd's http_request_host_normalize).
// IPv4 literals are left alone: lighttpd runs them through
// inet_pton/inet_ntop, which only accepts the canonical form anyway.
func normalizeHost(h []byte, schemePort int, scratch *[]byte) ([]byte, bool) {
	if len(h) == 0 {
		return h, true
	}
	var base, portText []byte
	port := 0
	if h[0] != '[' {
		colon := bytes.IndexByte(h, ':')
		base = h
		if colon >= 0 {
			if colon == 0 {
				return nil, false
			}
			base = h[:colon]
			if colon+1 < len(h) {
				portText = h[colon+1:]
				var ok bool
				if port, ok = cStrtolPort(portText); !ok {
					return nil, false
				}
			}
		}
	} else {
		if len(h) <= 2 {
			return nil, false
		}
		bracket := len(h) - 1
		if h[bracket] != ']' {
			bracket = bytes.IndexByte(h[1:], ']')
			if bracket < 0 {
				return nil, false
			}
			bracket++
			if bracket+1 >= len(h) || h[bracket+1] != ':' || bracket == 1 {
				return nil, false
			}
			if bracket+2 < len(h) {
				portText = h[bracket+2:]
				var ok bool
				if port, ok = cStrtolPort(portText); !ok {
					return nil, false
				}
			}
		}
		end, zone := bracket, []byte(nil)
		if pct := bytes.IndexByte(h[1:], '%'); pct >= 0 {
			pct++
			if pct > bracket {
				return nil, false
			}
			end, zone = pct, h[pct:bracket]
		}
		a, err := netip.ParseAddr(string(h[1:end]))
		if err != nil || !a.Is6() || a.Zone() != "" {
			return nil, false
		}
		s := *scratch
		start := len(s)
		s = append(s, '[')
		s = a.AppendTo(s)
		s = append(s, zone...)
		s = append(s, ']')
		*scratch = s
		base = s[start:len(s):len(s)]
	}
	if port == 0 || port == schemePort {
		return base, true
	}
	// Keep the original bytes when they already are "base:port" in decimal.
	if len(h) == len(base)+1+len(portText) && &h[0] == &base[0] && portText[0] != '0' && isAllDigits(portText) {
		return h, true
	}
	s := *scratch
	start := len(s)
	s = append(s, base...)
	s = append(s, ':')
	s = strconv.AppendInt(s, int64(port), 10)
	*scratch = s
	return s[start:len(s):len(s)], true
}

func isAllDigits(b []byte) bool {
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// cStrtolPort parses a port as C's strtol(s, &e, 0) does (leading space,
// sign, 0x hex, 0 octal) and accepts 1..65535 consuming the whole string.
func cStrtolPort(s []byte) (int, bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	base := 10
	if i < len(s) && s[i] == '0' {
		if i+2 < len(s) && (s[i+1]|0x20) == 'x' && isXDigit(s[i+2]) {
			base, i = 16, i+2
		} else {
			base = 8
		}
	}
	start := i
	n := 0
	for i < len(s) {
		c := s[i]
		var d int
		switch {
		case isDigit(c):
			d = int(c - '0')
		case isAlpha(c):
			d = int(c|0x20) - 'a' + 10
		default:
			d = 99
		}
		if d >= base {
			break
		}
		if n < 1<<20 {
			n = n*base + d
		}
		i++
	}
	if i == start || i != len(s) {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, n > 0 && n <= 65535
}
