package regex

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// unset marks a capture group that did not take part in the match.
const unset = "\x00unset"

// pcre2Cases: expected results produced by pcre2test 10.42 (Debian 12, the
// library lighttpd 1.4.69 links) with the "utf" modifier, i.e. the options
// lighttpd compiles with. want lists group 0..n (trailing unset groups
// omitted, as pcre2test prints them); nil means no match.
var pcre2Cases = []struct {
	pattern, subject string
	want             []string
}{
	{`^/foo$`, "/foo", []string{"/foo"}},
	{`^/foo$`, "/foo\n", []string{"/foo"}},
	{`^/foo$`, "/foobar", nil},
	{`\.php$`, "/index.php", []string{".php"}},
	{`\.php$`, "/index.php\n", []string{".php"}},
	{`(?i)\.PHP$`, "/x.php", []string{".php"}},
	{`^/(a|b)(?=x)`, "/ax", []string{"/a", "a"}},
	{`^/(a|b)(?=x)`, "/ay", nil},
	{`^/(?!admin)(.*)`, "/admin/x", nil},
	{`^/(?!admin)(.*)`, "/user/x", []string{"/user/x", "user/x"}},
	{`[\d\s]+`, "a 12\x0b", []string{" 12\x0b"}},
	{`\s`, "\x0b", []string{"\x0b"}},
	{`^\S+$`, "a\x0bb", nil},
	{`a{,3}`, "a{,3}", []string{"a{,3}"}},
	{`(?P<n>a)(b)`, "xab", []string{"ab", "a", "b"}},
	{`(?<n>a)-(c)`, "a-c", []string{"a-c", "a", "c"}},
	{`(?U)a+`, "aaa", []string{"a"}},
	{`(?U)a+?`, "aaa", []string{"aaa"}},
	{`[]a]`, "]", []string{"]"}},
	{`\_`, "_", []string{"_"}},
	{`a\Z`, "a\n", []string{"a"}},
	{`a\z`, "a\n", nil},
	{`(a)\1`, "aa", []string{"aa", "a"}},
	{`(a)\1`, "ab", nil},
	{`a++a`, "aaa", nil},
	{`(?>a+)b`, "aab", []string{"aab"}},
	{`(?i)é`, "É", []string{"É"}},
	{`(?i)k`, "\u212a", []string{"\u212a"}},
	{`(?i)[a-z]`, "\u212a", []string{"\u212a"}},
	{`(?i)\w`, "\u212a", nil},
	{`(?i)[[:alpha:]]`, "\u212a", nil},
	{`\w`, "é", nil},
	{`\d`, "٣", nil},
	{`\bfoo\b`, "a foo b", []string{"foo"}},
	{`\bfoo\b`, "afoo", nil},
	{`\bé`, "xé", []string{"é"}},
	{`(?m)^b$`, "a\nb\n", []string{"b"}},
	{`(?m)^`, "a\n", []string{""}},
	{`(?m)^$`, "a\n", nil},
	{`(?x) a b # c`, "ab", []string{"ab"}},
	{`[[:^alpha:]x]`, "x", []string{"x"}},
	{`[[:^alpha:]x]`, "y", nil},
	{`[[:^alpha:]x]`, "1", []string{"1"}},
	{`[^[:^alpha:]x]`, "x", nil},
	{`[^[:^alpha:]x]`, "y", []string{"y"}},
	{`[^[:^alpha:]x]`, "1", nil},
	{`[^\D]`, "5", []string{"5"}},
	{`[^\D]`, "a", nil},
	{`^(\w+)\.example\.com$`, "www.example.com", []string{"www.example.com", "www"}},
	{`^(?:www\.)?(.*)$`, "www.x.org", []string{"www.x.org", "x.org"}},
	{`^/([^/]+)/(.*)$`, "/a/b/c", []string{"/a/b/c", "a", "b/c"}},
	{`\h+`, "a \u00a0b", []string{" \u00a0"}},
	{`\v`, "\u2028", []string{"\u2028"}},
	{`\R`, "\r\n", []string{"\r\n"}},
	{`\Qa.b\E+`, "a.bb", []string{"a.bb"}},
	{`\Qa.b\E+`, "axbb", nil},
	{`x\Ey`, "xy", []string{"xy"}},
	{`\x41\x{42}\101`, "ABA", []string{"ABA"}},
	{`\cA`, "\x01", []string{"\x01"}},
	{`[\x00-\x1f]`, "\x1f", []string{"\x1f"}},
	{`(a)|b`, "b", []string{"b"}},
	{`(a)?b`, "b", []string{"b"}},
	{`(a)?(b)`, "b", []string{"b", unset, "b"}},
	{`(a*)+$`, "b", []string{"", ""}},
	{`^(?:(a)|b)+$`, "ab", []string{"ab", "a"}},
	{`^(?:(a)|b)+$`, "ba", []string{"ba", "a"}},
	{`[\w.-]+@`, "a.b-c@x", []string{"a.b-c@"}},
	{`(?i)^/FOO`, "/foo", []string{"/foo"}},
	{`(?i:A)b`, "aB", nil},
	{`(?i:A)b`, "ab", []string{"ab"}},
	{`a(?i)b|c`, "C", []string{"C"}},
	{`^.$`, "\U0001f600", []string{"\U0001f600"}},
	{`^..$`, "\U0001f600", nil},
	{`\p{Lu}`, "É", []string{"É"}},
	{`\P{Lu}`, "É", nil},
	{`(?<=/)x`, "/x", []string{"x"}},
	{`(?<!/)x`, "/x", nil},
	{`(a)?(?(1)b|c)`, "ab", []string{"ab", "a"}},
	{`(a)\g{-1}`, "aa", []string{"aa", "a"}},
	{`(a)\g1`, "aa", []string{"aa", "a"}},
	{`(?<n>a)\k<n>`, "aa", []string{"aa", "a"}},
	{`(?P<n>a)(?P=n)`, "aa", []string{"aa", "a"}},
	{`.`, "\n", nil},
	{`(?s).`, "\n", []string{"\n"}},
	{`[^a]`, "\n", []string{"\n"}},
	{`^/(.*)\.(jpg|gif)$`, "/a/b.c.jpg", []string{"/a/b.c.jpg", "a/b.c", "jpg"}},
	{`^/~([^/]+)(/.*)?$`, "/~joe", []string{"/~joe", "joe"}},
	{`^/~([^/]+)(/.*)?$`, "/~joe/x/y", []string{"/~joe/x/y", "joe", "/x/y"}},
	{`(?i)\.(?:jpe?g|png)$`, "/A.JPEG", []string{".JPEG"}},
	{`^/forum/(?!index\.php)(.*)`, "/forum/index.php", nil},
	{`^/forum/(?!index\.php)(.*)`, "/forum/topic/1", []string{"/forum/topic/1", "topic/1"}},
	{`^([^?]*)(\?.*)?$`, "/a/b?c=d?e", []string{"/a/b?c=d?e", "/a/b", "?c=d?e"}},
	{`\.(?i:php)$`, "/x.PhP", []string{".PhP"}},
	{`^/api/(v\d+)/`, "/api/v12/x", []string{"/api/v12/", "v12"}},
	{`^(?!/static/).*$`, "/static/a.css", nil},
	{`^(?!/static/).*$`, "/dyn/a", []string{"/dyn/a"}},
	{`^/(\w+)-(\d+)\.html$`, "/post-42.html", []string{"/post-42.html", "post", "42"}},
	{`^/([a-z]{2})(?:/(.*))?$`, "/en", []string{"/en", "en"}},
	{`^/([a-z]{2})(?:/(.*))?$`, "/en/about/us", []string{"/en/about/us", "en", "about/us"}},
	{`^(www\.)?(.+)$`, "www.example.com", []string{"www.example.com", "www.", "example.com"}},
	{`^/a(?=b)b(?<=ab)c$`, "/abc", []string{"/abc"}},
	{`^(.+?)/*$`, "/a/b///", []string{"/a/b///", "/a/b"}},
	{`^/(.*?)(?:\.html)?$`, "/x.html", []string{"/x.html", "x"}},
	{`\.(css|js)(\?.*)?$`, "/s/app.js?v=3", []string{".js?v=3", "js", "?v=3"}},
	{`^/[^/]+/(?:[^/]+/)*([^/]+)$`, "/a/b/c/d", []string{"/a/b/c/d", "d"}},
	{`(a|ab)(c|bcd)(d*)`, "abcd", []string{"abcd", "a", "bcd", ""}},
	{`(a+)+b`, "aaab", []string{"aaab", "aaa"}},
	{`^(?:(\d+)\.){3}(\d+)$`, "10.0.0.255", []string{"10.0.0.255", "0", "255"}},
	{`[\x{e9}-\x{ff}]+`, "café", []string{"é"}},
	{`(?s)^a.b$`, "a\nb", []string{"a\nb"}},
	{`^a.b$`, "a\nb", nil},
	{`\Aabc\z`, "abc", []string{"abc"}},
	{`^[[:alnum:]_.-]+$`, "a_b.c-d", []string{"a_b.c-d"}},
	{`^[[:^digit:]]+$`, "abc", []string{"abc"}},
	{`^[[:^digit:]]+$`, "ab1", nil},
}

