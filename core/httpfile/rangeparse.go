package httpfile

import (
	"math"
	"strconv"

	"github.com/golighty/golighty/core/ascii"
)

// MaxRanges is lighttpd's limit on byte-range-specs taken from one Range
// header; later specs are ignored (not an error).
const MaxRanges = 10

// coalesceGap: ranges closer than this are merged because a multipart part
// header costs about as much as the gap (lighttpd's constant).
const coalesceGap = 80

// Range is an inclusive byte range [Start, End].
type Range struct {
	Start, End int64
}

// Len is the number of bytes in r.
func (r Range) Len() int64 { return r.End - r.Start + 1 }

// RangeOutcome classifies a Range header against a representation size.
type RangeOutcome uint8

const (
	// RangeIgnored: the header does not apply (unit is not "bytes=" or the
	// body is empty); answer the full 200.
	RangeIgnored RangeOutcome = iota
	// RangeSatisfiable: at least one range survived; answer 206.
	RangeSatisfiable
	// RangeUnsatisfiable: "bytes=" but no usable spec; answer 416.
	RangeUnsatisfiable
)

// ParseRange evaluates a Range header value against a body of size bytes
// the way lighttpd's http_range_process does and appends the resulting
// ranges to dst (pass a slice with capacity MaxRanges to avoid allocating).
//
// Rules, all lighttpd's: the unit "bytes=" is matched case-insensitively and
// anything else is ignored; specs are split on ','; each is "a-b" (b clipped
// to size-1), "a-" or "-n" (the last n bytes, the whole body if n >= size),
// numbers parsed like strtoll (leading whitespace and a sign accepted,
// blanks allowed around '-' and before ','); invalid specs (a >= size,
// b < a, garbage) are skipped; at most MaxRanges specs are kept; with more
// than one, overlapping ranges and ranges less than 80 bytes apart are merged
// into the earlier one, keeping request order. No surviving spec means 416.
func ParseRange(dst []Range, v string, size int64) ([]Range, RangeOutcome) {
	if size <= 0 {
		return dst, RangeIgnored
	}
	v = cstr(v)
	if len(v) < 6 || !ascii.EqualFold(v[:6], "bytes=") {
		return dst, RangeIgnored
	}
	s := v[6:]
	base := len(dst)
	i := 0
	for {
		r, next, valid := parseRangeSpec(s, i, size)
		i = next
		if valid && (i >= len(s) || s[i] == ',') {
			dst = append(dst, r)
		} else {
			for i < len(s) && s[i] != ',' {
				i++
			}
		}
		// The spec loop consumes the ',' (or the end) and stops once
		// MaxRanges ranges are held.
		if i >= len(s) {
			break
		}
		i++
		if len(dst)-base >= MaxRanges {
			break
		}
	}
	n := len(dst) - base
	if n == 0 {
		return dst, RangeUnsatisfiable
	}
	if n > 1 {
		dst = dst[:base+coalesce(dst[base:])]
	}
	return dst, RangeSatisfiable
}

// coalesce merges ranges in place as lighttpd does: each later range that
// overlaps or nearly touches an earlier one is folded into the earlier one
// and the scan restarts from the beginning. Cost is bounded by MaxRanges.
func coalesce(r []Range) int {
	n := len(r)
	for i := 0; i+1 < n; i++ {
		b, e := r[i].Start, r[i].End
		for j := i + 1; j < n; j++ {
			disjoint := false
			if b <= r[j].Start {
				disjoint = e < r[j].Start-coalesceGap
			} else {
				disjoint = r[j].End < b-coalesceGap
			}
			if disjoint {
				continue
			}
			r[i].Start = min(b, r[j].Start)
			r[i].End = max(e, r[j].End)
			copy(r[j:], r[j+1:n])
			n--
			i = -1
			break
		}
	}
	return n
}

// parseRangeSpec parses one spec starting at s[i]. It returns the range,
// the index where parsing stopped (after trailing blanks) and whether the
// range is valid.
func parseRangeSpec(s string, i int, size int64) (Range, int, bool) {
	var r Range
	valid := false
	n, e, conv := strtoll(s, i)
	switch {
	case n >= 0:
		if n != math.MaxInt64 && n < size && conv {
			r.Start = n
			for e < len(s) && (s[e] == ' ' || s[e] == '\t') {
				e++
			}
			if e < len(s) && s[e] == '-' {
				start := e + 1
				m, e2, conv2 := strtoll(s, start)
				e = e2
				switch {
				case !conv2 || (m == 0 && s[e-1] != '0'):
					r.End, valid = size-1, true
				case r.Start <= m && m != math.MaxInt64:
					r.End, valid = min(m, size-1), true
				}
			}
		}
	case n != math.MinInt64:
		// Suffix form "-n": n is negative here.
		if size > -n {
			r.Start = size + n
		}
		r.End, valid = size-1, true
	}
	for e < len(s) && (s[e] == ' ' || s[e] == '\t') {
		e++
	}
	return r, e, valid
}

// strtoll mimics C strtoll(s+i, &end, 10): leading isspace() skipped,
// optional sign, saturation at the int64 limits on overflow. conv reports
// whether any digit was consumed; when not, end is i (as C sets endptr to
// the start).
func strtoll(s string, i int) (v int64, end int, conv bool) {
	j := i
	for j < len(s) && (s[j] == ' ' || (s[j] >= '\t' && s[j] <= '\r')) {
		j++
	}
	neg := false
	if j < len(s) && (s[j] == '+' || s[j] == '-') {
		neg = s[j] == '-'
		j++
	}
	start := j
	var acc uint64
	overflow := false
	for j < len(s) && isDigit(s[j]) {
		d := uint64(s[j] - '0')
		if acc > (math.MaxUint64-d)/10 {
			overflow = true
		} else {
			acc = acc*10 + d
		}
		j++
	}
	if j == start {
		return 0, i, false
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	if overflow || acc > limit {
		if neg {
			return math.MinInt64, j, true
		}
		return math.MaxInt64, j, true
	}
	if neg {
		return -int64(acc), j, true
	}
	return int64(acc), j, true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c | 0x20
	}
	return c
}

// AppendContentRange appends "bytes A-B/SIZE" (206) to dst.
func AppendContentRange(dst []byte, r Range, size int64) []byte {
	dst = append(dst, "bytes "...)
	dst = strconv.AppendInt(dst, r.Start, 10)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, r.End, 10)
	dst = append(dst, '/')
	return strconv.AppendInt(dst, size, 10)
}

// AppendUnsatisfiedRange appends "bytes */SIZE" (the 416 Content-Range).
func AppendUnsatisfiedRange(dst []byte, size int64) []byte {
	dst = append(dst, "bytes */"...)
	return strconv.AppendInt(dst, size, 10)
}
