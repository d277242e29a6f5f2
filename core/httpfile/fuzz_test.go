package httpfile

import (
	"strings"
	"testing"
)

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-4", "bytes=-5", "bytes=5-", "bytes=0-1,5-6", "bytes= 1 - 2 , -3",
		"BYTES=+1-+2", "bytes=99999999999999999999-", "bytes=,,,", "bytes=0-0,100-100,200-200,300-300"} {
		f.Add(s, int64(1000))
	}
	f.Fuzz(func(t *testing.T, v string, size int64) {
		var buf [MaxRanges]Range
		rs, outcome := ParseRange(buf[:0], v, size)
		switch outcome {
		case RangeIgnored:
			if len(rs) != 0 {
				t.Fatalf("ignored but ranges %v", rs)
			}
			return
		case RangeUnsatisfiable:
			if len(rs) != 0 {
				t.Fatalf("416 but ranges %v", rs)
			}
			return
		}
		if len(rs) == 0 || len(rs) > MaxRanges || len(rs) > strings.Count(v, ",")+1 {
			t.Fatalf("%d ranges from %q", len(rs), v)
		}
		for i, r := range rs {
			if r.Start < 0 || r.End < r.Start || r.End >= size {
				t.Fatalf("range %d %v out of [0,%d)", i, r, size)
			}
			for j := i + 1; j < len(rs); j++ {
				o := rs[j]
				// Survivors of coalescing are at least 81 bytes apart.
				if !(r.End < o.Start-coalesceGap || o.End < r.Start-coalesceGap) {
					t.Fatalf("ranges %v and %v should have been merged", r, o)
				}
			}
		}
		var p Plan
		f := File{Size: size, ContentType: "text/plain", TypeMatched: true}
		Decide(&p, &Request{Method: "GET", RangeAllowed: true, Range: v}, &f, 0)
		if p.Status != 206 {
			t.Fatalf("Decide status %d for satisfiable range", p.Status)
		}
		var total int64
		var hdr []byte
		for i, r := range p.Ranges {
			if len(p.Ranges) > 1 {
				hdr = p.AppendPartHeader(hdr[:0], i)
				total += int64(len(hdr))
			}
			total += r.Len()
		}
		if len(p.Ranges) > 1 {
			total += int64(len(multipartEnd))
		}
		if total != p.ContentLength {
			t.Fatalf("ContentLength %d, parts add up to %d", p.ContentLength, total)
		}
	})
}

func FuzzConditional(f *testing.F) {
	f.Add(`"123"`, `"1", W/"123"`, "Sun, 06 Nov 1994 08:49:37 GMT", int64(784111777))
	f.Add(`W/"x"`, `*`, "Sunday, 06-Nov-94 08:49:37 GMT", int64(0))
	f.Add(``, `,,, W/`, "Sun Nov  6 08:49:37 1994", int64(-1))
	f.Fuzz(func(t *testing.T, etag, inm, ims string, mtime int64) {
		weak := ETagMatches(etag, inm, true)
		strong := ETagMatches(etag, inm, false)
		if strong && !weak {
			t.Fatalf("strong match without weak match: %q vs %q", etag, inm)
		}
		if cstr(inm) == "*" && !strong {
			t.Fatal(`"*" did not match`)
		}
		// A quoted tag (the only form golighty produces) matches itself.
		if strings.HasPrefix(etag, `"`) && !strings.ContainsRune(etag, 0) && !ETagMatches(etag, etag, false) {
			t.Fatalf("%q does not match itself", etag)
		}
		if sec, ok := ParseHTTPDate(ims, 1795633066); ok && sec > 1<<40 {
			t.Fatalf("date %q parsed to %d", ims, sec)
		}
		if mtime > -1<<40 && mtime < 1<<40 {
			d := string(AppendHTTPDate(nil, mtime))
			if got, ok := ParseHTTPDate(d, mtime); len(d) == HTTPDateLen && (!ok || got != mtime) {
				t.Fatalf("round trip %d -> %q -> %d, %v", mtime, d, got, ok)
			}
		}
		var p Plan
		fl := File{Size: 10, MtimeSec: mtime, ContentType: "text/plain", TypeMatched: true, ETag: etag,
			LastModified: "Sun, 06 Nov 1994 08:49:37 GMT"}
		for _, m := range []string{"GET", "POST"} {
			Decide(&p, &Request{Method: m, IfNoneMatch: inm, IfModifiedSince: ims}, &fl, 0)
			switch p.Status {
			case 200:
			case 304:
				if m != "GET" || p.ContentLength != -1 {
					t.Fatalf("304 for %s with length %d", m, p.ContentLength)
				}
			case 412:
				if m != "POST" {
					t.Fatal("412 for GET")
				}
			default:
				t.Fatalf("status %d", p.Status)
			}
		}
	})
}
