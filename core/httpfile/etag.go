package httpfile

import (
	"strconv"
	"strings"
)

// ETagFlags selects the inputs of the ETag hash, mirroring etag.use-inode,
// etag.use-mtime and etag.use-size. Zero means "no ETag" (also what
// static-file.etags = "disable" amounts to).
type ETagFlags uint8

// Bit values are lighttpd's own (ETAG_USE_INODE=1, _MTIME=2, _SIZE=4).
const (
	ETagUseInode ETagFlags = 1
	ETagUseMtime ETagFlags = 2
	ETagUseSize  ETagFlags = 4
	// ETagDefault is lighttpd's default: all three inputs.
	ETagDefault = ETagUseInode | ETagUseMtime | ETagUseSize
)

// ETagFlagsFromConfig builds the flags from the three etag.use-* booleans and
// static-file.etags.
func ETagFlagsFromConfig(etagsEnabled, useInode, useMtime, useSize bool) ETagFlags {
	if !etagsEnabled {
		return 0
	}
	var f ETagFlags
	if useInode {
		f |= ETagUseInode
	}
	if useMtime {
		f |= ETagUseMtime
	}
	if useSize {
		f |= ETagUseSize
	}
	return f
}

// FileID is the subset of stat(2) data the ETag depends on.
type FileID struct {
	Ino       uint64
	Size      int64
	MtimeSec  int64
	MtimeNsec int64
}

// ETag appends lighttpd's quoted strong ETag for id to dst. With flags == 0
// it returns dst unchanged (lighttpd then sends no ETag header).
//
// The value is a 32-bit shift/xor hash over the selected fields laid out as
// little-endian uint64 words in the order inode, size, mtime-sec, mtime-nsec,
// seeded with the number of bytes hashed.
func ETag(dst []byte, id FileID, flags ETagFlags) []byte {
	if flags == 0 {
		return dst
	}
	var words [4]uint64
	n := 0
	if flags&ETagUseInode != 0 {
		words[n] = id.Ino
		n++
	}
	if flags&ETagUseSize != 0 {
		words[n] = uint64(id.Size)
		n++
	}
	if flags&ETagUseMtime != 0 {
		words[n] = uint64(id.MtimeSec)
		words[n+1] = uint64(id.MtimeNsec)
		n += 2
	}
	h := uint32(n * 8)
	for _, w := range words[:n] {
		for i := 0; i < 8; i++ {
			h = (h << 5) ^ (h >> 27) ^ uint32(byte(w>>(8*i)))
		}
	}
	dst = append(dst, '"')
	dst = strconv.AppendUint(dst, uint64(h), 10)
	return append(dst, '"')
}

// cstr cuts s at its first NUL: lighttpd parses header values as C strings,
// so anything after an embedded NUL is invisible to it.
func cstr(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// ETagMatches reports whether the If-None-Match style list matches etag,
// exactly as lighttpd's http_etag_matches: "*" alone always matches; list
// members are separated by commas, with blanks before a member skipped (a
// blank alone does not separate members); a "W/" prefix on a member
// is skipped when weakOK and makes the member unmatchable otherwise; a member
// "*" matches anything; a member matches when it starts with the full etag
// and is followed by the end, a blank or a comma.
func ETagMatches(etag, list string, weakOK bool) bool {
	s := cstr(list)
	if s == "*" {
		return true
	}
	if isBlank(etag) {
		return false
	}
	if strings.HasPrefix(etag, "W/") {
		if !weakOK {
			return false
		}
		etag = etag[2:]
	}
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == ',') {
			i++
		}
		candidate := true
		if i+1 < len(s) && s[i] == 'W' && s[i+1] == '/' {
			i += 2
			candidate = weakOK
		}
		if candidate {
			rest := s[i:]
			if strings.HasPrefix(rest, etag) || (len(rest) > 0 && rest[0] == '*') {
				j := i + len(etag)
				if len(rest) > 0 && rest[0] == '*' {
					j = i + 1
				}
				if j >= len(s) || s[j] == ' ' || s[j] == '\t' || s[j] == ',' {
					return true
				}
			}
		}
		for i < len(s) && s[i] != ',' {
			i++
		}
	}
	return false
}

// isBlank mirrors lighttpd's buffer_is_blank: an empty value.
func isBlank(s string) bool { return len(s) == 0 }
