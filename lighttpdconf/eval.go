package lighttpdconf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// Options control the environment a config is evaluated in.
type Options struct {
	Getenv func(string) (string, bool) // env.* lookups; nil = os.LookupEnv
	Getwd  string                      // var.CWD; "" = os.Getwd()
	PID    int                         // var.PID; 0 = os.Getpid()
	Stderr io.Writer                   // include_shell stderr; nil = os.Stderr
	// MapDirs maps directory prefixes ("/etc/lighttpd") to the directories
	// actually read ("/tmp/layout"), for opening, globbing and the
	// include_shell working directory; names in positions, messages, Files
	// and Globs stay unmapped. It lets tests lay out /etc/lighttpd elsewhere.
	MapDirs map[string]string
}

const (
	maxNesting      = 64 // ( { [ nesting accepted by the pre-pass
	maxIncludeDepth = 32 // include / include_shell recursion
	maxFileSize     = 32 << 20
)

// ParseFile reads and evaluates the config file at path ("-" reads stdin).
// Relative includes resolve against the directory part of path, as given.
func ParseFile(path string, opts *Options) (*Config, error) {
	var (
		src []byte
		err error
	)
	if path == "-" {
		src, err = io.ReadAll(io.LimitReader(os.Stdin, maxFileSize+1))
	} else {
		src, err = readConfigFile(path, mapPath(opts, path))
	}
	if err != nil {
		return nil, &Error{Pos: Pos{File: path}, Msg: err.Error()}
	}
	return ParseBytes(path, src, opts)
}

func mapPath(o *Options, p string) string {
	if o == nil {
		return p
	}
	for from, to := range o.MapDirs {
		if p == from || strings.HasPrefix(p, strings.TrimSuffix(from, "/")+"/") {
			return to + p[len(from):]
		}
	}
	return p
}

func unmapPath(o *Options, p string) string {
	for from, to := range o.MapDirs {
		if p == to || strings.HasPrefix(p, strings.TrimSuffix(to, "/")+"/") {
			return from + p[len(to):]
		}
	}
	return p
}

func readConfigFile(path, real string) ([]byte, error) {
	src, err := os.ReadFile(real)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("opening configfile %s failed: %w", path, err)
	}
	if len(src) > maxFileSize {
		return nil, fmt.Errorf("opening configfile %s failed: file too large", path)
	}
	return src, nil
}

// ParseBytes evaluates src as the main config file named filename; filename
// also sets the base directory for relative includes.
func ParseBytes(filename string, src []byte, opts *Options) (*Config, error) {
	e := newEvaluator(filename, opts)
	if filename != "-" {
		e.addFile(filename)
	}
	if err := e.parseSource(filename, src); err != nil {
		return nil, err
	}
	if err := e.finish(); err != nil {
		return nil, err
	}
	return e.cfg, nil
}

type evaluator struct {
	opts    Options
	cfg     *Config
	basedir string
	all     map[string]*Block // identity key -> block (lighttpd's all_configs)
	stack   []*Block
	cur     *Block
	depth   int
	seen    map[string]bool
}

func newEvaluator(filename string, o *Options) *evaluator {
	e := &evaluator{all: make(map[string]*Block), seen: make(map[string]bool)}
	if o != nil {
		e.opts = *o
	}
	if e.opts.Getenv == nil {
		e.opts.Getenv = os.LookupEnv
	}
	if e.opts.Getwd == "" {
		e.opts.Getwd, _ = os.Getwd()
	}
	if e.opts.PID == 0 {
		e.opts.PID = os.Getpid()
	}
	if e.opts.Stderr == nil {
		e.opts.Stderr = os.Stderr
	}
	if i := strings.LastIndexByte(filename, '/'); i >= 0 {
		e.basedir = filename[:i+1]
	}
	g := &Block{key: "global", Pos: Pos{File: filename, Line: 1, Col: 1}}
	g.insert(Entry{Key: "var.CWD", Value: Value{Kind: KindString, Str: e.opts.Getwd}})
	g.insert(Entry{Key: "var.PID", Value: Value{Kind: KindInteger, Int: int32(e.opts.PID)}})
	e.cfg = &Config{Global: g, Blocks: []*Block{g}}
	e.all["global"] = g
	e.cur = g
	return e
}

func (e *evaluator) addFile(path string) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	if !e.seen[abs] {
		e.seen[abs] = true
		e.cfg.Files = append(e.cfg.Files, abs)
	}
}

func (e *evaluator) warn(p Pos, format string, args ...any) {
	e.cfg.Warnings = append(e.cfg.Warnings, Diagnostic{Pos: p, Msg: fmt.Sprintf(format, args...)})
}

