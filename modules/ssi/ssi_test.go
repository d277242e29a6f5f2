package ssi

import (
	"strings"
	"testing"
	"time"
)

func TestParseDirective(t *testing.T) {
	for _, tc := range []struct {
		in    string
		ok    bool
		cmd   string
		attrs [][2]string
	}{
		{`<!--#echo var="X" -->`, true, "echo", [][2]string{{"var", "X"}}},
		{`<!--#echo var=X-->`, true, "echo", [][2]string{{"var", "X"}}},
		{`<!--#else -->`, true, "else", nil},
		{`<!--#endif-->`, true, "endif", nil},
		{`<!--#set var='a b' value="c d" -->`, true, "set", [][2]string{{"var", "a b"}, {"value", "c d"}}},
		{`<!--#echo var="a" var="b" var="c" -->`, false, "", nil},
		{`<!--#bad! -->`, false, "", nil},
		{`<!--#-->`, false, "", nil},
		{`<!--#echo var= -->`, false, "", nil},
		{`<!--#echo var="unterminated -->`, false, "", nil},
		{`<!--#echo var="x"junk -->`, false, "", nil},
		{`<!--#echo 9="x" -->`, false, "", nil},
		{`<!--#echo var="a\"b" -->`, true, "echo", [][2]string{{"var", `a\"b`}}},
		{"<!--#echo var=\"a\x00b\" -->", true, "echo", [][2]string{{"var", "a"}}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			d, ok := parseDirective([]byte(tc.in))
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if d.cmd != tc.cmd || len(d.attrs) != len(tc.attrs) {
				t.Fatalf("got %+v", d)
			}
			for i := range tc.attrs {
				if d.attrs[i] != tc.attrs[i] {
					t.Fatalf("attr %d = %q, want %q", i, d.attrs[i], tc.attrs[i])
				}
			}
		})
	}
}

func TestStmtLen(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{`<!--#echo var="x" --> tail`, 21},
		{`<!--#echo var="-->" --> tail`, 23},
		{`<!--#echo var='-->' --> tail`, 23},
		{`<!--#echo var="a`, 0},
		{`<!--#echo var="\"-->" -->`, 0}, // the backslash stays armed: no end
	} {
		if got := stmtLen([]byte(tc.in)); got != tc.want {
			t.Errorf("stmtLen(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestExpr(t *testing.T) {
	vars := map[string]string{"who": "world", "empty": "", "n": "10"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	for _, tc := range []struct {
		expr string
		want int
	}{
		{"$who = world", 1},
		{"${who} = 'world'", 1},
		{"$who != world", 0},
		{"$nosuch", 0},
		{"$empty", 0},
		{"x", 1},
		{"''", 0},
		{"!x", 0},
		{"!!x", 1},
		{"a b = 'a b'", 1},
		{"b < c", 1},
		{"10 > 9", 0}, // string comparison
		{"$n >= 10", 1},
		{"(a = a) && (b = c)", 0},
		{"(a = a) || (b = c)", 1},
		{"a = a && b = b || c = d", 1},
		{"(1) = (0)", -1}, // a parenthesized group cannot be compared (lighttpd)
		{"(a", -1},
		{"a)", -1},
		{"a & b", -1},
		{"a | b", -1},
		{"'open", -1},
		{"${open", -1},
		{strings.Repeat("(", 17) + "1" + strings.Repeat(")", 17), -1},
		{strings.Repeat("!", 17) + "1", -1},
		{"", 0},
		// lighttpd spins forever on these (it skips only SP and HT and
		// does not advance over other unprintable bytes).
		{"a\nb = 'a b'", 1},
		{"a\x01", -1},
		{"\xff", -1},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			if got := evalExpr(tc.expr, lookup, func(string, ...any) {}); got != tc.want {
				t.Fatalf("evalExpr(%q) = %d, want %d", tc.expr, got, tc.want)
			}
		})
	}
}

func TestStrftime(t *testing.T) {
	tm := time.Date(2021, 3, 4, 15, 6, 7, 0, time.UTC)
	for _, tc := range []struct{ f, want string }{
		{"%a, %d %b %Y %T %Z", "Thu, 04 Mar 2021 15:06:07 GMT"},
		{"%A %B %e %j %I %p %y %C %u %w %%", "Thursday March  4 063 03 PM 21 20 4 4 %"},
		{"%F %R %D", "2021-03-04 15:06 03/04/21"},
		{"%Q%", "%Q%"},
	} {
		if got := string(strftime(nil, tc.f, tm, "GMT")); got != tc.want {
			t.Errorf("strftime(%q) = %q, want %q", tc.f, got, tc.want)
		}
	}
}

// FuzzDirective: directive scanning and parsing never panic, and a parsed
// directive's values hold no NUL.
func FuzzDirective(f *testing.F) {
	for _, s := range []string{`<!--#echo var="x" -->`, `<!--#set var='a' value="b" -->`, `<!--#if expr="(a && b)" -->`, `<!--#" -->`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := append([]byte("<!--#"), b...)
		n := stmtLen(s)
		if n == 0 {
			return
		}
		d, ok := parseDirective(s[:n])
		if !ok {
			return
		}
		for _, a := range d.attrs {
			if strings.IndexByte(a[1], 0) >= 0 {
				t.Fatalf("NUL in %q", a[1])
			}
		}
	})
}

// FuzzExpr: any expression evaluates to -1, 0 or 1 without panicking.
func FuzzExpr(f *testing.F) {
	for _, s := range []string{"$a = b", "(a && !b) || c", "${x} != 'y'", "((((", "a <= b >= c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		got := evalExpr(expr, func(k string) (string, bool) { return k, len(k)%2 == 0 }, func(string, ...any) {})
		if got < -1 || got > 1 {
			t.Fatalf("evalExpr(%q) = %d", expr, got)
		}
	})
}
