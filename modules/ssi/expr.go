package ssi

import (
	"strings"
)

// The #if/#elif expression language of lighttpd's mod_ssi: values (bare
// words, 'quoted' strings, $VAR and ${VAR}; adjacent values join with a
// space), comparisons = != < <= > >= (string comparison unless a side is a
// boolean), ! && || and parentheses. && and || are not short-circuited and
// associate from the left; a comparison binds tighter.

type token uint8

const (
	tkEnd token = iota
	tkAnd
	tkOr
	tkEq
	tkNe
	tkGt
	tkGe
	tkLt
	tkLe
	tkNot
	tkLParen
	tkRParen
	tkValue
	tkError
)

// maxNesting bounds parentheses and negations, as lighttpd (16).
const maxNesting = 16

type tokenizer struct {
	in      string
	off     int
	inBrace int
	depth   int
	lookup  func(name string) (string, bool)
	logf    func(format string, args ...any)
}

// value is an expression value: a string until an operator made it a
// boolean.
type value struct {
	str    string
	isBool bool
	b      bool
}

func (v *value) truth() bool {
	if v.isBool {
		return v.b
	}
	return v.str != ""
}

// appendVal joins adjacent values with a space (an empty one adds nothing
// after the first).
func appendVal(v *value, s string) {
	if v.str == "" {
		v.str = s
	} else if s != "" {
		v.str += " " + s
	}
}

