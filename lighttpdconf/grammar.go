package lighttpdconf

import (
	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The grammar follows spec §15.2 with the error-recovery cases of §13 that
// real configs rely on spelled out as explicit (ignored) productions.

type astFile struct {
	Items []*astTop `parser:"@@*"`
}

// astTop is a top-level statement; a stray `}` at top level is dropped by
// lighttpd's parser (it happens after the 1.4.69 `elseif` misparse).
type astTop struct {
	Pos   lexer.Position
	Stmt  *astStmt `parser:"(  @@"`
	Stray bool     `parser:" | @\"}\" )"`
}

type astStmt struct {
	Pos     lexer.Position
	Assign  *astAssign   `parser:"(  @@"`
	Chain   *astChain    `parser:" | @@"`
	Include *astExpr     `parser:" | \"include\" @@"`
	Shell   *astExpr     `parser:" | \"include_shell\" @@"`
	Global  *astBlock    `parser:" | \"global\" @@"`
	Stray   *lexer.Token `parser:" | @(String | Int | \"+\") )"`
}

type astBlock struct {
	Pos    lexer.Position
	Stmts  []*astStmt `parser:"\"{\" @@* \"}\""`
	EndPos lexer.Position
}

type astChain struct {
	Head  *astCond   `parser:"@@"`
	Elses []*astElse `parser:"@@*"`
}

type astCond struct {
	Pos  lexer.Position
	Head *astCondHead `parser:"@@"`
	Body *astBlock    `parser:"@@"`
}

// astCondHead: "$" SrvVar "[" Expr "]" ( "==" | "!=" | "=~" | "!~" | "=^" |
// "=$" ) Expr, parsed by hand (Parseable, exprparse.go) for speed.
type astCondHead struct {
	Name  string
	Field *astExpr
	Op    string
	Value *astExpr
	Junk  []*astValueJunk
}

// astElse: `else COND` or `else BLOCK`. Tokens between `else` and `{` that do
// not form a condition (1.4.69 has no `else if`) are discarded by lighttpd's
// parser, turning `else if $X[..] == ".." {` into a plain else.
type astElse struct {
	Pos  lexer.Position
	Cond *astCond   `parser:"\"else\" (  @@"`
	Junk []*astJunk `parser:" | @@*"`
	Body *astBlock  `parser:"   @@ )"`
}

// astAssign: KEY ( "=" | ":=" | "+=" ) Expr, parsed by hand (Parseable, see
// exprparse.go) as the most frequent statement. For the 1.4.69 `elseif $X[...]
// ... { k = v` misparse, Dollar records that tokens from `$` up to the
// operator were discarded.
type astAssign struct {
	Pos    lexer.Position
	Key    string
	Dollar bool
	Op     string
	Expr   *astExpr
}

// Expressions (values, `+`, arrays) are parsed by hand through participle's
// Parseable interface: they hold most tokens of real configs, and the
// reflective grammar cost ~110 allocations per array element (BENCH notes in
// the package report). Their grammar, as participle EBNF:
//
//	Expr  = Value ( "+" Value )* .
//	Value = String | Int | Key | Array .
//	Array = "(" ","* ( Elem ( "," Elem? )* )? ")" .
//	Elem  = Expr Junk* ( "=>" Expr Junk* ( "=>" Junk* )* )? .
//	Junk  = String | Int | Key .   (discarded by lighttpd, reported here)
type astExpr struct {
	Pos    lexer.Position
	Values []*astValue
}

type astValue struct {
	Pos lexer.Position
	Str *string
	Int *string
	Key *string
	Arr *astArray
}

type astArray struct {
	Pos   lexer.Position
	Elems []*astElem
}

type astElem struct {
	Pos    lexer.Position
	First  *astExpr
	Junk1  []*astValueJunk
	Second *astExpr
	Junk2  []*astValueJunk
}

// Junk tokens: what lighttpd's parser silently discards in these places.
type astJunk struct {
	Pos lexer.Position
	Tok string `parser:"@(!(\"{\" | \"}\" | \"else\"))"`
}

type astValueJunk struct {
	Pos lexer.Position
	Tok string
}

var parser = participle.MustBuild[astFile](
	participle.Lexer(lexDef{}),
	participle.UseLookahead(1),
)
