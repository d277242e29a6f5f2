package evhost

import (
	"strings"
	"testing"
)

func TestParsePattern(t *testing.T) {
	ok := []struct{ name, pattern string }{
		{"literal only", "/srv/www/"},
		{"percent", "/srv/%%/"},
		{"fqdn", "/srv/%_/"},
		{"every digit", "/%0/%1/%2/%3/%4/%5/%6/%7/%8/%9/"},
		{"braces", "/%{2}/%{2.1}/%{3.0}/"},
		{"two-digit reads as one digit then text", "/srv/%10/"},
		{"63 placeholders", strings.Repeat("%1", 63)},
		{"percent at the start", "%0/htdocs"},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parsePattern(tc.pattern); err != nil {
				t.Fatalf("parsePattern(%q): %v", tc.pattern, err)
			}
		})
	}
	bad := []struct{ name, pattern string }{
		{"percent at the end", "/srv/%"},
		{"unknown letter", "/srv/%a/"},
		{"open brace", "/srv/%{"},
		{"brace without digit", "/srv/%{x}/"},
		{"brace not closed", "/srv/%{2/"},
		{"dot without digit", "/srv/%{2.}/"},
		{"dot digit not closed", "/srv/%{2.1/"},
		{"two digits in brace", "/srv/%{12}/"},
		{"64 placeholders", strings.Repeat("%1", 64)},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parsePattern(tc.pattern); err == nil {
				t.Fatalf("parsePattern(%q) accepted an invalid pattern", tc.pattern)
			}
		})
	}
}

func TestSplitHost(t *testing.T) {
	tests := []struct {
		name, host string
		want       map[int]string // label -> value; labels not listed are empty
	}{
		{"domain and tld", "example.com", map[int]string{0: "example.com", 1: "com", 2: "example"}},
		{"subdomains", "a.b.example.com", map[int]string{0: "example.com", 1: "com", 2: "example", 3: "b", 4: "a"}},
		{"port is left out", "www.example.com:8080", map[int]string{0: "example.com", 1: "com", 2: "example", 3: "www"}},
		{"single label", "localhost", map[int]string{0: "localhost", 1: "localhost"}},
		{"single label with port", "localhost:81", map[int]string{0: "localhost", 1: "localhost"}},
		{"ipv4 is labels too", "127.0.0.1", map[int]string{0: "0.1", 1: "1", 2: "0", 3: "0", 4: "127"}},
		{"ipv6 literal", "[::1]", map[int]string{0: "[::1]"}},
		{"ipv6 literal with port", "[::1]:8080", map[int]string{0: "[::1]"}},
		{"ipv6 without closing bracket", "[::1", nil},
		{"empty labels skipped", "a..b", map[int]string{0: ".b", 1: "b", 2: "a"}},
		{"trailing dot", "example.com.", map[int]string{0: "com.", 1: "com", 2: "example"}},
		{"leading dot stays on the last label", ".b.c", map[int]string{0: "b.c", 1: "c", 2: ".b"}},
		{"only dots", "...", map[int]string{0: ".", 1: "."}},
		{"eleven labels keep %0-%9", "k.j.i.h.g.f.e.d.c.b.a", map[int]string{0: "b.a", 1: "a", 2: "b", 3: "c", 4: "d", 5: "e", 6: "f", 7: "g", 8: "h", 9: "i"}},
		{"no host before the port", ":80", map[int]string{0: ":80", 1: ":80"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var l labels
			splitHost(tc.host, &l)
			for i := range l.v {
				if want := tc.want[i]; l.v[i] != want {
					t.Errorf("%%%d of %q = %q, want %q", i, tc.host, l.v[i], want)
				}
			}
		})
	}
}

func TestExpand(t *testing.T) {
	tests := []struct {
		name, pattern, host, want string
	}{
		{"doc example", "/home/www/servers/%3/pages/", "www.example.com", "/home/www/servers/www/pages/"},
		{"domain and tld", "/srv/%0/htdocs", "www.example.com:8080", "/srv/example.com/htdocs/"},
		{"fqdn without port", "/srv/%_/", "www.example.com:8080", "/srv/www.example.com/"},
		{"fqdn of ipv6 is cut at the first colon", "/srv/%_/", "[::1]:8080", "/srv/[/"},
		{"percent sign", "/srv/100%%/%1", "a.org", "/srv/100%/org/"},
		{"missing label is empty", "/srv/%4/%3/", "example.com", "/srv///"},
		{"first letter", "/srv/%{2.1}/%2/", "www.example.com", "/srv/e/example/"},
		{"third letter", "/srv/%{2.3}/", "www.example.com", "/srv/a/"},
		{"letter past the label adds nothing", "/srv/%{1.4}x/", "example.com", "/srv/x/"},
		{"n.0 is the whole label", "/srv/%{2.0}/", "example.com", "/srv/example/"},
		{"braced label", "/srv/%{3}/", "www.example.com", "/srv/www/"},
		{"digit after placeholder is text", "/srv/%10/", "a.org", "/srv/org0/"},
		{"empty expansion stays empty", "%4", "example.com", ""},
		{"relative pattern", "%0", "example.com", "example.com/"},
		{"ipv6 %0 keeps brackets", "/srv/%0/", "[2001:db8::1]:80", "/srv/[2001:db8::1]/"},
		{"ipv6 has no %1", "/srv/%1/", "[::1]", "/srv//"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parsePattern(tc.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.expand(tc.host); got != tc.want {
				t.Fatalf("expand(%q, %q) = %q, want %q", tc.pattern, tc.host, got, tc.want)
			}
		})
	}
}

func TestDocrootRefusesHostMadeDotDot(t *testing.T) {
	tests := []struct {
		name, pattern, host string
		ok                  bool
	}{
		{"ordinary host", "/srv/%0%1/", "www.example.com", true},
		{"dots joined into ..", "/srv/%0%1/", "...", false},
		{"letter dots joined", "/srv/%{0.2}%{0.2}/", "a.b", false},
		{"fqdn ..", "/srv/%_/", "..", false},
		{"administrator's own ..", "/srv/../www/%0%1/", "...", true},
		{"dots inside a name are fine", "/srv/%_/", "a...b", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parsePattern(tc.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := p.docroot(tc.host); ok != tc.ok {
				t.Fatalf("docroot(%q, %q) ok = %v, want %v (expansion %q)", tc.pattern, tc.host, ok, tc.ok, p.expand(tc.host))
			}
		})
	}
}

func BenchmarkExpand(b *testing.B) {
	p, err := parsePattern("/srv/vhosts/%{2.1}/%2/%3/htdocs/")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.expand("www.example.com:8080")
	}
}
