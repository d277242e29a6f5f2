package ssi

import "bytes"

// readBuf is the size of lighttpd's SSI read buffer: a directive must fit
// in it (from its '<' to its "-->"), or it is reported as too long.
const readBuf = 8192

// stmtLen returns the length of the directive at the start of s (which
// begins "<!--#") through its "-->", or 0 when s holds no end. A "-->"
// inside single or double quotes does not end it; a backslash escapes a
// quote inside quotes.
func stmtLen(s []byte) int {
	sq, dq, bs := false, false, false
	for n := 5; n < len(s); n++ {
		switch s[n] {
		case '-':
			if !sq && !dq && n+2 < len(s) && s[n+1] == '-' && s[n+2] == '>' {
				return n + 3
			}
		case '"':
			if !sq && (!dq || !bs) {
				dq = !dq
			}
		case '\'':
			if !dq && (!sq || !bs) {
				sq = !sq
			}
		case '\\':
			if sq || dq {
				bs = !bs
			}
		}
	}
	return 0
}

// isspace is C's isspace in the C locale.
func isspace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

// valueLen is the length of an attribute value at the start of s: a
// quoted string with its quotes (backslash escapes the next byte), or a
// bare word up to whitespace; 0 when invalid.
func valueLen(s []byte) int {
	if len(s) == 0 {
		return 0
	}
	if q := s[0]; q == '"' || q == '\'' {
		for n := 1; n < len(s); n++ {
			if s[n] == q {
				return n + 1
			}
			if s[n] == '\\' {
				if n+1 == len(s) {
					return 0
				}
				n++
			}
		}
		return 0
	}
	n := 0
	for ; n < len(s); n++ {
		if isspace(s[n]) {
			return n
		}
		if s[n] == '\\' {
			if n+1 == len(s) {
				return 0
			}
			n++
		}
	}
	return n
}

// directive is a parsed "<!--#cmd attr=value attr=value -->": at most two
// attributes, as lighttpd accepts.
type directive struct {
	cmd   string
	attrs [][2]string
}

// parseDirective splits a whole directive (s from "<!--#" through "-->").
// ok is false for a malformed one, which lighttpd copies to the output
// unchanged.
func parseDirective(s []byte) (d directive, ok bool) {
	end := len(s) - 3 // where "-->" starts
	n := 5
	for n < end && isAlpha(s[n]) {
		n++
	}
	if n == 5 {
		return d, false
	}
	d.cmd = string(s[5:n])
	for len(d.attrs) < 3 {
		if n == end {
			return d, true
		}
		if !isspace(s[n]) {
			return d, false
		}
		for n < end && isspace(s[n]) {
			n++
		}
		if n == end {
			return d, true
		}
		if len(d.attrs) == 2 {
			return d, false // a third attribute
		}
		k := n
		for n < end && isAlpha(s[n]) {
			n++
		}
		if n == k || n >= end || s[n] != '=' {
			return d, false
		}
		name := string(s[k:n])
		n++
		vl := valueLen(s[n:end])
		if vl == 0 {
			return d, false
		}
		v := s[n : n+vl]
		if v[0] == '"' || v[0] == '\'' {
			v = v[1 : len(v)-1]
		}
		// Values are C strings in lighttpd: a NUL ends them.
		if i := bytes.IndexByte(v, 0); i >= 0 {
			v = v[:i]
		}
		d.attrs = append(d.attrs, [2]string{name, string(v)})
		n += vl
	}
	return d, false
}

// isComment reports "<!--#comment" followed by a space or tab in a
// directive of at least 16 bytes: malformed comments are dropped, not
// copied.
func isComment(s []byte) bool {
	return len(s) >= 16 && bytes.HasPrefix(s[5:], []byte("comment")) && (s[12] == ' ' || s[12] == '\t')
}
