package lighttpdconf

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustParse(t *testing.T, src string, opts *Options) *Config {
	t.Helper()
	if opts == nil {
		opts = &Options{Getwd: "/w", PID: 7, Getenv: noEnv}
	}
	c, err := ParseBytes("t.conf", []byte(src), opts)
	if err != nil {
		t.Fatalf("ParseBytes(%q): %v", src, err)
	}
	return c
}

// TestValues checks evaluated values through the API (spec §2-§7).
func TestValues(t *testing.T) {
	cases := []struct {
		name, src, key string
		want           Value // Pos ignored
	}{
		{"bare-name", "x = 1\n", "var.x", Value{Kind: KindInteger, Int: 1}},
		{"lookup-case-insensitive", "Server.Port = 8081\n", "server.port", Value{Kind: KindInteger, Int: 8081}},
		{"backslashes-kept", `b = "a\\b\t"` + "\n", "var.b", Value{Kind: KindString, Str: `a\\b\t`}},
		{"escaped-quote", `a = "x\"y"` + "\n", "var.a", Value{Kind: KindString, Str: `x"y`}},
		{"leading-zero", "k = 007\n", "var.k", Value{Kind: KindInteger, Int: 7}},
		{"wrap-literal", "y = 4294967297\n", "var.y", Value{Kind: KindInteger, Int: 1}},
		{"wrap-add", "y = 2147483647 + 1\n", "var.y", Value{Kind: KindInteger, Int: -2147483648}},
		{"str-int", "g = \"s\" + 12\n", "var.g", Value{Kind: KindString, Str: "s12"}},
		{"int-str", "h = 12 + \"s\"\n", "var.h", Value{Kind: KindString, Str: "12s"}},
		{"chain", "c = 5 + 5 + \"a\" + 3\n", "var.c", Value{Kind: KindString, Str: "10a3"}},
		{"append-string", "z = \"a\"\nz += \"b\"\nz += 3\n", "var.z", Value{Kind: KindString, Str: "ab3"}},
		{"append-new", "n += \"new\"\n", "var.n", Value{Kind: KindString, Str: "new"}},
		{"force", "y = 1\ny := 2\n", "var.y", Value{Kind: KindInteger, Int: 2}},
		{"reference", "a = \"x\"\nb = a + \"y\"\n", "var.b", Value{Kind: KindString, Str: "xy"}},
		{"reference-any-key", "server.port = 80\np = server.port\n", "var.p", Value{Kind: KindInteger, Int: 80}},
		{"pid", "p = var.PID\n", "var.p", Value{Kind: KindInteger, Int: 7}},
		{"cwd", "c = var.CWD\n", "var.c", Value{Kind: KindString, Str: "/w"}},
		{"nbsp", "x\u00a0=\u00a01\n", "var.x", Value{Kind: KindInteger, Int: 1}},
		{"comma-outside", "x = \"a\",\n", "var.x", Value{Kind: KindString, Str: "a"}},
		{"stray-int", "x = 1 2\n", "var.x", Value{Kind: KindInteger, Int: 1}},
		{"plus-on-next-line", "x = 1\n+ 2\n", "var.x", Value{Kind: KindInteger, Int: 1}},
		{"plus-in-parens", "x = (1\n+ 2)\n", "var.x", Value{Kind: KindArray, Arr: []Element{{Value: Value{Kind: KindInteger, Int: 3}}}}},
		{"plus-after-multiline-string", "x = \"a\nb\" + \"c\"\n", "var.x", Value{Kind: KindString, Str: "a\nbc"}},
		{"two-on-a-line", "q = 1 r = 2\n", "var.r", Value{Kind: KindInteger, Int: 2}},
		{"array-merge", "a = (\"a\", \"b\") + (\"a\")\n", "var.a", Value{Kind: KindArray, Arr: []Element{
			{Value: Value{Kind: KindString, Str: "a"}}, {Value: Value{Kind: KindString, Str: "b"}}, {Value: Value{Kind: KindString, Str: "a"}}}}},
		{"array-keys", "a = (1 => \"x\", \"\" => 2)\n", "var.a", Value{Kind: KindArray, Arr: []Element{
			{Key: "1", HasKey: true, Value: Value{Kind: KindString, Str: "x"}}, {Key: "", HasKey: true, Value: Value{Kind: KindInteger, Int: 2}}}}},
		{"array-missing-comma", "a = (\"a\" \"b\")\n", "var.a", Value{Kind: KindArray, Arr: []Element{{Value: Value{Kind: KindString, Str: "a"}}}}},
		{"equal-duplicate-merge", "x = (\"a\" => 1)\nx += (\"A\" => 1)\n", "var.x", Value{Kind: KindArray, Arr: []Element{
			{Key: "a", HasKey: true, Value: Value{Kind: KindInteger, Int: 1}}}}},
		{"js-mimetype", "mimetype.assign = (\".js\" => \"application/javascript\")\n", "mimetype.assign", Value{Kind: KindArray, Arr: []Element{
			{Key: ".js", HasKey: true, Value: Value{Kind: KindString, Str: "text/javascript"}}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, tc.src, nil)
			e, ok := c.Global.Get(tc.key)
			if !ok {
				t.Fatalf("%s not set; entries: %+v", tc.key, c.Global.Entries)
			}
			if !sameValue(e.Value, tc.want) {
				t.Errorf("%s = %+v, want %+v", tc.key, e.Value, tc.want)
			}
		})
	}
}

