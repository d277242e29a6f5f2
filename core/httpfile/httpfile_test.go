package httpfile

import (
	"slices"
	"testing"
	"time"
)

func TestETag(t *testing.T) {
	// Vector observed on lighttpd 1.4.69 (behaviors.md §4.4).
	id := FileID{Ino: 9979689, Size: 27, MtimeSec: 1795633066, MtimeNsec: 690450868}
	tests := []struct {
		name  string
		flags ETagFlags
		want  string
	}{
		{"all inputs", ETagDefault, `"3837615701"`},
		{"disabled", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(ETag(nil, id, tc.flags)); got != tc.want {
				t.Errorf("ETag = %s, want %s", got, tc.want)
			}
		})
	}
	t.Run("inputs matter", func(t *testing.T) {
		base := string(ETag(nil, id, ETagDefault))
		for _, mod := range []FileID{
			{Ino: id.Ino + 1, Size: id.Size, MtimeSec: id.MtimeSec, MtimeNsec: id.MtimeNsec},
			{Ino: id.Ino, Size: id.Size + 1, MtimeSec: id.MtimeSec, MtimeNsec: id.MtimeNsec},
			{Ino: id.Ino, Size: id.Size, MtimeSec: id.MtimeSec + 1, MtimeNsec: id.MtimeNsec},
			{Ino: id.Ino, Size: id.Size, MtimeSec: id.MtimeSec, MtimeNsec: id.MtimeNsec + 1},
		} {
			if string(ETag(nil, mod, ETagDefault)) == base {
				t.Errorf("%+v hashes like %+v", mod, id)
			}
		}
		if string(ETag(nil, FileID{Ino: 1, Size: 5}, ETagUseSize)) != string(ETag(nil, FileID{Ino: 2, Size: 5}, ETagUseSize)) {
			t.Error("inode used although only ETagUseSize set")
		}
	})
	t.Run("appends", func(t *testing.T) {
		if got := string(ETag([]byte("ETag: "), id, ETagDefault)); got != `ETag: "3837615701"` {
			t.Errorf("got %q", got)
		}
	})
}

func TestETagFlagsFromConfig(t *testing.T) {
	if f := ETagFlagsFromConfig(false, true, true, true); f != 0 {
		t.Errorf("static-file.etags disabled: %d", f)
	}
	if f := ETagFlagsFromConfig(true, true, false, true); f != ETagUseInode|ETagUseSize {
		t.Errorf("inode+size: %d", f)
	}
}

func TestETagMatches(t *testing.T) {
	const e = `"123"`
	tests := []struct {
		name   string
		etag   string
		list   string
		weakOK bool
		want   bool
	}{
		{"exact", e, `"123"`, true, true},
		{"star", e, `*`, false, true},
		{"star with empty etag", "", `*`, false, true},
		{"empty etag", "", `"123"`, true, false},
		{"other", e, `"124"`, true, false},
		{"prefix of longer tag", e, `"1234"`, true, false},
		{"longer than list", e, `"12`, true, false},
		{"list middle", e, `"a", "123", "b"`, true, true},
		{"list tab after comma", e, "\"a\",\t\"123\"", true, true},
		{"blank is not a separator", e, "\"a\" \"123\"", true, false},
		{"list no space", e, `"a","123"`, true, true},
		{"weak allowed", e, `W/"123"`, true, true},
		{"weak refused", e, `W/"123"`, false, false},
		{"weak refused then strong", e, `W/"123", "123"`, false, true},
		{"star member", e, `"a", *`, true, true},
		{"star member followed by junk", e, `"a", *x`, true, false},
		{"weak response etag refused", `W/"123"`, `"123"`, false, false},
		{"weak response etag allowed", `W/"123"`, `"123"`, true, true},
		{"junk before tag", e, `x"123"`, true, false},
		{"text after NUL ignored", e, "\"a\"\x00, \"123\"", true, false},
		{"only separators", e, " , ,", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ETagMatches(tc.etag, tc.list, tc.weakOK); got != tc.want {
				t.Errorf("ETagMatches(%q, %q, %v) = %v", tc.etag, tc.list, tc.weakOK, got)
			}
		})
	}
}

func TestAppendHTTPDate(t *testing.T) {
	tests := []struct {
		sec  int64
		want string
	}{
		{1795633066, "Wed, 25 Nov 2026 18:57:46 GMT"}, // behaviors.md §4.3
		{0, "Thu, 01 Jan 1970 00:00:00 GMT"},
		{784111777, "Sun, 06 Nov 1994 08:49:37 GMT"}, // RFC 7231 example
		{951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := string(AppendHTTPDate(nil, tc.sec)); got != tc.want {
				t.Errorf("got %q", got)
			}
		})
	}
}

