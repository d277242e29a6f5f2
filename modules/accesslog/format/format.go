// Package format compiles and renders lighttpd's accesslog.format dialect
// (lighttpd 1.4.69 mod_accesslog; it differs from Apache's mod_log_config in
// several directives and in escaping).
//
// A format is compiled once at config time with Compile, which reports the
// same errors lighttpd does, and rendered per request with Format.Append into
// a caller-owned buffer from a Record the server fills. Rendering does not
// allocate once the buffer has grown.
package format

import (
	"strings"
	"sync/atomic"
)

// Default is lighttpd's default accesslog.format.
const Default = `%h %V %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`

// maxFields bounds the number of fields, as lighttpd's parser does.
const maxFields = 127

type kind uint8

const (
	kLiteral kind = iota + 1
	kRequestHeader
	kResponseHeader
	kEnv
	kTimestamp
	kTimeUsed
	kRemoteAddr
	kHost
	kRequestLine
	kStatus
	kBytesOutNoHeader
	kBytesOut
	kBytesIn
	kServerName
	kProtocol
	kMethod
	kCookie
	kServerPort
	kLocalAddr
	kKeepAliveCount
	kURL
	kQuery
	kFilename
	kConnStatus
	// kSilent: accepted by lighttpd's parser but prints nothing: %P, and
	// %{...}% and %{...}l (the braces bypass the %% and %l literal rules).
	kSilent
	// Parse-time aliases, resolved by process().
	kRemoteHost
	kRemoteUser
	kNote
	kTimeUsedUS
)

// Time option bits for %t and %T.
const (
	tBegin uint16 = 1 << iota
	tSec
	tMsec
	tUsec
	tNsec
	tMsecFrac
	tUsecFrac
	tNsecFrac
)

const portRemote uint16 = 1

type field struct {
	kind kind
	opt  uint16
	str  string // literal text, header/env/cookie name, strftime format
}

// Format is a compiled accesslog.format. It is safe for concurrent use.
type Format struct {
	text   string // format after backslash processing
	fields []field
	ts     atomic.Pointer[tsCache] // %t text of the current second
}

// String returns the format (after backslash-escape processing).
func (f *Format) String() string { return f.text }

// CompileError is a config-time error in accesslog.format. Messages holds
// the lines lighttpd writes to the error log for it, in order.
type CompileError struct {
	Messages []string
}

func (e *CompileError) Error() string { return strings.Join(e.Messages, "; ") }

// Compile parses an accesslog.format value. Backslash escapes are processed
// first as lighttpd does for this key (\a \b \f \n \r \t \v; any other
// escaped character stands for itself; a trailing backslash is dropped).
func Compile(format string) (*Format, error) {
	text := unescapeBackslashes(format)
	fields, msg := parse(text)
	if msg != "" || fields == nil {
		msgs := []string{"parsing accesslog-definition failed: " + text}
		if msg != "" {
			msgs = append([]string{msg}, msgs...)
		}
		return nil, &CompileError{Messages: msgs}
	}
	if msg := process(fields, text); msg != "" {
		return nil, &CompileError{Messages: []string{msg}}
	}
	return &Format{text: text, fields: fields}, nil
}

func unescapeBackslashes(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	// lighttpd rewrites the C string in place, so a NUL ends it.
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(s) {
			break
		}
		i++
		switch c = s[i]; c {
		case 'a':
			c = '\a'
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		case 'v':
			c = '\v'
		}
		b.WriteByte(c)
	}
	return b.String()
}

var directives = [256]kind{
	'a': kRemoteAddr,
	'A': kLocalAddr,
	'b': kBytesOutNoHeader,
	'B': kBytesOutNoHeader,
	'C': kCookie,
	'D': kTimeUsedUS,
	'e': kEnv,
	'f': kFilename,
	'h': kRemoteHost,
	'H': kProtocol,
	'i': kRequestHeader,
	'I': kBytesIn,
	'k': kKeepAliveCount,
	'l': kSilent, // only reachable as %{...}l; bare %l is a literal "-"
	'm': kMethod,
	'n': kNote,
	'o': kResponseHeader,
	'O': kBytesOut,
	'p': kServerPort,
	'P': kSilent, // lighttpd: "unsupported", parsed but empty
	'q': kQuery,
	'r': kRequestLine,
	's': kStatus,
	't': kTimestamp,
	'T': kTimeUsed,
	'u': kRemoteUser,
	'U': kURL,
	'v': kServerName,
	'V': kHost,
	'X': kConnStatus,
	'%': kSilent, // only reachable as %{...}%; bare %% is a literal "%"
}

