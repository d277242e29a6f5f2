package format

import (
	"strconv"
	"time"
)

// appendStrftime formats t like glibc's strftime(3) in the C locale, which
// is what lighttpd uses for %{...}t: conversions %a..%Z, the E and O
// modifiers (no effect in the C locale), the GNU flags _ - 0 ^ # and a
// field width, with the padding quirks of the glibc lighttpd runs on. An
// unknown conversion is copied literally (padded to the width), as glibc
// does.
func appendStrftime(dst []byte, layout string, t time.Time) []byte {
	for i := 0; i < len(layout); i++ {
		c := layout[i]
		if c != '%' {
			dst = append(dst, c)
			continue
		}
		start := i
		var flag byte
		width := -1
		upper, swap := false, false
	flags:
		for i+1 < len(layout) {
			switch f := layout[i+1]; f {
			case '_', '-', '0':
				flag = f
			case '^':
				upper = true
			case '#':
				swap = true
			default:
				break flags
			}
			i++
		}
		for i+1 < len(layout) && layout[i+1] >= '0' && layout[i+1] <= '9' {
			if width < 0 {
				width = 0
			}
			if width < 1<<16 { // keep absurd widths from overflowing
				width = width*10 + int(layout[i+1]-'0')
			}
			i++
		}
		if i+1 < len(layout) && (layout[i+1] == 'E' || layout[i+1] == 'O') {
			i++
		}
		if i+1 >= len(layout) {
			// A '%' sequence cut off by the end of the format is copied.
			return appendText(dst, layout[start:], flag, width, false, false)
		}
		i++
		conv := layout[i]
		if m := layout[i-1]; (m == 'E' && !validE(conv)) || (m == 'O' && !validO(conv)) {
			dst = appendText(dst, layout[start:i+1], flag, width, false, false)
			continue
		}
		n := len(dst)
		var ok bool
		dst, ok = appendConversion(dst, conv, flag, width, upper, swap, t)
		if !ok {
			dst = appendText(dst[:n], layout[start:i+1], flag, width, false, false)
		}
	}
	return dst
}

func validE(c byte) bool { return c == 'c' || c == 'C' || c == 'x' || c == 'X' || c == 'y' || c == 'Y' }

func validO(c byte) bool {
	switch c {
	case 'd', 'e', 'H', 'I', 'm', 'M', 'S', 'u', 'U', 'V', 'w', 'W', 'y':
		return true
	}
	return false
}

