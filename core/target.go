package core

import (
	"errors"
	"strings"
)

// errBadTarget is a target lighttpd answers with 400.
var errBadTarget = errors.New("invalid request target")

// setTarget normalizes a request-target (behaviors.md §2) and fills URI.
func (rc *Request) setTarget(target string) error {
	rc.URI.Target, rc.URI.PathRaw, rc.URI.Path, rc.URI.Query = "", "", "", ""
	if target == "*" || (rc.Method == "CONNECT" && (target == "" || target[0] != '/')) {
		rc.URI.Target, rc.URI.PathRaw, rc.URI.Path = target, target, target
		return nil
	}
	if i := strings.IndexByte(target, '#'); i >= 0 {
		target = target[:i]
	}
	path, query, _ := strings.Cut(target, "?")
	decoded := simplifyPath(decodePath(path))
	if decoded == "" || decoded[0] != '/' {
		return errBadTarget
	}
	rc.URI.Target = target
	rc.URI.PathRaw = path
	rc.URI.Query = query
	rc.URI.Path = decoded
	return nil
}

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

func decodePath(p string) string {
	if strings.IndexByte(p, '%') < 0 {
		return p
	}
	b := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) {
			h, ok1 := unhex(p[i+1])
			l, ok2 := unhex(p[i+2])
			if ok1 && ok2 {
				c := h<<4 | l
				if c < 0x20 || c == 0x7f {
					c = '_'
				}
				b = append(b, c)
				i += 2
				continue
			}
		}
		b = append(b, p[i])
	}
	return string(b)
}

func simplifyPath(p string) string {
	if p == "" {
		return p
	}
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	trailing := false
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case "", ".":
			trailing = last
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			trailing = last
		default:
			out = append(out, s)
			trailing = false
		}
	}
	r := "/" + strings.Join(out, "/")
	if trailing && r != "/" {
		r += "/"
	}
	return r
}