func sameValue(a, b Value) bool {
	if a.Kind != b.Kind || a.Str != b.Str || a.Int != b.Int || len(a.Arr) != len(b.Arr) {
		return false
	}
	for i := range a.Arr {
		x, y := a.Arr[i], b.Arr[i]
		if x.Key != y.Key || x.HasKey != y.HasKey || !sameValue(x.Value, y.Value) {
			return false
		}
	}
	return true
}

// TestConditions checks Cond fields after simplification and normalization.
func TestConditions(t *testing.T) {
	cases := []struct {
		name, src       string
		op              Op
		value, text     string
		field, variable string
		regex           bool
	}{
		{"eq", `$HTTP["url"] == "/a" {}`, OpEq, "/a", `$HTTP["url"] == "/a"`, "url", "HTTP", false},
		{"simplify-eq", `$HTTP["url"] =~ "^/exact$" {}`, OpEq, "/exact", `$HTTP["url"] == "/exact"`, "url", "HTTP", false},
		{"simplify-ext", `$HTTP["url"] =~ "\.php$" {}`, OpSuffix, ".php", `$HTTP["url"] =$ ".php"`, "url", "HTTP", false},
		{"simplify-suffix", `$HTTP["url"] =~ "php$" {}`, OpSuffix, "php", `$HTTP["url"] =$ "php"`, "url", "HTTP", false},
		{"simplify-prefix", `$HTTP["url"] =~ "^/foo" {}`, OpPrefix, "/foo", `$HTTP["url"] =^ "/foo"`, "url", "HTTP", false},
		{"regex-dot", `$HTTP["url"] =~ "^/a.b" {}`, OpMatch, "^/a.b", `$HTTP["url"] =~ "^/a.b"`, "url", "HTTP", true},
		{"regex-unanchored", `$HTTP["url"] =~ "/mid/" {}`, OpMatch, "/mid/", `$HTTP["url"] =~ "/mid/"`, "url", "HTTP", true},
		{"nomatch-kept", `$HTTP["url"] !~ "^/x$" {}`, OpNoMatch, "^/x$", `$HTTP["url"] !~ "^/x$"`, "url", "HTTP", true},
		{"socket-not-simplified", `$SERVER["socket"] =~ ":80" {}`, OpMatch, ":80", `$SERVER["socket"] =~ ":80"`, "socket", "SERVER", true},
		{"header", `$REQUEST_HEADER["X-Foo"] =^ "a" {}`, OpPrefix, "a", `$REQUEST_HEADER["X-Foo"] =^ "a"`, "X-Foo", "REQUEST_HEADER", false},
		{"host-port", `$HTTP["host"] == "example.com:0x50" {}`, OpEq, "example.com:80", `$HTTP["host"] == "example.com:0x50"`, "host", "HTTP", false},
		{"host-ipv6", `$HTTP["host"] == "[0:0::1]:8080" {}`, OpEq, "[::1]:8080", `$HTTP["host"] == "[0:0::1]:8080"`, "host", "HTTP", false},
		{"remoteip-cidr", `$HTTP["remoteip"] == "10.0.0.0/8" {}`, OpEq, "10.0.0.0/8", `$HTTP["remoteip"] == "10.0.0.0/8"`, "remoteip", "HTTP", false},
		{"remoteip-v6", `$HTTP["remote-ip"] == "[0::1]" {}`, OpEq, "::1", `$HTTP["remote-ip"] == "[0::1]"`, "remote-ip", "HTTP", false},
		{"capture-reverse-eq", `$HTTP["host"] =~ "^sub$" { url.redirect = ("^/(.*)" => "/%1/$1") }`, OpMatch, "^sub$", `$HTTP["host"] == "sub"`, "host", "HTTP", true},
		{"capture-reverse-ext", `$HTTP["url"] =~ "\.php$" { url.rewrite-once = ("x" => "%{0}") }`, OpMatch, `\.php$`, `$HTTP["url"] =$ ".php"`, "url", "HTTP", true},
		{"capture-reverse-prefix", `$HTTP["url"] =^ "/p" { url.rewrite = ("x" => "%0") }`, OpMatch, "^/p", `$HTTP["url"] =^ "/p"`, "url", "HTTP", true},
		{"percent-escaped", `$HTTP["url"] =^ "/p" { url.rewrite = ("x" => "%%1") }`, OpPrefix, "/p", `$HTTP["url"] =^ "/p"`, "url", "HTTP", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, tc.src+"\n", nil)
			if len(c.Blocks) != 2 {
				t.Fatalf("%d blocks", len(c.Blocks))
			}
			b := c.Blocks[1]
			cd := b.Cond
			if cd.Op != tc.op || cd.Value != tc.value || cd.Field != tc.field || cd.Var != tc.variable {
				t.Errorf("cond = %s %s %s %q, want %s %s %s %q", cd.Var, cd.Field, cd.Op, cd.Value, tc.variable, tc.field, tc.op, tc.value)
			}
			if b.Text() != tc.text {
				t.Errorf("Text() = %s, want %s", b.Text(), tc.text)
			}
			if (cd.Regex != nil) != tc.regex {
				t.Errorf("Regex set = %v, want %v", cd.Regex != nil, tc.regex)
			}
			if cd.Regex != nil && cd.Regex.String() != cd.Value {
				t.Errorf("Regex %q compiled from something else than Value %q", cd.Regex.String(), cd.Value)
			}
		})
	}
}

