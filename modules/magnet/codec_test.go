package magnet

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

// The expected values follow lighttpd 1.4.69's C code (mod_magnet.c,
// base64.c, buffer.c); testconf's TestMagnetSideBySide checks many of them
// against lighttpd itself.
func TestCodecs(t *testing.T) {
	b64 := func(s string, url bool) string {
		v, ok := b64Decode(s, url)
		if !ok {
			return "<nil>"
		}
		return v
	}
	hexd := func(s string) string {
		v, ok := hexDecode(s)
		if !ok {
			return "<none>"
		}
		return v
	}
	qd := func(s string) string {
		v, ok := quotedDecode(s)
		if !ok {
			return "<none>"
		}
		return v
	}
	tests := []struct{ name, got, want string }{
		{"b64 padded", b64("aGVsbG8=", false), "hello"},
		{"b64 unpadded", b64("aGVsbG8", false), "hello"},
		{"b64 url", b64("aGVsbG8_Pg", true), "hello?>"},
		{"b64 std refuses url digit", b64("aGVsbG8_Pg", false), "hello"},
		{"b64 skips blanks", b64("aGVs\r\n bG8=", false), "hello"},
		{"b64 keeps prefix before junk", b64("aGVs!bG8", false), "hel"},
		{"b64 lone digit", b64("a", false), "<nil>"},
		{"b64 NUL", b64("aGVs\x00bG8", false), "<nil>"},
		{"b64 only padding", b64("====", false), "<nil>"},
		{"b64 empty", b64("", false), ""},
		{"b64enc", b64Encode("hello?>", false), "aGVsbG8/Pg"},
		{"b64enc url", b64Encode("hello?>", true), "aGVsbG8_Pg"},
		{"b64enc one", b64Encode("a", false), "YQ"},
		{"hexenc", hexEncode("\x01\xffAz"), "01FF417A"},
		{"hexdec", hexd("41427a"), "ABz"},
		{"hexdec odd", hexd("414"), "<none>"},
		{"hexdec bad", hexd("zz"), "<none>"},
		{"xmlenc", xmlEncode("<a b=\"c\">&'`\t\x7fé"), "&#x3C;a b=&#x22;c&#x22;&#x3E;&#x26;&#x27;&#x60;&#x09;&#x7F;é"},
		{"urldec", urlDecode("/a%20b%2fc%00d+e%zz%"), "/a b/c_d+e%zz%"},
		{"urldec NUL after escape", urlDecode("%41x\x00y"), "Ax"},
		{"urldec NUL without escape", urlDecode("x\x00y"), "x\x00y"},
		{"urlenc", urlEncode("/a b?c=d&e#f~!()*é"), "/a%20b%3Fc%3Dd%26e%23f~!()*%C3%A9"},
		{"normalize", urlNormalize("/a/./b/../%7euser/%2f%41?x=a%20b&y=%2F"), "/a/~user/A?x=a+b&y=/"},
		{"simplify", pathSimplify("/a//b/./c/../../d/"), "/a/d/"},
		{"quoteddec", qd(`"a\"b"`), `a"b`},
		{"quoteddec plain", qd("plain"), "plain"},
		{"quoteddec open", qd(`"open`), "<none>"},
		{"quoteddec escape at end", qd(`"a\"`), "<none>"},
		{"quotedenc", quotedEncode(`a"b\c`), `"a\"b\\c"`},
		{"bsdec", bsDecode(`"a\tb\x41\u00e9\101\q"`), "atbA\u00e9Aq"}, // lighttpd's table maps \t to 't'
		{"bsdec newline", bsDecode(`a\nb\r`), "a\nb\r"},
		{"bsdec three-byte", bsDecode(`\u20ac`), "€"},
		{"bsdec surrogate", bsDecode(`\ud800`), "\x00d800"},
		{"bsdec bad high", bsDecode(`\uzz41`), "Azz41"},
		{"bsdec stray backslash", bsDecode(`a\`), `a\`},
		{"bsdec nul", bsDecode(`\0x`), "\x00x"},
		{"bsenc json", bsEncode("a\"b\tc\x01é", true), `a\"b\tc\u0001é`},
		{"bsenc", bsEncode("a\"b\tc\x01é", false), `a\"b\tc\x01\xC3\xA9`},
		{"hmac md5 is md5(secret data)", hexEncode(keyedHash("md5", "k", "")), "8CE4B16B22B58894AA86C421E8759DF3"},
		{"hmac sha256", hexEncode(keyedHash("sha256", "secret", "data")), "1B2C16B75BD2A870C114153CCDA5BCFCA63314BC722FA160D690DE133CCBB9DB"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestQueryAndTokens(t *testing.T) {
	q := queryDecode("a=1&b=x+y%21&c&&d=&a=2&e=%0a\x00f=g")
	want := [][2]string{{"a", "1"}, {"b", "x y!"}, {"c", ""}, {"d", ""}, {"a", "2"}, {"e", "_"}}
	if len(q) != len(want) {
		t.Fatalf("queryDecode = %q", q)
	}
	for i := range q {
		if q[i] != want[i] {
			t.Fatalf("queryDecode[%d] = %q, want %q", i, q[i], want[i])
		}
	}
	var b strings.Builder
	queryEncodePart(&b, "k y=", true)
	b.WriteByte('=')
	queryEncodePart(&b, "v=1 &2/?:@", false)
	if got := b.String(); got != "k+y%3D=v=1+%262/?:@" {
		t.Fatalf("query encoding = %q", got)
	}
	c := cookieTokens(`a=1; b = "two words" ; c; d=; e=x=y; f="open`)
	wantC := [][2]string{{"a", "1"}, {"b", `"two words"`}, {"c", ""}, {"d", ""}, {"e", "x"}, {"f", `"open"`}}
	if len(c) != len(wantC) {
		t.Fatalf("cookieTokens = %q", c)
	}
	for i := range c {
		if c[i] != wantC[i] {
			t.Fatalf("cookieTokens[%d] = %q, want %q", i, c[i], wantC[i])
		}
	}
	h := strings.Join(headerTokens(`text/html; q=0.9, "quoted, str" ,x "tail\`), "|")
	if h != `text/html|;|q|=|0.9|,|"quoted, str"|,|x|"tail\\"` {
		t.Fatalf("headerTokens = %q", h)
	}
}

func TestReturnCode(t *testing.T) {
	for _, tt := range []struct {
		v    lua.LValue
		code int
		ok   bool
	}{
		{lua.LNil, 0, true}, {lua.LNumber(200), 200, true}, {lua.LString(" 404 "), 404, true},
		{lua.LNumber(200.5), 0, false}, {lua.LString("x"), 0, false}, {lua.LTrue, 0, false},
		{lua.LNumber(99), 99, true},
	} {
		code, ok := returnCode(tt.v)
		if code != tt.code || ok != tt.ok {
			t.Errorf("returnCode(%v) = %d %v, want %d %v", tt.v, code, ok, tt.code, tt.ok)
		}
	}
}

// FuzzCodecs runs every string helper of lighty.c on arbitrary input:
// nothing panics, encodings decode back, encoders only emit what they
// promise.
func FuzzCodecs(f *testing.F) {
	for _, s := range []string{"", "hello", "aGVsbG8=", "%41%zz%", "/a/../b/./c//d", `"q\"x\`, "a=1; b=\"c d\"", "\\u00e9\\x41\\101", "\x00\xff\t\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, url := range []bool{false, true} {
			if got, ok := b64Decode(b64Encode(s, url), url); s != "" && (!ok || got != s) {
				t.Fatalf("b64 round trip of %q: %q %v", s, got, ok)
			}
			b64Decode(s, url)
		}
		if got, ok := hexDecode(hexEncode(s)); !ok || got != s {
			t.Fatalf("hex round trip of %q", s)
		}
		hexDecode(s)
		if got, ok := quotedDecode(quotedEncode(s)); !ok || got != s {
			t.Fatalf("quoted round trip of %q: %q %v", s, got, ok)
		}
		quotedDecode(s)
		for _, c := range []byte(urlEncode(s)) {
			if c > 0x7e || c <= ' ' {
				t.Fatalf("urlenc(%q) left byte %#x", s, c)
			}
		}
		if d := urlDecode(s); len(d) > len(s) {
			t.Fatalf("urldec(%q) grew", s)
		}
		for _, c := range []byte(bsEncode(s, false)) {
			if c < ' ' || c > '~' {
				t.Fatalf("bsenc(%q) left byte %#x", s, c)
			}
		}
		bsEncode(s, true)
		bsDecode(s)
		if x := xmlEncode(s); strings.ContainsAny(x, "<>\"'`") {
			t.Fatalf("xmlenc(%q) = %q", s, x)
		}
		if p := pathSimplify(s); strings.HasPrefix(s, "/") && !strings.HasPrefix(p, "/") {
			t.Fatalf("fspath_simplify(%q) = %q", s, p)
		}
		urlNormalize(s)
		queryDecode(s)
		var b strings.Builder
		queryEncodePart(&b, s, true)
		for _, kv := range cookieTokens(s) {
			if strings.ContainsAny(kv[0], ";= \t\r\n") {
				t.Fatalf("cookie name %q from %q", kv[0], s)
			}
		}
		for _, tok := range headerTokens(s) {
			if tok == "" {
				t.Fatalf("empty token from %q", s)
			}
		}
		_ = utf8.ValidString(s)
	})
}

// FuzzLightyC calls the lighty.c helpers from Lua with arbitrary strings:
// a script may get a Lua error, never a Go panic (which gopher-lua would
// turn into an error too, hiding a bug).
func FuzzLightyC(f *testing.F) {
	for _, s := range []string{"", "a=1&b=2", "\"x\\\"", "%zz", "aGk=", "/a/../b"} {
		f.Add(s)
	}
	chunk := `
local c = lighty.c
local s = input
local r = {}
for _, name in ipairs({"b64urldec", "b64urlenc", "b64dec", "b64enc", "hexdec", "hexenc", "xmlenc",
	"urldec", "urlenc", "urlenc_normalize", "fspath_simplify", "quoteddec", "quotedenc", "bsdec",
	"bsenc", "bsenc_json", "urldec_query", "cookie_tokens", "header_tokens"}) do
	r[#r+1] = c[name](s)
end
r[#r+1] = c.urlenc_query({[s] = s, x = s})
r[#r+1] = c.md("sha256", s)
r[#r+1] = c.hmac("sha1", s, s)
r[#r+1] = c.digest_eq(s, s)
r[#r+1] = c.secret_eq(s, "x")
return 0
`
	L := lua.NewState()
	defer L.Close()
	fn, err := L.LoadString(chunk)
	if err != nil {
		f.Fatal(err)
	}
	st := newState(fn.Proto, 1)
	f.Fuzz(func(t *testing.T, s string) {
		st.env.RawSetString("input", lua.LString(s))
		_, err := st.run(nil, stageRawURL)
		var ae *lua.ApiError
		if err != nil && errors.As(err, &ae) && ae.Type == lua.ApiErrorPanic {
			t.Fatalf("Go panic for %q: %v", s, err)
		}
		st.reset()
	})
}
