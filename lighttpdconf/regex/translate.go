package regex

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// translation is the result of reading a PCRE2 pattern once.
//
// goPat is the pattern in Go regexp syntax; it is only meaningful when goOK,
// i.e. when every construct in the pattern belongs to the whitelist whose
// meaning is the same in PCRE2 (UTF mode, no UCP) and in RE2 for every
// subject that is valid UTF-8. netPat is the same pattern in regexp2's
// default (.NET) dialect, rewritten where the two dialects disagree.
type translation struct {
	goPat  strings.Builder
	netPat strings.Builder
	goOK   bool
	// nlSensitive: the pattern has `$`, or `^` under (?m). For such patterns
	// RE2 and PCRE disagree only on subjects that contain '\n', so the RE2
	// engine is used for the others.
	nlSensitive bool
	ncap        int
}

// flags are the PCRE option letters that change how the scanner reads or
// emits the pattern.
type flags struct {
	i, m, s, x, U, n bool
}

type scanner struct {
	p     string
	pos   int
	fl    flags
	stack []flags
	t     *translation
	// repeatable: the last item can take a quantifier (PCRE refuses one
	// after nothing, an anchor, an option setting or another quantifier).
	repeatable bool
}

// compileError mirrors pcre2_compile's (message, offset) pair.
type compileError struct {
	msg    string
	offset int
}

func (e *compileError) Error() string { return fmt.Sprintf("%s at offset %d", e.msg, e.offset) }

func errAt(off int, msg string) error { return &compileError{msg: msg, offset: off} }

// translate reads pattern with PCRE2's syntax rules.
func translate(pattern string) (*translation, error) {
	t := &translation{goOK: true}
	if !utf8.ValidString(pattern) {
		off := 0
		for off < len(pattern) {
			r, sz := utf8.DecodeRuneInString(pattern[off:])
			if r == utf8.RuneError && sz <= 1 {
				break
			}
			off += sz
		}
		return nil, errAt(off, "UTF-8 error: invalid UTF-8 byte sequence")
	}
	s := &scanner{p: pattern, t: t}
	if err := s.run(); err != nil {
		return nil, err
	}
	return t, nil
}

func (s *scanner) noGo() { s.t.goOK = false }

func (s *scanner) emitGo(str string)  { s.t.goPat.WriteString(str) }
func (s *scanner) emitNet(str string) { s.t.netPat.WriteString(str) }
func (s *scanner) emit(goStr, netStr string) {
	s.emitGo(goStr)
	s.emitNet(netStr)
}

func (s *scanner) run() error {
	for s.pos < len(s.p) {
		c := s.p[s.pos]
		if s.fl.x && (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
			s.pos++
			continue
		}
		if s.fl.x && c == '#' {
			for s.pos < len(s.p) && s.p[s.pos] != '\n' {
				s.pos++
			}
			continue
		}
		switch c {
		case '\\':
			if err := s.escape(); err != nil {
				return err
			}
		case '[':
			if err := s.class(); err != nil {
				return err
			}
			s.repeatable = true
		case '(':
			s.repeatable = false
			if err := s.open(); err != nil {
				return err
			}
		case ')':
			if len(s.stack) == 0 {
				return errAt(s.pos, "unmatched closing parenthesis")
			}
			s.fl = s.stack[len(s.stack)-1]
			s.stack = s.stack[:len(s.stack)-1]
			s.pos++
			s.emit(")", ")")
			s.repeatable = true
		case '*', '+', '?', '{':
			if err := s.quantifier(); err != nil {
				return err
			}
		case '^':
			s.pos++
			s.repeatable = false
			if s.fl.m {
				s.t.nlSensitive = true
				// PCRE's multiline ^ does not match after a newline that
				// ends the subject; .NET's does.
				s.emit("^", `(?:\A|(?<=\n)(?!\z))`)
			} else {
				s.emit("^", "^")
			}
		case '$':
			s.pos++
			s.repeatable = false
			s.t.nlSensitive = true
			s.emit("$", "$")
		case '.', '|':
			s.pos++
			s.repeatable = c == '.'
			s.emit(string(c), string(c))
		default:
			r, sz := utf8.DecodeRuneInString(s.p[s.pos:])
			s.pos += sz
			s.literal(r)
		}
	}
	if len(s.stack) > 0 {
		return errAt(len(s.p), "missing closing parenthesis")
	}
	return nil
}

