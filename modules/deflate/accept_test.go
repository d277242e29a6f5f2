package deflate

import (
	"strings"
	"testing"
)

func TestParseAcceptEncoding(t *testing.T) {
	all := encGzip | encDeflate | encXGzip | encBr | encZstd
	cases := []struct {
		name, in string
		want     uint16
	}{
		{"empty", "", 0},
		{"gzip", "gzip", encGzip},
		{"q-values ignored", "gzip;q=0", encGzip},
		{"q zero everywhere", "gzip;q=0, br;q=0", encGzip | encBr},
		{"case-sensitive", "GZIP, Br", 0},
		{"star and identity ignored", "*, identity", 0},
		{"x-gzip alone", "x-gzip", encXGzip},
		{"every encoding", "gzip, deflate, br, zstd, x-gzip", all},
		{"no spaces", "gzip,deflate,br", encGzip | encDeflate | encBr},
		{"leading separators", " , ,deflate", encDeflate},
		{"token in parameters skipped", "foo;gzip", 0},
		{"parameter then token", "foo;q=1,gzip", encGzip},
		{"space before parameter", "gzip ;q=0", encGzip},
		{"tab is not a separator", "gzip\t,br", encBr},
		{"prefix is not a match", "gzipx, brotli, zstd2", 0},
		{"trailing comma", "br,", encBr},
		{"only separators", " ,, ", 0},
		{"semicolon only", ";", 0},
		{"unterminated parameter", "br;q=\"1,gzip", encBr | encGzip},
		{"long junk", strings.Repeat("x", 10000) + ",zstd", encZstd},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := parseAcceptEncoding(c.in); got != c.want {
				t.Errorf("parseAcceptEncoding(%q) = %#x, want %#x", c.in, got, c.want)
			}
		})
	}
}

func TestChoose(t *testing.T) {
	cases := []struct {
		name    string
		allowed []string
		accept  string
		codec   codec
		label   string
	}{
		{"first allowed the client takes", []string{"br", "gzip"}, "gzip, br", codecBr, "br"},
		{"allowed order beats the client's", []string{"gzip", "br"}, "br, gzip", codecGzip, "gzip"},
		{"gzip entry admits x-gzip", []string{"gzip"}, "x-gzip", codecGzip, "x-gzip"},
		{"gzip before x-gzip in one entry", []string{"x-gzip"}, "x-gzip, gzip", codecGzip, "gzip"},
		{"substring brotli is br", []string{"brotli"}, "br", codecBr, "br"},
		{"one string, several entries", []string{"zstd deflate"}, "zstd, deflate", codecZlib, "deflate"},
		{"empty list is every encoding, zstd first", []string{}, "gzip, deflate, br, zstd", codecZstd, "zstd"},
		{"empty list, gzip before deflate", []string{}, "deflate, gzip", codecGzip, "gzip"},
		{"nothing accepted", []string{"gzip"}, "br", codecNone, ""},
		{"unknown allowed names", []string{"bzip2", "compress"}, "gzip", codecNone, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cd, label := choose(parseAcceptEncoding(c.accept), allowedFlags(c.allowed))
			if cd != c.codec || label != c.label {
				t.Errorf("got %v %q, want %v %q", cd, label, c.codec, c.label)
			}
		})
	}
	if cd, _ := choose(encGzip, nil); cd != codecNone {
		t.Error("without deflate.allowed-encodings nothing may be chosen")
	}
}

func TestContainsToken(t *testing.T) {
	cases := []struct {
		s, tok string
		want   bool
	}{
		{"Accept-Encoding", "Accept-Encoding", true},
		{"cookie, accept-encoding", "Accept-Encoding", true},
		{"Cookie,Accept-Encoding;x", "Accept-Encoding", true},
		{"Accept-Encodings", "Accept-Encoding", false},
		{"X-Accept-Encoding", "Accept-Encoding", false},
		{"", "private", false},
		{"no-cache, private", "private", true},
		{"private=\"x\"", "private", false},
		{"  \t,private", "private", true},
		{"privat", "private", false},
	}
	for _, c := range cases {
		if got := containsToken(c.s, c.tok); got != c.want {
			t.Errorf("containsToken(%q, %q) = %v", c.s, c.tok, got)
		}
	}
}

