package extforward

import (
	"errors"
	"strings"
	"testing"
)

func TestLastUntrusted(t *testing.T) {
	f := mustForwarder(t, "10.0.0.0/8", "trust", "192.0.2.1", "trust", "10.9.9.9", "untrusted")
	tests := []struct {
		name, xff string
		want      string // "" when nothing changes
	}{
		{"one client", "203.0.113.7", "203.0.113.7"},
		{"client then trusted proxies", "203.0.113.7, 10.0.0.2, 192.0.2.1", "203.0.113.7"},
		{"spoofed entries left of the client", "1.1.1.1, 6.6.6.6, 203.0.113.7, 10.0.0.2", "203.0.113.7"},
		{"untrusted exact entry stops the walk", "203.0.113.7, 10.9.9.9, 10.0.0.2", "10.9.9.9"},
		{"all trusted", "10.0.0.5, 192.0.2.1", ""},
		{"no separator needed", "203.0.113.7;10.0.0.2", "203.0.113.7"},
		{"brackets are separators", "[2001:db8::7]", "2001:db8::7"},
		{"port behind ipv6 brackets is the last token", "[2001:db8::7]:443", ":443"},
		{"port glued to ipv4", "203.0.113.7:443", "203.0.113.7:443"},
		{"leading dots dropped", "...203.0.113.7", "203.0.113.7"},
		{"garbage letters split", "for=203.0.113.7", "203.0.113.7"},
		{"only separators", " ,;, ", ""},
		{"empty", "", ""},
		{"hex word is an address token", "cafe", "cafe"},
		{"word without hex digits", "unknown", ""},
		{"long chain of trusted proxies", strings.Repeat("10.1.1.1, ", 5000) + "203.0.113.9, 10.0.0.1", "203.0.113.9"},
		{"long chain all trusted", strings.Repeat("10.1.1.1,", 5000), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := lastUntrusted(tt.xff, f)
			if !ok {
				got = ""
			}
			if got != tt.want {
				t.Fatalf("lastUntrusted(%q) = %q, want %q", tt.xff, got, tt.want)
			}
		})
	}
}

func TestForwarded(t *testing.T) {
	f := mustForwarder(t, "10.0.0.0/8", "trust", "_trusted", "trust", "2001:db8::10", "trust")
	tests := []struct {
		name, hdr   string
		addr, proto string // addr "" when nothing changes
		err         error
	}{
		{"lone first element is never read (lighttpd defect)", "for=203.0.113.7", "", "", nil},
		{"lone first element behind a comma", ", for=203.0.113.7", "203.0.113.7", "", nil},
		{"first element with two params", "for=203.0.113.7;proto=https", "203.0.113.7", "https", nil},
		{"chain: client then trusted proxy", "for=203.0.113.7;proto=https, for=10.0.0.2", "203.0.113.7", "https", nil},
		{"chain with lone first element ends at the proxy", "for=203.0.113.7, for=10.0.0.2", "10.0.0.2", "", nil},
		{"untrusted hop stops the walk", "for=6.6.6.6;proto=http, for=203.0.113.7;proto=https, for=10.0.0.2", "203.0.113.7", "https", nil},
		{"last for= of an element counts", "by=x, for=1.1.1.1;for=203.0.113.8", "203.0.113.8", "", nil},
		{"element without for= is passed over", "for=203.0.113.7;proto=https, by=10.0.0.2", "203.0.113.7", "https", nil},
		{"quoted ipv4 with port", `for="203.0.113.7:4711";proto=http`, "203.0.113.7", "http", nil},
		{"proto of another element is not used", `proto=https, for="203.0.113.7:4711"`, "203.0.113.7", "", nil},
		{"quoted ipv6 with port", `x=1, for="[2001:db8::7]:4711";proto=http`, "2001:db8::7", "http", nil},
		{"unquoted ipv6 keeps its brackets", "x=1, for=[2001:db8::7];proto=http", "[2001:db8::7]", "http", nil},
		{"quoted trusted ipv6 proxy", `for="[2001:db8::7]";proto=https, for="[2001:db8::10]"`, "2001:db8::7", "https", nil},
		{"obfuscated untrusted hop leaves the proxy", "for=_hidden;proto=https, for=10.0.0.2;proto=http", "10.0.0.2", "http", nil},
		{"unknown hop leaves the proxy", "for=unknown;a=b, for=10.0.0.2", "10.0.0.2", "", nil},
		{"obfuscated trusted hop is walked through", "for=203.0.113.7;p=1, for=_trusted, for=10.0.0.2", "203.0.113.7", "", nil},
		{"empty for= is passed over", `for=203.0.113.7;p=1, for="", for=10.0.0.2`, "203.0.113.7", "", nil},
		{"key case and spaces", " FOR=203.0.113.7 ;  Proto=\"HTTPS\" ", "203.0.113.7", "HTTPS", nil},
		{"key with trailing space is not for", "for =203.0.113.7;x=1", "", "", nil},
		{"params without = are skipped", "junk;for=203.0.113.7;more;x=1", "203.0.113.7", "", nil},
		{"a lone for= with nameless params is still lone", "junk;for=203.0.113.7;more", "", "", nil},
		{"quoted comma does not split", `for="203.0.113.7,x";p=1`, "203.0.113.7,x", "", nil},
		{"escaped quote stays inside", `a="x\"y";for=203.0.113.7`, "203.0.113.7", "", nil},
		{"unterminated quoted value", `for="203.0.113.7;p=1`, "", "", errQuoted},
		{"unterminated quoted key", `"for=1;x=1`, "", "", errQuoted},
		{"backslash at the end", `a="x\`, "", "", errQuoted},
		{"empty brackets", `x=1, for="[]"`, "", "", errBadIPv6},
		{"bracket without closing", `x=1, for="[2001:db8::1"`, "", "", errBadIPv6},
		{"lone bracket ends the walk", `for=203.0.113.7;p=1, for="["`, "", "", nil},
		{"63 params fit", strings.Repeat("a=1;", 62) + "for=203.0.113.7", "203.0.113.7", "", nil},
		{"64 params are too many", strings.Repeat("a=1;", 63) + "for=203.0.113.7", "", "", errTooMany},
		{"commas count too", strings.Repeat(",", 5) + strings.Repeat("a=1;", 61) + "for=1.2.3.4", "", "", errTooMany},
		{"commas up to the limit", strings.Repeat(",", 4) + strings.Repeat("a=1;", 61) + "for=1.2.3.4", "1.2.3.4", "", nil},
		{"endless commas", strings.Repeat(",", 300), "", "", errTooMany},
		{"no params", ",,;;", "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ps [maxFwdParams]fwdParam
			n, err := parseForwarded(tt.hdr, &ps)
			addr, proto, ok := "", "", false
			if err == nil && n > 0 {
				addr, proto, ok, err = chooseForwarded(ps[:n], f)
			}
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if !ok {
				addr, proto = "", ""
			}
			if addr != tt.addr || proto != tt.proto {
				t.Fatalf("got (%q, %q), want (%q, %q)", addr, proto, tt.addr, tt.proto)
			}
		})
	}
}
