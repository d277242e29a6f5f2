package subst

import (
	"encoding/base64"
	"strings"
	"testing"
)

// Captures of the checks run against Debian's lighttpd 1.4.69 with
//
//	$HTTP["host"] =~ "^(sub)\.(ex)" { url.redirect = ( "^/low/(.*)" => ..., ) }
//
// and "Host: Sub.ex.com" (lower-cased to sub.ex.com by lighttpd).
var (
	hostCond = []string{"sub.ex", "sub", "ex"}
	url28777 = &URLParts{Scheme: "http", Authority: "sub.ex.com", Port: 28777}
)

// TestObservedOn1469: templates and the Location header lighttpd 1.4.69
// produced for them.
func TestObservedOn1469(t *testing.T) {
	tests := []struct {
		name, tmpl string
		rule       []string
		u          URLParts
		want       string
	}{
		{
			"modifiers", "/x/${tolower:1}|${toupper:1}|${nde:1}|${escnde:1}|${esc:1}|${noesc:1}|${1}|$1|%1|%{2}|${escape:tolower:1}|${esc:toupper:1}",
			[]string{"/low/AbC/d%20e/f?q", "AbC/d%20e/f?q"}, *url28777,
			"/x/||AbC/d%20e/f%3Fq|AbC%2Fd%20e%2Ff%3Fq|AbC%2Fd%2520e%2Ff%3Fq|AbC/d%20e/f?q|AbC/d%20e/f%3Fq|AbC/d%20e/f?q|sub|ex|abc%2Fd%2520e%2Ff%3Fq|abc%2Fd%2520e%2Ff%3Fq",
		},
		{
			"modifiers utf8 and plus", "/x/${tolower:1}|${toupper:1}|${nde:1}|${escnde:1}|${esc:1}|${noesc:1}|${1}|$1|%1|%{2}|${escape:tolower:1}|${esc:toupper:1}",
			[]string{"/low/a%C3%A9/+", "a%C3%A9/+"}, *url28777,
			"/x/||a%C3%A9/%2B|a%C3%A9%2F%2B|a%25C3%25A9%2F%2B|a%C3%A9/+|a%C3%A9/%2B|a%C3%A9/+|sub|ex|a%25c3%25a9%2F%2B|a%25c3%25a9%2F%2B",
		},
		{
			"url parts", "/u/${url.scheme}|${url.authority}|${url.port}|${url.path}|${url.query}|${esc:url.path}${qsa}",
			[]string{"/url/pAth?a=1&b", "pAth?a=1&b"},
			URLParts{Scheme: "http", Authority: "sub.ex.com", Port: 28777, Path: "/url/pAth?a=1&b", Query: "a=1&b", HasQuery: true},
			"/u/http|sub.ex.com|28777|/url/pAth|a=1&b|%2Furl%2FpAth?a=1&b",
		},
		{
			"base64url", "/b/${encb64u:1}|${decb64u:2}|${decb64u:1}|",
			[]string{"/b64/aGk_Pz4/aGk_Pz4", "aGk_Pz4", "aGk_Pz4"}, *url28777,
			"/b/YUdrX1B6NA|hi??>|hi??>|",
		},
		{
			"base64url invalid", "/b/${encb64u:1}|${decb64u:2}|${decb64u:1}|",
			[]string{"/b64/aGk/%%%", "aGk", "%%%"}, *url28777,
			"/b/YUdr||hi|",
		},
		{
			"literals and odd braces", "/m/$$|%%|$x|%x|$|${12}|${1x}|${foo1}|${bad:1}|" + NormalizeValue("é|%%c3%%a9") + "|${1}z",
			[]string{"/misc/AB", "AB"}, *url28777,
			"/m/$|%|$x|%x|$||AB|AB|AB|%C3%A9|%C3%A9|ABz",
		},
		{"unfinished brace truncates", "/t/a${1", []string{"/trunc/x", "x"}, *url28777, "/t/a"},
		{"qsa adds &", "/q?z=1${qsa}", []string{"/qsa?k=v"}, URLParts{Query: "k=v", HasQuery: true}, "/q?z=1&k=v"},
		{"qsa without query", "/q?z=1${qsa}", []string{"/qsa"}, URLParts{}, "/q?z=1"},
		{"qsa empty query after ?", "/q?z=1${qsa}", []string{"/qsa?"}, URLParts{HasQuery: true}, "/q?z=1"},
		{"qsa empty query", "/q${qsa}", []string{"/qsb?"}, URLParts{HasQuery: true}, "/q?"},
		{"qsa no query", "/q${qsa}", []string{"/qsb"}, URLParts{}, "/q"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := Compile(tc.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			got := string(tmpl.Expand(nil, tc.rule, hostCond, &tc.u))
			if got != tc.want {
				t.Errorf("Expand =\n %q\nwant\n %q", got, tc.want)
			}
		})
	}
}

