package urinorm

import (
	"errors"
	"strings"
	"testing"
)

// TestSpecTable: every row of behaviors.md §2.1 (observed on lighttpd 1.4.69).
func TestSpecTable(t *testing.T) {
	tests := []struct {
		raw, normalized, path, query string
	}{
		{"/a/./b", "/a/b", "/a/b", ""},
		{"/a/../b", "/b", "/b", ""},
		{"/../a", "/a", "/a", ""},
		{"//a//b", "/a/b", "/a/b", ""},
		{"/a/..", "/", "/", ""},
		{"/a/.", "/a/", "/a/", ""},
		{"/a/b/..?x=/../", "/a/?x=/../", "/a/", "x=/../"},
		{"/%7Euser/%41%2f%2F", "/~user/A/", "/~user/A/", ""},
		{"/a%2e%2e/b", "/a../b", "/a../b", ""},
		{"/a/%2e%2e/b", "/b", "/b", ""},
		{"/sp%20ace+plus", "/sp%20ace+plus", "/sp ace+plus", ""},
		{"/q?a=%41%2F%3d+%20&b", "/q?a=A%2F%3D+%20&b", "/q", "a=A%2F%3D+%20&b"},
		{"/%C3%A9t%c3%a9", "/%C3%A9t%C3%A9", "/\xc3\xa9t\xc3\xa9", ""},
		{"/a/...", "/a/...", "/a/...", ""},
		{"/a#frag?x", "/a", "/a", ""},
		{"/a b.txt", "/a%20b.txt", "/a b.txt", ""},
	}
	o := DefaultOptions()
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			got, err := Parse(tc.raw, &o)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got.Normalized != tc.normalized || got.Path != tc.path || got.Query != tc.query {
				t.Errorf("got (%q, %q, %q), want (%q, %q, %q)",
					got.Normalized, got.Path, got.Query, tc.normalized, tc.path, tc.query)
			}
			out, qs, err := NormalizeTarget([]byte("prefix:"), []byte(tc.raw), &o)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != "prefix:"+tc.normalized {
				t.Errorf("NormalizeTarget appended %q", out)
			}
			path, query := SplitQuery(out[len("prefix:"):], qs-len("prefix:"))
			if qs < 0 {
				path, query = SplitQuery(out[len("prefix:"):], -1)
			}
			if string(query) != tc.query || !strings.HasPrefix(tc.normalized, string(path)) {
				t.Errorf("SplitQuery = %q, %q", path, query)
			}
		})
	}
}

