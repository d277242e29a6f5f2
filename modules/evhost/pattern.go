package evhost

import (
	"errors"
	"strings"
)

// piece is one part of a compiled evhost.path-pattern: literal text, or a
// placeholder.
type piece struct {
	lit  string
	kind byte // 0: literal; '%': "%%"; '_': "%_"; 'n': "%n" or "%{n}"; 'c': "%{n.m}"
	n    byte // label number 0-9
	m    byte // character position 1-9 ("%{n.0}" is the whole label, kind 'n')
}

// pattern is a compiled evhost.path-pattern.
type pattern struct {
	pieces []piece
	// dotdot: the pattern itself has a ".." path segment, so one in an
	// expansion is the administrator's, not the host's.
	dotdot bool
}

// maxPlaceholders is how many '%' sequences lighttpd's parser accepts
// (its fixed table of 128 pieces holds 63 literal/placeholder pairs).
const maxPlaceholders = 63

var errPattern = errors.New("invalid evhost.path-pattern")

// parsePattern compiles a pattern: "%%", "%_", "%0".."%9", "%{n}" and
// "%{n.m}" with single digits; any other '%' sequence is an error, as in
// lighttpd.
func parsePattern(s string) (*pattern, error) {
	p := &pattern{dotdot: hasDotDot(s)}
	count := 0
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			break
		}
		if count++; count > maxPlaceholders {
			return nil, errPattern
		}
		if i > 0 {
			p.pieces = append(p.pieces, piece{lit: s[:i]})
		}
		rest := s[i:]
		var pc piece
		n := 2
		switch c := at(rest, 1); {
		case c == '%':
			pc.kind = '%'
		case c == '_':
			pc.kind = '_'
		case isDigit(c):
			pc.kind, pc.n = 'n', c-'0'
		case c == '{':
			if !isDigit(at(rest, 2)) {
				return nil, errPattern
			}
			pc.kind, pc.n = 'n', at(rest, 2)-'0'
			switch at(rest, 3) {
			case '}':
				n = 4
			case '.':
				if !isDigit(at(rest, 4)) || at(rest, 5) != '}' {
					return nil, errPattern
				}
				if m := at(rest, 4) - '0'; m != 0 {
					pc.kind, pc.m = 'c', m
				}
				n = 6
			default:
				return nil, errPattern
			}
		default:
			return nil, errPattern
		}
		p.pieces = append(p.pieces, pc)
		s = rest[n:]
	}
	if s != "" {
		p.pieces = append(p.pieces, piece{lit: s})
	}
	return p, nil
}

func at(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// labels are the parts of a host that %0..%9 name; one the host does not
// have is empty (and expands to nothing, as in lighttpd).
type labels struct{ v [10]string }

func (l *labels) put(i int, s string) {
	if i < len(l.v) {
		l.v[i] = s
	}
}

// splitHost assigns the parts of an authority (sub2.sub1.domain.tld[:port])
// as lighttpd's mod_evhost_parse_host does: %0 is domain.tld, %1 the tld,
// %2 the domain, %3 the first subdomain, and so on right to left; a port is
// left out; empty labels between dots are skipped; an IPv6 literal only
// sets %0 (the bracketed address).
func splitHost(a string, l *labels) {
	if a == "" {
		return
	}
	if a[0] == '[' {
		end := len(a)
		if a[end-1] != ']' {
			i := strings.LastIndexByte(a, ']')
			if i < 0 || i+1 >= len(a) || a[i+1] != ':' {
				return
			}
			end = i + 1
		}
		l.put(0, a[:end])
		return
	}
	// From the end, find the second '.' not counting those after a ':'.
	colon := len(a)
	first := true
	p := len(a) - 1
	for ; p > 0; p-- {
		if a[p] == '.' {
			if first {
				first = false
			} else {
				break
			}
		} else if a[p] == ':' {
			colon, first = p, true
		}
	}
	start := p
	if a[start] == '.' {
		start++
	}
	l.put(0, a[start:colon])
	if colon == 0 {
		return
	}
	i := 1
	for p = colon - 1; p > 0; p-- {
		if a[p] != '.' {
			continue
		}
		if p != colon-1 {
			l.put(i, a[p+1:colon])
			i++
		}
		colon = p
	}
	if colon != 0 {
		l.put(i, a[:colon])
	}
}

// expand builds the document root for authority a, ending in '/' unless
// empty (lighttpd's mod_evhost_build_doc_root_path).
func (p *pattern) expand(a string) string {
	var l labels
	splitHost(a, &l)
	var b strings.Builder
	for _, pc := range p.pieces {
		switch pc.kind {
		case 0:
			b.WriteString(pc.lit)
		case '%':
			b.WriteByte('%')
		case '_':
			if i := strings.IndexByte(a, ':'); i >= 0 {
				b.WriteString(a[:i])
			} else {
				b.WriteString(a)
			}
		case 'n':
			b.WriteString(l.v[pc.n])
		case 'c':
			if v := l.v[pc.n]; int(pc.m) <= len(v) {
				b.WriteByte(v[pc.m-1])
			}
		}
	}
	s := b.String()
	if s != "" && s[len(s)-1] != '/' {
		s += "/"
	}
	return s
}

// docroot is expand with golighty's guard: a host may not put a ".." path
// segment into the result (possible only with server.http-parseopts
// "host-strict" disabled, e.g. "%0%1" of "Host: ...").
func (p *pattern) docroot(host string) (string, bool) {
	d := p.expand(host)
	if !p.dotdot && hasDotDot(d) {
		return d, false
	}
	return d, true
}

// hasDotDot reports a ".." segment in a slash-separated path.
func hasDotDot(s string) bool {
	for s != "" {
		seg := s
		if i := strings.IndexByte(s, '/'); i >= 0 {
			seg, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if seg == ".." {
			return true
		}
	}
	return false
}
