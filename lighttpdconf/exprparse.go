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
	return parseExprInto(lex, x)
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

func parseExprInto(lex *lexer.PeekingLexer, x *astExpr) error {
	x.Pos = lex.Peek().Pos
	for {
		v, err := parseValue(lex)
		if err != nil {
			return err
		}
		x.Values = append(x.Values, v)
		if !isPunct(lex.Peek(), "+") {
			return nil
		}
		lex.Next()
	}
}

func parseExpr(lex *lexer.PeekingLexer) (*astExpr, error) {
	x := &astExpr{}
	return x, parseExprInto(lex, x)
}

func parseValue(lex *lexer.PeekingLexer) (*astValue, error) {
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
		a, err := parseArray(lex)
		if err != nil {
			return nil, err
		}
		v.Arr = a
	default:
		return nil, expected(t, "a string, integer, name or array")
	}
	return v, nil
}

func parseArray(lex *lexer.PeekingLexer) (*astArray, error) {
	a := &astArray{Pos: lex.Next().Pos} // "("
	for isPunct(lex.Peek(), ",") {
		lex.Next() // lighttpd drops a leading comma
	}
	if isPunct(lex.Peek(), ")") {
		lex.Next()
		return a, nil
	}
	for {
		el, err := parseElem(lex)
		if err != nil {
			return nil, err
		}
		a.Elems = append(a.Elems, el)
		commas := 0
		for isPunct(lex.Peek(), ",") {
			lex.Next()
			commas++
		}
		t := lex.Peek()
		if isPunct(t, ")") {
			lex.Next()
			return a, nil
		}
		if commas == 0 || !startsValue(t) {
			return nil, expected(t, `"," or ")"`)
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
	if el.First, err = parseExpr(lex); err != nil {
		return nil, err
	}
	el.Junk1 = parseJunk(lex, nil)
	if !isPunct(lex.Peek(), "=>") {
		return el, nil
	}
	lex.Next()
	if el.Second, err = parseExpr(lex); err != nil {
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
	a.Expr, err = parseExpr(lex)
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
	if h.Field, err = parseExpr(lex); err != nil {
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
	h.Value, err = parseExpr(lex)
	return err
}