func TestMatchesPCRE2(t *testing.T) {
	for _, tc := range pcre2Cases {
		t.Run(tc.pattern+"~"+tc.subject, func(t *testing.T) {
			re, err := Compile(tc.pattern)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			m, err := re.FindStringSubmatchIndexErr(nil, tc.subject)
			if err != nil {
				t.Fatalf("match error: %v", err)
			}
			if got := re.MatchString(tc.subject); got != (tc.want != nil) {
				t.Errorf("MatchString = %v, want %v (engine %s)", got, tc.want != nil, re.Engine())
			}
			if tc.want == nil {
				if m != nil {
					t.Fatalf("matched %v, want no match (engine %s)", m, re.Engine())
				}
				return
			}
			if len(m) != 2*(re.NumSubexp()+1) {
				t.Fatalf("got %d indexes for %d groups", len(m), re.NumSubexp())
			}
			var got []string
			for i := 0; i < len(m); i += 2 {
				if m[i] < 0 {
					got = append(got, unset)
				} else {
					got = append(got, tc.subject[m[i]:m[i+1]])
				}
			}
			for len(got) > 1 && got[len(got)-1] == unset {
				got = got[:len(got)-1]
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("groups = %q, want %q (engine %s)", got, tc.want, re.Engine())
			}
		})
	}
}

