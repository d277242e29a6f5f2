package extforward

import (
	"errors"
	"strings"
)

// The Forwarded header (RFC 7239) as lighttpd 1.4.69 reads it:
//   - elements are separated by ',', parameters by ';'; a parameter without
//     '=' or with an empty name is skipped; values are not validated, and a
//     quoted-string keeps its backslash escapes;
//   - the walk goes from the last element towards the first, taking in each
//     element its last for= parameter, and stops at the first for= address
//     that is not a trusted proxy; empty for= values are passed over;
//   - the client is the last non-obfuscated address seen on the way (not
//     "_token", "/path" or "unknown"), so an obfuscated untrusted hop leaves
//     the nearest trusted proxy as the client;
//   - the first element is never looked at when it is a single parameter
//     with nothing before it ("for=192.0.2.1" alone changes nothing): a
//     defect of the backwards walk, kept so both servers agree;
//   - proto= of the chosen element sets the scheme.
//
// lighttpd keeps at most 256 offsets (4 per parameter, 1 per comma); more
// is a 400, as is an unterminated quoted-string or "[]" for an address.

var (
	errQuoted  = errors.New("invalid quoted-string in Forwarded header")
	errTooMany = errors.New("Too many params in Forwarded header")
	errBadIPv6 = errors.New("Invalid IPv6 addr in Forwarded header")
)

// maxFwdSlots is the size of lighttpd's offsets array.
const maxFwdSlots = 256

// fwdParam is one name=value of a Forwarded header; group counts the commas
// before it. key and val are views of the header.
type fwdParam struct {
	key, val string
	group    int
}

// maxFwdParams is how many parameters the parser may store: 63 fit
// lighttpd's offsets, a 64th is stored before the header is refused.
const maxFwdParams = 64

// parseForwarded splits s into parameters.
func parseForwarded(s string, ps *[maxFwdParams]fwdParam) (int, error) {
	n, group, j := 0, 0, -1 // j: the last offset lighttpd would have used
	for i := 0; i < len(s); {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i == len(s) {
			break
		}
		switch s[i] {
		case ';':
			i++
			continue
		case ',':
			if j >= maxFwdSlots-1 {
				return 0, errTooMany
			}
			j++
			group++
			i++
			continue
		}
		k := i
		if i = scanForwarded(s, i, true); i < 0 {
			return 0, errQuoted
		}
		if i == len(s) || s[i] != '=' {
			continue
		}
		key := s[k:i]
		i++
		v := i
		if i = scanForwarded(s, i, false); i < 0 {
			return 0, errQuoted
		}
		if key == "" {
			continue
		}
		if j >= maxFwdSlots-4 {
			return 0, errTooMany
		}
		ps[n] = fwdParam{key, s[v:i], group}
		n++
		j += 4
	}
	if j >= maxFwdSlots-4 {
		return 0, errTooMany
	}
	return n, nil
}

// scanForwarded returns the index of the next ';' or ',' (or '=' when eq)
// at or after i, or len(s); quoted-strings are skipped, and one left open
// gives -1.
func scanForwarded(s string, i int, eq bool) int {
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c == ';' || c == ',' || (eq && c == '='):
			return i
		case c == '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
			if i >= len(s) {
				return -1
			}
		}
	}
	return i
}

// trimValue cuts trailing spaces and tabs; quoted reports surrounding
// double quotes, which are removed (escapes stay).
func trimValue(v string) (s string, quoted bool) {
	v = strings.TrimRight(v, " \t")
	if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1], true
	}
	return v, false
}

// forAddr is the address part of a for= value: a quoted value loses its
// IPv6 brackets and any port. broken is lighttpd's reading of "[" alone,
// which ends the walk and changes nothing.
func forAddr(val string) (addr string, broken bool, err error) {
	v, quoted := trimValue(val)
	if !quoted || v == "" {
		return v, false, nil
	}
	switch v[0] {
	case '[':
		if len(v) == 1 {
			return "", true, nil
		}
		end := strings.LastIndexByte(v[2:], ']')
		if end < 0 {
			return "", false, errBadIPv6
		}
		return v[1 : end+2], false, nil
	case '_', '/', 'u': // obfuscated, unix path, "unknown": no port to cut
		return v, false, nil
	}
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[:i]
	}
	return v, false, nil
}

// obfuscated reports a for= value that names no address to use.
func obfuscated(addr string) bool {
	return addr[0] == '_' || addr[0] == '/' || addr == "unknown"
}

// chooseForwarded walks the parameters as lighttpd does and returns the
// client address and the proto= of its element ("" when none); ok is false
// when nothing is to change.
func chooseForwarded(ps []fwdParam, f *forwarder) (addr, proto string, ok bool, err error) {
	chosen := -1
	for g := ps[len(ps)-1].group; g >= 0; g-- {
		first, last := groupBounds(ps, g)
		if g == 0 && first == 0 && last == 0 {
			break // a lone first parameter: never reached
		}
		idx := -1
		for i := last; i >= first && i >= 0; i-- {
			if len(ps[i].key) == 3 && strings.EqualFold(ps[i].key, "for") {
				idx = i
				break
			}
		}
		if idx < 0 {
			continue
		}
		a, broken, err := forAddr(ps[idx].val)
		if err != nil {
			return "", "", false, err
		}
		if broken {
			return "", "", false, nil
		}
		if a == "" {
			continue
		}
		trusted := f.trusted(a)
		if !obfuscated(a) {
			chosen, addr = idx, a
		}
		if !trusted {
			break
		}
	}
	if chosen < 0 {
		return "", "", false, nil
	}
	first, last := groupBounds(ps, ps[chosen].group)
	for i := first; i <= last; i++ {
		if len(ps[i].key) == 5 && strings.EqualFold(ps[i].key, "proto") {
			proto, _ = trimValue(ps[i].val)
		}
	}
	return addr, proto, true, nil
}

// groupBounds returns the first and last index of the parameters of group
// g (first > last when it has none). ps is ordered by group.
func groupBounds(ps []fwdParam, g int) (first, last int) {
	first, last = len(ps), -1
	for i := range ps {
		if ps[i].group == g {
			first, last = min(first, i), i
		}
	}
	return first, last
}