func TestParseHTTPDate(t *testing.T) {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC).Unix()
	const rfcExample = 784111777 // Sun, 06 Nov 1994 08:49:37 GMT
	tests := []struct {
		name string
		in   string
		want int64
		ok   bool
	}{
		{"IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", rfcExample, true},
		{"IMF wrong weekday accepted", "Mon, 06 Nov 1994 08:49:37 GMT", rfcExample, true},
		{"IMF lowercase month refused", "Sun, 06 nov 1994 08:49:37 GMT", 0, false},
		{"IMF bad zone", "Sun, 06 Nov 1994 08:49:37 UTC", 0, false},
		{"IMF one-digit day refused", "Sun, 6 Nov 1994 08:49:37 GMT", 0, false},
		{"IMF out of range normalised", "Sun, 31 Nov 1994 08:49:37 GMT", time.Date(1994, 12, 1, 8, 49, 37, 0, time.UTC).Unix(), true},
		{"RFC 850", "Sunday, 06-Nov-94 08:49:37 GMT", rfcExample, true},
		{"RFC 850 trailing junk ignored", "Sunday, 06-Nov-94 08:49:37 GMTxyz", rfcExample, true},
		{"RFC 850 near future year", "Sunday, 06-Nov-30 08:49:37 GMT", time.Date(2030, 11, 6, 8, 49, 37, 0, time.UTC).Unix(), true},
		{"RFC 850 year beyond 50", "Sunday, 06-Nov-77 08:49:37 GMT", time.Date(1977, 11, 6, 8, 49, 37, 0, time.UTC).Unix(), true},
		{"RFC 850 missing comma", "Sunday 06-Nov-94 08:49:37 GMT   ", 0, false},
		{"asctime", "Sun Nov  6 08:49:37 1994", rfcExample, true},
		{"asctime two-digit day", "Sun Nov 06 08:49:37 1994", rfcExample, true},
		{"asctime trailing junk", "Sun Nov  6 08:49:37 1994 xy", rfcExample, true},
		{"asctime truncated", "Sun Nov  6 08:49:37 19", 0, false},
		{"empty", "", 0, false},
		{"garbage", "yesterday", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseHTTPDate(tc.in, now)
			if ok != tc.ok || (ok && got != tc.want) {
				t.Errorf("ParseHTTPDate(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestNotModifiedSince(t *testing.T) {
	const mtime = 784111777
	lm := string(AppendHTTPDate(nil, mtime))
	tests := []struct {
		name string
		ims  string
		want bool
	}{
		{"equal string", lm, true},
		{"later date", string(AppendHTTPDate(nil, mtime+1)), true},
		{"earlier date", string(AppendHTTPDate(nil, mtime-1)), false},
		{"unparsable", "soon", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := NotModifiedSince(tc.ims, lm, mtime, mtime); got != tc.want {
				t.Errorf("got %v", got)
			}
		})
	}
}

func TestClock(t *testing.T) {
	var c Clock
	sec, d := c.Now()
	if want := string(AppendHTTPDate(nil, sec)); string(d) != want {
		t.Errorf("Now date %q, want %q", d, want)
	}
	if diff := time.Now().Unix() - sec; diff < 0 || diff > 1 {
		t.Errorf("Now second %d is %d s off", sec, diff)
	}
	if got := c.AppendDate([]byte("Date: ")); len(got) != len("Date: ")+HTTPDateLen {
		t.Errorf("AppendDate = %q", got)
	}
}

func TestParseRange(t *testing.T) {
	const size = 1000
	type R = Range
	tests := []struct {
		name    string
		in      string
		size    int64
		want    []Range
		outcome RangeOutcome
	}{
		{"simple", "bytes=0-4", size, []R{{0, 4}}, RangeSatisfiable},
		{"unit case-insensitive", "ByTeS=0-4", size, []R{{0, 4}}, RangeSatisfiable},
		{"other unit", "items=0-4", size, nil, RangeIgnored},
		{"too short", "bytes", size, nil, RangeIgnored},
		{"empty body", "bytes=0-4", 0, nil, RangeIgnored},
		{"empty set", "bytes=", size, nil, RangeUnsatisfiable},
		{"open end", "bytes=990-", size, []R{{990, 999}}, RangeSatisfiable},
		{"end clipped", "bytes=990-5000", size, []R{{990, 999}}, RangeSatisfiable},
		{"suffix", "bytes=-10", size, []R{{990, 999}}, RangeSatisfiable},
		{"suffix whole", "bytes=-1000", size, []R{{0, 999}}, RangeSatisfiable},
		{"suffix larger", "bytes=-5000", size, []R{{0, 999}}, RangeSatisfiable},
		{"suffix zero", "bytes=-0", size, nil, RangeUnsatisfiable},
		{"start at size", "bytes=1000-", size, nil, RangeUnsatisfiable},
		{"reversed", "bytes=5-4", size, nil, RangeUnsatisfiable},
		{"single byte", "bytes=5-5", size, []R{{5, 5}}, RangeSatisfiable},
		{"blanks", "bytes= 1 -\t2 ", size, []R{{1, 2}}, RangeSatisfiable},
		{"plus signs", "bytes=+1-+2", size, []R{{1, 2}}, RangeSatisfiable},
		{"negative end", "bytes=5--7", size, nil, RangeUnsatisfiable},
		{"trailing junk", "bytes=0-4x", size, nil, RangeUnsatisfiable},
		{"junk end treated as open", "bytes=0-x", size, nil, RangeUnsatisfiable},
		{"overflow start", "bytes=99999999999999999999-", size, nil, RangeUnsatisfiable},
		{"overflow end", "bytes=0-99999999999999999999", size, nil, RangeUnsatisfiable},
		{"int64 max end", "bytes=0-9223372036854775807", size, nil, RangeUnsatisfiable},
		{"int64 min suffix", "bytes=-9223372036854775808", size, nil, RangeUnsatisfiable},
		{"huge suffix", "bytes=-9223372036854775807", size, []R{{0, 999}}, RangeSatisfiable},
		{"invalid skipped", "bytes=abc,0-4", size, []R{{0, 4}}, RangeSatisfiable},
		{"empty specs skipped", "bytes=,,0-4,", size, []R{{0, 4}}, RangeSatisfiable},
		{"two far apart", "bytes=0-4,500-504", size, []R{{0, 4}, {500, 504}}, RangeSatisfiable},
		{"request order kept", "bytes=500-504,0-4", size, []R{{500, 504}, {0, 4}}, RangeSatisfiable},
		{"overlap merged", "bytes=0-10,5-20", size, []R{{0, 20}}, RangeSatisfiable},
		{"gap 79 merged", "bytes=0-9,89-99", size, []R{{0, 99}}, RangeSatisfiable},
		{"gap 80 kept", "bytes=0-9,90-99", size, []R{{0, 9}, {90, 99}}, RangeSatisfiable},
		{"merge into earlier position", "bytes=500-600,0-10,20-30", size, []R{{500, 600}, {0, 30}}, RangeSatisfiable},
		{"chain merge restarts", "bytes=0-10,300-400,200-250", size, []R{{0, 10}, {200, 400}}, RangeSatisfiable},
		{"later range before earlier", "bytes=100-200,50-60", size, []R{{50, 200}}, RangeSatisfiable},
		{"eleventh ignored", "bytes=0-0,100-100,200-200,300-300,400-400,500-500,600-600,700-700,800-800,900-900,990-999", size,
			[]R{{0, 0}, {100, 100}, {200, 200}, {300, 300}, {400, 400}, {500, 500}, {600, 600}, {700, 700}, {800, 800}, {900, 900}}, RangeSatisfiable},
		{"invalid do not count toward limit", "bytes=x,x,x,x,x,x,x,x,x,x,x,5-6", size, []R{{5, 6}}, RangeSatisfiable},
		{"NUL ends header", "bytes=0-4\x00,500-504", size, []R{{0, 4}}, RangeSatisfiable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, outcome := ParseRange(nil, tc.in, tc.size)
			if outcome != tc.outcome || !slices.Equal(got, tc.want) {
				t.Errorf("ParseRange(%q) = %v, %d; want %v, %d", tc.in, got, outcome, tc.want, tc.outcome)
			}
		})
	}
}

func TestDecideMultipartLength(t *testing.T) {
	f := File{Size: 1000, ContentType: "text/plain", TypeMatched: true, ETag: `"1"`, LastModified: "x"}
	for _, rng := range []string{"bytes=0-4,500-504", "bytes=0-0,100-100,999-999", "bytes=-1,0-0"} {
		t.Run(rng, func(t *testing.T) {
			var p Plan
			Decide(&p, &Request{Method: "GET", RangeAllowed: true, Range: rng}, &f, 0)
			if p.Status != 206 || !p.Multipart() || p.ContentType != MultipartContentType || p.PartType != "text/plain" {
				t.Fatalf("plan %+v", p)
			}
			var body []byte
			for i, r := range p.Ranges {
				body = p.AppendPartHeader(body, i)
				body = append(body, make([]byte, r.Len())...)
			}
			body = AppendMultipartEnd(body)
			if int64(len(body)) != p.ContentLength {
				t.Errorf("ContentLength %d, body %d", p.ContentLength, len(body))
			}
		})
	}
	t.Run("no part type without content type", func(t *testing.T) {
		var p Plan
		g := File{Size: 1000, ContentType: "", TypeMatched: false}
		Decide(&p, &Request{Method: "GET", RangeAllowed: true, Range: "bytes=0-1,500-501"}, &g, 0)
		// Unmatched types still carry application/octet-stream into parts.
		if p.PartType != OctetStream {
			t.Errorf("PartType %q", p.PartType)
		}
	})
}

func TestMimeTypes(t *testing.T) {
	small := CompileMimeTypes([]MimePair{
		{".gz", "application/gzip"},
		{".tar.gz", "application/x-tgz"},
		{".HTML", "text/html"},
		{"README", "text/plain"},
		{".js", "application/javascript"},
		{".empty", ""},
	})
	var bigPairs []MimePair
	bigPairs = append(bigPairs,
		MimePair{".gz", "application/gzip"},
		MimePair{".tar.gz", "application/x-tgz"},
		MimePair{".HTML", "text/html"},
		MimePair{"README", "text/plain"},
		MimePair{"md", "text/markdown"},
		MimePair{".htaccess", "text/x-htaccess"},
		MimePair{"", "application/x-default"},
	)
	for _, ext := range []string{".a", ".b", ".c", ".d", ".e", ".f", ".g", ".h", ".i", ".j"} {
		bigPairs = append(bigPairs, MimePair{ext, "x/" + ext[1:]})
	}
	big := CompileMimeTypes(bigPairs)
	if big.Len() < mimeLinearMax || small.Len() >= mimeLinearMax {
		t.Fatalf("table sizes %d/%d do not exercise both modes", small.Len(), big.Len())
	}
	tests := []struct {
		name   string
		m      *MimeTypes
		path   string
		want   string
		wantOK bool
	}{
		{"linear first match wins", small, "/d/x.tar.gz", "application/gzip", true},
		{"linear case-insensitive", small, "/d/INDEX.html", "text/html", true},
		{"linear whole suffix", small, "/d/myREADME", "text/plain", true},
		{"linear js rewritten", small, "/d/app.js", "text/javascript", true},
		{"linear empty value is no match", small, "/d/x.empty", "", false},
		{"linear no match", small, "/d/x.png", "", false},
		{"indexed longest dotted suffix", big, "/d/x.tar.gz", "application/x-tgz", true},
		{"indexed basename", big, "/d/README", "text/plain", true},
		{"indexed basename only", big, "/d/myREADME", "application/x-default", true},
		{"indexed key without dot", big, "/d/notes.md", "text/markdown", true},
		{"indexed case-insensitive", big, "/d/X.Html", "text/html", true},
		{"indexed dotfile by basename", big, "/d/.htaccess", "text/x-htaccess", true},
		{"indexed catch-all", big, "/d/x.png", "application/x-default", true},
		{"indexed dir dots ignored", big, "/d.gz/file", "application/x-default", true},
		{"indexed double dot", big, "/d/x..gz", "application/gzip", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.m.Lookup(tc.path)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tc.path, got, ok, tc.want, tc.wantOK)
			}
		})
	}
	t.Run("nil table", func(t *testing.T) {
		var m *MimeTypes
		if _, ok := m.Lookup("/x.txt"); ok {
			t.Error("nil table matched")
		}
	})
}

