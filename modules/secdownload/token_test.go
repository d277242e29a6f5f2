package secdownload

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
	"testing"
	"time"
)

// Expected tokens are computed here straight from the documented formulas
// with the standard library, never through Sign.

func md5Token(secret, rel, tsHex string) string {
	sum := md5.Sum([]byte(secret + rel + tsHex))
	return hex.EncodeToString(sum[:])
}

func hmacToken(newHash func() hash.Hash, secret, msg string) string {
	m := hmac.New(newHash, []byte(secret))
	m.Write([]byte(msg))
	// base64url without padding, spelled out rather than RawURLEncoding.
	return strings.TrimRight(base64.URLEncoding.EncodeToString(m.Sum(nil)), "=")
}

// token returns the MAC a generator computes for alg over the protected path
// "/" + tsHex + covered (covered = rel-path as covered by the MAC, including
// any "?query").
func token(alg Algorithm, secret, tsHex, covered string) string {
	switch alg {
	case MD5:
		return md5Token(secret, covered, tsHex)
	case HMACSHA1:
		return hmacToken(sha1.New, secret, "/"+tsHex+covered)
	case HMACSHA256:
		return hmacToken(sha256.New, secret, "/"+tsHex+covered)
	}
	panic("test bug: unknown algorithm")
}

var allAlgorithms = []Algorithm{MD5, HMACSHA1, HMACSHA256}

func testConfig(alg Algorithm) *Config {
	return &Config{
		Secret:       []byte("verysecret"),
		DocumentRoot: "/srv/dl",
		URIPrefix:    "/dl/",
		Timeout:      DefaultTimeout,
		Algorithm:    alg,
	}
}

func hexTime(t time.Time) string { return fmt.Sprintf("%08x", t.Unix()) }

type verifyResult struct {
	rel     string
	status  int
	handled bool
}

func checkVerify(t *testing.T, c *Config, urlPath, query string, now time.Time, want verifyResult) {
	t.Helper()
	rel, status, handled, reason := c.Verify(urlPath, query, now)
	got := verifyResult{rel, status, handled}
	if got != want {
		t.Fatalf("Verify(%q, %q) = %+v (reason %q), want %+v", urlPath, query, got, reason, want)
	}
	if handled && status != 0 && reason == "" {
		t.Errorf("Verify(%q) returned status %d without a reason", urlPath, status)
	}
}

func TestParseAlgorithm(t *testing.T) {
	tests := []struct {
		in      string
		want    Algorithm
		wantErr bool
	}{
		{"md5", MD5, false},
		{"hmac-sha1", HMACSHA1, false},
		{"hmac-sha256", HMACSHA256, false},
		{"MD5", AlgorithmUnset, true}, // lighttpd uses strcmp
		{"", AlgorithmUnset, true},
		{"sha256", AlgorithmUnset, true},
		{"hmac-sha256 ", AlgorithmUnset, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			got, err := ParseAlgorithm(tc.in)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Fatalf("ParseAlgorithm(%q) = %v, %v", tc.in, got, err)
			}
			if err != nil && err.Error() != "invalid secdownload.algorithm: "+tc.in {
				t.Errorf("error text %q", err)
			}
			if err == nil && got.String() != tc.in {
				t.Errorf("String() = %q, want %q", got.String(), tc.in)
			}
		})
	}
}