// TestBlocks checks block numbering, reuse, else chains and global { }.
func TestBlocks(t *testing.T) {
	src := `m = ("x" => 1)
$HTTP["host"] == "h" { m += ("y" => 2) }
$HTTP["url"] =^ "/a" { $HTTP["scheme"] == "https" { s = 1 } }
else $HTTP["url"] =^ "/b" { global { g = 1 } }
else { e = 1 }
$HTTP["host"] == "h" { n = m }
`
	c := mustParse(t, src, nil)
	if len(c.Blocks) != 6 {
		t.Fatalf("%d blocks, want 6", len(c.Blocks))
	}
	for i, b := range c.Blocks {
		if b.Index != i {
			t.Errorf("Blocks[%d].Index = %d", i, b.Index)
		}
	}
	h := c.Blocks[1]
	if n, ok := h.Get("var.n"); !ok || len(n.Value.Arr) != 2 {
		t.Errorf("reopened block: n = %+v", n)
	}
	if m, ok := c.Global.Get("VAR.M"); !ok || len(m.Value.Arr) != 1 {
		t.Errorf("global m modified by += in block: %+v", m)
	}
	a, https, bb, els := c.Blocks[2], c.Blocks[3], c.Blocks[4], (*Block)(nil)
	if https.Parent != a || https.Text() != `$HTTP["scheme"] == "https"` {
		t.Errorf("nested block: parent %v text %s", https.Parent, https.Text())
	}
	if bb.Prev != a || a.Next() != bb {
		t.Errorf("else chain a -> b broken")
	}
	els = bb.Next()
	if els != c.Blocks[5] || !els.IsElse() {
		t.Errorf("else chain b -> else broken")
	}
	if _, ok := bb.Get("var.g"); ok {
		t.Errorf("global { } content went into block %d", bb.Index)
	}
	if _, ok := c.Global.Get("var.g"); !ok {
		t.Errorf("global { g = 1 } not in the global block")
	}
	if len(c.Global.Children) != 4 {
		t.Errorf("global has %d children, want 4 (h, /a, /b, else)", len(c.Global.Children))
	}

	c = mustParse(t, "$HTTP[\"host\"] == \"a\" { x = 1 } else { x = 2 }\n", nil)
	e := c.Blocks[2]
	if !e.IsElse() || e.Text() != "else" || e.Cond != nil || e.Prev != c.Blocks[1] {
		t.Errorf("plain else: IsElse %v Text %q Prev %v", e.IsElse(), e.Text(), e.Prev)
	}
}

