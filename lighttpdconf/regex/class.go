package regex

import (
	"strings"
	"unicode/utf8"
)

// classBuilder collects one bracket expression for both dialects.
//
// .NET has no way to put a negated set such as \D or [:^alpha:] inside a
// bracket expression, and under (?i) it case-folds \w and POSIX sets, which
// PCRE does not (U+212A KELVIN SIGN is not [[:alpha:]] in PCRE). So the
// .NET form keeps such sets apart and combines them with the folded part by
// alternation or look-ahead.
type classBuilder struct {
	goBody strings.Builder
	netPos strings.Builder // explicit characters and ranges
	// netFixed: positive shorthand/POSIX sets, merged into netPos unless
	// (?i) is on.
	netFixed strings.Builder
	netNeg   []string // negated shorthand/POSIX sets
}

func (s *scanner) class() error {
	s.pos++
	negated := false
	if s.pos < len(s.p) && s.p[s.pos] == '^' {
		negated = true
		s.pos++
	}
	var cb classBuilder
	first := true
	for {
		if s.pos >= len(s.p) {
			return errAt(len(s.p), "missing terminating ] for character class")
		}
		if s.p[s.pos] == ']' && !first {
			s.pos++
			break
		}
		first = false
		lo, isChar, err := s.classAtom(&cb)
		if err != nil {
			return err
		}
		if !isChar {
			continue
		}
		// A range needs "-" followed by something other than "]".
		if s.pos+1 < len(s.p) && s.p[s.pos] == '-' && s.p[s.pos+1] != ']' {
			s.pos++
			var probe classBuilder
			hi, hiIsChar, err := s.classAtom(&probe)
			if err != nil {
				return err
			}
			if !hiIsChar {
				return errAt(s.pos-1, "invalid range in character class")
			}
			if hi < lo {
				return errAt(s.pos-1, "range out of order in character class")
			}
			s.classRange(&cb, lo, hi)
			continue
		}
		s.classRange(&cb, lo, lo)
	}
	neg := ""
	if negated {
		neg = "^"
	}
	s.emitGo("[" + neg + cb.goBody.String() + "]")
	s.emitNet(cb.netClass(negated, s.fl.i))
	return nil
}

func (cb *classBuilder) netClass(negated, fold bool) string {
	pos := cb.netPos.String()
	if !fold {
		pos += cb.netFixed.String()
		cb.netFixed.Reset()
	}
	if len(cb.netNeg) == 0 && cb.netFixed.Len() == 0 {
		if negated {
			return "[^" + pos + "]"
		}
		return "[" + pos + "]"
	}
	// One single-character matcher per part; the class is their union.
	var alts []string
	if pos != "" {
		alts = append(alts, "["+pos+"]")
	}
	if cb.netFixed.Len() > 0 {
		alts = append(alts, "(?-i:["+cb.netFixed.String()+"])")
	}
	for _, n := range cb.netNeg {
		alts = append(alts, "(?-i:[^"+n+"])")
	}
	if !negated {
		return "(?:" + strings.Join(alts, "|") + ")"
	}
	var b strings.Builder
	b.WriteString("(?:")
	for _, a := range alts {
		b.WriteString("(?!" + a + ")")
	}
	b.WriteString("(?s:.))")
	return b.String()
}

func (s *scanner) classRange(cb *classBuilder, lo, hi rune) {
	if s.fl.i && hi >= utf8.RuneSelf {
		s.noGo()
	}
	cb.goBody.WriteString(goClassChar(lo))
	cb.netPos.WriteString(netClassChar(lo))
	if hi != lo {
		cb.goBody.WriteString("-" + goClassChar(hi))
		cb.netPos.WriteString("-" + netClassChar(hi))
	}
}