// TestKnownAnswers uses the worked examples of the spec (computed with
// Python's hashlib/hmac) at their fixed timestamp 0x5f5e1000.
func TestKnownAnswers(t *testing.T) {
	now := time.Unix(1600000000, 0)
	tests := []struct {
		name    string
		alg     Algorithm
		segs    int
		qs      bool
		urlPath string
		query   string
		rel     string
	}{
		{"md5", MD5, 0, false, "/dl/13e0d7099522937aa2a38247798b4362/5f5e1000/index.html", "", "/index.html"},
		{"hmac-sha1", HMACSHA1, 0, false, "/dl/oLcy41qqRUJzYZiq89ei9IkqnHE/5f5e1000/index.html", "", "/index.html"},
		{"hmac-sha256", HMACSHA256, 0, false, "/dl/bueQNkW_zzBmHtSfRAlDuYgOWgBnFMJF4x-1Pvk-6xg/5f5e1000/index.html", "", "/index.html"},
		{"hmac-sha256 hash-querystr", HMACSHA256, 0, true, "/dl/Q9Z0HjPSAdfj0Q1_gsthKOB_qmb_F3EruZCd8j9z7Tg/5f5e1000/index.html", "qs=1", "/index.html"},
		{"hmac-sha256 path-segments=1", HMACSHA256, 1, false, "/dl/IXDZxnq8Vzhb5N7_TGxbX0-xHF0BBk9eJaGg4TwTvZ8/5f5e1000/a/b/c.txt", "", "/a/b/c.txt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig(tc.alg)
			c.PathSegments = tc.segs
			c.HashQueryString = tc.qs
			checkVerify(t, c, tc.urlPath, tc.query, now, verifyResult{tc.rel, 0, true})
			signRel := tc.rel
			if tc.query != "" {
				signRel += "?" + tc.query
			}
			wantSigned := tc.urlPath
			if tc.query != "" {
				wantSigned += "?" + tc.query
			}
			if got := c.Sign(signRel, now); got != wantSigned {
				t.Errorf("Sign(%q) = %q, want %q", signRel, got, wantSigned)
			}
		})
	}
}

// TestTampering signs /files/report.pdf at the current time with the
// standard library and checks every altered variant.
func TestTampering(t *testing.T) {
	now := time.Now()
	ts := hexTime(now)
	const rel = "/files/report.pdf"
	for _, alg := range allAlgorithms {
		t.Run(alg.String(), func(t *testing.T) {
			c := testConfig(alg)
			mac := token(alg, "verysecret", ts, rel)
			good := "/dl/" + mac + "/" + ts + rel
			flip := func(s string, i int) string {
				b := []byte(s)
				switch {
				case b[i] == '0':
					b[i] = '1'
				default:
					b[i] = '0'
				}
				return string(b)
			}
			old := fmt.Sprintf("%08x", now.Unix()-61)
			future := fmt.Sprintf("%08x", now.Unix()+61)
			ok := verifyResult{rel, 0, true}
			forbidden := verifyResult{"", 403, true}
			gone := verifyResult{"", 410, true}
			ignored := verifyResult{"", 0, false}
			cases := []struct {
				name    string
				urlPath string
				want    verifyResult
			}{
				{"valid", good, ok},
				{"first mac char changed", "/dl/" + flip(mac, 0) + "/" + ts + rel, forbidden},
				{"last mac char changed", "/dl/" + flip(mac, len(mac)-1) + "/" + ts + rel, forbidden},
				{"timestamp changed", "/dl/" + mac + "/" + flip(ts, len(ts)-1) + rel, forbidden},
				{"timestamp with extra leading zero", "/dl/" + mac + "/0" + ts + rel, forbidden},
				{"path changed", "/dl/" + mac + "/" + ts + "/files/report.pdF", forbidden},
				{"path extended", "/dl/" + mac + "/" + ts + rel + ".bak", forbidden},
				{"path shortened", "/dl/" + mac + "/" + ts + "/files", forbidden},
				{"dot-dot segment", "/dl/" + mac + "/" + ts + "/files/../../etc/passwd", forbidden},
				{"trailing dot-dot", "/dl/" + mac + "/" + ts + "/files/..", forbidden},
				{"NUL byte", "/dl/" + mac + "/" + ts + rel + "\x00.txt", forbidden},
				// Even a correctly signed path must not leave the document root
				// if it ever reaches Verify unsimplified.
				{"signed dot-dot segment", "/dl/" + token(alg, "verysecret", ts, "/../etc/passwd") + "/" + ts + "/../etc/passwd", forbidden},
				{"signed inner dot-dot", "/dl/" + token(alg, "verysecret", ts, "/a/../../b") + "/" + ts + "/a/../../b", forbidden},
				{"signed NUL byte", "/dl/" + token(alg, "verysecret", ts, "/a\x00b") + "/" + ts + "/a\x00b", forbidden},
				{"signed dots in names", "/dl/" + token(alg, "verysecret", ts, "/a../..b/...") + "/" + ts + "/a../..b/...", verifyResult{"/a../..b/...", 0, true}},
				{"literal %2F not decoded", "/dl/" + mac + "/" + ts + "/files%2Freport.pdf", forbidden},
				{"mac one char short", "/dl/" + mac[1:] + "/" + ts + rel, ignored},
				{"mac one char long", "/dl/" + mac + "a/" + ts + rel, ignored},
				{"mac with invalid char", "/dl/" + mac[:5] + "." + mac[6:] + "/" + ts + rel, ignored},
				{"expired", "/dl/" + token(alg, "verysecret", old, rel) + "/" + old + rel, gone},
				{"future", "/dl/" + token(alg, "verysecret", future, rel) + "/" + future + rel, gone},
				{"expired with bad mac", "/dl/" + mac + "/" + old + rel, gone},
				{"wrong secret", "/dl/" + token(alg, "othersecret", ts, rel) + "/" + ts + rel, forbidden},
				{"other prefix", "/dL/" + mac + "/" + ts + rel, ignored},
				{"no rel-path", "/dl/" + mac + "/" + ts, ignored},
				{"timestamp not hex", "/dl/" + mac + "/" + ts + "g" + rel, ignored},
				{"empty timestamp", "/dl/" + mac + "/" + rel, ignored},
				{"17 hex digits", "/dl/" + mac + "/" + strings.Repeat("0", 17-len(ts)) + ts + rel, ignored},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					checkVerify(t, c, tc.urlPath, "", now, tc.want)
				})
			}
		})
	}
}