// TestEngineChoice pins the RE2 rule documented in the package comment.
func TestEngineChoice(t *testing.T) {
	tests := []struct {
		pattern string
		engine  string
		why     string
	}{
		{`^/foo$`, "re2", "plain anchors and literals"},
		{`\.(php|cgi)$`, "re2", "alternation in a group"},
		{`^/([^/]+)/(.*)$`, "re2", "negated class"},
		{`(?i)\.PHP$`, "re2", "(?i) with ASCII literals"},
		{`(?i:\.jpe?g)$`, "re2", "scoped (?i)"},
		{`\d+\s\S\b\B\A\z`, "re2", "ASCII shorthands and anchors"},
		{`[[:alpha:][:digit:]_-]`, "re2", "POSIX classes without (?i)"},
		{`a{2,5}?b*?c+?`, "re2", "lazy quantifiers"},
		{`(?P<x>a)(?<y>b)`, "re2", "named groups"},
		{`(?U)a+`, "re2", "ungreedy option"},
		{`\Qa.b\E`, "re2", "quoting"},
		{`\x41\x{263a}\101\cA`, "re2", "character escapes"},
		{`(?x) a b  # comment`, "re2", "extended mode is stripped by the scanner"},
		{`é+`, "re2", "non-ASCII literal without (?i)"},
		{`(?m)^a$`, "re2", "multiline: newline-sensitive, RE2 for subjects without \\n"},
		{`a{1001}`, "pcre", "count beyond Go's limit"},
		{`(?i)é`, "pcre", "non-ASCII under (?i)"},
		{`(?i)\w`, "pcre", "\\w under (?i): Go folds it"},
		{`(?i)[[:alpha:]]`, "pcre", "POSIX class under (?i)"},
		{`\p{Lu}`, "pcre", "Unicode property"},
		{`a\Z`, "pcre", "\\Z"},
		{`\h\v\R\N\X`, "pcre", "PCRE-only escapes"},
		{`^/(?!admin)`, "pcre", "negative look-ahead"},
		{`(?<=/)x(?=y)`, "pcre", "look-behind and look-ahead"},
		{`(a)\1`, "pcre", "back-reference"},
		{`(?<n>a)\k<n>`, "pcre", "named back-reference"},
		{`a++`, "pcre", "possessive quantifier"},
		{`(?>a+)b`, "pcre", "atomic group"},
		{`(a)?(?(1)b|c)`, "pcre", "conditional"},
		{`(?'n'a)`, "pcre", "quote-named group"},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			re, err := Compile(tc.pattern)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if re.Engine() != tc.engine {
				t.Errorf("Engine() = %s, want %s (%s)", re.Engine(), tc.engine, tc.why)
			}
		})
	}
}