func TestForms(t *testing.T) {
	rule := []string{"/Path/A b", "A b", "", "x%2fy%41"}
	cond := []string{"www.Example.org", "Example"}
	tests := []struct{ tmpl, want string }{
		{"$0", "/Path/A b"},
		{"$1-$2-$3", "A b--x%2fy%41"},
		{"$4$9", ""},    // beyond the captures: nothing
		{"${19}", ""},   // two digits in braces
		{"$12", "A b2"}, // one digit without braces
		{"%0/%1", "www.Example.org/Example"},
		{"%{1}", "Example"},
		{"${3}", "x%2fyA"}, // psnde: keeps %2f as written, decodes %41
		{"${escnde:3}", "x%2fyA"},
		{"${escpsnde:1}", "A%20b"},
		{"${escape:3}", "x%252fy%2541"},
		{"${noescape:1}", "A b"},
		{"${escape:tolower:0}", "%2Fpath%2Fa%20b"}, // %XX hex kept
		{"${toupper:0}", ""},
		{"${noesc:toupper:0}", "/path/a b"},
		{"${encb64u:1}", "QSBi"},
		{"${unknown:1}", "A%20b"}, // unknown word: default encoding
		{"${}", ""},
		{"${url.nope}x", "x"},
		{"${url.port}", "8080"},
		{"%%1 $$1", "%1 $1"},
		{"a$", "a$"},
		{"a%", "a%"},
		{"${1", ""},
		{"x${esc1}y", "x"}, // no ':' after "esc...": truncated
		{"x${no", "x"},
		{"x${url.path", "x"},
	}
	u := &URLParts{Scheme: "https", Authority: "h", Port: 8080, Path: "/p?q", Query: "q", HasQuery: true}
	for _, tc := range tests {
		t.Run(tc.tmpl, func(t *testing.T) {
			tmpl, err := Compile(tc.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(tmpl.Expand([]byte("pre:"), rule, cond, u)); got != "pre:"+tc.want {
				t.Errorf("Expand = %q, want %q", got, "pre:"+tc.want)
			}
		})
	}
}

func TestNoConditionContext(t *testing.T) {
	tmpl, _ := Compile("a%1b%{1}c${url.scheme}")
	if got := string(tmpl.Expand(nil, nil, nil, nil)); got != "abc" {
		t.Errorf("Expand without captures or URL = %q, want %q", got, "abc")
	}
}

func TestTruncated(t *testing.T) {
	for s, want := range map[string]bool{"/a${1": true, "/a${x": true, "/a${1}": false, "/a$": false, "/${esc": true} {
		tmpl, _ := Compile(s)
		if tmpl.Truncated() != want {
			t.Errorf("Compile(%q).Truncated() = %v, want %v", s, tmpl.Truncated(), want)
		}
		if tmpl.String() != s {
			t.Errorf("String() = %q", tmpl.String())
		}
	}
}

func TestUsesCondCaptures(t *testing.T) {
	tests := []struct {
		tmpl string
		want bool
	}{
		{"/a/$1", false}, {"/%1", true}, {"/%{1}", true}, {"/%{url.path}", true},
		{"/%%1", false}, {"/%%%1", true}, {"/%x", false}, {"/a%", false}, {"${1}", false},
	}
	for _, tc := range tests {
		t.Run(tc.tmpl, func(t *testing.T) {
			tmpl, _ := Compile(tc.tmpl)
			if got := tmpl.UsesCondCaptures(); got != tc.want {
				t.Errorf("UsesCondCaptures() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, key, value string }{
		{"^/a%2fb$", "^/a%2Fb$", "^/a%2fb$"},
		{"/x/%%2f", "/x/%%2F", "/x/%%2F"},
		{"é", "%C3%A9", "%%C3%%A9"},
		{"%zz%%zz", "%zz%%zz", "%zz%%zz"},
		{"plain", "plain", "plain"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := NormalizeKey(tc.in); got != tc.key {
				t.Errorf("NormalizeKey = %q, want %q", got, tc.key)
			}
			if got := NormalizeValue(tc.in); got != tc.value {
				t.Errorf("NormalizeValue = %q, want %q", got, tc.value)
			}
		})
	}
}

func TestBase64MatchesStdlib(t *testing.T) {
	for _, s := range []string{"", "a", "ab", "abc", "abcd", "\xff\xfe\xfd\x00", strings.Repeat("xyz", 40)} {
		want := base64.RawURLEncoding.EncodeToString([]byte(s))
		if got := string(encodeB64U(nil, s)); got != want {
			t.Errorf("encodeB64U(%q) = %q, want %q", s, got, want)
		}
		if got := string(decodeB64U(nil, want)); got != s {
			t.Errorf("decodeB64U(%q) = %q, want %q", want, got, s)
		}
		padded := base64.URLEncoding.EncodeToString([]byte(s))
		if got := string(decodeB64U(nil, padded)); got != s {
			t.Errorf("decodeB64U(padded %q) = %q, want %q", padded, got, s)
		}
	}
	// lighttpd skips spaces/controls, stops at other characters, and
	// refuses a single dangling character or an embedded NUL.
	for in, want := range map[string]string{"aG k": "hi", "aGk!x": "hi", "aGkx1": "", "aG\x00k": "", "a": ""} {
		if got := string(decodeB64U(nil, in)); got != want {
			t.Errorf("decodeB64U(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExpandDoesNotAllocate(t *testing.T) {
	tmpl, _ := Compile("/index.php?page=${1}&host=%1&${esc:2}${qsa}")
	rule := []string{"/wiki/Main Page", "Main Page", "a&b"}
	cond := []string{"www.example.org", "www"}
	u := &URLParts{Query: "x=1", HasQuery: true}
	dst := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		dst = tmpl.Expand(dst[:0], rule, cond, u)
	})
	if allocs != 0 {
		t.Errorf("Expand allocates %v times", allocs)
	}
	if want := "/index.php?page=Main%20Page&host=www&a%26b&x=1"; string(dst) != want {
		t.Errorf("Expand = %q, want %q", dst, want)
	}
}