func isAlpha(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isgraph is C's isgraph in the C locale.
func isgraph(c byte) bool { return c > 0x20 && c < 0x7f }

func (t *tokenizer) at(i int) byte {
	if i < len(t.in) {
		return t.in[i]
	}
	return 0
}

// next reads one token, appending a value's text to v.
func (t *tokenizer) next(v *value) token {
	// lighttpd skips only SP and HT, and then loops forever on any other
	// byte that is not printable (a newline in an expression hangs it);
	// golighty skips all whitespace and refuses other control bytes.
	for t.off < len(t.in) && isspace(t.in[t.off]) {
		t.off++
	}
	if t.off >= len(t.in) {
		return tkEnd
	}
	c := t.in[t.off]
	switch c {
	case 0:
		t.logf("pos: %d foobar", t.off+1)
		return tkError
	case '=':
		t.off++
		return tkEq
	case '>', '<', '!':
		two := t.at(t.off+1) == '='
		t.off++
		if two {
			t.off++
		}
		switch {
		case c == '>' && two:
			return tkGe
		case c == '>':
			return tkGt
		case c == '<' && two:
			return tkLe
		case c == '<':
			return tkLt
		case two:
			return tkNe
		}
		return tkNot
	case '&', '|':
		if t.at(t.off+1) != c {
			if c == '&' {
				t.logf("pos: %d missing second &", t.off+1)
			} else {
				t.logf("pos: %d missing second |", t.off+1)
			}
			return tkError
		}
		t.off += 2
		if c == '&' {
			return tkAnd
		}
		return tkOr
	case '(':
		t.off++
		t.inBrace++
		return tkLParen
	case ')':
		t.off++
		t.inBrace--
		return tkRParen
	case '\'':
		i := 1
		for t.at(t.off+i) != 0 && t.at(t.off+i) != '\'' {
			i++
		}
		if t.at(t.off+i) == 0 {
			t.logf("pos: %d missing closing quote", t.off+1)
			return tkError
		}
		appendVal(v, t.in[t.off+1:t.off+i])
		t.off += i + 1
		return tkValue
	case '$':
		var name string
		var i int
		if t.at(t.off+1) == '{' {
			i = 2
			for t.at(t.off+i) != 0 && t.at(t.off+i) != '}' {
				i++
			}
			if t.at(t.off+i) != '}' {
				t.logf("pos: %d missing closing curly-brace", t.off+1)
				return tkError
			}
			i++
			name = t.in[t.off+2 : t.off+i-1]
		} else {
			i = 1
			for {
				d := t.at(t.off + i)
				if !(isAlpha(d) || d == '_' || (i > 1 && isDigit(d))) {
					break
				}
				i++
			}
			name = t.in[t.off+1 : t.off+i]
		}
		if s, ok := t.lookup(name); ok {
			appendVal(v, s)
		}
		t.off += i
		return tkValue
	}
	i := 0
	for isgraph(t.at(t.off+i)) && !strings.ContainsRune(" \t)('=!<>&|", rune(t.at(t.off+i))) {
		i++
	}
	if i == 0 {
		t.logf("pos: %d invalid character in expression", t.off+1)
		return tkError
	}
	appendVal(v, t.in[t.off:t.off+i])
	t.off += i
	return tkValue
}

// step reads an operand (values, a parenthesized expression or a negated
// operand) into v and returns the token after it.
func (t *tokenizer) step(v *value) token {
	*v = value{}
	level := t.inBrace
	switch tk := t.next(v); tk {
	case tkValue:
		for tk == tkValue {
			tk = t.next(v)
		}
		return tk
	case tkLParen:
		if t.inBrace > maxNesting {
			return tkError
		}
		tk = t.loop(v)
		if tk != tkRParen || level != t.inBrace {
			return tkError
		}
		result := v.truth()
		tk = t.step(v)
		v.b, v.isBool = result, true
		if tk == tkAnd || tk == tkOr || tk == tkRParen || tk == tkEnd {
			return tk
		}
		return tkError
	case tkRParen:
		if t.inBrace >= 0 {
			return tkRParen
		}
		return tkError
	case tkNot:
		t.depth++
		if t.depth > maxNesting {
			return tkError
		}
		tk = t.step(v)
		t.depth--
		if tk == tkError {
			return tk
		}
		v.b, v.isBool = !v.truth(), true
		return tk
	default:
		return tk
	}
}

func compare(v1, v2 *value, op token) bool {
	var cmp int
	if !v1.isBool && !v2.isBool {
		cmp = strings.Compare(cstr(v1.str), cstr(v2.str))
	} else {
		cmp = b2i(v1.truth()) - b2i(v2.truth())
	}
	switch op {
	case tkEq:
		return cmp == 0
	case tkNe:
		return cmp != 0
	case tkGe:
		return cmp >= 0
	case tkGt:
		return cmp > 0
	case tkLe:
		return cmp <= 0
	case tkLt:
		return cmp < 0
	}
	return false
}

// cstr is s up to its first NUL, as strcmp sees it.
func cstr(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func isCmp(tk token) bool { return tk >= tkEq && tk <= tkLe }

// loopCmp reads the right side of a comparison and folds it into v1.
func (t *tokenizer) loopCmp(v1 *value, op token) token {
	var v2 value
	tk := t.step(&v2)
	if tk != tkError {
		v1.b, v1.isBool = compare(v1, &v2, op), true
	}
	return tk
}

// loop evaluates a sequence of comparisons joined by && and ||.
func (t *tokenizer) loop(v1 *value) token {
	tk := t.step(v1)
	switch {
	case tk == tkAnd || tk == tkOr:
	case isCmp(tk):
		tk = t.loopCmp(v1, tk)
		if tk == tkRParen || tk == tkEnd {
			return tk
		}
		if tk != tkAnd && tk != tkOr {
			t.logf("pos: %d parser failed somehow near here", t.off+1)
			return tkError
		}
	default:
		return tk
	}
	var v2 value
	for tk == tkAnd || tk == tkOr {
		op := tk
		tk = t.step(&v2)
		switch {
		case tk == tkAnd || tk == tkOr || tk == tkEnd || tk == tkRParen:
		case isCmp(tk):
			if tk = t.loopCmp(&v2, tk); tk == tkError {
				continue
			}
		default:
			continue
		}
		if op == tkOr {
			v1.b = v1.truth() || v2.truth()
		} else {
			v1.b = v1.truth() && v2.truth()
		}
		v1.isBool = true
	}
	return tk
}

// evalExpr evaluates an #if/#elif expression: 1 true, 0 false, -1 an
// error (which counts as false).
func evalExpr(expr string, lookup func(string) (string, bool), logf func(string, ...any)) int {
	t := &tokenizer{in: expr, lookup: lookup, logf: logf}
	var v value
	tk := t.loop(&v)
	if tk != tkEnd || t.inBrace != 0 || t.depth != 0 {
		return -1
	}
	return b2i(v.truth())
}