// TestWarnings checks the non-fatal diagnostics.
func TestWarnings(t *testing.T) {
	cases := []struct{ name, src, want, pos string }{
		{"else-if", "$HTTP[\"host\"] == \"a\" { x = 1 } else if $HTTP[\"host\"] == \"b\" { x = 2 }\n", "no `else if`", "1:32"},
		{"elseif", "$HTTP[\"host\"] == \"a\" { x = 1 }\nelseif $HTTP[\"host\"] == \"b\" { x = 2 }\n", "no \"elseif\"", "2:1"},
		{"duplicate-equal", "x = (\"a\" => 1)\nx += (\"a\" => 1)\n", "Duplicate array-key 'a'", "2:1"},
		{"missing-comma", "x = (\"a\" => \"1\" \"b\" => \"2\")\n", "missing comma?", "1:17"},
		{"stray-value", "x = 1 2\n", "stray value 2", "1:7"},
		{"stray-brace", "x = 1\n}\n", "unmatched `}`", "2:1"},
		{"nul", "x = 1\n\x00y = 2\n", "stray NUL", "2:1"},
		{"plus-newline", "x = 1\n  + 2\n", "`+` at the start of a line", "2:3"},
		{"cond-plus-newline", "$HTTP[\"url\"] == \"/a\"\n  + \"b\" { }\n", "+ before `{` is ignored", "2:3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, tc.src, nil)
			for _, w := range c.Warnings {
				if strings.Contains(w.Msg, tc.want) {
					if w.Pos.String() != "t.conf:"+tc.pos {
						t.Errorf("warning at %s, want %s", w.Pos, tc.pos)
					}
					return
				}
			}
			t.Errorf("no warning containing %q in %v", tc.want, c.Warnings)
		})
	}
	// the 1.4.69 reading of elseif: var.elseif = 2 in the enclosing block
	c := mustParse(t, "$HTTP[\"host\"] == \"a\" { x = 1 }\nelseif $HTTP[\"host\"] == \"b\" { x = 2 }\n", nil)
	if e, ok := c.Global.Get("var.elseif"); !ok || e.Value.Int != 2 {
		t.Errorf("elseif misparse: var.elseif = %+v", e)
	}
}