// parse splits the format into fields with the grammar and limits of
// lighttpd's accesslog_parse_format. It returns the error message, or nil
// fields without a message for an empty format.
func parse(s string) ([]field, string) {
	if s == "" {
		return nil, ""
	}
	var fields []field
	appendLiteral := func(text string) bool {
		if n := len(fields); n > 0 && fields[n-1].kind == kLiteral {
			fields[n-1].str += text
			return true
		}
		if len(fields) == maxFields {
			return false
		}
		fields = append(fields, field{kind: kLiteral, str: text})
		return true
	}
	const tooMany = "too many fields (>= 127) in accesslog.format"
	for i := 0; i < len(s); i++ {
		start := i
		for i < len(s) && s[i] != '%' {
			i++
		}
		if start != i && !appendLiteral(s[start:i]) {
			return nil, tooMany
		}
		if i == len(s) {
			break
		}
		i++ // the '%'
		if i == len(s) {
			return nil, "% must be followed by a format-specifier"
		}
		if len(fields) == maxFields {
			return nil, tooMany
		}
		arg := ""
		if s[i] == '{' {
			k := i + 1
			end := strings.IndexByte(s[k:], '}')
			if end <= 0 {
				return nil, "%{...} must contain string and %{ must be terminated by }"
			}
			arg = s[k : k+end]
			i = k + end + 1
		} else {
			if s[i] == '<' || s[i] == '>' {
				i++
			}
			if i < len(s) && (s[i] == '%' || s[i] == 'l') {
				lit := "%"
				if s[i] == 'l' {
					lit = "-" // remote ident is never looked up
				}
				appendLiteral(lit) // cannot fail: room was checked above
				continue
			}
		}
		var k kind
		if i < len(s) {
			k = directives[s[i]]
		}
		if k == 0 {
			return nil, "% or %{...} must be followed by a valid format-specifier"
		}
		fields = append(fields, field{kind: k, str: arg})
	}
	return fields, ""
}

// process resolves aliases and checks directive arguments like lighttpd's
// mod_accesslog_process_format; format is quoted in the messages.
func process(fields []field, format string) string {
	strftimes := 0
	for i := range fields {
		f := &fields[i]
		switch f.kind {
		case kTimestamp:
			if f.str != "" {
				if rest, ok := strings.CutPrefix(f.str, "begin:"); ok {
					f.opt |= tBegin
					f.str = rest
				} else if rest, ok := strings.CutPrefix(f.str, "end:"); ok {
					f.str = rest
				}
				switch f.str {
				case "sec":
					f.opt |= tSec
				case "msec":
					f.opt |= tMsec
				case "usec":
					f.opt |= tUsec
				case "nsec":
					f.opt |= tNsec
				case "msec_frac":
					f.opt |= tMsecFrac
				case "usec_frac":
					f.opt |= tUsecFrac
				case "nsec_frac":
					f.opt |= tNsecFrac
				default:
					if !strings.Contains(f.str, "%") {
						return "constant string for time format (misspelled token? or missing '%'): " + format
					}
				}
			}
			// lighttpd caches one strftime result per format, so only one
			// strftime-style %t (or %{sec}t, which it counts alike) fits.
			if f.opt&^(tBegin|tSec) == 0 {
				strftimes++
				if strftimes > 1 {
					return "you may not use strftime timestamp format %{}t twice in the same access log: " + format
				}
			}
		case kTimeUsedUS:
			f.kind = kTimeUsed
			f.opt = tUsec
		case kTimeUsed:
			switch f.str {
			case "", "s", "sec":
				f.opt = tSec
			case "ms", "msec":
				f.opt = tMsec
			case "us", "usec":
				f.opt = tUsec
			case "ns", "nsec":
				f.opt = tNsec
			default:
				return "invalid time unit in %{UNIT}T: " + format
			}
		case kCookie:
			if f.str == "" { // bare %C prints nothing
				f.kind = kLiteral
			}
		case kServerPort:
			switch f.str {
			case "", "canonical", "local":
			case "remote":
				f.opt = portRemote
			default:
				return "invalid format %{canonical,local,remote}p: " + format
			}
		case kRemoteHost:
			f.kind = kRemoteAddr
		case kRemoteUser:
			f.kind = kEnv
			f.str = "REMOTE_USER"
		case kNote:
			f.kind = kEnv
		}
	}
	return ""
}
