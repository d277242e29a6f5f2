package vhostpath

import (
	"fmt"
	"testing"
)

func TestJoin(t *testing.T) {
	for _, tc := range []struct{ b, a, want string }{
		{"/srv", "htdocs", "/srv/htdocs"},
		{"/srv/", "htdocs", "/srv/htdocs"},
		{"/srv", "/htdocs", "/srv/htdocs"},
		{"/srv/", "/htdocs", "/srv/htdocs"},
		{"/srv/", "", "/srv/"},
		{"/srv", "", "/srv/"},
		{"", "a", "/a"},
		{"", "/a", "/a"},
		{"/srv//", "//a", "/srv///a"},
	} {
		if got := Join(tc.b, tc.a); got != tc.want {
			t.Errorf("Join(%q, %q) = %q, want %q", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestWithSlash(t *testing.T) {
	for _, tc := range []struct{ in, want string }{{"", ""}, {"/", "/"}, {"/a", "/a/"}, {"/a/", "/a/"}, {"a", "a/"}} {
		if got := WithSlash(tc.in); got != tc.want {
			t.Errorf("WithSlash(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestUnsafeHost(t *testing.T) {
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"a.example", false}, {"a.example:80", false}, {"[::1]:80", false}, {"..", false}, {"...", false},
		{"a/b", true}, {"../x", true}, {"a\x00b", true}, {"a.example:8/0", true},
	} {
		if got := UnsafeHost(tc.host); got != tc.want {
			t.Errorf("UnsafeHost(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
}

func TestCacheBounded(t *testing.T) {
	var c Cache[string]
	for i := 0; i < 3*maxCached; i++ {
		k := fmt.Sprint("host", i)
		c.Put(k, "/srv/"+k)
		if v, ok := c.Get(k); !ok || v != "/srv/"+k {
			t.Fatalf("Get(%q) = %q, %v right after Put", k, v, ok)
		}
		if c.Len() > maxCached {
			t.Fatalf("cache grew to %d (max %d)", c.Len(), maxCached)
		}
	}
}
