package httpfile

import (
	"strconv"
	"sync/atomic"
	"time"
)

// HTTPDateLen is the length of an IMF-fixdate ("Wed, 25 Nov 2026 18:57:46 GMT").
const HTTPDateLen = 29

const (
	dayNames   = "SunMonTueWedThuFriSat"
	monthNames = "JanFebMarAprMayJunJulAugSepOctNovDec"
)

// AppendHTTPDate appends t (Unix seconds) in lighttpd's strftime format
// "%a, %d %b %Y %T GMT".
func AppendHTTPDate(dst []byte, t int64) []byte {
	tm := time.Unix(t, 0).UTC()
	year, month, day := tm.Date()
	hour, min, sec := tm.Clock()
	wd := int(tm.Weekday())
	dst = append(dst, dayNames[wd*3:wd*3+3]...)
	dst = append(dst, ',', ' ')
	dst = append2(dst, day)
	dst = append(dst, ' ')
	m := int(month) - 1
	dst = append(dst, monthNames[m*3:m*3+3]...)
	dst = append(dst, ' ')
	// glibc's %Y prints the year unpadded; years 1000..9999 give 4 digits.
	dst = strconv.AppendInt(dst, int64(year), 10)
	dst = append(dst, ' ')
	dst = append2(dst, hour)
	dst = append(dst, ':')
	dst = append2(dst, min)
	dst = append(dst, ':')
	dst = append2(dst, sec)
	return append(dst, " GMT"...)
}

func append2(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/10), byte('0'+v%10))
}