// TestIncludes covers include resolution, globs, include_shell and the
// bookkeeping the reload watcher uses.
func TestIncludes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("conf.d/b.conf", "b = 1\ninclude \"conf.d/nested.conf\"\n")
	write("conf.d/a.conf", "a = 1\n")
	write("conf.d/.hidden.conf", "hidden = 1\n")
	write("conf.d/nested.conf", "nested = cwd_from_shell\n")
	write("main.conf", `include_shell "echo 'cwd_from_shell = \"'$(pwd)'\"'; echo oops >&2"
include "conf.d/{b,a}.conf"
include "conf.d/*.conf.none"
$HTTP["url"] =^ "/x" { include "conf.d/a.conf" }
`)
	var stderr bytes.Buffer
	c, err := ParseFile(filepath.Join(dir, "main.conf"), &Options{Getwd: "/w", PID: 1, Getenv: noEnv, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, e := range c.Global.Entries {
		order = append(order, e.Key)
	}
	if got := strings.Join(order, " "); got != "var.CWD var.PID var.cwd_from_shell var.b var.nested var.a" {
		t.Errorf("global entries %s", got)
	}
	if e, _ := c.Global.Get("var.nested"); e == nil || e.Value.Str != dir {
		t.Errorf("include_shell cwd: %+v, want %s", e, dir)
	}
	if _, ok := c.Blocks[1].Get("var.a"); !ok {
		t.Errorf("include inside a conditional did not land in the block")
	}
	if e, _ := c.Blocks[1].Get("var.a"); e != nil && e.Pos.File != filepath.Join(dir, "conf.d/a.conf") {
		t.Errorf("entry position names %s", e.Pos.File)
	}
	if !strings.Contains(stderr.String(), "oops") {
		t.Errorf("include_shell stderr not passed through: %q", stderr.String())
	}
	wantFiles := []string{"main.conf", "conf.d/b.conf", "conf.d/nested.conf", "conf.d/a.conf"}
	if len(c.Files) != len(wantFiles) {
		t.Fatalf("Files = %v", c.Files)
	}
	for i, f := range wantFiles {
		if c.Files[i] != filepath.Join(dir, f) {
			t.Errorf("Files[%d] = %s, want %s", i, c.Files[i], filepath.Join(dir, f))
		}
	}
	if len(c.Globs) != 2 || c.Globs[0] != filepath.Join(dir, "conf.d/{b,a}.conf") {
		t.Errorf("Globs = %v", c.Globs)
	}
	if len(c.Commands) != 1 || !strings.HasPrefix(c.Commands[0], "echo 'cwd_from_shell") {
		t.Errorf("Commands = %v", c.Commands)
	}

	// errors inside an included file name that file
	write("bad.conf", "x = \n")
	write("main2.conf", "include \"bad.conf\"\n")
	_, err = ParseFile(filepath.Join(dir, "main2.conf"), &Options{Getenv: noEnv})
	if err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, "bad.conf")+":2:1:") {
		t.Errorf("error from included file: %v", err)
	}
	// include_shell output is named after the command
	_, err = ParseBytes(filepath.Join(dir, "m.conf"), []byte("include_shell \"echo x = y\"\n"), &Options{Getenv: noEnv})
	if err == nil || !strings.HasPrefix(err.Error(), "echo x = y:1:5: Undefined config variable: var.y") {
		t.Errorf("error from include_shell output: %v", err)
	}
	// include loops are cut off
	write("loop.conf", "include \"loop.conf\"\n")
	_, err = ParseFile(filepath.Join(dir, "loop.conf"), &Options{Getenv: noEnv})
	if err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("include loop: %v", err)
	}
	// a missing main file
	_, err = ParseFile(filepath.Join(dir, "nope.conf"), nil)
	if err == nil || !strings.Contains(err.Error(), "opening configfile") || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

// TestEnv checks env.* reads through Options.Getenv.
func TestEnv(t *testing.T) {
	c := mustParse(t, "server.port = env.PORT\n", &Options{Getenv: func(k string) (string, bool) {
		return "8080", k == "PORT"
	}})
	if e, _ := c.Global.Get("server.port"); e == nil || e.Value.Kind != KindString || e.Value.Str != "8080" {
		t.Errorf("env.PORT = %+v", e)
	}
}

func TestKindOpStrings(t *testing.T) {
	for op, s := range map[Op]string{OpEq: "==", OpNe: "!=", OpMatch: "=~", OpNoMatch: "!~", OpPrefix: "=^", OpSuffix: "=$", 0: "Op(0)"} {
		if op.String() != s {
			t.Errorf("%d.String() = %s, want %s", op, op.String(), s)
		}
	}
	for k, s := range map[Kind]string{KindString: "string", KindInteger: "integer", KindArray: "array", 9: "Kind(9)"} {
		if k.String() != s {
			t.Errorf("Kind %d = %s, want %s", k, k.String(), s)
		}
	}
	if p := (Pos{File: "f", Line: 2, Col: 3}); p.String() != "f:2:3" {
		t.Errorf("Pos.String() = %s", p)
	}
}
