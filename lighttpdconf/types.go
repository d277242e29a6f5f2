// Package lighttpdconf reads lighttpd 1.4.69 configuration files: the
// lighttpd.conf language with variables, +, +=, include, include_shell,
// conditionals and else-chains, evaluated while parsing exactly as lighttpd
// does, and prints the result byte-identically to `lighttpd -p`.
//
// Structure: a hand lexer (lexer.go) reproduces lighttpd's tokenizer states
// and messages and emits participle tokens; the statement grammar (blocks,
// condition chains, include, global) is a participle grammar (grammar.go);
// assignments, condition heads and expressions implement
// participle.Parseable by hand (exprparse.go) because they carry most
// tokens and participle's reflection dominated the profile. Evaluation
// (eval.go, cond.go) walks the tree in source order, which is equivalent to
// lighttpd evaluating during its LALR reductions.
//
// Deliberate differences from 1.4.69 (all where lighttpd silently
// misparses): a key followed by something other than = := += is an error
// with a keyword hint (`esle {` — lighttpd takes tokens up to the next `=`
// as garbage); `if`/`elseif`/`elsif`/`elif` followed by `$` are read as
// 1.4.69 does, with a warning. Everything lighttpd discards silently (stray
// values, missing commas in arrays, a `+` continuation on a new line outside
// parentheses, stray `}`, text after a NUL byte, `else if`) is accepted the
// same way and reported in Config.Warnings.
package lighttpdconf

import (
	"fmt"
	"strings"

	"github.com/golighty/golighty/lighttpdconf/regex"
)

// Pos is a position in a config source (file path or include_shell command).
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Kind is the type of a Value.
type Kind uint8

// Value kinds; booleans are strings in lighttpd.conf.
const (
	KindString  Kind = 1
	KindInteger Kind = 2
	KindArray   Kind = 3
)

func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindInteger:
		return "integer"
	case KindArray:
		return "array"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Value is a config value. Int is 32-bit like lighttpd's C int.
type Value struct {
	Kind Kind
	Str  string
	Int  int32
	Arr  []Element
	Pos  Pos
}

// Element is one array element; keyed elements have HasKey set (the key may
// be empty: `"" => "x"`).
type Element struct {
	Key    string
	HasKey bool
	Value  Value
}

// Entry is one `key = value` of a block. Key is spelled as in the statement
// that last stored it (`=`, or `:=`/`+=`, which replace the key like lighttpd),
// with "var." prepended to bare names.
type Entry struct {
	Key   string
	Value Value
	Pos   Pos
}

// Op is a condition operator.
type Op uint8

// Condition operators.
const (
	OpEq      Op = iota + 1 // ==
	OpNe                    // !=
	OpMatch                 // =~
	OpNoMatch               // !~
	OpPrefix                // =^
	OpSuffix                // =$
)

var opText = [...]string{OpEq: "==", OpNe: "!=", OpMatch: "=~", OpNoMatch: "!~", OpPrefix: "=^", OpSuffix: "=$"}

func (o Op) String() string {
	if int(o) < len(opText) && opText[o] != "" {
		return opText[o]
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

func parseOp(s string) Op {
	for i, t := range opText {
		if t == s {
			return Op(i)
		}
	}
	return 0
}

// Cond is the condition of a conditional block.
type Cond struct {
	Var   string        // HTTP, SERVER, REQUEST_HEADER
	Field string        // host, url, ... or the header name, as written
	Op    Op            // after regex simplification (and the reverse conversion for %N captures)
	Value string        // right-hand side after simplification and normalization
	Regex *regex.Regexp // compiled for OpMatch/OpNoMatch
	Pos   Pos
	text  string // `$HTTP["url"] =^ "/x"` as lighttpd prints it
}

// Block is the global block or a conditional block.
type Block struct {
	Index    int
	Parent   *Block
	Cond     *Cond // nil for the global block and a plain else
	Prev     *Block
	Entries  []Entry
	Children []*Block
	Pos      Pos

	next  *Block
	key   string // lighttpd's identity key: parent key + " / " + condition text
	index map[string]int
}

// Get looks a key up in this block only (ASCII case-insensitive).
func (b *Block) Get(key string) (*Entry, bool) {
	i, ok := b.lookup(key)
	if !ok {
		return nil, false
	}
	return &b.Entries[i], true
}

// Text is the condition as `lighttpd -p` prints it; "else" for a catch-all
// and "global" for block 0.
func (b *Block) Text() string {
	switch {
	case b.Index == 0:
		return "global"
	case b.Cond == nil:
		return "else"
	}
	return b.Cond.text
}

// IsElse reports whether the block is a plain `else { }` catch-all.
func (b *Block) IsElse() bool { return b.Index != 0 && b.Cond == nil }

// Next is the following block of the else-chain, or nil.
func (b *Block) Next() *Block { return b.next }

func (b *Block) lookup(key string) (int, bool) {
	if b.index == nil {
		return 0, false
	}
	i, ok := b.index[strings.ToLower(key)]
	return i, ok
}

func (b *Block) insert(e Entry) {
	if b.index == nil {
		b.index = make(map[string]int)
	}
	b.index[strings.ToLower(e.Key)] = len(b.Entries)
	b.Entries = append(b.Entries, e)
}

// extract removes key like lighttpd's array_extract_element_klen: the last
// entry moves into the freed slot (this reorders -p output, as in lighttpd).
func (b *Block) extract(key string) (Entry, bool) {
	i, ok := b.lookup(key)
	if !ok {
		return Entry{}, false
	}
	e := b.Entries[i]
	last := len(b.Entries) - 1
	delete(b.index, strings.ToLower(key))
	if i != last {
		b.Entries[i] = b.Entries[last]
		b.index[strings.ToLower(b.Entries[i].Key)] = i
	}
	b.Entries = b.Entries[:last]
	return e, true
}

// Config is a parsed and evaluated configuration.
type Config struct {
	Global   *Block
	Blocks   []*Block
	Files    []string
	Globs    []string
	Commands []string
	Warnings []Diagnostic
}

// Diagnostic is a non-fatal message.
type Diagnostic struct {
	Pos Pos
	Msg string
}

func (d Diagnostic) String() string { return d.Pos.String() + ": " + d.Msg }

// Error is a fatal parse or evaluation error.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }
