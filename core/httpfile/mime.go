package httpfile

import (
	"golang.org/x/sys/unix"

	"github.com/golighty/golighty/core/ascii"
)

// mimeLinearMax: below this many mimetype.assign entries lighttpd scans them
// in config order for the first suffix match; from it on it looks up the
// basename and dotted suffixes in its (case-insensitive) array.
const mimeLinearMax = 16

// MimeTypes is a compiled mimetype.assign. Safe for concurrent use.
type MimeTypes struct {
	keys   []string // config order, as written
	values []string
	// byKey maps ASCII-lowercased keys to values (first entry wins, as
	// lighttpd rejects case-insensitive duplicates at config load).
	byKey map[string]string
	// catchAll is the "" entry for the indexed mode.
	catchAll    string
	hasCatchAll bool
	maxKeyLen   int
}

// MimePair is one mimetype.assign entry.
type MimePair struct {
	Suffix, Type string
}

// CompileMimeTypes builds a MimeTypes from mimetype.assign in config order.
// Like lighttpd at config load, a ".js" entry whose value is exactly
// "application/javascript" is rewritten to "text/javascript".
func CompileMimeTypes(pairs []MimePair) *MimeTypes {
	m := &MimeTypes{byKey: make(map[string]string, len(pairs))}
	for _, p := range pairs {
		lk := asciiLower(p.Suffix)
		if _, dup := m.byKey[lk]; dup {
			continue
		}
		v := p.Type
		if lk == ".js" && v == "application/javascript" {
			v = "text/javascript"
		}
		m.byKey[lk] = v
		m.keys = append(m.keys, p.Suffix)
		m.values = append(m.values, v)
		if lk == "" {
			m.catchAll, m.hasCatchAll = v, true
		}
		m.maxKeyLen = max(m.maxKeyLen, len(lk))
	}
	return m
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lower(b[j])
			}
			return string(b)
		}
	}
	return s
}

// Len is the number of distinct entries.
func (m *MimeTypes) Len() int { return len(m.keys) }

// Lookup returns the Content-Type for the file at path (the physical path;
// lighttpd matches against the whole path in the linear mode) and whether
// an entry matched. A matched empty value counts as no match, as lighttpd
// then falls back to application/octet-stream without caching headers.
func (m *MimeTypes) Lookup(path string) (string, bool) {
	if m == nil {
		return "", false
	}
	v, ok := m.lookup(path)
	if !ok || v == "" {
		return "", false
	}
	return v, true
}

func (m *MimeTypes) lookup(path string) (string, bool) {
	if len(m.keys) < mimeLinearMax {
		for i, k := range m.keys {
			if len(k) <= len(path) && ascii.EqualFold(path[len(path)-len(k):], k) {
				return m.values[i], true
			}
		}
		return "", false
	}
	// Basename, then each dotted suffix with and without its dot, longest
	// first, then "".
	s := 0
	if len(path) > 0 {
		s = len(path) - 1
		for s > 0 && path[s] != '/' {
			s--
		}
		if path[s] == '/' {
			s++
		}
	}
	if v, ok := m.get(path[s:]); ok {
		return v, true
	}
	for s++; s < len(path); {
		for s < len(path) && path[s] != '.' {
			s++
		}
		if s >= len(path) {
			break
		}
		if v, ok := m.get(path[s:]); ok {
			return v, true
		}
		s++
		if s < len(path) {
			if path[s] == '.' {
				continue
			}
			if v, ok := m.get(path[s:]); ok {
				return v, true
			}
			s++
		}
	}
	if m.hasCatchAll {
		return m.catchAll, true
	}
	return "", false
}

// get looks k up case-insensitively without allocating for keys up to the
// longest configured key (anything longer cannot match).
func (m *MimeTypes) get(k string) (string, bool) {
	if len(k) > m.maxKeyLen {
		return "", false
	}
	var buf [256]byte
	if len(k) > len(buf) {
		v, ok := m.byKey[asciiLower(k)]
		return v, ok
	}
	b := buf[:len(k)]
	for i := 0; i < len(k); i++ {
		b[i] = lower(k[i])
	}
	v, ok := m.byKey[string(b)]
	return v, ok
}

// XattrMimeType reads the Content-Type from the file's extended attribute
// name (mimetype.use-xattr / mimetype.xattr-name; on Linux the name needs
// the "user." prefix). Like lighttpd it accepts only non-empty values
// shorter than 128 bytes; any error means "no xattr type".
func XattrMimeType(path, name string) (string, bool) {
	var buf [127]byte
	n, err := unix.Getxattr(path, name, buf[:])
	if err != nil || n <= 0 {
		return "", false
	}
	return string(buf[:n]), true
}

// ContentTypeFor is lighttpd's full Content-Type choice for a regular file:
// the xattr named xattrName when non-empty (mimetype.use-xattr enabled),
// else m.Lookup. ok is false when the caller must fall back to
// application/octet-stream without ETag and Last-Modified.
func ContentTypeFor(m *MimeTypes, path, xattrName string) (ctype string, ok bool) {
	if xattrName != "" {
		if v, ok := XattrMimeType(path, xattrName); ok {
			return v, true
		}
	}
	return m.Lookup(path)
}