func goClassChar(r rune) string {
	if r < 0x20 || r == 0x7f {
		return `\x{` + strings.ToLower(hex(r)) + `}`
	}
	if strings.ContainsRune(`\]-^[`, r) {
		return `\` + string(r)
	}
	return string(r)
}

// netClassChar writes every ASCII non-alphanumeric as \uXXXX: regexp2
// misreads some escaped range ends (e.g. "[ -\-0]" matched ".").
func netClassChar(r rune) string {
	if r < utf8.RuneSelf && !isAlnum(byte(r)) {
		return `\u` + hex(r)
	}
	return string(r)
}

func hex(r rune) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[r>>12&15], digits[r>>8&15], digits[r>>4&15], digits[r&15]})
}

// classAtom reads one element of a bracket expression. It returns the code
// point and true for a single character, or false after adding a set (a
// shorthand escape, a POSIX class, a \p property) to cb.
func (s *scanner) classAtom(cb *classBuilder) (rune, bool, error) {
	c := s.p[s.pos]
	if c == '[' {
		if ok, err := s.posixClass(cb); ok || err != nil {
			return 0, false, err
		}
	}
	if c != '\\' {
		r, sz := utf8.DecodeRuneInString(s.p[s.pos:])
		s.pos += sz
		return r, true, nil
	}
	s.pos++
	if s.pos >= len(s.p) {
		return 0, false, errAt(s.pos, `\ at end of pattern`)
	}
	e := s.p[s.pos]
	s.pos++
	addSet := func(goSet, netSet string, negatedSet bool) (rune, bool, error) {
		cb.goBody.WriteString(goSet)
		if negatedSet {
			cb.netNeg = append(cb.netNeg, netSet)
		} else {
			cb.netFixed.WriteString(netSet)
		}
		return 0, false, nil
	}
	switch e {
	case 'd':
		return addSet(`0-9`, netDigit, false)
	case 'D':
		return addSet(`\D`, netDigit, true)
	case 'w', 'W':
		if s.fl.i {
			s.noGo()
		}
		if e == 'w' {
			return addSet(`\w`, netWord, false)
		}
		return addSet(`\W`, netWord, true)
	case 's':
		return addSet(`\t-\r `, netSpace, false)
	case 'S':
		return addSet(`[:^space:]`, netSpace, true)
	case 'h', 'H', 'v', 'V':
		s.noGo()
		set := netHSpace
		if e == 'v' || e == 'V' {
			set = netVSpace
		}
		return addSet("", set, e == 'H' || e == 'V')
	case 'p', 'P':
		s.noGo()
		prop, err := s.property(e)
		if err != nil {
			return 0, false, err
		}
		cb.netPos.WriteString(prop)
		return 0, false, nil
	case 'Q':
		end := strings.Index(s.p[s.pos:], `\E`)
		var quoted string
		if end < 0 {
			quoted, s.pos = s.p[s.pos:], len(s.p)
		} else {
			quoted, s.pos = s.p[s.pos:s.pos+end], s.pos+end+2
		}
		for _, r := range quoted {
			s.classRange(cb, r, r)
		}
		return 0, false, nil
	case 'E':
		return 0, false, nil
	case 'N', 'R', 'X', 'B', 'A', 'z', 'Z', 'G', 'K', 'g', 'k':
		return 0, false, errAt(s.pos-1, "escape sequence is invalid in character class")
	case '8', '9':
		return rune(e), true, nil
	}
	r, err := s.charEscape(e, true)
	return r, err == nil, err
}

// posixClass reads [:name:] or [:^name:] at s.pos if it is one.
func (s *scanner) posixClass(cb *classBuilder) (bool, error) {
	rest := s.p[s.pos:]
	if len(rest) < 2 || (rest[1] != ':' && rest[1] != '.' && rest[1] != '=') {
		return false, nil
	}
	term := string(rest[1]) + "]"
	end := strings.Index(rest[2:], term)
	if end < 0 || strings.IndexByte(rest[2:], ']') < end {
		return false, nil
	}
	if rest[1] != ':' {
		return false, errAt(s.pos+2+end, "POSIX collating elements are not supported")
	}
	name := rest[2 : 2+end]
	negated := strings.HasPrefix(name, "^")
	name = strings.TrimPrefix(name, "^")
	set, ok := posixNet[name]
	if !ok {
		return false, errAt(s.pos+2, "unknown POSIX class name")
	}
	if s.fl.i {
		s.noGo()
	}
	s.pos += 2 + end + 2
	if negated {
		cb.goBody.WriteString("[:^" + name + ":]")
		cb.netNeg = append(cb.netNeg, set)
	} else {
		cb.goBody.WriteString("[:" + name + ":]")
		cb.netFixed.WriteString(set)
	}
	return true, nil
}