// literal emits one literal code point.
func (s *scanner) literal(r rune) {
	s.repeatable = true
	if s.fl.i && r >= utf8.RuneSelf {
		// PCRE2 folds with full Unicode case sets, Go with simple folding
		// orbits: they agree on ASCII only.
		s.noGo()
	}
	s.emit(goLiteral(r), netLiteral(r))
}

func goLiteral(r rune) string {
	if r < 0x20 || r == 0x7f {
		return fmt.Sprintf(`\x{%x}`, r)
	}
	if r < utf8.RuneSelf && strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
		return `\` + string(r)
	}
	return string(r)
}

// netLiteral escapes for .NET syntax: every ASCII punctuation that could be
// special (including '#' and ' ', which (?x) would eat) is escaped, controls
// are written as \uXXXX.
func netLiteral(r rune) string {
	switch {
	case r < 0x20 || r == 0x7f || r == ' ' || r == '#':
		return fmt.Sprintf(`\u%04X`, r)
	case r < utf8.RuneSelf && strings.ContainsRune(`\.+*?()|[]{}^$-`, r):
		return `\` + string(r)
	}
	return string(r)
}

// ASCII class bodies used where PCRE2 without UCP is ASCII-only and .NET
// would be Unicode-aware.
const (
	netDigit = `0-9`
	netWord  = `0-9A-Za-z_`
	netSpace = `\u0009-\u000D\u0020`
	// \h and \v are Unicode-aware in PCRE2 even without UCP.
	netHSpace = `\u0009\u0020\u00A0\u1680\u180E\u2000-\u200A\u202F\u205F\u3000`
	netVSpace = `\u000A-\u000D\u0085\u2028\u2029`
)

var posixNet = map[string]string{
	"alnum":  `0-9A-Za-z`,
	"alpha":  `A-Za-z`,
	"ascii":  `\u0000-\u007F`,
	"blank":  `\u0009\u0020`,
	"cntrl":  `\u0000-\u001F\u007F`,
	"digit":  `0-9`,
	"graph":  `\u0021-\u007E`,
	"lower":  `a-z`,
	"print":  `\u0020-\u007E`,
	"punct":  `\u0021-\u002F\u003A-\u0040\u005B-\u0060\u007B-\u007E`,
	"space":  netSpace,
	"upper":  `A-Z`,
	"word":   netWord,
	"xdigit": `0-9A-Fa-f`,
}

// wordNet is an ASCII word character, immune to (?i) folding (PCRE does not
// fold \w; .NET would add U+212A KELVIN SIGN and U+017F to a folded [A-Za-z]).
const wordNet = `(?-i:[0-9A-Za-z_])`

func (s *scanner) escape() error {
	start := s.pos
	s.pos++
	if s.pos >= len(s.p) {
		return errAt(s.pos, `\ at end of pattern`)
	}
	c := s.p[s.pos]
	s.pos++
	s.repeatable = !strings.ContainsRune("bBAzZGK", rune(c))
	switch c {
	case 'd':
		s.emit(`\d`, `[0-9]`)
	case 'D':
		s.emit(`\D`, `[^0-9]`)
	case 'w', 'W':
		if s.fl.i {
			s.noGo() // Go folds \w under (?i) (adds U+212A, U+017F); PCRE does not.
		}
		if c == 'w' {
			s.emit(`\w`, wordNet)
		} else {
			s.emit(`\W`, `(?-i:[^0-9A-Za-z_])`)
		}
	case 's':
		// Go's \s lacks \v (VT); PCRE2's has it.
		s.emit(`[\t-\r ]`, `[`+netSpace+`]`)
	case 'S':
		s.emit(`[^\t-\r ]`, `[^`+netSpace+`]`)
	case 'b':
		s.emit(`\b`, `(?:(?<=`+wordNet+`)(?!`+wordNet+`)|(?<!`+wordNet+`)(?=`+wordNet+`))`)
	case 'B':
		s.emit(`\B`, `(?:(?<=`+wordNet+`)(?=`+wordNet+`)|(?<!`+wordNet+`)(?!`+wordNet+`))`)
	case 'A':
		s.emit(`\A`, `\A`)
	case 'z':
		s.emit(`\z`, `\z`)
	case 'Z', 'G', 'R', 'X':
		s.noGo()
		s.emitNet(`\` + string(c))
	case 'K':
		return &unsupportedError{construct: `\K (match start reset)`}
	case 'h':
		s.noGo()
		s.emitNet(`[` + netHSpace + `]`)
	case 'H':
		s.noGo()
		s.emitNet(`[^` + netHSpace + `]`)
	case 'v':
		s.noGo()
		s.emitNet(`[` + netVSpace + `]`)
	case 'V':
		s.noGo()
		s.emitNet(`[^` + netVSpace + `]`)
	case 'N':
		s.noGo()
		s.emitNet(`[^\n]`)
	case 'p', 'P':
		// Unicode property tables differ between the engines and PCRE does
		// not fold \p under (?i) while Go does: never RE2.
		s.noGo()
		prop, err := s.property(c)
		if err != nil {
			return err
		}
		s.emitNet(prop)
	case 'Q':
		end := strings.Index(s.p[s.pos:], `\E`)
		var quoted string
		if end < 0 {
			quoted, s.pos = s.p[s.pos:], len(s.p)
		} else {
			quoted, s.pos = s.p[s.pos:s.pos+end], s.pos+end+2
		}
		for _, r := range quoted {
			s.literal(r)
		}
	case 'E':
		// A stray \E is ignored by PCRE.
	case 'g':
		return s.backrefG()
	case 'k':
		name, err := s.delimitedName()
		if err != nil {
			return err
		}
		s.noGo()
		s.emitNet(`\k<` + name + `>`)
	case '1', '2', '3', '4', '5', '6', '7', '8', '9':
		// PCRE: a back-reference if < 10, starting with 8 or 9, or if that
		// many groups have been opened; otherwise up to three octal digits.
		j := s.pos
		for j < len(s.p) && s.p[j] >= '0' && s.p[j] <= '9' {
			j++
		}
		num := s.p[start+1 : j]
		if n, err := strconv.Atoi(num); err != nil || n < 10 || c >= '8' || n <= s.t.ncap {
			s.noGo()
			s.emitNet(`\` + num)
			s.pos = j
			return nil
		}
		r, err := s.charEscape(c, false)
		if err != nil {
			return err
		}
		s.literal(r)
	default:
		r, err := s.charEscape(c, false)
		if err != nil {
			return err
		}
		s.literal(r)
	}
	return nil
}

// property reads the argument of \p or \P (s.pos is past the letter) and
// returns it in .NET syntax.
func (s *scanner) property(c byte) (string, error) {
	end := s.pos + 1
	if s.pos < len(s.p) && s.p[s.pos] == '{' {
		i := strings.IndexByte(s.p[s.pos:], '}')
		if i < 0 {
			return "", errAt(len(s.p), "malformed \\P or \\p sequence")
		}
		end = s.pos + i + 1
	}
	if end > len(s.p) {
		return "", errAt(len(s.p), "malformed \\P or \\p sequence")
	}
	arg := s.p[s.pos:end]
	s.pos = end
	if strings.HasPrefix(arg, "{^") {
		arg = "{" + arg[2:]
		if c == 'p' {
			c = 'P'
		} else {
			c = 'p'
		}
	}
	return `\` + string(c) + arg, nil
}

// charEscape decodes an escape that stands for one code point; s.pos is
// past the letter c.
func (s *scanner) charEscape(c byte, inClass bool) (rune, error) {
	switch c {
	case 't':
		return '\t', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 'f':
		return '\f', nil
	case 'a':
		return 7, nil
	case 'e':
		return 0x1b, nil
	case 'b':
		if inClass {
			return '\b', nil
		}
	case 'x':
		if s.pos < len(s.p) && s.p[s.pos] == '{' {
			end := strings.IndexByte(s.p[s.pos:], '}')
			if end < 0 {
				return 0, errAt(s.pos, "missing terminating } in \\x{}")
			}
			return s.codePoint(s.p[s.pos+1:s.pos+end], 16, s.pos+end+1)
		}
		// \x takes up to two hex digits, possibly none (= NUL).
		j := s.pos
		for j < len(s.p) && j < s.pos+2 && isHex(s.p[j]) {
			j++
		}
		if j == s.pos {
			return 0, nil
		}
		return s.codePoint(s.p[s.pos:j], 16, j)
	case 'o':
		if s.pos >= len(s.p) || s.p[s.pos] != '{' {
			return 0, errAt(s.pos, "missing opening brace after \\o")
		}
		end := strings.IndexByte(s.p[s.pos:], '}')
		if end < 0 {
			return 0, errAt(s.pos, "missing terminating } in \\o{}")
		}
		return s.codePoint(s.p[s.pos+1:s.pos+end], 8, s.pos+end+1)
	case '0', '1', '2', '3', '4', '5', '6', '7':
		// Octal: \0 plus up to two digits (in a class any \ddd is octal).
		j := s.pos
		for j < len(s.p) && j < s.pos+2 && s.p[j] >= '0' && s.p[j] <= '7' {
			j++
		}
		return s.codePoint(s.p[s.pos-1:j], 8, j)
	case 'c':
		if s.pos >= len(s.p) {
			return 0, errAt(s.pos, `\c at end of pattern`)
		}
		x := s.p[s.pos]
		if x >= 'a' && x <= 'z' {
			x -= 'a' - 'A'
		}
		if x < 0x20 || x > 0x7e {
			return 0, errAt(s.pos, `\c must be followed by a printable ASCII character`)
		}
		s.pos++
		return rune(x ^ 0x40), nil
	}
	if isAlnum(c) {
		return 0, errAt(s.pos-1, `unrecognized character follows \`)
	}
	// Any other escaped character is itself.
	r, sz := utf8.DecodeRuneInString(s.p[s.pos-1:])
	s.pos += sz - 1
	return r, nil
}

func (s *scanner) codePoint(digits string, base, end int) (rune, error) {
	v, err := strconv.ParseUint(digits, base, 32)
	if err != nil || digits == "" {
		return 0, errAt(end-1, "non-hex character in \\x{} (closing brace missing?)")
	}
	if v > utf8.MaxRune {
		return 0, errAt(end-1, "character code point value in \\x{} or \\o{} is too large")
	}
	if v >= 0xd800 && v <= 0xdfff {
		return 0, errAt(end-1, "disallowed Unicode code point (>= 0xd800 && <= 0xdfff)")
	}
	s.pos = end
	return rune(v), nil
}

// backrefG handles \gN, \g{N}, \g{-N}, \g{name}; \g<...> (subroutine call)
// is not supported by regexp2.
func (s *scanner) backrefG() error {
	s.noGo()
	var arg string
	switch {
	case s.pos < len(s.p) && s.p[s.pos] == '{':
		end := strings.IndexByte(s.p[s.pos:], '}')
		if end < 0 {
			return errAt(s.pos, "\\g is not followed by a braced, angle-bracketed, or quoted name/number or by a plain number")
		}
		arg, s.pos = s.p[s.pos+1:s.pos+end], s.pos+end+1
	case s.pos < len(s.p) && (s.p[s.pos] == '<' || s.p[s.pos] == '\''):
		return &unsupportedError{construct: `\g<...> (subroutine call)`}
	default:
		j := s.pos
		if j < len(s.p) && (s.p[j] == '-' || s.p[j] == '+') {
			j++
		}
		for j < len(s.p) && s.p[j] >= '0' && s.p[j] <= '9' {
			j++
		}
		arg, s.pos = s.p[s.pos:j], j
	}
	if arg == "" {
		return errAt(s.pos, "a numbered reference must not be zero")
	}
	if n, err := strconv.Atoi(arg); err == nil {
		if n < 0 {
			n = s.t.ncap + 1 + n
		}
		if n <= 0 {
			return errAt(s.pos, "a numbered reference must not be zero")
		}
		s.emitNet(`\` + strconv.Itoa(n))
		return nil
	}
	if !validName(arg) {
		return errAt(s.pos, "subpattern name expected")
	}
	s.emitNet(`\k<` + arg + `>`)
	return nil
}

// delimitedName reads <name>, 'name' or {name} after \k.
func (s *scanner) delimitedName() (string, error) {
	if s.pos >= len(s.p) {
		return "", errAt(s.pos, "\\k is not followed by a braced, angle-bracketed, or quoted name")
	}
	var closer byte
	switch s.p[s.pos] {
	case '<':
		closer = '>'
	case '\'':
		closer = '\''
	case '{':
		closer = '}'
	default:
		return "", errAt(s.pos, "\\k is not followed by a braced, angle-bracketed, or quoted name")
	}
	end := strings.IndexByte(s.p[s.pos+1:], closer)
	if end < 0 {
		return "", errAt(len(s.p), "syntax error in subpattern name (missing terminator?)")
	}
	name := s.p[s.pos+1 : s.pos+1+end]
	if !validName(name) {
		return "", errAt(s.pos+1, "subpattern name expected")
	}
	s.pos += end + 2
	return name, nil
}

func validName(n string) bool {
	if n == "" || len(n) > 32 || (n[0] >= '0' && n[0] <= '9') {
		return false
	}
	for i := 0; i < len(n); i++ {
		if !isAlnum(n[i]) && n[i] != '_' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// unsupportedError: valid PCRE2 that regexp2 cannot express.
type unsupportedError struct{ construct string }

func (e *unsupportedError) Error() string {
	return "PCRE construct " + e.construct + " is not supported by golighty"
}

// open handles '(' and every (? / (* form.
func (s *scanner) open() error {
	start := s.pos
	rest := s.p[s.pos+1:]
	push := func(fl flags) { s.stack = append(s.stack, s.fl); s.fl = fl }
	switch {
	case strings.HasPrefix(rest, "*"):
		return &unsupportedError{construct: "(*VERB)"}
	case !strings.HasPrefix(rest, "?"):
		push(s.fl)
		s.pos++
		if s.fl.n {
			s.emit("(?:", "(?:")
			return nil
		}
		s.t.ncap++
		s.emit("(", "(")
		return nil
	}
	// "(?"
	s.pos += 2
	rest = s.p[s.pos:]
	lookaround := []string{"=", "!", "<=", "<!", ">", "*", "<*", "*=", "*!"}
	for _, la := range lookaround {
		if strings.HasPrefix(rest, la) {
			if strings.Contains(la, "*") {
				return &unsupportedError{construct: "(?" + la + " (non-atomic assertion)"}
			}
			s.noGo()
			push(s.fl)
			s.pos += len(la)
			s.emitNet("(?" + la)
			return nil
		}
	}
	switch {
	case strings.HasPrefix(rest, "#"):
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return errAt(len(s.p), "missing ) after (?# comment")
		}
		s.pos += end + 1
		return nil
	case strings.HasPrefix(rest, "P<"), strings.HasPrefix(rest, "<"), strings.HasPrefix(rest, "'"):
		nameStart := s.pos + 1
		closer := byte('>')
		goForm := true
		if rest[0] == 'P' {
			nameStart++
		} else if rest[0] == '\'' {
			closer = '\''
			goForm = false
		}
		end := strings.IndexByte(s.p[nameStart:], closer)
		if end < 0 {
			return errAt(len(s.p), "syntax error in subpattern name (missing terminator?)")
		}
		name := s.p[nameStart : nameStart+end]
		if name != "" && name[0] >= '0' && name[0] <= '9' {
			return errAt(nameStart, "subpattern name must start with a non-digit")
		}
		if !validName(name) {
			return errAt(nameStart, "subpattern name expected")
		}
		if !goForm {
			s.noGo()
		}
		push(s.fl)
		s.pos = nameStart + end + 1
		s.t.ncap++
		s.emit("(?P<"+name+">", "(?<"+name+">")
		return nil
	case strings.HasPrefix(rest, "P="):
		end := strings.IndexByte(rest, ')')
		if end < 0 || !validName(rest[2:end]) {
			return errAt(s.pos+2, "syntax error in subpattern name (missing terminator?)")
		}
		s.noGo()
		s.emitNet(`\k<` + rest[2:end] + `>`)
		s.pos += end + 1
		return nil
	case strings.HasPrefix(rest, "("):
		// Conditional group: (?(1)..|..), (?(<name>)..), (?(?=..)..).
		// .NET reads these the same way for numbers, names and assertions.
		s.noGo()
		push(s.fl)
		s.emitNet("(?")
		if strings.HasPrefix(rest, "(?") {
			return nil // the assertion is scanned as an ordinary group
		}
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return errAt(len(s.p), "malformed number or name after (?(")
		}
		cond := strings.Trim(rest[1:end], "<>'")
		if _, err := strconv.Atoi(cond); err != nil && !validName(cond) {
			return &unsupportedError{construct: "(?(" + rest[1:end] + ") condition"}
		}
		s.emitNet("(" + cond + ")")
		s.pos += end + 1
		return nil
	}
	// Option setting (?imsxnU-imsxnU) or (?imsx:...).
	nf := s.fl
	on := true
	j := s.pos
	for ; j < len(s.p); j++ {
		switch s.p[j] {
		case '-':
			on = false
			continue
		case 'i':
			nf.i = on
			continue
		case 'm':
			nf.m = on
			continue
		case 's':
			nf.s = on
			continue
		case 'x':
			nf.x = on
			continue
		case 'n':
			nf.n = on
			continue
		case 'U':
			nf.U = on
			continue
		case '^':
			nf = flags{}
			continue
		case ')', ':':
		default:
			return s.unknownGroup(start, j)
		}
		break
	}
	if j >= len(s.p) {
		return errAt(len(s.p), "missing closing parenthesis")
	}
	sep := s.p[j]
	s.pos = j + 1
	if sep == ':' {
		s.stack = append(s.stack, s.fl)
	}
	s.fl = nf
	if j == start+2 {
		if sep == ':' {
			s.emit("(?:", "(?:")
		}
		return nil
	}
	// Both patterns spell out the complete option state, so neither
	// engine's defaults leak in. x and n are handled by the scanner; U is
	// native in Go and emulated for .NET by swapping quantifiers.
	goFl, netFl := flagGroup(nf, "imsU"), flagGroup(nf, "ims")
	s.emit(goFl+string(sep), netFl+string(sep))
	return nil
}

// flagGroup renders "(?set-clear" for the given option letters.
func flagGroup(f flags, letters string) string {
	var set, clear strings.Builder
	for _, l := range letters {
		v := false
		switch l {
		case 'i':
			v = f.i
		case 'm':
			v = f.m
		case 's':
			v = f.s
		case 'U':
			v = f.U
		}
		if v {
			set.WriteRune(l)
		} else {
			clear.WriteRune(l)
		}
	}
	if clear.Len() == 0 {
		return "(?" + set.String()
	}
	return "(?" + set.String() + "-" + clear.String()
}

func (s *scanner) unknownGroup(start, at int) error {
	rest := s.p[start+2:]
	switch {
	case strings.HasPrefix(rest, "|"):
		return &unsupportedError{construct: "(?| (branch reset)"}
	case strings.HasPrefix(rest, "R"), strings.HasPrefix(rest, "&"), strings.HasPrefix(rest, "P>"),
		len(rest) > 0 && (rest[0] == '+' || rest[0] == '-' || rest[0] >= '0' && rest[0] <= '9'):
		return &unsupportedError{construct: "(?R)/(?N)/(?&name) (recursion, subroutine call)"}
	case strings.HasPrefix(rest, "C"):
		return &unsupportedError{construct: "(?C) (callout)"}
	case strings.HasPrefix(rest, "J"):
		return &unsupportedError{construct: "(?J) (duplicate names)"}
	}
	return errAt(at, "unrecognized character after (? or (?-")
}

// quantifier handles * + ? {n} {n,} {n,m} with lazy '?' and possessive '+'.
// A '{' that does not start a well-formed quantifier is a literal.
func (s *scanner) quantifier() error {
	c := s.p[s.pos]
	q := string(c)
	if c == '{' {
		end := s.pos + 1
		digits := func() int {
			n := end
			for end < len(s.p) && s.p[end] >= '0' && s.p[end] <= '9' {
				end++
			}
			return end - n
		}
		lo := digits()
		if lo > 0 && end < len(s.p) && s.p[end] == ',' {
			end++
			digits()
		}
		if lo == 0 || end >= len(s.p) || s.p[end] != '}' {
			s.pos++
			s.literal('{')
			return nil
		}
		q = s.p[s.pos : end+1]
		if !s.repeatable {
			return errAt(end, "quantifier does not follow a repeatable item")
		}
		if err := checkRange(q, s.pos); err != nil {
			return err
		}
		s.pos = end + 1
	} else {
		if !s.repeatable {
			return errAt(s.pos, "quantifier does not follow a repeatable item")
		}
		s.pos++
	}
	s.repeatable = false
	mode := byte(0)
	if s.pos < len(s.p) && (s.p[s.pos] == '?' || s.p[s.pos] == '+') {
		mode = s.p[s.pos]
		s.pos++
	}
	switch mode {
	case '+':
		s.noGo()
		s.emitNet(q + "+")
		return nil
	case '?':
		s.emitGo(q + "?")
	default:
		s.emitGo(q)
	}
	// .NET has no (?U): swap greedy and lazy explicitly.
	if (mode == '?') != s.fl.U {
		s.emitNet(q + "?")
	} else {
		s.emitNet(q)
	}
	return nil
}

func checkRange(q string, start int) error {
	body := q[1 : len(q)-1]
	lo, hi, comma := strings.Cut(body, ",")
	l, err := strconv.Atoi(lo)
	if err != nil || l > 65535 {
		return errAt(start+len(q)-1, "number too big in {} quantifier")
	}
	if comma && hi != "" {
		h, err := strconv.Atoi(hi)
		if err != nil || h > 65535 {
			return errAt(start+len(q)-1, "number too big in {} quantifier")
		}
		if h < l {
			return errAt(start+len(q)-1, "numbers out of order in {} quantifier")
		}
	}
	return nil
}
