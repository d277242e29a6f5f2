package httpfile

import (
	"fmt"
	"testing"
)

func BenchmarkETag(b *testing.B) {
	id := FileID{Ino: 9979689, Size: 27, MtimeSec: 1795633066, MtimeNsec: 690450868}
	buf := make([]byte, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		buf = ETag(buf[:0], id, ETagDefault)
	}
}

func BenchmarkParseRange(b *testing.B) {
	for _, v := range []string{"bytes=0-4", "bytes=0-4,500-504,-10"} {
		b.Run(v, func(b *testing.B) {
			var buf [MaxRanges]Range
			b.ReportAllocs()
			for b.Loop() {
				ParseRange(buf[:0], v, 100000)
			}
		})
	}
}

func BenchmarkDecide(b *testing.B) {
	f := File{Size: 1000, MtimeSec: 784111777, ContentType: "text/plain", TypeMatched: true,
		ETag: `"3837615701"`, LastModified: "Sun, 06 Nov 1994 08:49:37 GMT"}
	reqs := map[string]Request{
		"plain":     {Method: "GET", RangeAllowed: true},
		"INM 304":   {Method: "GET", RangeAllowed: true, IfNoneMatch: `"3837615701"`},
		"IMS 304":   {Method: "GET", RangeAllowed: true, IfModifiedSince: "Sun, 06 Nov 1994 08:49:38 GMT"},
		"multipart": {Method: "GET", RangeAllowed: true, Range: "bytes=0-4,500-504"},
	}
	for name, r := range reqs {
		b.Run(name, func(b *testing.B) {
			var p Plan
			b.ReportAllocs()
			for b.Loop() {
				Decide(&p, &r, &f, 0)
			}
		})
	}
}

func BenchmarkMimeLookup(b *testing.B) {
	var pairs []MimePair
	for i := 0; i < 100; i++ {
		pairs = append(pairs, MimePair{fmt.Sprintf(".ext%d", i), "x/y"})
	}
	pairs = append(pairs, MimePair{".html", "text/html"}, MimePair{".tar.gz", "application/x-tgz"})
	tables := map[string]*MimeTypes{
		"linear":  CompileMimeTypes(pairs[95:]),
		"indexed": CompileMimeTypes(pairs),
	}
	for name, m := range tables {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m.Lookup("/var/www/site/docs/index.html")
			}
		})
	}
}

func BenchmarkClock(b *testing.B) {
	var c Clock
	b.ReportAllocs()
	for b.Loop() {
		c.Now()
	}
}

func BenchmarkAppendHTTPDate(b *testing.B) {
	buf := make([]byte, 0, 32)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendHTTPDate(buf[:0], 1795633066)
	}
}
