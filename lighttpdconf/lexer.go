package lighttpdconf

import (
	"io"

	"github.com/alecthomas/participle/v2/lexer"
)

// Token types emitted by the hand-written lexer. The lexer reproduces the
// state machine of lighttpd's config_tokenizer (condition mode after `$`,
// parenthesis mode for `=>` and `,`), so the participle grammar only sees
// tokens lighttpd itself would produce. Newlines produce no token: lighttpd's
// parser drops misplaced EOL tokens, so treating them as whitespace accepts
// the same configs (spec §13, §15).
const (
	tokEOF                     = lexer.EOF
	tokKey     lexer.TokenType = -2 - iota // a key / variable name
	tokInt                                 // decimal digits
	tokString                              // "..." including the quotes
	tokSrvVar                              // condition name after `$`
	tokKeyword                             // include include_shell global else
	tokPunct                               // operators and punctuation
)

func tokenSymbols() map[string]lexer.TokenType {
	return map[string]lexer.TokenType{
		"EOF":     tokEOF,
		"Key":     tokKey,
		"Int":     tokInt,
		"String":  tokString,
		"SrvVar":  tokSrvVar,
		"Keyword": tokKeyword,
		"Punct":   tokPunct,
	}
}

// lexDef is the participle lexer.Definition for lighttpd.conf.
type lexDef struct{}

func (lexDef) Symbols() map[string]lexer.TokenType { return tokenSymbols() }

func (lexDef) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return lexDef{}.LexBytes(filename, b)
}

func (lexDef) LexBytes(filename string, src []byte) (lexer.Lexer, error) {
	toks, _, err := tokenize(filename, src)
	if err != nil {
		return nil, err
	}
	return &sliceLexer{toks: toks}, nil
}

// sliceLexer hands out pre-lexed tokens; the last one is always EOF.
type sliceLexer struct {
	toks []lexer.Token
	i    int
}

