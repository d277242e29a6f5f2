package vhostdb

import (
	"fmt"
	"strings"
	"testing"

	"github.com/golighty/golighty/lighttpdconf"
)

// lighttpd's cleanup runs when its clock leaves a second that is a
// multiple of 8 and drops entries older than max-age at that second; until
// then an entry is used.
func TestCacheExpiry(t *testing.T) {
	tests := []struct {
		name          string
		maxAge, ctime int64
		now           int64
		kept          bool
	}{
		{"fresh", 600, 1000, 1000, true},
		{"max-age reached, no tick yet", 600, 1000, 1600, true},
		{"older than max-age at tick 1608, run at 1609", 600, 1000, 1608, true},
		{"dropped when the clock leaves the tick second", 600, 1000, 1609, false},
		{"long after", 600, 1000, 9999, false},
		{"max-age 0: kept within the second", 0, 1001, 1001, true},
		{"max-age 0: kept through the tick second", 0, 1001, 1008, true},
		{"max-age 0: dropped after the tick", 0, 1001, 1009, false},
		{"cached on a tick second, max-age 0: not older at that tick", 0, 1000, 1001, true},
		{"cached on a tick second, dropped after the next", 0, 1000, 1009, false},
		{"max-age 7 from a tick", 7, 1000, 1009, false},
		{"max-age 8 from a tick", 8, 1000, 1016, true},
		{"max-age 8 from a tick, dropped", 8, 1000, 1017, false},
		{"negative max-age: the tick of the insertion second", -5, 1000, 1001, false},
		{"negative max-age waits for a tick", -5, 1001, 1008, true},
		{"negative max-age dropped after the tick", -5, 1001, 1009, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.ctime
			c := newCache(tc.maxAge)
			c.now = func() int64 { return now }
			c.put(&found{host: "h", docroot: "/d/"})
			now = tc.now
			if got := c.get("h") != nil; got != tc.kept {
				t.Fatalf("max-age %d, cached at %d, asked at %d: kept %v, want %v", tc.maxAge, tc.ctime, tc.now, got, tc.kept)
			}
		})
	}
}

func TestCacheBounded(t *testing.T) {
	now := int64(100)
	c := newCache(600)
	c.now = func() int64 { return now }
	for i := 0; i < maxCacheEntries; i++ {
		c.put(&found{host: fmt.Sprint("old", i)})
	}
	now = 800 // every entry is expired now
	c.put(&found{host: "new"})
	if len(c.m) != 1 || c.get("new") == nil {
		t.Fatalf("full cache of expired entries: %d entries after put", len(c.m))
	}
	for i := 0; i < maxCacheEntries+10; i++ {
		c.put(&found{host: fmt.Sprint("live", i)})
	}
	if len(c.m) > maxCacheEntries {
		t.Fatalf("cache grew to %d (max %d)", len(c.m), maxCacheEntries)
	}
}

func TestMaxAge(t *testing.T) {
	str := func(s string) lighttpdconf.Value { return lighttpdconf.Value{Kind: lighttpdconf.KindString, Str: s} }
	num := func(n int32) lighttpdconf.Value { return lighttpdconf.Value{Kind: lighttpdconf.KindInteger, Int: n} }
	kv := func(k string, v lighttpdconf.Value) lighttpdconf.Element {
		return lighttpdconf.Element{Key: k, HasKey: true, Value: v}
	}
	tests := []struct {
		name  string
		elems []lighttpdconf.Element
		want  int64
	}{
		{"empty", nil, 600},
		{"integer", []lighttpdconf.Element{kv("max-age", num(30))}, 30},
		{"numeric string", []lighttpdconf.Element{kv("max-age", str("45"))}, 45},
		{"string with space and sign", []lighttpdconf.Element{kv("max-age", str(" -2"))}, -2},
		{"not a number", []lighttpdconf.Element{kv("max-age", str("10s"))}, 600},
		{"empty string", []lighttpdconf.Element{kv("max-age", str(""))}, 600},
		{"too big", []lighttpdconf.Element{kv("max-age", str("4294967296"))}, 600},
		{"other keys ignored", []lighttpdconf.Element{kv("Max-Age", num(5)), kv("x", num(1))}, 600},
		{"last wins", []lighttpdconf.Element{kv("max-age", num(5)), kv("max-age", num(9))}, 9},
		{"bad last resets", []lighttpdconf.Element{kv("max-age", num(5)), kv("max-age", str("x"))}, 600},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := maxAge(tc.elems); got != tc.want {
				t.Fatalf("maxAge = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestSubstitute(t *testing.T) {
	tests := []struct{ query, host, want string }{
		{"SELECT d FROM v WHERE h='?'", "a.example", "SELECT d FROM v WHERE h='a.example'"},
		{"SELECT d FROM v WHERE h='?'", "x'y", "SELECT d FROM v WHERE h='x''y'"},
		{"SELECT d FROM v WHERE h='?'", "'; DROP TABLE v; --", "SELECT d FROM v WHERE h='''; DROP TABLE v; --'"},
		{"SELECT d FROM v WHERE h='?' OR a='?'", "a", "SELECT d FROM v WHERE h='a' OR a='a'"},
		{"SELECT d FROM v WHERE h='?'", `a\b`, `SELECT d FROM v WHERE h='a\b'`},
		{"SELECT 1", "a", "SELECT 1"},
	}
	for _, tc := range tests {
		if got := substitute(tc.query, tc.host); got != tc.want {
			t.Errorf("substitute(%q, %q) = %q, want %q", tc.query, tc.host, got, tc.want)
		}
		// Whatever the host, the quotes of the result stay balanced.
		if strings.Count(substitute(tc.query, tc.host), "'")%2 != strings.Count(tc.query, "'")%2 {
			t.Errorf("substitute(%q, %q) unbalanced the quotes", tc.query, tc.host)
		}
	}
}
