package extforward

import (
	"strings"
	"testing"
)

// forwardTokens is the obvious front-to-back reading of an address list
// (a token starts at a hex digit or ':' and runs over hex digits, ':' and
// '.'), the model lastUntrusted's backward scan must agree with.
func forwardTokens(v string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(v); i++ {
		in := i < len(v) && isAddrByte(v[i])
		switch {
		case start < 0 && in && v[i] != '.':
			start = i
		case start >= 0 && !in:
			out = append(out, v[start:i])
			start = -1
		}
	}
	return out
}

var fuzzHeaderSeeds = []string{
	"203.0.113.7, 10.0.0.2, 192.0.2.1",
	"[2001:db8::7]:443, 10.9.9.9",
	"for=203.0.113.7;proto=https, for=10.0.0.2",
	`for="[2001:db8::7]:4711";proto=http, for=_hidden, for="[2001:db8::10]"`,
	`a="x\"y";for=203.0.113.7;FOR=unknown`,
	`for="[", for="[]"`,
	strings.Repeat("a=1;", 70),
	"..., ::ffff:10.1.2.3",
}

// FuzzForwardedHeaders: neither reader panics, whatever the header; the
// list reader agrees with the front-to-back model; every address returned
// is a view of the header (never invented), and an address the list
// reader returns is never a trusted proxy.
func FuzzForwardedHeaders(f *testing.F) {
	for _, s := range fuzzHeaderSeeds {
		f.Add(s)
	}
	fw := mustForwarder(f, "10.0.0.0/8", "trust", "10.9.9.9", "untrusted", "_trusted", "trust", "2001:db8::10", "trust")
	f.Fuzz(func(t *testing.T, v string) {
		got, ok := lastUntrusted(v, fw)
		want, wantOK := "", false
		toks := forwardTokens(v)
		for i := len(toks) - 1; i >= 0; i-- {
			tok := strings.TrimLeft(toks[i], ".")
			if tok != "" && !fw.trusted(tok) {
				want, wantOK = tok, true
				break
			}
		}
		if got != want || ok != wantOK {
			t.Fatalf("lastUntrusted(%q) = %q, %v; model says %q, %v", v, got, ok, want, wantOK)
		}
		if ok && (fw.trusted(got) || !strings.Contains(v, got)) {
			t.Fatalf("lastUntrusted(%q) returned %q", v, got)
		}

		var ps [maxFwdParams]fwdParam
		n, err := parseForwarded(v, &ps)
		if err != nil {
			return
		}
		if n > maxFwdParams-1 {
			t.Fatalf("%d params accepted", n)
		}
		for _, p := range ps[:n] {
			if p.key == "" || !strings.Contains(v, p.key+"="+p.val) {
				t.Fatalf("param %q=%q is not in %q", p.key, p.val, v)
			}
		}
		if n == 0 {
			return
		}
		addr, proto, ok, err := chooseForwarded(ps[:n], fw)
		if err != nil || !ok {
			return
		}
		if addr == "" || !strings.Contains(v, addr) || !strings.Contains(v, proto) || obfuscated(addr) {
			t.Fatalf("Forwarded %q gave address %q, proto %q", v, addr, proto)
		}
	})
}
