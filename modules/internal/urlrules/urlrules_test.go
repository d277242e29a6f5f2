package urlrules

import (
	"strings"
	"testing"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/urinorm"
)

// request builds a request whose current target is target, normalized as
// the pipeline would have it.
func request(t testing.TB, target string) *core.Request {
	t.Helper()
	opts := urinorm.DefaultOptions()
	nt, err := urinorm.Parse(target, &opts)
	if err != nil {
		t.Fatalf("target %q: %v", target, err)
	}
	rc := &core.Request{Target: target}
	rc.URI = core.URI{
		Scheme: "http", Authority: "example.org", Target: nt.Normalized, Path: nt.Path, Query: nt.Query,
		PathRaw: nt.Normalized[:len(nt.Normalized)-len(nt.Query)-boolInt(nt.HasQuery)],
	}
	rc.Conn.LocalPort = 8080
	return rc
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestApply(t *testing.T) {
	rules := []core.KV{
		{Key: "^/skip", Value: ""},
		{Key: "^/a/([^?]*)(?:\\?(.*))?$", Value: "/x.php?p=$1&q=$2"},
		{Key: "^/qsa/([^?]*)", Value: "/q/$1${qsa}"},
		{Key: "^/enc/([^?]*)", Value: "/e?d=${1}&e=${esc:1}&n=${noesc:1}"},
		{Key: "^/parts", Value: "${url.scheme}://${url.authority}:${url.port}${url.path}?${url.query}"},
		{Key: "^/opt(x)?(y)?", Value: "/o/[$1][$2][$3]"},
		{Key: "^/%C3%A9t%C3%A9", Value: "/summer"},
		{Key: "^/lower\\?a=%2f", Value: "/slash"},
		{Key: "^/utf/é", Value: "/raw-utf8"},
		{Key: "^/pct/(.*)", Value: "/%%41$1%%"},
	}
	l := NewList(0, "")
	if err := l.Add(nil, rules, true); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, target string
		want         Outcome
		idx          int
		out          string
	}{
		{"no rule matches", "/none", NoMatch, -1, ""},
		{"blank target stops the list", "/skip/a/b", Stopped, 0, ""},
		{"captures with query", "/a/b%20c?x=1", Expanded, 1, "/x.php?p=b%20c&q=x=1"},
		{"group that did not take part", "/a/b", Expanded, 1, "/x.php?p=b&q="},
		{"qsa adds the query", "/qsa/p?a=1", Expanded, 2, "/q/p?a=1"},
		{"qsa with a bare ?", "/qsa/p?", Expanded, 2, "/q/p?"},
		{"qsa without query", "/qsa/p", Expanded, 2, "/q/p"},
		{"encodings", "/enc/a%20b/c+d", Expanded, 3, "/e?d=a%20b/c%2Bd&e=a%2520b%2Fc%2Bd&n=a%20b/c+d"},
		{"url parts", "/parts/x?y=1", Expanded, 4, "http://example.org:8080/parts/x?y=1"},
		{"missing groups expand to nothing", "/opty", Expanded, 5, "/o/[][y][]"},
		{"normalized UTF-8 key matches", "/%c3%a9t%c3%a9", Expanded, 6, "/summer"},
		{"key hex upper-cased", "/lower?a=%2f", Expanded, 7, "/slash"},
		{"raw UTF-8 key is encoded at load", "/utf/%C3%A9", Expanded, 8, "/raw-utf8"},
		{"%% is a literal percent", "/pct/z", Expanded, 9, "/%41z%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idx, got, out, err := l.Apply(request(t, tt.target), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || idx != tt.idx || string(out) != tt.out {
				t.Fatalf("Apply(%q) = %d %v %q, want %d %v %q", tt.target, idx, got, out, tt.idx, tt.want, tt.out)
			}
		})
	}
}

func TestRequiredPrefix(t *testing.T) {
	tests := []struct{ pattern, want string }{
		{"^/app/(.*)$", "/app/"},
		{"^/app", "/app"},
		{"/app", ""},
		{"^/a|^/b", ""},
		{"^/ab?c", "/a"},
		{"^/ab*", "/a"},
		{"^/ab+", "/a"},
		{"^/ab{2}", "/a"},
		{"^/a\\.b\\?c=", "/a.b?c="},
		{"^/a\\.?b", "/a"},
		{"^/a\\d", "/a"},
		{"^/a\\Qb\\E", "/a"},
		{"^/a.b", "/a"},
		{"^/a[bc]", "/a"},
		{"^(?i)/a", ""},
		{"^", ""},
		{"^/x%20y/", "/x%20y/"},
		{"^/~user/", "/~user/"},
		{"^/a\\", "/a"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			if got := requiredPrefix(tt.pattern); got != tt.want {
				t.Fatalf("requiredPrefix(%q) = %q, want %q", tt.pattern, got, tt.want)
			}
		})
	}
}

func TestAddErrors(t *testing.T) {
	tests := []struct {
		name string
		kv   core.KV
		want string
	}{
		{"bad regex", core.KV{Key: "(", Value: "/x"}, "pcre2_compile: missing closing parenthesis"},
		{"20 groups", core.KV{Key: strings.Repeat("(a)", 20), Value: "/x"}, "Too many captures in regex, use (?:...) instead of (...): (a)(a)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewList(0, "").Add(nil, []core.KV{tt.kv}, true)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if err := NewList(0, "").Add(nil, []core.KV{{Key: strings.Repeat("(a)", 19), Value: "/x"}}, true); err != nil {
		t.Fatalf("19 groups: %v", err)
	}
}

// TestApplyNoMatchAllocs: a request that no rule matches costs nothing.
func TestApplyNoMatchAllocs(t *testing.T) {
	l := NewList(0, "")
	var kvs []core.KV
	for i := 0; i < 20; i++ {
		kvs = append(kvs, core.KV{Key: "^/app" + strings.Repeat("x", i) + "/(.*)$", Value: "/index.php?q=$1"})
	}
	if err := l.Add(nil, kvs, true); err != nil {
		t.Fatal(err)
	}
	rc := request(t, "/static/style.css?v=3")
	var buf [64]byte
	if n := testing.AllocsPerRun(100, func() { l.Apply(rc, buf[:0]) }); n != 0 {
		t.Fatalf("%v allocations per non-matching request", n)
	}
}

func BenchmarkApply(b *testing.B) {
	l := NewList(0, "")
	var kvs []core.KV
	for i := 0; i < 20; i++ {
		kvs = append(kvs, core.KV{Key: "^/r" + string(rune('a'+i)) + "/([^?]*)(?:\\?(.*))?$", Value: "/index.php?page=$1&${qsa}"})
	}
	if err := l.Add(nil, kvs, true); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ name, target string }{
		{"no-match-20", "/static/style.css?v=3"},
		{"last-of-20", "/rt/some/page?x=1"},
	} {
		rc := request(b, tc.target)
		buf := make([]byte, 0, 256)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				l.Apply(rc, buf[:0])
			}
		})
	}
}