func errorf(p Pos, format string, args ...any) *Error {
	return &Error{Pos: p, Msg: fmt.Sprintf(format, args...)}
}

func toPos(p lexer.Position) Pos { return Pos{File: p.Filename, Line: p.Line, Col: p.Column} }

// parseSource lexes, checks nesting, parses and evaluates one source into the
// current block.
func (e *evaluator) parseSource(name string, src []byte) error {
	if e.depth >= maxIncludeDepth {
		return errorf(Pos{File: name}, "includes nested deeper than %d (include loop?)", maxIncludeDepth)
	}
	if len(src) == 0 {
		return nil
	}
	toks, nul, err := tokenize(name, src)
	if err != nil {
		return err
	}
	if nul != nil {
		e.warn(*nul, "stray NUL: the rest of the input is ignored (as lighttpd does)")
	}
	if err := checkNesting(toks); err != nil {
		return err
	}
	pl, err := lexer.Upgrade(&sliceLexer{toks: toks})
	if err != nil {
		return errorf(Pos{File: name}, "%v", err)
	}
	ast, err := parser.ParseFromLexer(pl)
	if err != nil {
		return syntaxError(name, toks, err)
	}
	e.depth++
	defer func() { e.depth-- }()
	for _, it := range ast.Items {
		if it.Stray {
			e.warn(toPos(it.Pos), "unmatched `}` ignored (lighttpd drops it)")
			continue
		}
		if err := e.stmt(it.Stmt); err != nil {
			return err
		}
	}
	return nil
}

// checkNesting rejects nesting deeper than maxNesting (participle recurses per
// level) and reports the opener of an unclosed `{` or `(` at end of input.
func checkNesting(toks []lexer.Token) error {
	type open struct {
		c   byte
		pos lexer.Position
	}
	var stack []open
	for _, t := range toks {
		if t.Type != tokPunct || len(t.Value) != 1 {
			continue
		}
		switch c := t.Value[0]; c {
		case '{', '(', '[':
			if len(stack) >= maxNesting {
				return errorf(toPos(t.Pos), "nesting deeper than %d levels of ( { [", maxNesting)
			}
			stack = append(stack, open{c, t.Pos})
		case '}', ')', ']':
			want := byte('{')
			if c == ')' {
				want = '('
			} else if c == ']' {
				want = '['
			}
			if n := len(stack); n > 0 && stack[n-1].c == want {
				stack = stack[:n-1]
			}
		}
	}
	if n := len(stack); n > 0 {
		o := stack[n-1]
		closer := map[byte]string{'{': "}", '(': ")", '[': "]"}[o.c]
		eof := toks[len(toks)-1].Pos
		return errorf(toPos(eof), "unexpected end of input: unclosed `%c` opened at %d:%d (expected `%s`)",
			o.c, o.pos.Line, o.pos.Column, closer)
	}
	return nil
}

var keywordHints = []string{"else", "include", "include_shell", "global"}

// syntaxError turns a participle error into an *Error at the offending
// token that says what was expected there.
func syntaxError(name string, toks []lexer.Token, err error) error {
	var ut *participle.UnexpectedTokenError
	if errors.As(err, &ut) {
		found := strconv.Quote(ut.Unexpected.Value)
		if ut.Unexpected.EOF() {
			found = "end of input"
		}
		expect := ut.Expect
		if expect == "" {
			expect = expectedAt(toks, ut.Unexpected.Pos.Offset, ut.Unexpected.EOF())
		}
		return &Error{Pos: toPos(ut.Unexpected.Pos), Msg: fmt.Sprintf("expected %s, found %s", expect, found)}
	}
	var pe participle.Error
	if errors.As(err, &pe) {
		return &Error{Pos: toPos(pe.Position()), Msg: pe.Message()}
	}
	return errorf(Pos{File: name}, "%v", err)
}