// TestEncodedSlash: the core decodes %2F before mod_secdownload runs, so a
// link whose slash was percent-encoded reaches Verify as the signed path.
func TestEncodedSlash(t *testing.T) {
	now := time.Now()
	ts := hexTime(now)
	for _, alg := range allAlgorithms {
		t.Run(alg.String(), func(t *testing.T) {
			c := testConfig(alg)
			mac := token(alg, "verysecret", ts, "/a/b.txt")
			decoded := strings.ReplaceAll("/dl/"+mac+"/"+ts+"/a%2Fb.txt", "%2F", "/")
			checkVerify(t, c, decoded, "", now, verifyResult{"/a/b.txt", 0, true})
		})
	}
}

func TestMD5HexCase(t *testing.T) {
	now := time.Now()
	ts := hexTime(now)
	c := testConfig(MD5)
	mac := md5Token("verysecret", "/x", ts)
	tests := []struct {
		name    string
		urlPath string
		want    verifyResult
	}{
		// lighttpd's hex decoder accepts either case.
		{"upper-case mac", "/dl/" + strings.ToUpper(mac) + "/" + ts + "/x", verifyResult{"/x", 0, true}},
		// 32 base64url characters that are not hex: 403, not a fall-through.
		{"non-hex mac", "/dl/" + strings.Repeat("z", 32) + "/" + ts + "/x", verifyResult{"", 403, true}},
		{"non-hex last char", "/dl/" + mac[:31] + "_/" + ts + "/x", verifyResult{"", 403, true}},
		// The timestamp text is part of the message: upper-case parses but
		// changes the MAC input.
		{"upper-case timestamp", "/dl/" + mac + "/" + strings.ToUpper(ts) + "/x", verifyResult{"", 403, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "upper-case timestamp" && strings.ToUpper(ts) == ts {
				t.Skip("current timestamp has no hex letters")
			}
			checkVerify(t, c, tc.urlPath, "", now, tc.want)
		})
	}
	t.Run("upper-case timestamp signed as such", func(t *testing.T) {
		upper := "ABCDEF12"
		at := time.Unix(0xabcdef12, 0)
		checkVerify(t, c, "/dl/"+md5Token("verysecret", "/x", upper)+"/"+upper+"/x", "", at, verifyResult{"/x", 0, true})
	})
}

func TestHMACCaseSensitive(t *testing.T) {
	now := time.Now()
	ts := hexTime(now)
	for _, alg := range []Algorithm{HMACSHA1, HMACSHA256} {
		t.Run(alg.String(), func(t *testing.T) {
			c := testConfig(alg)
			mac := token(alg, "verysecret", ts, "/x")
			swapped := strings.Map(func(r rune) rune {
				switch {
				case 'a' <= r && r <= 'z':
					return r - 'a' + 'A'
				case 'A' <= r && r <= 'Z':
					return r - 'A' + 'a'
				}
				return r
			}, mac)
			if swapped == mac {
				t.Skip("mac has no letters")
			}
			checkVerify(t, c, "/dl/"+swapped+"/"+ts+"/x", "", now, verifyResult{"", 403, true})
		})
	}
}

