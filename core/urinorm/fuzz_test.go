package urinorm

import (
	"bytes"
	"testing"
)

// FuzzNormalize: never panic; the decoded path starts with '/', has no "//"
// and no "." or ".." segment; normalizing a normalized target changes
// nothing; the in-place and appending forms agree.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"/a/./b", "/a/b/..?x=/../", "/%7Euser/%41%2f%2F", "/a#frag?x", "/a b.txt", "/%C3%A9t%c3%a9",
		"//a//b/../../..", "a/../b", "/%2e%2e/%2E", "/q?a=%41%2F%3d+%20&b", "/%", "/%2", "/.?x?y",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, required bool) {
		o := DefaultOptions()
		if required {
			o.NormalizeUnreserved, o.NormalizeRequired = false, true
		}
		got, err := Parse(raw, &o)
		for _, oo := range []Options{o, {}, {URLNormalize: true, NormalizeRequired: true, PathDotsegReject: true, Query20Plus: true}} {
			// The one-pass path for plain targets answers as the steps do.
			fast, ferr := Parse(raw, &oo)
			slow, serr := parse(raw, &oo)
			if fast != slow || ferr != serr {
				t.Fatalf("%q with %+v: Parse %+v %v, step by step %+v %v", raw, oo, fast, ferr, slow, serr)
			}
		}
		if err != nil {
			return
		}
		p := got.Path
		if p == "" || p[0] != '/' {
			t.Fatalf("path %q does not start with '/'", p)
		}
		for _, seg := range bytes.Split([]byte(p[1:]), []byte("/")) {
			if string(seg) == "." || string(seg) == ".." {
				t.Fatalf("path %q keeps a dot segment", p)
			}
		}
		if bytes.Contains([]byte(p), []byte("//")) {
			t.Fatalf("path %q has //", p)
		}
		if again := SimplifyPath(nil, []byte(p)); string(again) != p {
			t.Fatalf("SimplifyPath not idempotent: %q -> %q", p, again)
		}
		if !required {
			// Required mode decodes %3F in the query, so a second pass may
			// split differently; unreserved mode must be a fixed point.
			again, err := Parse(got.Normalized, &o)
			if err != nil || again.Normalized != got.Normalized || again.Path != got.Path || again.Query != got.Query {
				t.Fatalf("not idempotent: %q -> %+v -> %+v, %v", raw, got, again, err)
			}
		}
		buf := append([]byte(raw), "#guard"...)
		inPlace := SimplifyPath(buf[:0], buf[:len(raw)])
		if want := SimplifyPath(nil, []byte(raw)); !bytes.Equal(inPlace, want) || string(buf[len(raw):]) != "#guard" {
			t.Fatalf("in-place SimplifyPath %q != %q (buffer %q)", inPlace, want, buf)
		}
	})
}