// expectedAt derives what the grammar wanted before the token at offset
// (participle reports a bare "unexpected token" for failed alternatives).
func expectedAt(toks []lexer.Token, offset int, eof bool) string {
	i := len(toks) - 1
	if !eof {
		for i = 0; i < len(toks) && toks[i].Pos.Offset != offset; i++ {
		}
	}
	if i == 0 || i >= len(toks) {
		return "a statement"
	}
	prev := toks[i-1]
	switch {
	case prev.Type == tokKeyword && prev.Value == "global":
		return "`{`"
	case prev.Type == tokKeyword && prev.Value == "else":
		return "a condition or `{`"
	case prev.Type == tokKeyword:
		return "an expression"
	case prev.Type == tokSrvVar:
		return "`[`"
	case prev.Type == tokPunct && prev.Value == "$":
		return "a condition name (HTTP, SERVER, REQUEST_HEADER)"
	case prev.Type == tokPunct && len(prev.Value) == 2 && strings.Contains("== != =~ !~ =^ =$", prev.Value):
		return "a string expression"
	}
	// inside a condition head? walk back to the statement start
	sawOp := false
	for j := i - 1; j >= 0; j-- {
		t := toks[j]
		if t.Type != tokPunct {
			continue
		}
		switch t.Value {
		case "==", "!=", "=~", "!~", "=^", "=$":
			sawOp = true
		case "]":
			if !sawOp {
				return "a condition operator (== != =~ !~ =^ =$)"
			}
		case "$":
			if sawOp {
				return "`{` after the condition"
			}
			return "a condition operator (== != =~ !~ =^ =$)"
		case "{", "}", "=", ":=", "+=":
			return "a statement (KEY = VALUE, $HTTP[\"...\"] == \"...\" { }, include, include_shell, global, else)"
		}
	}
	return "a statement (KEY = VALUE, $HTTP[\"...\"] == \"...\" { }, include, include_shell, global, else)"
}

