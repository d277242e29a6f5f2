package evhost

import (
	"strings"
	"testing"
)

// FuzzDocroot feeds arbitrary patterns and hosts through the parser and the
// expansion: no panic, a non-empty result ends in '/', and whatever the
// host, it never adds a '/' of its own, nor a ".." segment the pattern does
// not have.
func FuzzDocroot(f *testing.F) {
	for _, s := range [][2]string{
		{"/srv/%0/%1/%2/%3/", "www.example.com"},
		{"/srv/%_/", "[::1]:8080"},
		{"/srv/%{2.1}/%{2.9}/%{0.0}/", "a.b.c.d.e.f.g.h.i.j.k:80"},
		{"/srv/%0%1/", "..."},
		{"%%%_%{1}", ":::"},
		{"/srv/%{0.2}%{0.2}/", "a.b"},
		{"/srv/%3/", "x..y.:z"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pat, host string) {
		p, err := parsePattern(pat)
		if err != nil {
			return
		}
		d, ok := p.docroot(host)
		if d != "" && !strings.HasSuffix(d, "/") {
			t.Fatalf("expansion %q of %q, %q does not end in '/'", d, pat, host)
		}
		if ok && !hasDotDot(pat) && hasDotDot(d) {
			t.Fatalf("host %q put a .. segment into %q (pattern %q)", host, d, pat)
		}
		if strings.Count(d, "/") > strings.Count(pat, "/")+strings.Count(host, "/")*strings.Count(pat, "%")+1 {
			t.Fatalf("expansion %q has more slashes than pattern %q and host %q can give", d, pat, host)
		}
		if !strings.ContainsRune(host, '/') && strings.Count(d, "/") > strings.Count(pat, "/")+1 {
			t.Fatalf("host %q without '/' added one to %q (pattern %q)", host, d, pat)
		}
	})
}
