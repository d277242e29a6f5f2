package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/golighty/golighty/lighttpdconf"
)

func TestDecodeBase64(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"YWxpY2U6cHc=", "alice:pw", true},
		{"YWxpY2U6cHc", "alice:pw", true},       // no padding
		{"YWxp Y2U6\tcHc=", "alice:pw", true},   // blanks and tabs skipped
		{"YWxpY2U6cHc=!junk", "alice:pw", true}, // stops at '='
		{"YWxpY2U6cHc!junk", "alice:pw", true},  // stops at a bad byte, keeps what came before
		{"YWxpY2U6cHc\x00junk", "", false},      // ...unless the bad byte is NUL
		{"YWxpY", "", false},                    // one dangling character
		{"", "", false},                         // nothing decoded
		{"!!!!", "", false},                     // nothing decoded
		{"YQ", "a", true},                       // two characters: one byte
		{"Y\x7fQ", "", false},                   // DEL is not skipped
		{"Y\x80Q", "", false},                   // high bytes end the input after one char
		{"YWJj\xffZGVm", "abc", true},           // ...after a full group
		{"-_", "", false},                       // URL alphabet is not standard
		{strings.Repeat("QUFB", 3), "AAAAAAAAA", true},
	} {
		got, ok := DecodeBase64(nil, c.in)
		if ok != c.ok || string(got) != c.want {
			t.Errorf("DecodeBase64(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestParseAlgorithm(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Algo
		ok   bool
	}{
		{"", AlgoMD5, true},
		{"MD5", AlgoMD5, true},
		{"md5", AlgoMD5, true},
		{"MD5-sess", AlgoMD5 | AlgoSess, true},
		{"md5-SESS", AlgoMD5 | AlgoSess, true},
		{"SHA-256", AlgoSHA256, true},
		{"sha-256-sess", AlgoSHA256 | AlgoSess, true},
		{"SHA-512-256", AlgoSHA512_256, true},
		{"SHA256", 0, false},
		{"SHA-1", 0, false},
		{"-sess", 0, false},
		{"MD5 ", 0, false},
	} {
		got, ok := parseAlgorithm(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("parseAlgorithm(%q) = %v, %v", c.in, got, ok)
		}
	}
}

func kv(pairs ...string) lighttpdconf.Value {
	var v lighttpdconf.Value
	v.Kind = lighttpdconf.KindArray
	for i := 0; i+1 < len(pairs); i += 2 {
		v.Arr = append(v.Arr, lighttpdconf.Element{HasKey: true, Key: pairs[i], Value: lighttpdconf.Value{Kind: lighttpdconf.KindString, Str: pairs[i+1]}})
	}
	return v
}

func TestParseRequire(t *testing.T) {
	base := []string{"method", "basic", "realm", "R"}
	for _, c := range []struct {
		name string
		v    lighttpdconf.Value
		err  string
		chk  func(*Require) bool
	}{
		{"valid-user", kv(append(base, "require", "valid-user")...), "", func(r *Require) bool { return r.ValidUser && r.Algo == AlgoSess|AlgoMD5 }},
		{"users and groups", kv(append(base, "require", "user=a|user=b|group=g|host=h|")...), "", func(r *Require) bool {
			return len(r.Users) == 2 && r.Groups[0] == "g" && r.Hosts[0] == "h" && r.MatchUser("b") && !r.MatchUser("g")
		}},
		{"algorithms", kv(append(base, "require", "valid-user", "algorithm", "SHA-256|MD5", "nonce-secret", "s", "userhash", "enable")...), "", func(r *Require) bool {
			return r.Algo == AlgoSess|AlgoMD5|AlgoSHA256 && r.HasSecret && r.NonceSecret == "s" && r.UserHash
		}},
		{"missing =", kv(append(base, "require", "user=a|bob")...), "missing '='", nil},
		{"missing token", kv(append(base, "require", "user=")...), "missing token after '='", nil},
		{"empty segment", kv(append(base, "require", "user=a||user=b")...), "missing '='", nil},
		{"valid-user combined", kv(append(base, "require", "user=a|valid-user=x")...), "valid user can not be combined", nil},
		{"unknown token", kv(append(base, "require", "role=x")...), "invalid/unsupported token", nil},
		{"unknown field", kv(append(base, "require", "valid-user", "colour", "red")...), `-> "colour" <-`, nil},
		{"no method", kv("realm", "R", "require", "valid-user"), "method field is missing", nil},
		{"bad method", kv("method", "Basic", "realm", "R", "require", "valid-user"), "unknown method Basic", nil},
		{"no realm", kv("method", "basic", "require", "valid-user"), "realm field is missing", nil},
		{"blank require", kv(append(base, "require", "")...), "require field is missing or blank", nil},
		{"bad algorithm", kv(append(base, "require", "valid-user", "algorithm", "SHA-1")...), "invalid algorithm", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := parseRequire("/p/", c.v, func(string) {})
			switch {
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("error %v, want %q", err, c.err)
			case c.err == "" && err != nil:
				t.Fatal(err)
			case c.chk != nil && !c.chk(r):
				t.Errorf("parsed %+v", r)
			}
		})
	}
}

func TestParseDigestParams(t *testing.T) {
	for _, c := range []struct {
		in   string
		want map[int]string
	}{
		{`username="a", realm="R", nonce="n", uri="/x", response="r", qop=auth, nc=00000001, cnonce="c"`,
			map[int]string{pUsername: "a", pRealm: "R", pNonce: "n", pURI: "/x", pResponse: "r", pQop: "auth", pNc: "00000001", pCnonce: "c"}},
		{`username = "a" ,realm="R"`, map[int]string{pUsername: "a", pRealm: "R"}},
		{`username="a\"b", realm="R"`, map[int]string{pUsername: `a\"b`, pRealm: "R"}}, // escapes kept
		{`foo="username=evil", realm="R"`, map[int]string{pUsername: `evil"`, pRealm: "R"}},
		{`username="open`, map[int]string{}},
		{`realm="R", username`, map[int]string{pRealm: "R"}},
		{`Username="a"`, map[int]string{}}, // keys are case-sensitive
		{`username="a" junk realm="R"`, map[int]string{pUsername: "a"}},
		{`username*=UTF-8''x, userhash=true`, map[int]string{pUserStar: "UTF-8''x", pUserHash: "true"}},
	} {
		var p digestParams
		parseDigestParams(&p, c.in)
		for i := 0; i < nParams; i++ {
			want, ok := c.want[i]
			if p.has[i] != ok || p.v[i] != want {
				t.Errorf("%q: %s = %q (%v), want %q (%v)", c.in, paramNames[i], p.v[i], p.has[i], want, ok)
			}
		}
	}
}

func TestNonce(t *testing.T) {
	req := &Require{Realm: "R"}
	other := &Require{Realm: "R", HasSecret: true, NonceSecret: "shared"}
	now := time.Now().Unix()
	n := newNonce(req, AlgoMD5, now)
	if _, st := verifyNonce(req, AlgoMD5, n, now+30); st != nonceOK {
		t.Fatalf("own nonce %q: %v", n, st)
	}
	if _, st := verifyNonce(req, AlgoMD5|AlgoSess, n, now); st != nonceOK {
		t.Errorf("-sess with the same hash: %v", st)
	}
	for name, c := range map[string]struct {
		nonce string
		algo  Algo
		at    int64
		want  nonceState
	}{
		"expired":           {n, AlgoMD5, now + nonceLifetime + 1, nonceStale},
		"from the future":   {n, AlgoMD5, now - 5, nonceStale},
		"other algorithm":   {n, AlgoSHA256, now, nonceForged},
		"flipped signature": {flipLast(n), AlgoMD5, now, nonceForged},
		"lighttpd style":    {n[:strings.IndexByte(n, ':')] + ":0123456789abcdef0123456789abcdef", AlgoMD5, now, nonceForged},
		"other secret":      {newNonce(other, AlgoMD5, now), AlgoMD5, now, nonceForged},
		"no time":           {"xyz", AlgoMD5, now, nonceStale},
		"empty":             {"", AlgoMD5, now, nonceStale},
	} {
		if _, st := verifyNonce(req, c.algo, c.nonce, c.at); st != c.want {
			t.Errorf("%s (%q): %v, want %v", name, c.nonce, st, c.want)
		}
	}
	// Servers sharing a nonce-secret accept each other's nonces.
	twin := &Require{Realm: "R", HasSecret: true, NonceSecret: "shared"}
	if _, st := verifyNonce(twin, AlgoSHA256, newNonce(other, AlgoSHA256, now), now); st != nonceOK {
		t.Errorf("shared secret: %v", st)
	}
}

// flipLast changes the last character of s (a hex digit).
func flipLast(s string) string {
	last := byte('0')
	if s[len(s)-1] == '0' {
		last = '1'
	}
	return s[:len(s)-1] + string(last)
}

func TestCache(t *testing.T) {
	c := newCache(600)
	req := &Require{id: 1}
	other := &Require{id: 2}
	ref := &backendRef{name: "x"}
	if _, ok := c.basic(req, ref, []byte("u"), []byte("pw")); ok {
		t.Fatal("empty cache hit")
	}
	c.putBasic(req, ref, "u", []byte("pw"))
	if name, ok := c.basic(req, ref, []byte("u"), []byte("pw")); !ok || name != "u" {
		t.Fatalf("hit: %q %v", name, ok)
	}
	for name, miss := range map[string]func() bool{
		"wrong password": func() bool { _, ok := c.basic(req, ref, []byte("u"), []byte("pW")); return !ok },
		"other require":  func() bool { _, ok := c.basic(other, ref, []byte("u"), []byte("pw")); return !ok },
		"other backend":  func() bool { _, ok := c.basic(req, &backendRef{}, []byte("u"), []byte("pw")); return !ok },
		"other user":     func() bool { _, ok := c.basic(req, ref, []byte("v"), []byte("pw")); return !ok },
	} {
		if !miss() {
			t.Errorf("%s: hit", name)
		}
	}
	// max-age counts from the login that made the entry.
	c.scopes[cacheScope{1, ref, 0}]["u"].created -= 601
	if _, ok := c.basic(req, ref, []byte("u"), []byte("pw")); ok {
		t.Error("expired entry hit")
	}
	// Bounded: past maxCacheEntries new users are not stored.
	big := newCache(600)
	for i := 0; i < maxCacheEntries+10; i++ {
		big.putBasic(req, ref, string(rune('a'+i%26))+strings.Repeat("x", i/26), []byte("pw"))
	}
	if big.n > maxCacheEntries {
		t.Errorf("%d entries", big.n)
	}
}