// TestRejected: the target rows of behaviors.md §1.5 that end in 400.
func TestRejected(t *testing.T) {
	o := DefaultOptions()
	for _, raw := range []string{
		"/a\x01b", "/a\x7f", "/%00", "/%1f", "/%1F", "/%7f", "/%0A", "/q?x=%00",
		"/%C0%AF", "/%c1", "/%F5", "/%ff", "/a\xff", "/a\xc0",
	} {
		t.Run(raw, func(t *testing.T) {
			got, err := Parse(raw, &o)
			if !errors.Is(err, ErrInvalidTarget) {
				t.Errorf("Parse(%q) = %+v, %v; want ErrInvalidTarget", raw, got, err)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	def := DefaultOptions()
	with := func(f func(*Options)) *Options { o := def; f(&o); return &o }
	tests := []struct {
		name, raw  string
		o          *Options
		normalized string
		query      string
		err        bool
	}{
		{"2f-reject", "/a%2Fb", with(func(o *Options) { o.Path2FDecode, o.Path2FReject = false, true }), "", "", true},
		{"2f-reject query ok", "/a?b=%2F", with(func(o *Options) { o.Path2FDecode, o.Path2FReject = false, true }), "/a?b=%2F", "b=%2F", false},
		{"2f kept", "/a%2fb", with(func(o *Options) { o.Path2FDecode = false }), "/a%2Fb", "", false},
		{"dotseg-reject", "/a/../b", with(func(o *Options) { o.PathDotsegRemove, o.PathDotsegReject = false, true }), "", "", true},
		{"dotseg-reject //", "//a", with(func(o *Options) { o.PathDotsegRemove, o.PathDotsegReject = false, true }), "", "", true},
		{"dotseg off", "/a/../b", with(func(o *Options) { o.PathDotsegRemove = false }), "/a/../b", "", false},
		{"20-plus", "/a%20b?c=%20d%20&e", with(func(o *Options) { o.Query20Plus = true }), "/a%20b?c=+d+&e", "c=+d+&e", false},
		{"ctrls allowed", "/a%01", with(func(o *Options) { o.CtrlsReject = false }), "/a%01", "", false},
		{"utf8 allowed", "/%ff?x", with(func(o *Options) { o.InvalidUTF8Reject = false }), "/%FF?x", "x", false},
		{"normalize off", "/%7e/./a#f", with(func(o *Options) { o.clearURL() }), "/%7e/./a", "", false},
		{"required", "/%41%2F%3F%25%26?%26%3D%3F%41%2B", with(func(o *Options) { o.NormalizeUnreserved, o.NormalizeRequired = false, true }),
			"/A/%3F%25&?%26%3D?A%2B", "%26%3D?A%2B", false},
		{"required last ?", "/a?b?c", with(func(o *Options) { o.NormalizeUnreserved, o.NormalizeRequired = false, true }), "/a?b?c", "c", false},
		{"unreserved first ?", "/a?b?c", &def, "/a?b?c", "b?c", false},
		{"bad percent", "/a%zz%4", &def, "/a%25zz%254", "", false},
		{"raw specials", "/\"<>\\^`{|}", &def, "/%22%3C%3E%5C%5E%60%7B%7C%7D", "", false},
		{"allowed raw", "/!$&'()*+,;=:@~-._", &def, "/!$&'()*+,;=:@~-._", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, qs, err := NormalizeTarget(nil, []byte(tc.raw), tc.o)
			if tc.err {
				if !errors.Is(err, ErrInvalidTarget) {
					t.Fatalf("got %q, %v; want ErrInvalidTarget", out, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, q := SplitQuery(out, qs)
			if string(out) != tc.normalized || string(q) != tc.query {
				t.Errorf("got %q query %q, want %q query %q", out, q, tc.normalized, tc.query)
			}
		})
	}
}

func TestDecodePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/a%20b", "/a b"}, {"/a+b", "/a+b"}, {"/%00%1f%7F", "/___"}, {"/%zz%4", "/%zz%4"},
		{"/%2F%2e", "//."}, {"/%c3%A9", "/\xc3\xa9"}, {"%", "%"}, {"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := DecodePath(nil, []byte(tc.in)); string(got) != tc.want {
				t.Errorf("DecodePath = %q, want %q", got, tc.want)
			}
			buf := []byte(tc.in)
			if got := DecodePath(buf[:0], buf); string(got) != tc.want {
				t.Errorf("in place = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSimplifyPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/", "/"}, {"//", "/"}, {"/a", "/a"}, {"/a/", "/a/"}, {"/a//b", "/a/b"},
		{"/a/./b", "/a/b"}, {"/a/.", "/a/"}, {"/a/..", "/"}, {"/a/b/..", "/a/"},
		{"/..", "/"}, {"/../..", "/"}, {"/../a", "/a"}, {"/a/../../b/", "/b/"},
		{"/a/...", "/a/..."}, {"/.hidden", "/.hidden"}, {"/a../b", "/a../b"}, {"/./", "/"},
		{"/a/b/c/../../d", "/a/d"}, {"/.?x", "/.?x"},
		// relative forms, as lighttpd's buffer_path_simplify treats them
		{"", ""}, {"a", "a"}, {"a/b", "a/b"}, {"a/../b", "/b"}, {"a/b/../c", "a/c"},
		{"./a", "/a"}, {"../a", "/a"}, {"./", "/"}, {".", ""}, {"..", ""}, {"a/..", "/"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := SimplifyPath([]byte("x"), []byte(tc.in)); string(got) != "x"+tc.want {
				t.Errorf("SimplifyPath = %q, want %q", got[1:], tc.want)
			}
			buf := append([]byte(tc.in), "?guard"...)
			got := SimplifyPath(buf[:0], buf[:len(tc.in)])
			if string(got) != tc.want {
				t.Errorf("in place = %q, want %q", got, tc.want)
			}
			if string(buf[len(tc.in):]) != "?guard" {
				t.Errorf("in place wrote past the path: %q", buf)
			}
		})
	}
}

func TestParseRejectsRelativePath(t *testing.T) {
	o := DefaultOptions()
	for _, raw := range []string{"a/b", "?x", "%2e", "."} {
		if got, err := Parse(raw, &o); !errors.Is(err, ErrInvalidTarget) {
			t.Errorf("Parse(%q) = %+v, %v; want ErrInvalidTarget", raw, got, err)
		}
	}
	if got, err := Parse("a/../b", &o); err != nil || got.Path != "/b" {
		t.Errorf(`Parse("a/../b") = %+v, %v; want path "/b" as lighttpd`, got, err)
	}
}

func TestApplyParseOpts(t *testing.T) {
	tests := []struct {
		name    string
		in      []ParseOpt
		check   func(Options) bool
		wantErr string
	}{
		{"defaults", nil, func(o Options) bool { return o == DefaultOptions() }, ""},
		{"normalize off clears all and stops", []ParseOpt{{"url-normalize", false}, {"bogus", true}},
			func(o Options) bool { return !o.anyURL() && o.HeaderStrict }, ""},
		{"unknown key", []ParseOpt{{"url-foo", true}}, nil, "unrecognized key for server.http-parseopts: url-foo"},
		{"2f conflict", []ParseOpt{{"url-path-2f-reject", true}}, nil,
			"conflicting options in server.http-parseopts:url-path-2f-decode, url-path-2f-reject"},
		{"dotseg conflict", []ParseOpt{{"url-path-dotseg-reject", true}}, nil,
			"conflicting options in server.http-parseopts:url-path-dotseg-remove, url-path-dotseg-reject"},
		{"2f reject ok", []ParseOpt{{"url-path-2f-decode", false}, {"url-path-2f-reject", true}},
			func(o Options) bool { return o.Path2FReject && !o.Path2FDecode }, ""},
		{"required", []ParseOpt{{"url-normalize-unreserved", false}, {"url-normalize-required", true}},
			func(o Options) bool { return o.NormalizeRequired && !o.NormalizeUnreserved }, ""},
		{"neither mode forces unreserved", []ParseOpt{{"url-normalize-unreserved", false}, {"url-invalid-utf8-reject", false}},
			func(o Options) bool { return o.NormalizeUnreserved && o.InvalidUTF8Reject && o.Path2FDecode }, ""},
		{"neither mode keeps explicit 2f off", []ParseOpt{{"url-normalize-unreserved", false}, {"url-path-2f-decode", false}},
			func(o Options) bool { return o.NormalizeUnreserved && !o.Path2FDecode }, ""},
		{"non-url keys", []ParseOpt{{"header-strict", false}, {"host-normalize", true}, {"method-get-body", true}, {"host-strict", false}},
			func(o Options) bool { return !o.HeaderStrict && o.HostNormalize && o.MethodGetBody && !o.HostStrict }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := ApplyParseOpts(tc.in)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(o) {
				t.Errorf("unexpected options %+v", o)
			}
		})
	}
}

func TestParseNoAllocWhenNormal(t *testing.T) {
	o := DefaultOptions()
	for _, raw := range []string{"/index.html", "/api/v1/users?id=42&sort=name", "/static/css/site.min.css",
		"/api/v1/users/42/profile?fields=name,email&sort=asc&page=2&per_page=50"} {
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := Parse(raw, &o); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("Parse(%q): %v allocs, want 0", raw, allocs)
		}
	}
}

func TestAppendRelURI(t *testing.T) {
	got := string(AppendRelURI([]byte("x"), "/a b/é~!()*-._/?#%&+=;@$,'\"`{}|^[]\\\x00\x7f"))
	want := "x/a%20b/%C3%A9~!()*-._/%3F%23%25%26%2B%3D%3B%40%24%2C%27%22%60%7B%7D%7C%5E%5B%5D%5C%00%7F"
	if got != want {
		t.Fatalf("AppendRelURI = %q, want %q", got, want)
	}
}

// TestPlainTarget: the targets Parse takes in one pass, and those it leaves
// to the steps, in every normalization mode; both ways agree.
func TestPlainTarget(t *testing.T) {
	modes := map[string]Options{
		"default":    DefaultOptions(),
		"required":   {URLNormalize: true, NormalizeRequired: true, CtrlsReject: true, PathDotsegRemove: true},
		"off":        {},
		"dotseg 400": {URLNormalize: true, NormalizeUnreserved: true, PathDotsegReject: true},
	}
	for _, tc := range []struct {
		target string
		plain  bool
	}{
		{"/", true},
		{"/index.html", true},
		{"/dir/", true},
		{"/api/v1/users?id=42&sort=name", true},
		{"/a?b?c", true}, // the query starts at the first '?', or the last in required mode
		{"/a?x/../y", true},
		{"/a/.hidden/b..c/...", true},
		{"/~user/$x!'()*+,;=:@", true},
		{"/a/../b", false},
		{"/a/./b", false},
		{"/a/..", false},
		{"/a//b", false},
		{"/a%20b", false},
		{"/a#frag", false},
		{"/a b", false},
		{"/caf\xc3\xa9", false},
		{"/a\\b", false},
		{"a/b", false},
		{"", false},
		{"*", false},
	} {
		for name, o := range modes {
			_, plain := plainTarget(tc.target, &o)
			if plain != tc.plain {
				t.Errorf("%s: plainTarget(%q) = %v, want %v", name, tc.target, plain, tc.plain)
			}
			fast, ferr := Parse(tc.target, &o)
			slow, serr := parse(tc.target, &o)
			if fast != slow || ferr != serr {
				t.Errorf("%s: Parse(%q) = %+v %v, step by step %+v %v", name, tc.target, fast, ferr, slow, serr)
			}
		}
	}
}