var (
	shortDays   = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	longDays    = [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	shortMonths = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	longMonths  = [12]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
)

func appendConversion(dst []byte, conv, flag byte, width int, upper, swap bool, t time.Time) ([]byte, bool) {
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	wday := int(t.Weekday())
	yday := t.YearDay() - 1
	switch conv {
	case 'a':
		return appendText(dst, shortDays[wday], flag, width, upper || swap, false), true
	case 'A':
		return appendText(dst, longDays[wday], flag, width, upper || swap, false), true
	case 'b', 'h':
		return appendText(dst, shortMonths[month-1], flag, width, upper || swap, false), true
	case 'B':
		return appendText(dst, longMonths[month-1], flag, width, upper || swap, false), true
	case 'p', 'P':
		s := "AM"
		if hour >= 12 {
			s = "PM"
		}
		// %P and %#p are lower case, whatever ^ says.
		return appendText(dst, s, flag, width, false, conv == 'P' || swap), true
	case 'Z':
		name, _ := t.Zone()
		return appendText(dst, name, flag, width, upper && !swap, swap), true
	case 'n':
		return appendText(dst, "\n", flag, width, false, false), true
	case 't':
		return appendText(dst, "\t", flag, width, false, false), true
	case '%':
		return appendText(dst, "%", flag, width, false, false), true
	case 'c':
		return appendSub(dst, "%a %b %e %H:%M:%S %Y", flag, width, upper, t), true
	case 'D', 'x':
		return appendSub(dst, "%m/%d/%y", flag, width, upper, t), true
	case 'F':
		return appendSub(dst, "%Y-%m-%d", flag, width, upper, t), true
	case 'r':
		return appendSub(dst, "%I:%M:%S %p", flag, width, upper, t), true
	case 'R':
		return appendSub(dst, "%H:%M", flag, width, upper, t), true
	case 'T', 'X':
		return appendSub(dst, "%H:%M:%S", flag, width, upper, t), true
	case 'C':
		return appendNum(dst, int64(floorDiv(year, 100)), 2, '0', flag, width), true
	case 'd':
		return appendNum(dst, int64(day), 2, '0', flag, width), true
	case 'e':
		return appendNum(dst, int64(day), 2, ' ', flag, width), true
	case 'H':
		return appendNum(dst, int64(hour), 2, '0', flag, width), true
	case 'k':
		return appendNum(dst, int64(hour), 2, ' ', flag, width), true
	case 'I':
		return appendNum(dst, int64(hour12(hour)), 2, '0', flag, width), true
	case 'l':
		return appendNum(dst, int64(hour12(hour)), 2, ' ', flag, width), true
	case 'j':
		return appendNum(dst, int64(yday+1), 3, '0', flag, width), true
	case 'm':
		return appendNum(dst, int64(month), 2, '0', flag, width), true
	case 'M':
		return appendNum(dst, int64(minute), 2, '0', flag, width), true
	case 'S':
		return appendNum(dst, int64(sec), 2, '0', flag, width), true
	case 's':
		return appendNum(dst, t.Unix(), 1, '0', flag, width), true
	case 'u':
		return appendNum(dst, int64((wday+6)%7+1), 1, '0', flag, width), true
	case 'w':
		return appendNum(dst, int64(wday), 1, '0', flag, width), true
	case 'U':
		return appendNum(dst, int64((yday+7-wday)/7), 2, '0', flag, width), true
	case 'W':
		return appendNum(dst, int64((yday+7-(wday+6)%7)/7), 2, '0', flag, width), true
	case 'V':
		_, w := t.ISOWeek()
		return appendNum(dst, int64(w), 2, '0', flag, width), true
	case 'g':
		y, _ := t.ISOWeek()
		return appendNum(dst, int64(mod(y, 100)), 2, '0', flag, width), true
	case 'G':
		y, _ := t.ISOWeek()
		return appendNum(dst, int64(y), 1, '0', flag, width), true
	case 'y':
		return appendNum(dst, int64(mod(year, 100)), 2, '0', flag, width), true
	case 'Y':
		return appendNum(dst, int64(year), 1, '0', flag, width), true
	case 'z':
		_, off := t.Zone()
		sign := byte('+')
		if off < 0 {
			sign, off = '-', -off
		}
		off /= 60
		v := int64(off/60*100 + off%60)
		// glibc pads twice with a width: width-1 blanks (zeros with flag
		// 0) before the sign, and the digits to the width.
		lead := byte(' ')
		if flag == '0' {
			lead = '0'
		}
		for j := 1; j < width; j++ {
			dst = append(dst, lead)
		}
		dst = append(dst, sign)
		switch flag {
		case '-':
			return appendPadded(dst, v, width, ' '), true
		case '_':
			return appendPadded(dst, v, max(width, 4), ' '), true
		}
		return appendPadded(dst, v, max(width, 4), '0'), true
	}
	return dst, false
}

func hour12(h int) int {
	if h %= 12; h == 0 {
		return 12
	}
	return h
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func mod(a, b int) int {
	if m := a % b; m < 0 {
		return m + b
	} else {
		return m
	}
}

// appendNum prints v with glibc's padding: at least digits wide with pad,
// and at least width wide. Flag '_' pads with blanks, '0' with zeros, '-'
// drops the digits padding but still fills a width with blanks.
func appendNum(dst []byte, v int64, digits int, pad, flag byte, width int) []byte {
	switch flag {
	case '-':
		digits, pad = 0, ' '
	case '_':
		pad = ' '
	case '0':
		pad = '0'
	}
	return appendPadded(dst, v, max(digits, width), pad)
}

func appendPadded(dst []byte, v int64, w int, pad byte) []byte {
	var tmp [24]byte
	num := strconv.AppendInt(tmp[:0], v, 10)
	neg := v < 0
	if neg && pad == '0' {
		dst = append(dst, '-')
		num = num[1:]
		w--
	}
	for n := len(num); n < w; n++ {
		dst = append(dst, pad)
	}
	return append(dst, num...)
}

// appendText pads s on the left to width (blanks, or zeros with flag '0';
// glibc pads even with flag '-') and changes its case.
func appendText(dst []byte, s string, flag byte, width int, upper, lower bool) []byte {
	pad := byte(' ')
	if flag == '0' {
		pad = '0'
	}
	for n := len(s); n < width; n++ {
		dst = append(dst, pad)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case upper && c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case lower && c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendSub formats a composite conversion (%c %D %F %r %R %T %x %X) and
// pads the whole result to width.
func appendSub(dst []byte, sub string, flag byte, width int, upper bool, t time.Time) []byte {
	n := len(dst)
	dst = appendStrftime(dst, sub, t)
	if upper {
		for i := n; i < len(dst); i++ {
			if c := dst[i]; c >= 'a' && c <= 'z' {
				dst[i] = c - ('a' - 'A')
			}
		}
	}
	if l := len(dst) - n; l < width {
		pad := byte(' ')
		if flag == '0' {
			pad = '0'
		}
		k := width - l
		for j := 0; j < k; j++ {
			dst = append(dst, 0)
		}
		copy(dst[n+k:], dst[n:n+l])
		for j := n; j < n+k; j++ {
			dst[j] = pad
		}
	}
	return dst
}