func TestDecideRange(t *testing.T) {
	const lm = "Sun, 06 Nov 1994 08:49:37 GMT"
	tests := []struct {
		name      string
		req       Request
		ctype     string
		status    int
		ranges    int
		partType  string
		accept    bool
		wantCType string
	}{
		{"single", Request{Method: "GET", RangeAllowed: true, Range: "bytes=0-9"}, "text/html", 206, 1, "", true, "text/html"},
		{"multi without type", Request{Method: "GET", RangeAllowed: true, Range: "bytes=0-9,500-509"}, "", 206, 2, "", true, MultipartContentType},
		{"If-Range date", Request{Method: "GET", RangeAllowed: true, Range: "bytes=0-9", IfRange: lm}, "text/html", 206, 1, "", true, "text/html"},
		{"If-Range etag absent", Request{Method: "GET", RangeAllowed: true, Range: "bytes=0-9", IfRange: `"x"`}, "text/html", 200, 0, "", true, "text/html"},
		{"not allowed", Request{Method: "GET", Range: "bytes=0-9"}, "text/html", 200, 0, "", false, "text/html"},
		{"HEAD", Request{Method: "HEAD", RangeAllowed: true, Range: "bytes=0-9"}, "text/html", 200, 0, "", true, "text/html"},
		{"unsatisfiable", Request{Method: "GET", RangeAllowed: true, Range: "bytes=5000-"}, "text/html", 416, 0, "", true, "text/html"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Plan
			DecideRange(&p, &tc.req, 1000, tc.ctype, "", lm)
			if p.Status != tc.status || len(p.Ranges) != tc.ranges || p.PartType != tc.partType ||
				p.AcceptRanges != tc.accept || p.ContentType != tc.wantCType {
				t.Errorf("plan %+v", p)
			}
		})
	}
}