// at returns s[i] or 0 past the end, so the parsers below see the implicit
// NUL terminator lighttpd's C code relies on.
func at(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digits2(s string, i int) (int, bool) {
	a, b := at(s, i), at(s, i+1)
	if !isDigit(a) || !isDigit(b) {
		return 0, false
	}
	return int(a-'0')*10 + int(b-'0'), true
}

// name3 finds the 3-letter name at s[i:] in table (case-sensitive, as
// lighttpd) and returns its index.
func name3(s string, i int, table string) (int, bool) {
	a, b, c := at(s, i), at(s, i+1), at(s, i+2)
	for k := 0; k+3 <= len(table); k += 3 {
		if a == table[k] && b == table[k+1] && c == table[k+2] {
			return k / 3, true
		}
	}
	return 0, false
}

// ParseHTTPDate parses an HTTP-date the way lighttpd does for
// If-Modified-Since: the format is chosen by length alone (29 = IMF-fixdate,
// more = RFC 850, less = asctime), trailing bytes after a recognised RFC 850
// or asctime date are ignored, the weekday name is checked only for being a
// weekday, and out-of-range fields (day 99, hour 25) are normalised like
// timegm(3). now (Unix seconds) resolves RFC 850's two-digit year: the
// current century, minus 100 years if that lands more than 50 years ahead.
func ParseHTTPDate(s string, now int64) (int64, bool) {
	s = cstr(s)
	var year, mon, day, hour, min, sec int
	var ok bool
	switch {
	case len(s) == HTTPDateLen:
		year, mon, day, hour, min, sec, ok = parseIMF(s)
	case len(s) > HTTPDateLen:
		year, mon, day, hour, min, sec, ok = parseRFC850(s, now)
	default:
		year, mon, day, hour, min, sec, ok = parseAsctime(s)
	}
	if !ok {
		return 0, false
	}
	return time.Date(year, time.Month(mon+1), day, hour, min, sec, 0, time.UTC).Unix(), true
}

func parseIMF(s string) (year, mon, day, hour, min, sec int, ok bool) {
	if _, ok = name3(s, 0, dayNames); !ok || s[3] != ',' || s[4] != ' ' {
		return 0, 0, 0, 0, 0, 0, false
	}
	if day, ok = digits2(s, 5); !ok || s[7] != ' ' {
		return 0, 0, 0, 0, 0, 0, false
	}
	if mon, ok = name3(s, 8, monthNames); !ok || s[11] != ' ' {
		return 0, 0, 0, 0, 0, 0, false
	}
	hi, ok1 := digits2(s, 12)
	lo, ok2 := digits2(s, 14)
	if !ok1 || !ok2 || s[16] != ' ' {
		return 0, 0, 0, 0, 0, 0, false
	}
	year = hi*100 + lo
	if hour, ok = digits2(s, 17); !ok || s[19] != ':' {
		return 0, 0, 0, 0, 0, 0, false
	}
	if min, ok = digits2(s, 20); !ok || s[22] != ':' {
		return 0, 0, 0, 0, 0, 0, false
	}
	if sec, ok = digits2(s, 23); !ok || s[25:29] != " GMT" {
		return 0, 0, 0, 0, 0, 0, false
	}
	return year, mon, day, hour, min, sec, true
}

func parseRFC850(s string, now int64) (year, mon, day, hour, min, sec int, ok bool) {
	if _, ok = name3(s, 0, dayNames); !ok {
		return 0, 0, 0, 0, 0, 0, false
	}
	i := 3
	for i < len(s) && s[i] != ',' {
		i++
	}
	if at(s, i) != ',' || at(s, i+1) != ' ' {
		return 0, 0, 0, 0, 0, 0, false
	}
	if day, ok = digits2(s, i+2); !ok || at(s, i+4) != '-' {
		return 0, 0, 0, 0, 0, 0, false
	}
	if mon, ok = name3(s, i+5, monthNames); !ok || at(s, i+8) != '-' {
		return 0, 0, 0, 0, 0, 0, false
	}
	yy, ok := digits2(s, i+9)
	if !ok || at(s, i+11) != ' ' {
		return 0, 0, 0, 0, 0, 0, false
	}
	cur := time.Unix(now, 0).UTC().Year()
	year = cur - cur%100 + yy
	if year > cur+50 {
		year -= 100
	}
	if hour, ok = digits2(s, i+12); !ok || at(s, i+14) != ':' {
		return 0, 0, 0, 0, 0, 0, false
	}
	if min, ok = digits2(s, i+15); !ok || at(s, i+17) != ':' {
		return 0, 0, 0, 0, 0, 0, false
	}
	if sec, ok = digits2(s, i+18); !ok {
		return 0, 0, 0, 0, 0, 0, false
	}
	if at(s, i+20) != ' ' || at(s, i+21) != 'G' || at(s, i+22) != 'M' || at(s, i+23) != 'T' {
		return 0, 0, 0, 0, 0, 0, false
	}
	return year, mon, day, hour, min, sec, true
}

func parseAsctime(s string) (year, mon, day, hour, min, sec int, ok bool) {
	if _, ok = name3(s, 0, dayNames); !ok || at(s, 3) != ' ' {
		return 0, 0, 0, 0, 0, 0, false
	}
	if mon, ok = name3(s, 4, monthNames); !ok || at(s, 7) != ' ' {
		return 0, 0, 0, 0, 0, 0, false
	}
	d1, d2 := at(s, 8), at(s, 9)
	if (d1 != ' ' && !isDigit(d1)) || !isDigit(d2) {
		return 0, 0, 0, 0, 0, 0, false
	}
	day = int(d2 - '0')
	if d1 != ' ' {
		day += int(d1-'0') * 10
	}
	if at(s, 10) != ' ' {
		return 0, 0, 0, 0, 0, 0, false
	}
	if hour, ok = digits2(s, 11); !ok || at(s, 13) != ':' {
		return 0, 0, 0, 0, 0, 0, false
	}
	if min, ok = digits2(s, 14); !ok || at(s, 16) != ':' {
		return 0, 0, 0, 0, 0, 0, false
	}
	if sec, ok = digits2(s, 17); !ok || at(s, 19) != ' ' {
		return 0, 0, 0, 0, 0, 0, false
	}
	hi, ok1 := digits2(s, 20)
	lo, ok2 := digits2(s, 22)
	if !ok1 || !ok2 {
		return 0, 0, 0, 0, 0, 0, false
	}
	return hi*100 + lo, mon, day, hour, min, sec, true
}

// NotModifiedSince reports whether If-Modified-Since value ims lets a file
// with the given Last-Modified string and mtime be answered with 304: the
// value equals lastModified byte for byte, or parses as an HTTP-date not
// older than mtime (so future dates give 304, unparsable ones do not).
func NotModifiedSince(ims, lastModified string, mtime, now int64) bool {
	if ims == lastModified {
		return true
	}
	t, ok := ParseHTTPDate(ims, now)
	return ok && mtime <= t
}

// Clock caches the formatted current second for the Date: header; lighttpd
// formats it at most once per second too. The zero value is ready to use.
type Clock struct {
	cur atomic.Pointer[clockSecond]
}

type clockSecond struct {
	sec  int64
	date [HTTPDateLen]byte
}

// Now returns the current Unix second and its IMF-fixdate. The returned
// slice is shared and must not be modified.
func (c *Clock) Now() (int64, []byte) {
	sec := time.Now().Unix()
	cs := c.cur.Load()
	if cs == nil || cs.sec != sec {
		cs = &clockSecond{sec: sec}
		AppendHTTPDate(cs.date[:0], sec)
		c.cur.Store(cs)
	}
	return cs.sec, cs.date[:]
}

// AppendDate appends the current IMF-fixdate to dst.
func (c *Clock) AppendDate(dst []byte) []byte {
	_, d := c.Now()
	return append(dst, d...)
}