// TestCompileErrors: messages and offsets as pcre2test 10.42 reports them.
func TestCompileErrors(t *testing.T) {
	tests := []struct{ pattern, want string }{
		{`(`, "pcre2_compile: missing closing parenthesis at offset 1, regex: ("},
		{`a)`, "pcre2_compile: unmatched closing parenthesis at offset 1, regex: a)"},
		{`[a`, "pcre2_compile: missing terminating ] for character class at offset 2, regex: [a"},
		{`[a-\d]`, "pcre2_compile: invalid range in character class at offset 4, regex: [a-\\d]"},
		{`[[:foo:]]`, "pcre2_compile: unknown POSIX class name at offset 3, regex: [[:foo:]]"},
		{`\j`, "pcre2_compile: unrecognized character follows \\ at offset 1, regex: \\j"},
		{`a**`, "pcre2_compile: quantifier does not follow a repeatable item at offset 2, regex: a**"},
		{`^*`, "pcre2_compile: quantifier does not follow a repeatable item at offset 1, regex: ^*"},
		{`a{2}{3}`, "pcre2_compile: quantifier does not follow a repeatable item at offset 6, regex: a{2}{3}"},
		{`x{2,1}`, "pcre2_compile: numbers out of order in {} quantifier at offset 5, regex: x{2,1}"},
		{`(?<1a>x)`, "pcre2_compile: subpattern name must start with a non-digit at offset 3, regex: (?<1a>x)"},
		{`a\`, "pcre2_compile: \\ at end of pattern at offset 2, regex: a\\"},
		{"a\xffb", "pcre2_compile: UTF-8 error: invalid UTF-8 byte sequence at offset 1, regex: a\xffb"},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			re, err := Compile(tc.pattern)
			if err == nil {
				t.Fatalf("Compile succeeded (engine %s), want error", re.Engine())
			}
			if err.Error() != tc.want {
				t.Errorf("error = %q\nwant    %q", err, tc.want)
			}
		})
	}
}

func TestUnsupportedConstructs(t *testing.T) {
	for _, p := range []string{`(?R)`, `(a)(?1)`, `(?|(a)|(b))`, `(*UTF)a`, `(?&n)`, `\g<1>`, `a\Kb`} {
		t.Run(p, func(t *testing.T) {
			_, err := Compile(p)
			if err == nil || !strings.Contains(err.Error(), "not supported") || !strings.HasSuffix(err.Error(), "regex: "+p) {
				t.Errorf("Compile(%q) error = %v, want a 'not supported' error naming the regex", p, err)
			}
		})
	}
}

func TestNumSubexp(t *testing.T) {
	tests := []struct {
		pattern string
		n       int
	}{
		{`abc`, 0}, {`(a)(?:b)(c)`, 2}, {`(?<x>a)(b)`, 2}, {`(a)(?=(b))`, 2}, {`(?n)(a)(?<x>b)`, 1}, {`[(]`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			if got := MustCompile(tc.pattern).NumSubexp(); got != tc.n {
				t.Errorf("NumSubexp() = %d, want %d", got, tc.n)
			}
		})
	}
}

func TestStringReturnsPattern(t *testing.T) {
	for _, p := range []string{`^/a(?=b)`, `\.php$`} {
		if got := MustCompile(p).String(); got != p {
			t.Errorf("String() = %q, want %q", got, p)
		}
	}
}

// lighttpd compiles with PCRE2_UTF and no PCRE2_MATCH_INVALID_UTF: an invalid
// subject is an error, which a condition treats as "no match" (observed on
// 1.4.69: GET /x%c3%28 fails $HTTP["url"] =~ "^/x" and passes !~ "^/x").
func TestInvalidUTF8Subject(t *testing.T) {
	for _, p := range []string{`.*`, `(?=.)`} {
		re := MustCompile(p)
		t.Run(re.Engine(), func(t *testing.T) {
			ok, err := re.MatchStringErr("/a\xff")
			if ok || !errors.Is(err, ErrInvalidUTF8) {
				t.Errorf("MatchStringErr = %v, %v; want false, ErrInvalidUTF8", ok, err)
			}
			if re.MatchString("/a\xff") {
				t.Error("MatchString on invalid UTF-8 = true")
			}
			if m, err := re.FindStringSubmatchIndexErr(nil, "\xc3"); m != nil || !errors.Is(err, ErrInvalidUTF8) {
				t.Errorf("FindStringSubmatchIndexErr = %v, %v", m, err)
			}
		})
	}
}

func TestMatchLimit(t *testing.T) {
	// Exponential backtracking: lighttpd's PCRE2 gives up with a match-limit
	// error; so must we, quickly.
	re := MustCompile(`^(a|a?)+(?=b)`)
	start := time.Now()
	ok, err := re.MatchStringErr(strings.Repeat("a", 40) + "c")
	if ok || !errors.Is(err, ErrMatchLimit) {
		t.Fatalf("MatchStringErr = %v, %v; want false, ErrMatchLimit", ok, err)
	}
	if d := time.Since(start); d > 5*MatchTimeout+time.Second {
		t.Errorf("match took %v", d)
	}
	if m := re.FindStringSubmatchIndex(nil, strings.Repeat("a", 40)+"c"); m != nil {
		t.Errorf("FindStringSubmatchIndex = %v, want nil", m)
	}
}

// Newline-sensitive RE2 patterns fall back to the PCRE-like engine only for
// subjects containing '\n'.
func TestNewlineFallback(t *testing.T) {
	tests := []struct {
		pattern, subject string
		want             bool
	}{
		{`^/foo$`, "/foo", true},
		{`^/foo$`, "/foo\n", true},
		{`^/foo$`, "/foo\n\n", false},
		{`^/foo$`, "/foo\nx", false},
		{`(?m)^x$`, "a\nx\nb", true},
		{`(?m)^$`, "a\n", false},
		{`(?m)^$`, "a\n\n", true},
	}
	for _, tc := range tests {
		t.Run(tc.pattern+"~"+tc.subject, func(t *testing.T) {
			re := MustCompile(tc.pattern)
			if re.Engine() != "re2" {
				t.Fatalf("Engine() = %s, want re2", re.Engine())
			}
			if got := re.MatchString(tc.subject); got != tc.want {
				t.Errorf("MatchString = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFindReusesDst(t *testing.T) {
	for _, p := range []string{`^/(a)(b)?`, `^/(a)(?!z)(b)?`} {
		re := MustCompile(p)
		t.Run(re.Engine(), func(t *testing.T) {
			dst := make([]int, 0, 16)
			m := re.FindStringSubmatchIndex(dst, "/ax")
			want := []int{0, 2, 1, 2, -1, -1}
			if len(m) != len(want) {
				t.Fatalf("got %v, want %v", m, want)
			}
			for i := range want {
				if m[i] != want[i] {
					t.Fatalf("got %v, want %v", m, want)
				}
			}
			if &m[0] != &dst[:1][0] {
				t.Error("result does not reuse dst")
			}
		})
	}
}

func TestRE2NoMatchDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	re := MustCompile(`^/api/(v[0-9]+)/(.*)$`)
	dst := make([]int, 0, 8)
	allocs := testing.AllocsPerRun(100, func() {
		if re.FindStringSubmatchIndex(dst, "/static/app.js") != nil {
			t.Fatal("unexpected match")
		}
		if re.MatchString("/static/app.js") {
			t.Fatal("unexpected match")
		}
	})
	if allocs != 0 {
		t.Errorf("allocs per non-matching call = %v, want 0", allocs)
	}
}