func TestTimeoutBoundaries(t *testing.T) {
	const ts = 1700000000
	tsHex := fmt.Sprintf("%x", ts)
	tests := []struct {
		name    string
		timeout int64
		now     int64
		want    int
	}{
		{"exact", 60, ts, 0},
		{"at timeout past", 60, ts + 60, 0},
		{"past timeout", 60, ts + 61, 410},
		{"at timeout future", 60, ts - 60, 0},
		{"beyond timeout future", 60, ts - 61, 410},
		{"zero timeout same second", 0, ts, 0},
		{"zero timeout next second", 0, ts + 1, 410},
		// lighttpd keeps the timeout in an unsigned int: -1 wraps to 2^32-1.
		{"negative timeout wraps", -1, ts + 1<<31, 0},
		{"1800s old with default timeout", 60, ts + 1800, 410},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, alg := range allAlgorithms {
				c := testConfig(alg)
				c.Timeout = tc.timeout
				urlPath := "/dl/" + token(alg, "verysecret", tsHex, "/f") + "/" + tsHex + "/f"
				want := verifyResult{"/f", 0, true}
				if tc.want != 0 {
					want = verifyResult{"", tc.want, true}
				}
				checkVerify(t, c, urlPath, "", time.Unix(tc.now, 0), want)
			}
		})
	}
	t.Run("16 hex digit timestamp", func(t *testing.T) {
		c := testConfig(HMACSHA256)
		long := "0000000000" + "abcdef"
		urlPath := "/dl/" + token(HMACSHA256, "verysecret", long, "/f") + "/" + long + "/f"
		checkVerify(t, c, urlPath, "", time.Unix(0xabcdef, 0), verifyResult{"/f", 0, true})
	})
	t.Run("maximal timestamp far in the future", func(t *testing.T) {
		c := testConfig(HMACSHA256)
		max := "ffffffffffffffff"
		urlPath := "/dl/" + token(HMACSHA256, "verysecret", max, "/f") + "/" + max + "/f"
		checkVerify(t, c, urlPath, "", time.Unix(ts, 0), verifyResult{"", 410, true})
	})
}

// TestPathSegments lists, for each URL rel-path, the part the MAC must cover.
func TestPathSegments(t *testing.T) {
	now := time.Now()
	ts := hexTime(now)
	tests := []struct {
		segs    int
		rel     string
		covered string
	}{
		{0, "/a/b/c.txt", "/a/b/c.txt"},
		{1, "/a/b/c.txt", "/a"},
		{2, "/a/b/c.txt", "/a/b"},
		{3, "/a/b/c.txt", "/a/b/c.txt"},
		{5, "/a/b/c.txt", "/a/b/c.txt"},
		{1, "/a", "/a"},
		{1, "/a/", "/a"},
		{2, "/a/", "/a/"},
		{1, "/", "/"},
		{1, "/dir/", "/dir"},
		// lighttpd keeps it in an unsigned short: 65537 acts as 1.
		{65537, "/a/b", "/a"},
	}
	for _, tc := range tests {
		for _, alg := range allAlgorithms {
			t.Run(fmt.Sprintf("%s/%d%s", alg, tc.segs, tc.rel), func(t *testing.T) {
				c := testConfig(alg)
				c.PathSegments = tc.segs
				urlPath := "/dl/" + token(alg, "verysecret", ts, tc.covered) + "/" + ts + tc.rel
				checkVerify(t, c, urlPath, "", now, verifyResult{tc.rel, 0, true})
				if tc.covered != tc.rel {
					// A MAC over the whole path is then wrong.
					urlPath = "/dl/" + token(alg, "verysecret", ts, tc.rel) + "/" + ts + tc.rel
					checkVerify(t, c, urlPath, "", now, verifyResult{"", 403, true})
				}
			})
		}
	}
	t.Run("other files in the covered directory share the link mac", func(t *testing.T) {
		c := testConfig(HMACSHA1)
		c.PathSegments = 1
		mac := token(HMACSHA1, "verysecret", ts, "/album")
		for _, rel := range []string{"/album/1.jpg", "/album/2.jpg", "/album/sub/3.jpg"} {
			checkVerify(t, c, "/dl/"+mac+"/"+ts+rel, "", now, verifyResult{rel, 0, true})
		}
		checkVerify(t, c, "/dl/"+mac+"/"+ts+"/albums/1.jpg", "", now, verifyResult{"", 403, true})
	})
}