// keywordHint suggests the keyword a mistyped name was probably meant to be.
func keywordHint(name string) string {
	switch name {
	case "if", "elseif", "elsif", "elif":
		return " (lighttpd 1.4.69 has no if/elseif; write `else $HTTP[\"...\"] == \"...\" { }`)"
	}
	for _, kw := range keywordHints {
		if name != kw && editDistance(strings.ToLower(name), kw) <= 2 {
			return fmt.Sprintf(" (did you mean the keyword %q?)", kw)
		}
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			c = min(c, prev[j]+1, cur[j-1]+1)
			cur[j] = c
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (e *evaluator) stmt(s *astStmt) error {
	switch {
	case s.Include != nil:
		v, err := e.stringop(s.Include)
		if err != nil {
			return err
		}
		return e.include(toPos(s.Pos), v)
	case s.Shell != nil:
		v, err := e.stringop(s.Shell)
		if err != nil {
			return err
		}
		return e.includeShell(toPos(s.Pos), v)
	case s.Global != nil:
		if err := e.push(e.cfg.Global, toPos(s.Pos)); err != nil {
			return err
		}
		if err := e.block(s.Global); err != nil {
			return err
		}
		e.pop()
		return nil
	case s.Chain != nil:
		return e.chain(s.Chain)
	case s.Assign != nil:
		return e.assign(s.Assign)
	case s.Stray != nil && s.Stray.Value == "+":
		e.warn(toPos(s.Pos), "`+` at the start of a line does not continue the expression before it; lighttpd drops it and what follows on the line")
	case s.Stray != nil:
		e.warn(toPos(s.Pos), "stray value %s ignored (lighttpd drops it)", s.Stray.Value)
	}
	return nil
}

func (e *evaluator) block(b *astBlock) error {
	for _, s := range b.Stmts {
		if err := e.stmt(s); err != nil {
			return err
		}
	}
	return nil
}

func (e *evaluator) push(b *Block, p Pos) error {
	if len(e.stack) > 0 && e.cur.Index == 0 {
		return errorf(p, "Cannot use conditionals inside a global { ... } block")
	}
	e.stack = append(e.stack, e.cur)
	e.cur = b
	return nil
}

func (e *evaluator) pop() {
	n := len(e.stack) - 1
	e.cur = e.stack[n]
	e.stack = e.stack[:n]
}

func normKey(k string) string {
	if !strings.Contains(k, ".") {
		return "var." + k
	}
	return k
}

func (e *evaluator) blockName() string {
	return fmt.Sprintf("%d %s", e.cur.Index, e.cur.key)
}

func (e *evaluator) assign(a *astAssign) error {
	p := toPos(a.Pos)
	if a.Dollar {
		switch a.Key {
		case "if", "elseif", "elsif", "elif":
			e.warn(p, "lighttpd 1.4.69 has no %q: the condition and `{` after it are discarded and this sets %s from the first assignment inside (the `}` then closes the enclosing block)", a.Key, normKey(a.Key))
		default:
			return errorf(p, "expected = := or += after %q, found \"$\"%s", a.Key, keywordHint(a.Key))
		}
	}
	key := normKey(a.Key)
	v, err := e.expr(a.Expr)
	if err != nil {
		return err
	}
	isEnv := strings.HasPrefix(key, "env.")
	switch a.Op {
	case "=":
		if isEnv {
			return errorf(p, "Setting env variable is not supported in conditional %s: %s", e.blockName(), key)
		}
		if _, dup := e.cur.lookup(key); dup {
			return errorf(p, "Duplicate config variable in conditional %s: %s", e.blockName(), key)
		}
		e.cur.insert(Entry{Key: key, Value: v, Pos: p})
	case ":=":
		if isEnv {
			return errorf(p, "Setting env variable is not supported in conditional %s: %s", e.blockName(), key)
		}
		if i, ok := e.cur.lookup(key); ok {
			e.cur.Entries[i] = Entry{Key: key, Value: v, Pos: p}
		} else {
			e.cur.insert(Entry{Key: key, Value: v, Pos: p})
		}
	case "+=":
		if isEnv {
			return errorf(p, "Appending env variable is not supported in conditional %s: %s", e.blockName(), key)
		}
		var lv Value
		old, ok := e.cur.extract(key)
		if ok {
			lv = old.Value
		} else {
			lv, ok = e.variable(key)
		}
		if !ok {
			e.cur.insert(Entry{Key: key, Value: v, Pos: p})
			return nil
		}
		m, err := e.merge(lv, v, p)
		if err != nil {
			return err
		}
		e.cur.insert(Entry{Key: key, Value: m, Pos: p})
	}
	return nil
}

// variable looks key up from the current block to the global block.
func (e *evaluator) variable(key string) (Value, bool) {
	for b := e.cur; b != nil; b = b.Parent {
		if i, ok := b.lookup(key); ok {
			return b.Entries[i].Value, true
		}
	}
	return Value{}, false
}

func (e *evaluator) expr(x *astExpr) (Value, error) {
	v, err := e.value(x.Values[0])
	if err != nil {
		return v, err
	}
	for _, y := range x.Values[1:] {
		w, err := e.value(y)
		if err != nil {
			return v, err
		}
		if v, err = e.merge(v, w, toPos(y.Pos)); err != nil {
			return v, err
		}
	}
	v.Pos = toPos(x.Pos)
	return v, nil
}

func (e *evaluator) value(x *astValue) (Value, error) {
	p := toPos(x.Pos)
	switch {
	case x.Str != nil:
		return Value{Kind: KindString, Str: unquote(*x.Str), Pos: p}, nil
	case x.Int != nil:
		n, err := strconv.ParseInt(*x.Int, 10, 64)
		if err != nil {
			return Value{}, errorf(p, "error parsing number: '%s'", *x.Int)
		}
		return Value{Kind: KindInteger, Int: int32(n), Pos: p}, nil
	case x.Key != nil:
		key := normKey(*x.Key)
		if strings.HasPrefix(key, "env.") {
			s, ok := e.opts.Getenv(key[4:])
			if !ok {
				return Value{}, errorf(p, "Undefined env variable: %s", key[4:])
			}
			return Value{Kind: KindString, Str: s, Pos: p}, nil
		}
		v, ok := e.variable(key)
		if !ok {
			return Value{}, errorf(p, "Undefined config variable: %s", key)
		}
		v.Pos = p
		return v, nil
	default:
		return e.array(x.Arr)
	}
}

func (e *evaluator) array(a *astArray) (Value, error) {
	out := Value{Kind: KindArray, Pos: toPos(a.Pos), Arr: make([]Element, 0, len(a.Elems))}
	var keys map[string]bool
	for _, el := range a.Elems {
		junk := el.Junk1
		if len(junk) == 0 {
			junk = el.Junk2
		}
		if len(junk) > 0 {
			e.warn(toPos(junk[0].Pos), "missing comma? %s and what follows up to the next `,` or `)` is ignored (lighttpd drops it)", junk[0].Tok)
		}
		if el.Second == nil {
			v, err := e.expr(el.First)
			if err != nil {
				return out, err
			}
			out.Arr = append(out.Arr, Element{Value: v})
			continue
		}
		k, err := e.stringop(el.First)
		if err != nil {
			return out, err
		}
		v, err := e.expr(el.Second)
		if err != nil {
			return out, err
		}
		if keys == nil {
			keys = make(map[string]bool)
		}
		lk := strings.ToLower(k)
		if keys[lk] {
			return out, errorf(toPos(el.Pos), "Error: duplicate array-key: %s. Please get rid of the duplicate entry.", k)
		}
		keys[lk] = true
		out.Arr = append(out.Arr, Element{Key: k, HasKey: true, Value: v})
	}
	return out, nil
}

// stringop evaluates an expression that must be a string or an integer.
func (e *evaluator) stringop(x *astExpr) (string, error) {
	v, err := e.expr(x)
	if err != nil {
		return "", err
	}
	switch v.Kind {
	case KindString:
		return v.Str, nil
	case KindInteger:
		return strconv.Itoa(int(v.Int)), nil
	}
	return "", errorf(toPos(x.Pos), "operand must be string")
}

// merge implements `+` / `+=` (spec §4); values are treated as immutable.
func (e *evaluator) merge(l, r Value, p Pos) (Value, error) {
	switch {
	case l.Kind == KindString && r.Kind == KindString:
		l.Str += r.Str
	case l.Kind == KindInteger && r.Kind == KindInteger:
		l.Int += r.Int
	case l.Kind == KindString && r.Kind == KindInteger:
		l.Str += strconv.Itoa(int(r.Int))
	case l.Kind == KindInteger && r.Kind == KindString:
		l = Value{Kind: KindString, Str: strconv.Itoa(int(l.Int)) + r.Str, Pos: l.Pos}
	case l.Kind == KindArray && r.Kind == KindArray:
		arr := make([]Element, len(l.Arr), len(l.Arr)+len(r.Arr))
		copy(arr, l.Arr)
		var idx map[string]int
		for _, el := range r.Arr {
			if !el.HasKey {
				arr = append(arr, el)
				continue
			}
			if idx == nil {
				idx = make(map[string]int, len(arr))
				for i, x := range arr {
					if x.HasKey {
						lk := strings.ToLower(x.Key)
						if _, ok := idx[lk]; !ok {
							idx[lk] = i
						}
					}
				}
			}
			lk := strings.ToLower(el.Key)
			i, dup := idx[lk]
			if !dup {
				idx[lk] = len(arr)
				arr = append(arr, el)
				continue
			}
			old := arr[i].Value
			if old.Kind == el.Value.Kind &&
				((old.Kind == KindString && old.Str == el.Value.Str) ||
					(old.Kind == KindInteger && old.Int == el.Value.Int)) {
				e.warn(p, "Duplicate array-key '%s'", el.Key)
				continue
			}
			return l, errorf(p, "Duplicate array-key '%s' (values differ)", el.Key)
		}
		l.Arr = arr
	default:
		return l, errorf(p, "data type mismatch, cannot merge %s with %s", l.Kind, r.Kind)
	}
	return l, nil
}

// include implements `include` (spec §8.1).
func (e *evaluator) include(p Pos, fn string) error {
	name := fn
	if !(e.basedir == "" || strings.HasPrefix(fn, "/") || strings.HasPrefix(fn, "\\") ||
		strings.HasPrefix(fn, "./") || strings.HasPrefix(fn, ".\\") ||
		strings.HasPrefix(fn, "../") || strings.HasPrefix(fn, "..\\")) {
		name = e.basedir + fn
	}
	hasMeta := strings.ContainsAny(name, "*?[]{}")
	if hasMeta {
		if abs, err := filepath.Abs(name); err == nil {
			e.cfg.Globs = append(e.cfg.Globs, abs)
		}
	}
	matches, err := globBrace(mapPath(&e.opts, name))
	if err != nil {
		return errorf(p, "glob() %s failed: %v", name, err)
	}
	if len(matches) == 0 {
		if hasMeta {
			return nil
		}
		return errorf(p, "include file not found: %s", name)
	}
	for _, real := range matches {
		m := unmapPath(&e.opts, real)
		src, err := readConfigFile(m, real)
		if err != nil {
			return errorf(p, "%v", err)
		}
		e.addFile(m)
		if err := e.parseSource(m, src); err != nil {
			return err
		}
	}
	return nil
}

// includeShell implements `include_shell` (spec §8.2).
func (e *evaluator) includeShell(p Pos, cmdline string) error {
	shell, _ := e.opts.Getenv("SHELL")
	if shell == "" || shell == "/bin/false" || shell == "/usr/bin/false" {
		shell = "/bin/sh"
	}
	cmd := exec.Command(shell, "-c", cmdline)
	cmd.Dir = mapPath(&e.opts, e.basedir)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = e.opts.Stderr
	e.cfg.Commands = append(e.cfg.Commands, cmdline)
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return errorf(p, "command \"%s\" exited non-zero: %d", cmdline, ee.ExitCode())
		}
		return errorf(p, "fork/exec(%s): %v", cmdline, err)
	}
	if out.Len() > maxFileSize {
		return errorf(p, "output of command \"%s\" is too large", cmdline)
	}
	return e.parseSource(cmdline, out.Bytes())
}
