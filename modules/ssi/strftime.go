package ssi

import (
	"strconv"
	"time"
)

var (
	days   = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	months = [...]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
)

// strftime formats t as C's strftime does in the C locale, for
// <!--#config timefmt -->. zone is the %Z name (C's gmtime says "GMT").
// Unknown conversions are copied as written.
func strftime(dst []byte, f string, t time.Time, zone string) []byte {
	pad := func(dst []byte, v, width int, padc byte) []byte {
		s := strconv.Itoa(v)
		for i := len(s); i < width; i++ {
			dst = append(dst, padc)
		}
		return append(dst, s...)
	}
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 == len(f) {
			dst = append(dst, f[i])
			continue
		}
		i++
		switch c := f[i]; c {
		case 'a':
			dst = append(dst, days[t.Weekday()][:3]...)
		case 'A':
			dst = append(dst, days[t.Weekday()]...)
		case 'b', 'h':
			dst = append(dst, months[t.Month()-1][:3]...)
		case 'B':
			dst = append(dst, months[t.Month()-1]...)
		case 'c':
			dst = strftime(dst, "%a %b %e %H:%M:%S %Y", t, zone)
		case 'C':
			dst = pad(dst, t.Year()/100, 2, '0')
		case 'd':
			dst = pad(dst, t.Day(), 2, '0')
		case 'D', 'x':
			dst = strftime(dst, "%m/%d/%y", t, zone)
		case 'e':
			dst = pad(dst, t.Day(), 2, ' ')
		case 'F':
			dst = strftime(dst, "%Y-%m-%d", t, zone)
		case 'H':
			dst = pad(dst, t.Hour(), 2, '0')
		case 'I':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			dst = pad(dst, h, 2, '0')
		case 'j':
			dst = pad(dst, t.YearDay(), 3, '0')
		case 'k':
			dst = pad(dst, t.Hour(), 2, ' ')
		case 'l':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			dst = pad(dst, h, 2, ' ')
		case 'm':
			dst = pad(dst, int(t.Month()), 2, '0')
		case 'M':
			dst = pad(dst, t.Minute(), 2, '0')
		case 'n':
			dst = append(dst, '\n')
		case 'p':
			if t.Hour() < 12 {
				dst = append(dst, "AM"...)
			} else {
				dst = append(dst, "PM"...)
			}
		case 'r':
			dst = strftime(dst, "%I:%M:%S %p", t, zone)
		case 'R':
			dst = strftime(dst, "%H:%M", t, zone)
		case 's':
			dst = strconv.AppendInt(dst, t.Unix(), 10)
		case 'S':
			dst = pad(dst, t.Second(), 2, '0')
		case 't':
			dst = append(dst, '\t')
		case 'T', 'X':
			dst = strftime(dst, "%H:%M:%S", t, zone)
		case 'u':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			dst = strconv.AppendInt(dst, int64(wd), 10)
		case 'w':
			dst = strconv.AppendInt(dst, int64(t.Weekday()), 10)
		case 'y':
			dst = pad(dst, t.Year()%100, 2, '0')
		case 'Y':
			dst = strconv.AppendInt(dst, int64(t.Year()), 10)
		case 'z':
			_, off := t.Zone()
			sign := byte('+')
			if off < 0 {
				sign, off = '-', -off
			}
			dst = append(dst, sign)
			dst = pad(dst, off/3600, 2, '0')
			dst = pad(dst, off%3600/60, 2, '0')
		case 'Z':
			dst = append(dst, zone...)
		case '%':
			dst = append(dst, '%')
		default:
			dst = append(dst, '%', c)
		}
	}
	return dst
}