func TestCompressedETagMatches(t *testing.T) {
	cases := []struct {
		inm, etag, label string
		want             bool
	}{
		{`"123-gzip"`, `"123"`, "gzip", true},
		{`"123-gzipped"`, `"123"`, "gzip", true}, // lighttpd checks a prefix only
		{`"123-br"`, `"123"`, "gzip", false},
		{`"123"`, `"123"`, "gzip", false},
		{`W/"123-gzip"`, `"123"`, "gzip", false},
		{`"x", "123-gzip"`, `"123"`, "gzip", false},
		{`"12`, `"123"`, "gzip", false},
		{`"123-`, `"123"`, "gzip", false},
		{`-gzip`, `"`, "gzip", true},
		{`bar-gzip"`, `bare`, "gzip", true},
	}
	for _, c := range cases {
		if got := compressedETagMatches(c.inm, c.etag, c.label); got != c.want {
			t.Errorf("compressedETagMatches(%q, %q, %q) = %v", c.inm, c.etag, c.label, got)
		}
	}
	if v := variantETag(`"123"`, "br"); v != `"123-br"` {
		t.Errorf("variantETag = %s", v)
	}
	if v := variantETag(`bare`, "gzip"); v != `bar-gzip"` {
		t.Errorf("variantETag of an unquoted tag = %s", v)
	}
}

func TestNormalizeMimetypes(t *testing.T) {
	got := normalizeMimetypes([]string{"text/*", "application/javascript", "*", "a*", "image/svg*", ""})
	want := []string{"text/", "text/javascript", "*", "a*", "image/svg", ""}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
	if normalizeMimetypes(nil) != nil || normalizeMimetypes([]string{}) != nil {
		t.Error("an empty list must compress nothing")
	}
}

func TestStrtod(t *testing.T) {
	for in, want := range map[string]float64{"": 0, "2.5": 2.5, " 4": 4, "3.5x": 3.5, "x": 0, "1e1": 10, "-1": -1} {
		if got := strtod(in); got != want {
			t.Errorf("strtod(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestCacheName(t *testing.T) {
	if got := cacheName("/var/cache/l", "/srv/www/a b.html", `"42-gzip"`); got != "/var/cache/l/srv/www/a b.html-42-gzip" {
		t.Errorf("cacheName = %q", got)
	}
	if got := cacheName("/c", "rel", `"1-br"`); got != "/c/rel-1-br" {
		t.Errorf("cacheName = %q", got)
	}
}

// FuzzAcceptEncoding checks the parser against a straightforward
// tokenizer with lighttpd's rules, on any input: no panic, and the same
// encodings found.
func FuzzAcceptEncoding(f *testing.F) {
	for _, s := range []string{"gzip", "gzip;q=0, br", " ,deflate", "foo;gzip,zstd", "x-gzip;;,", "\x00gzip", "br;q=\"1,gzip\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := parseAcceptEncoding(s)
		var want uint16
		for _, item := range strings.Split(s, ",") {
			// Within an item: tokens split at spaces until the first ';',
			// whose parameters run to the next comma.
			head, _, _ := strings.Cut(item, ";")
			for _, tok := range strings.Split(head, " ") {
				switch tok {
				case "gzip":
					want |= encGzip
				case "x-gzip":
					want |= encXGzip
				case "deflate":
					want |= encDeflate
				case "br":
					want |= encBr
				case "zstd":
					want |= encZstd
				}
			}
		}
		if got != want {
			t.Fatalf("parseAcceptEncoding(%q) = %#x, tokenizer says %#x", s, got, want)
		}
		cd, label := choose(got, defaultAllowed)
		if (cd == codecNone) != (got == 0) || (cd != codecNone && label == "") {
			t.Fatalf("choose(%#x) = %v %q", got, cd, label)
		}
	})
}