func TestHashQueryString(t *testing.T) {
	now := time.Now()
	ts := hexTime(now)
	tests := []struct {
		name    string
		qs      bool
		segs    int
		query   string
		covered string
		want    verifyResult
	}{
		{"query covered", true, 0, "qs=1", "/d/f.txt?qs=1", verifyResult{"/d/f.txt", 0, true}},
		{"query changed", true, 0, "qs=2", "/d/f.txt?qs=1", verifyResult{"", 403, true}},
		{"query dropped", true, 0, "", "/d/f.txt?qs=1", verifyResult{"", 403, true}},
		{"empty query adds nothing", true, 0, "", "/d/f.txt", verifyResult{"/d/f.txt", 0, true}},
		{"query added to unsigned", true, 0, "x=1", "/d/f.txt", verifyResult{"", 403, true}},
		{"disabled ignores query", false, 0, "anything", "/d/f.txt", verifyResult{"/d/f.txt", 0, true}},
		{"disabled does not hash query", false, 0, "qs=1", "/d/f.txt?qs=1", verifyResult{"", 403, true}},
		{"query after cut path", true, 1, "a=%2F", "/d?a=%2F", verifyResult{"/d/f.txt", 0, true}},
	}
	for _, tc := range tests {
		for _, alg := range allAlgorithms {
			t.Run(tc.name+"/"+alg.String(), func(t *testing.T) {
				c := testConfig(alg)
				c.HashQueryString = tc.qs
				c.PathSegments = tc.segs
				urlPath := "/dl/" + token(alg, "verysecret", ts, tc.covered) + "/" + ts + "/d/f.txt"
				checkVerify(t, c, urlPath, tc.query, now, tc.want)
			})
		}
	}
}

// TestConfigErrors follows lighttpd's checks: an unset prefix disables the
// module; otherwise secret, document root and algorithm are required (500)
// even for URLs outside the prefix.
func TestConfigErrors(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name   string
		mutate func(*Config)
		want   verifyResult
		reason string
	}{
		{"no prefix", func(c *Config) { c.URIPrefix = ""; c.Secret = nil }, verifyResult{"", 0, false}, ReasonPrefixMismatch},
		{"no secret", func(c *Config) { c.Secret = nil; c.DocumentRoot = "" }, verifyResult{"", 500, true}, ReasonNoSecret},
		{"no document root", func(c *Config) { c.DocumentRoot = ""; c.Algorithm = AlgorithmUnset }, verifyResult{"", 500, true}, ReasonNoDocumentRoot},
		{"no algorithm", func(c *Config) { c.Algorithm = AlgorithmUnset }, verifyResult{"", 500, true}, ReasonNoAlgorithm},
		{"unknown algorithm value", func(c *Config) { c.Algorithm = 42 }, verifyResult{"", 500, true}, ReasonNoAlgorithm},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig(MD5)
			tc.mutate(c)
			rel, status, handled, reason := c.Verify("/elsewhere/index.html", "", now)
			if got := (verifyResult{rel, status, handled}); got != tc.want || reason != tc.reason {
				t.Fatalf("got %+v %q, want %+v %q", got, reason, tc.want, tc.reason)
			}
		})
	}
	t.Run("sign without secret", func(t *testing.T) {
		c := testConfig(MD5)
		c.Secret = nil
		if got := c.Sign("/x", now); got != "" {
			t.Fatalf("Sign = %q, want empty", got)
		}
	})
}

// TestLighttpdSuite mirrors what lighttpd 1.4.67's tests/request.t checks for
// mod_secdownload (prefix /sec/, timeout 120, hash-querystr on for sha256).
func TestLighttpdSuite(t *testing.T) {
	now := time.Now()
	ts := hexTime(now)
	old := fmt.Sprintf("%08x", now.Unix()-1800)
	for _, alg := range allAlgorithms {
		t.Run(alg.String(), func(t *testing.T) {
			c := &Config{Secret: []byte("verysecret"), DocumentRoot: "/pages", URIPrefix: "/sec/", Timeout: 120, Algorithm: alg}
			if alg == HMACSHA256 {
				c.HashQueryString = true
			}
			link := func(tsHex, rel string) string {
				return "/sec/" + token(alg, "verysecret", tsHex, rel) + "/" + tsHex + rel
			}
			t.Run("valid link", func(t *testing.T) {
				checkVerify(t, c, link(ts, "/index.html"), "", now, verifyResult{"/index.html", 0, true})
			})
			t.Run("gone after timeout", func(t *testing.T) {
				checkVerify(t, c, link(old, "/index.html"), "", now, verifyResult{"", 410, true})
			})
			t.Run("direct access falls through", func(t *testing.T) {
				checkVerify(t, c, "/sec/index.html", "", now, verifyResult{"", 0, false})
			})
			t.Run("valid link to missing file is served (404 later)", func(t *testing.T) {
				checkVerify(t, c, link(ts, "/noexists"), "", now, verifyResult{"/noexists", 0, true})
			})
			if alg == HMACSHA256 {
				t.Run("hash-querystr", func(t *testing.T) {
					urlPath := strings.TrimSuffix(link(ts, "/index.html?qs=1"), "?qs=1")
					checkVerify(t, c, urlPath, "qs=1", now, verifyResult{"/index.html", 0, true})
				})
			}
		})
	}
}

// TestLongSecret covers keys longer than the hash block size, which HMAC
// hashes first, and switching secrets between checks (pooled HMAC state).
func TestLongSecret(t *testing.T) {
	now := time.Now()
	ts := hexTime(now)
	secrets := []string{strings.Repeat("k", 200), "short", strings.Repeat("\xff", 64), "x"}
	for i := 0; i < 3; i++ {
		for _, secret := range secrets {
			for _, alg := range allAlgorithms {
				c := testConfig(alg)
				c.Secret = []byte(secret)
				urlPath := "/dl/" + token(alg, secret, ts, "/f") + "/" + ts + "/f"
				checkVerify(t, c, urlPath, "", now, verifyResult{"/f", 0, true})
			}
		}
	}
}

