package urinorm

import "testing"

// TestObservedOn1469: targets sent to Debian's lighttpd 1.4.69 and the
// normalized target ($1 of url.redirect "^(.*)$") and decoded path (%1 of
// $HTTP["url"] =~ "^(.*)$") it reported, with default options and with
// url-normalize-required + url-query-20-plus.
func TestObservedOn1469(t *testing.T) {
	def := DefaultOptions()
	req, err := ApplyParseOpts([]ParseOpt{
		{"url-normalize-unreserved", false}, {"url-normalize-required", true}, {"url-query-20-plus", true},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		required          bool
		raw, target, path string
	}{
		{false, "/a?b?c", "/a?b?c", "/a"},
		{true, "/a?b?c", "/a?b?c", "/a?b"},
		{false, "/%2e/x", "/x", "/x"},
		{true, "/%2e/x", "/x", "/x"},
		{false, "/a/.%2e/b", "/b", "/b"},
		{false, "/a%2F..%2Fb", "/b", "/b"},
		{true, "/a%2F..%2Fb", "/b", "/b"},
		{false, "/x/%2e%2e%2f", "/", "/"},
		{false, "/a/./b/../../../c?q=%2e", "/c?q=.", "/c"},
		{true, "/a/./b/../../../c?q=%2e", "/c?q=.", "/c"},
		{false, "/a%zz%4", "/a%25zz%254", "/a%zz%4"},
		{true, "/a%zz%4", "/a%25zz%254", "/a%zz%4"},
		{false, "/%c3%a9%41", "/%C3%A9A", "/\xc3\xa9A"},
		{false, "//", "/", "/"},
		{false, "/%3F%26?%26%3d%3f%41%2b%20x", "/%3F%26?%26%3D%3FA%2B%20x", "/?&"},
		{true, "/%3F%26?%26%3d%3f%41%2b%20x", "/%3F&?%26%3D?A%2B+x", "/?&"},
		{false, "/a%2fb?c%2fd", "/a/b?c%2Fd", "/a/b"},
		{true, "/a%2fb?c%2fd", "/a/b?c/d", "/a/b"},
		{false, "/.%2e", "/", "/"},
		{false, "/a%3fb?x?y", "/a%3Fb?x?y", "/a?b"},
		{true, "/a%3fb?x?y", "/a%3Fb?x?y", "/a?b?x"},
		{false, "/a/b?x#f?y", "/a/b?x", "/a/b"},
		{false, "/%20?%20", "/%20?%20", "/ "},
		{true, "/%20?%20", "/%20?+", "/ "},
	}
	for _, tc := range tests {
		o, mode := &def, "default"
		if tc.required {
			o, mode = &req, "required"
		}
		t.Run(mode+" "+tc.raw, func(t *testing.T) {
			got, err := Parse(tc.raw, o)
			if err != nil {
				t.Fatal(err)
			}
			if got.Normalized != tc.target || got.Path != tc.path {
				t.Errorf("got target %q path %q, want %q %q", got.Normalized, got.Path, tc.target, tc.path)
			}
		})
	}
}