func (l *sliceLexer) Next() (lexer.Token, error) {
	t := l.toks[l.i]
	if l.i < len(l.toks)-1 {
		l.i++
	}
	return t, nil
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// tokenize splits src into tokens. Errors carry lighttpd's tokenizer message.
// A NUL byte ends the input like in lighttpd (which logs "stray NUL" and
// then parses what came before); nul is its position, or nil.
func tokenize(filename string, src []byte) (toks []lexer.Token, nul *Pos, err error) {
	toks = make([]lexer.Token, 0, len(src)/4+1)
	var (
		off, line, lineStart = 0, 1, 0
		parens               int
		inCond               bool
	)
	pos := func(o int) lexer.Position {
		return lexer.Position{Filename: filename, Offset: o, Line: line, Column: o - lineStart + 1}
	}
	errAt := func(o int, msg string) error {
		p := pos(o)
		return &Error{Pos: Pos{File: filename, Line: p.Line, Col: p.Column}, Msg: msg}
	}
	// one string for the whole source: token values are substrings of it
	text := string(src)
	emit := func(typ lexer.TokenType, start, end int) {
		toks = append(toks, lexer.Token{Type: typ, Value: text[start:end], Pos: pos(start)})
	}
	n := len(src)
	at := func(i int) byte {
		if i < n {
			return src[i]
		}
		return 0
	}
	for off < n {
		c := src[off]
		switch c {
		case ' ', '\t':
			off++
		case '\r', '\n':
			if c == '\r' && at(off+1) == '\n' {
				off++
			}
			off++
			line++
			lineStart = off
		case '#':
			for off < n && src[off] != '\r' && src[off] != '\n' && src[off] != 0 {
				off++
			}
		case '=':
			switch {
			case parens > 0:
				if at(off+1) != '>' {
					return nil, nil, errAt(off, "use => for assignments in arrays")
				}
				emit(tokPunct, off, off+2)
				off += 2
			case inCond:
				switch at(off + 1) {
				case '=', '~', '^', '$':
				default:
					return nil, nil, errAt(off, "only == =~ =^ =$ are allowed in the condition")
				}
				emit(tokPunct, off, off+2)
				off += 2
				inCond = false
			default:
				emit(tokPunct, off, off+1)
				off++
			}
		case '!':
			if !inCond {
				return nil, nil, errAt(off, "unexpected exclamation-marks: !")
			}
			if d := at(off + 1); d != '=' && d != '~' {
				return nil, nil, errAt(off, "only !~ and != are allowed in the condition")
			}
			emit(tokPunct, off, off+2)
			off += 2
			inCond = false
		case ',':
			if parens > 0 {
				emit(tokPunct, off, off+1)
			}
			off++
		case '"':
			i := off + 1
			startLine, startLS := line, lineStart
			for ; i < n && src[i] != '"' && src[i] != 0; i++ {
				switch src[i] {
				case '\\':
					if at(i+1) == '"' {
						i++
					}
				case '\n':
					line++
					lineStart = i + 1
				}
			}
			if i >= n || src[i] == 0 {
				line, lineStart = startLine, startLS
				return nil, nil, errAt(off, "missing closing quote")
			}
			toks = append(toks, lexer.Token{Type: tokString, Value: text[off : i+1],
				Pos: lexer.Position{Filename: filename, Offset: off, Line: startLine, Column: off - startLS + 1}})
			off = i + 1
		case '(':
			parens++
			emit(tokPunct, off, off+1)
			off++
		case ')':
			if parens == 0 {
				return nil, nil, errAt(off, "close-parens seen open-parens")
			}
			parens--
			emit(tokPunct, off, off+1)
			off++
		case '$':
			inCond = true
			emit(tokPunct, off, off+1)
			off++
		case '+':
			if at(off+1) == '=' {
				emit(tokPunct, off, off+2)
				off += 2
			} else {
				emit(tokPunct, off, off+1)
				off++
			}
		case ':':
			if at(off+1) != '=' {
				return nil, nil, errAt(off, "unexpected character ':'")
			}
			emit(tokPunct, off, off+2)
			off += 2
		case '{', '}', '[', ']':
			emit(tokPunct, off, off+1)
			off++
		case 0:
			p := pos(off)
			nul = &Pos{File: filename, Line: p.Line, Col: p.Column}
			toks = append(toks, lexer.Token{Type: tokEOF, Pos: p})
			return toks, nul, nil
		default:
			if inCond {
				i := off
				for i < n && (isAlpha(src[i]) || src[i] == '_') {
					i++
				}
				if i == off || i >= n {
					return nil, nil, errAt(off, "invalid character in condition")
				}
				emit(tokSrvVar, off, i)
				off = i
				continue
			}
			if isDigit(c) {
				i := off + 1
				for i < n && isDigit(src[i]) {
					i++
				}
				emit(tokInt, off, i)
				off = i
				continue
			}
			i := off
			for i < n && (isAlpha(src[i]) || isDigit(src[i]) || src[i] == '.' || src[i] == '_' || src[i] == '-') {
				i++
			}
			switch {
			case i > off && i < n:
				typ := tokKey
				switch string(src[off:i]) {
				case "include", "include_shell", "global", "else":
					typ = tokKeyword
				}
				emit(typ, off, i)
				off = i
			case i == off && c == 0xc2 && at(off+1) == 0xa0:
				off += 2 // U+00A0 NO-BREAK SPACE counts as whitespace
			case i > off:
				// lighttpd needs a byte after a name; a name at the very end
				// of the input is rejected.
				return nil, nil, errAt(i, "invalid character in variable name (name at end of input)")
			default:
				return nil, nil, errAt(off, "invalid character in variable name")
			}
		}
	}
	toks = append(toks, lexer.Token{Type: tokEOF, Pos: pos(off)})
	return toks, nil, nil
}

// unquote turns the raw string token (with quotes) into its value: the only
// escape lighttpd knows is \" (spec §2.2).
func unquote(raw string) string {
	s := raw[1 : len(raw)-1]
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '\\' && s[i+1] == '"' {
			b := make([]byte, 0, len(s))
			for j := 0; j < len(s); j++ {
				if s[j] == '\\' && j+1 < len(s) && s[j+1] == '"' {
					continue
				}
				b = append(b, s[j])
			}
			return string(b)
		}
	}
	return s
}