func TestSign(t *testing.T) {
	now := time.Unix(0x6543210f, 0)
	small := time.Unix(0x1f, 0)
	tests := []struct {
		name string
		alg  Algorithm
		segs int
		qs   bool
		rel  string
		at   time.Time
		want string
	}{
		{"md5", MD5, 0, false, "/a b.txt", now, "/dl/" + md5Token("verysecret", "/a b.txt", "6543210f") + "/6543210f/a b.txt"},
		{"missing slash", MD5, 0, false, "x", now, "/dl/" + md5Token("verysecret", "/x", "6543210f") + "/6543210f/x"},
		{"zero padded", HMACSHA1, 0, false, "/x", small, "/dl/" + hmacToken(sha1.New, "verysecret", "/0000001f/x") + "/0000001f/x"},
		{"query not hashed", HMACSHA256, 0, false, "/x?q=1", now, "/dl/" + hmacToken(sha256.New, "verysecret", "/6543210f/x") + "/6543210f/x?q=1"},
		{"query hashed", HMACSHA256, 0, true, "/x?q=1", now, "/dl/" + hmacToken(sha256.New, "verysecret", "/6543210f/x?q=1") + "/6543210f/x?q=1"},
		{"md5 segments and query", MD5, 1, true, "/d/x?q", now, "/dl/" + md5Token("verysecret", "/d?q", "6543210f") + "/6543210f/d/x?q"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig(tc.alg)
			c.PathSegments = tc.segs
			c.HashQueryString = tc.qs
			if got := c.Sign(tc.rel, tc.at); got != tc.want {
				t.Fatalf("Sign(%q) = %q, want %q", tc.rel, got, tc.want)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	now := time.Unix(1600000000, 0)
	f.Add("/dl/13e0d7099522937aa2a38247798b4362/5f5e1000/index.html", "", uint8(0), uint16(0), false)
	f.Add("/dl/oLcy41qqRUJzYZiq89ei9IkqnHE/5f5e1000/index.html", "", uint8(1), uint16(0), false)
	f.Add("/dl/Q9Z0HjPSAdfj0Q1_gsthKOB_qmb_F3EruZCd8j9z7Tg/5f5e1000/index.html", "qs=1", uint8(2), uint16(0), true)
	f.Add("/dl/IXDZxnq8Vzhb5N7_TGxbX0-xHF0BBk9eJaGg4TwTvZ8/5f5e1000/a/b/c.txt", "", uint8(2), uint16(1), false)
	f.Add("/dl/"+strings.Repeat("A", 43)+"/ffffffffffffffff//", "?", uint8(2), uint16(65535), true)
	f.Add("/dl/x/../..", "", uint8(0), uint16(3), false)
	f.Fuzz(func(t *testing.T, urlPath, query string, algSel uint8, segs uint16, qs bool) {
		alg := allAlgorithms[int(algSel)%len(allAlgorithms)]
		c := testConfig(alg)
		c.PathSegments = int(segs)
		c.HashQueryString = qs
		rel, status, handled, reason := c.Verify(urlPath, query, now)
		if !handled && (status != 0 || rel != "") {
			t.Fatalf("unhandled result with status %d rel %q", status, rel)
		}
		if handled && status == 0 {
			if !strings.HasPrefix(rel, "/") || !strings.HasSuffix(urlPath, rel) || escapesRoot(rel) {
				t.Fatalf("accepted %q with bad rel %q", urlPath, rel)
			}
		}
		if handled && status != 0 && (rel != "" || reason == "") {
			t.Fatalf("status %d with rel %q reason %q", status, rel, reason)
		}

		// Round trip: whatever Sign produces for a usable rel verifies.
		signRel := "/" + strings.Map(func(r rune) rune {
			if r == '?' || r == 0 {
				return -1
			}
			return r
		}, urlPath)
		if escapesRoot(signRel) {
			return
		}
		signQuery := strings.ReplaceAll(query, "?", "")
		withQuery := signRel
		if signQuery != "" {
			withQuery += "?" + signQuery
		}
		signed := c.Sign(withQuery, now)
		signedPath, _, _ := strings.Cut(signed, "?")
		rel, status, handled, reason = c.Verify(signedPath, signQuery, now)
		if !handled || status != 0 || rel != signRel {
			t.Fatalf("Sign(%q) = %q; Verify = %q %d %v %q", withQuery, signed, rel, status, handled, reason)
		}
	})
}

func benchmarkVerify(b *testing.B, alg Algorithm) {
	now := time.Now()
	ts := hexTime(now)
	c := testConfig(alg)
	urlPath := "/dl/" + token(alg, "verysecret", ts, "/downloads/releases/golighty-1.0.tar.gz") + "/" + ts + "/downloads/releases/golighty-1.0.tar.gz"
	b.ReportAllocs()
	for b.Loop() {
		if _, status, handled, _ := c.Verify(urlPath, "", now); !handled || status != 0 {
			b.Fatalf("Verify rejected the link: %d", status)
		}
	}
}

func BenchmarkVerifyMD5(b *testing.B)        { benchmarkVerify(b, MD5) }
func BenchmarkVerifyHMACSHA1(b *testing.B)   { benchmarkVerify(b, HMACSHA1) }
func BenchmarkVerifyHMACSHA256(b *testing.B) { benchmarkVerify(b, HMACSHA256) }

func BenchmarkVerifyBadMAC(b *testing.B) {
	now := time.Now()
	c := testConfig(HMACSHA256)
	urlPath := "/dl/" + strings.Repeat("A", 43) + "/" + hexTime(now) + "/downloads/file.bin"
	b.ReportAllocs()
	for b.Loop() {
		if _, status, _, _ := c.Verify(urlPath, "", now); status != 403 {
			b.Fatalf("status %d", status)
		}
	}
}

func BenchmarkVerifyParallelHMACSHA256(b *testing.B) {
	now := time.Now()
	ts := hexTime(now)
	c := testConfig(HMACSHA256)
	urlPath := "/dl/" + token(HMACSHA256, "verysecret", ts, "/f.bin") + "/" + ts + "/f.bin"
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, status, _, _ := c.Verify(urlPath, "", now); status != 0 {
				b.Errorf("status %d", status)
				return
			}
		}
	})
}
