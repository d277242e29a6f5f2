package lighttpdconf

import (
	"fmt"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// Parse implements participle.Parseable for expressions.
func (x *astExpr) Parse(lex *lexer.PeekingLexer) error {
	if !startsValue(lex.Peek()) {
		return participle.NextMatch
	}
	return parseExprInto(lex, x, false)
}

func startsValue(t *lexer.Token) bool {
	switch t.Type {
	case tokString, tokInt, tokKey:
		return true
	case tokPunct:
		return t.Value == "("
	}
	return false
}

func isPunct(t *lexer.Token, v string) bool { return t.Type == tokPunct && t.Value == v }

func expected(t *lexer.Token, what string) error {
	return &participle.UnexpectedTokenError{Unexpected: *t, Expect: what}
}

// parseExprInto parses Value ("+" Value)*. Outside parentheses lighttpd's
// tokenizer emits an end-of-line token, so a `+` starting a new line does not
// continue the expression there (lighttpd then drops it); inParens is true
// inside ( ), where newlines produce no token.
func parseExprInto(lex *lexer.PeekingLexer, x *astExpr, inParens bool) error {
	x.Pos = lex.Peek().Pos
	for {
		v, last, err := parseValue(lex, inParens)
		if err != nil {
			return err
		}
		x.Values = append(x.Values, v)
		plus := lex.Peek()
		if !isPunct(plus, "+") {
			return nil
		}
		if !inParens && plus.Pos.Line > endLine(last) {
			return nil
		}
		lex.Next()
	}
}

// endLine is the line a token ends on (strings may span lines).
func endLine(t *lexer.Token) int {
	return t.Pos.Line + strings.Count(t.Value, "\n")
}

func parseExpr(lex *lexer.PeekingLexer, inParens bool) (*astExpr, error) {
	x := &astExpr{}
	return x, parseExprInto(lex, x, inParens)
}

// parseValue returns the value and its last token.
func parseValue(lex *lexer.PeekingLexer, inParens bool) (*astValue, *lexer.Token, error) {
	t := lex.Peek()
	v := &astValue{Pos: t.Pos}
	switch {
	case t.Type == tokString:
		v.Str = &lex.Next().Value
	case t.Type == tokInt:
		v.Int = &lex.Next().Value
	case t.Type == tokKey:
		v.Key = &lex.Next().Value
	case isPunct(t, "("):
		a, last, err := parseArray(lex)
		if err != nil {
			return nil, nil, err
		}
		v.Arr = a
		return v, last, nil
	default:
		return nil, nil, expected(t, "a string, integer, name or array")
	}
	return v, t, nil
}

// parseArray returns the array and its closing parenthesis.
func parseArray(lex *lexer.PeekingLexer) (*astArray, *lexer.Token, error) {
	a := &astArray{Pos: lex.Next().Pos} // "("
	for isPunct(lex.Peek(), ",") {
		lex.Next() // lighttpd drops a leading comma
	}
	if isPunct(lex.Peek(), ")") {
		return a, lex.Next(), nil
	}
	for {
		el, err := parseElem(lex)
		if err != nil {
			return nil, nil, err
		}
		a.Elems = append(a.Elems, el)
		commas := 0
		for isPunct(lex.Peek(), ",") {
			lex.Next()
			commas++
		}
		t := lex.Peek()
		if isPunct(t, ")") {
			return a, lex.Next(), nil
		}
		if commas == 0 || !startsValue(t) {
			return nil, nil, expected(t, `"," or ")"`)
		}
	}
}

func parseJunk(lex *lexer.PeekingLexer, junk []*astValueJunk) []*astValueJunk {
	for {
		t := lex.Peek()
		switch t.Type {
		case tokString, tokInt, tokKey:
			lex.Next()
			junk = append(junk, &astValueJunk{Pos: t.Pos, Tok: t.Value})
		default:
			return junk
		}
	}
}

func parseElem(lex *lexer.PeekingLexer) (*astElem, error) {
	el := &astElem{Pos: lex.Peek().Pos}
	var err error
	if el.First, err = parseExpr(lex, true); err != nil {
		return nil, err
	}
	el.Junk1 = parseJunk(lex, nil)
	if !isPunct(lex.Peek(), "=>") {
		return el, nil
	}
	lex.Next()
	if el.Second, err = parseExpr(lex, true); err != nil {
		return nil, err
	}
	el.Junk2 = parseJunk(lex, nil)
	for isPunct(lex.Peek(), "=>") {
		t := lex.Next()
		el.Junk2 = append(el.Junk2, &astValueJunk{Pos: t.Pos, Tok: t.Value})
		el.Junk2 = parseJunk(lex, el.Junk2)
	}
	return el, nil
}

// Parse implements participle.Parseable for `KEY op EXPR`.
func (a *astAssign) Parse(lex *lexer.PeekingLexer) error {
	t := lex.Peek()
	if t.Type != tokKey {
		return participle.NextMatch
	}
	lex.Next()
	a.Pos, a.Key = t.Pos, t.Value
	op := lex.Peek()
	if isPunct(op, "$") {
		// lighttpd's parser drops everything up to the next operator
		a.Dollar = true
		for !isAssignOp(op) {
			if op.EOF() || isPunct(op, "}") {
				return &participle.UnexpectedTokenError{Unexpected: *op,
					Expect: fmt.Sprintf("= := or += after %q%s", a.Key, keywordHint(a.Key))}
			}
			lex.Next()
			op = lex.Peek()
		}
	}
	if !isAssignOp(op) {
		return &participle.UnexpectedTokenError{Unexpected: *op,
			Expect: fmt.Sprintf("= := or += after %q%s", a.Key, keywordHint(a.Key))}
	}
	a.Op = lex.Next().Value
	if !startsValue(lex.Peek()) {
		return expected(lex.Peek(), "a string, integer, name or array")
	}
	var err error
	a.Expr, err = parseExpr(lex, false)
	return err
}

func isAssignOp(t *lexer.Token) bool {
	return t.Type == tokPunct && (t.Value == "=" || t.Value == ":=" || t.Value == "+=")
}

// Parse implements participle.Parseable for a condition head.
func (h *astCondHead) Parse(lex *lexer.PeekingLexer) error {
	if !isPunct(lex.Peek(), "$") {
		return participle.NextMatch
	}
	lex.Next()
	t := lex.Peek()
	if t.Type != tokSrvVar {
		return expected(t, "a condition name (HTTP, SERVER, REQUEST_HEADER)")
	}
	h.Name = lex.Next().Value
	if !isPunct(lex.Peek(), "[") {
		return expected(lex.Peek(), "`[`")
	}
	lex.Next()
	var err error
	if h.Field, err = parseExpr(lex, false); err != nil {
		return err
	}
	if !isPunct(lex.Peek(), "]") {
		return expected(lex.Peek(), "`]`")
	}
	lex.Next()
	op := lex.Peek()
	switch {
	case op.Type == tokPunct && len(op.Value) == 2 && strings.Contains("== != =~ !~ =^ =$", op.Value):
		h.Op = lex.Next().Value
	default:
		return expected(op, "a condition operator (== != =~ !~ =^ =$)")
	}
	if !startsValue(lex.Peek()) {
		return expected(lex.Peek(), "a string expression")
	}
	if h.Value, err = parseExpr(lex, false); err != nil {
		return err
	}
	// lighttpd drops what stands between the value and `{` (a `+ ...`
	// continuation on the next line, stray values)
	for t := lex.Peek(); isPunct(t, "+") || t.Type == tokString || t.Type == tokInt || t.Type == tokKey; t = lex.Peek() {
		lex.Next()
		h.Junk = append(h.Junk, &astValueJunk{Pos: t.Pos, Tok: t.Value})
	}
	return nil
}
