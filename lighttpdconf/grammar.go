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

// astTop is a top-level statement; a stray `parser:"}"` at top level is dropped by
// lighttpd's parser (it happens after the 1.4.69 `parser:"elseif"` misparse).
type astTop struct {
	Pos   lexer.Position
	Stray bool     `parser:"(  @\"}\""`
	Stmt  *astStmt `parser:" | @@ )"`
}

type astStmt struct {
	Pos     lexer.Position
	Include *astExpr     `parser:"(  \"include\" @@"`
	Shell   *astExpr     `parser:" | \"include_shell\" @@"`
	Global  *astBlock    `parser:" | \"global\" @@"`
	Chain   *astChain    `parser:" | @@"`
	Assign  *astAssign   `parser:" | @@"`
	Stray   *lexer.Token `parser:" | @(String | Int) )"`
}

type astBlock struct {
	Pos    lexer.Position
	Stmts  []*astStmt `parser:"\"{\" @@*"`
	EndPos lexer.Position
	Close  string `parser:"@\"}\""`
}

type astChain struct {
	Head  *astCond   `parser:"@@"`
	Elses []*astElse `parser:"@@*"`
}

type astCond struct {
	Pos    lexer.Position
	Dollar string    `parser:"@\"$\""`
	Name   string    `parser:"@SrvVar"`
	Field  *astExpr  `parser:"\"[\" @@ \"]\""`
	Op     string    `parser:"@(\"==\" | \"!=\" | \"=~\" | \"!~\" | \"=^\" | \"=$\")"`
	Value  *astExpr  `parser:"@@"`
	Body   *astBlock `parser:"@@"`
}

// astElse: `parser:"else COND"` or `parser:"else BLOCK"`. Tokens between `parser:"else"` and `parser:"{"` that do
// not form a condition (1.4.69 has no `parser:"else if"`) are discarded by lighttpd's
// parser, turning `parser:"else if $X[..] == \"..\" {"` into a plain else.
type astElse struct {
	Pos  lexer.Position
	Cond *astCond      `parser:"\"else\" (  @@"`
	Junk []lexer.Token `parser:" | @(!(\"{\" | \"}\" | \"else\"))*"`
	Body *astBlock     `parser:"   @@ )"`
}

// astAssign: KEY OP EXPR. Junk between the key and the operator only for the
// `parser:"elseif $X[...] ... { k = v"` misparse (see evaluation).
type astAssign struct {
	Pos  lexer.Position
	Key  string        `parser:"@Key"`
	Junk []lexer.Token `parser:"( @\"$\" @(!(\"=\" | \":=\" | \"+=\" | \"}\"))* )?"`
	Op   string        `parser:"@(\"=\" | \":=\" | \"+=\")"`
	Expr *astExpr      `parser:"@@"`
}

type astExpr struct {
	Pos    lexer.Position
	Values []*astValue `parser:"@@ ( \"+\" @@ )*"`
}

type astValue struct {
	Pos lexer.Position
	Str *string   `parser:"(  @String"`
	Int *string   `parser:" | @Int"`
	Key *string   `parser:" | @Key"`
	Arr *astArray `parser:" | @@ )"`
}

type astArray struct {
	Pos   lexer.Position
	Elems []*astElem `parser:"\"(\" ( @@ ( \",\" @@? )* )? \")\""`
}

// astElem: EXPR [=> EXPR]. Tokens lighttpd's parser would discard after a
// value (a missing comma: `("a" "b")` is `("a")`, and `"k" => "v" "k2" =>
// "v2"` loses the second pair) are captured as Junk and reported.
type astElem struct {
	Pos    lexer.Position
	First  *astExpr      `parser:"@@"`
	Junk1  []lexer.Token `parser:"@(String | Int | Key)*"`
	Second *astExpr      `parser:"( \"=>\" @@"`
	Junk2  []lexer.Token `parser:"  @(String | Int | Key | \"=>\")* )?"`
}

var parser = participle.MustBuild[astFile](
	participle.Lexer(lexDef{}),
	participle.UseLookahead(2),
)
