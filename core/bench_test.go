package core

import (
	"fmt"
	"strings"
	"testing"

	"github.com/golighty/golighty/core/h1"
)

// BenchmarkResolveConditions measures what every request pays to learn its
// settings: conditions evaluated (and cached) and the core table patched,
// on a config with 50 virtual hosts and a nested url condition in each.
func BenchmarkResolveConditions(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("server.document-root = \"/srv\"\n")
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&sb, "$HTTP[\"host\"] == \"host%d.example.com\" {\n  server.document-root = \"/srv/%d\"\n  $HTTP[\"url\"] =^ \"/admin/\" { server.max-request-size = 10 }\n}\n", i, i)
	}
	sb.WriteString("$HTTP[\"url\"] =~ \"\\.(jpg|png)$\" { server.range-requests = \"disable\" }\n")
	t := &testing.T{}
	s := mustCompile(t, sb.String())
	rc := newRequest(s, "GET", "host42.example.com", "/admin/index.html")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rc.resetConditions()
		c := s.Core.Table.Resolve(rc)
		if c.DocumentRoot != "/srv/42" {
			b.Fatal(c.DocumentRoot)
		}
	}
}

// BenchmarkRequestViews measures what the view rule saves: filling a
// request from a parsed head of typical browser headers as views of the
// read buffer (what the server does) against copying every string (what it
// would cost to let modules keep them without care).
func BenchmarkRequestViews(b *testing.B) {
	head := "GET /index.html?x=1 HTTP/1.1\r\nHost: www.example.org\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n" +
		"Connection: keep-alive\r\nCookie: session=0123456789abcdef; theme=dark\r\nUpgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\n\r\n"
	var r h1.Request
	opts := h1.DefaultParseOptions()
	h1.ParseRequest([]byte(head), &r, &opts)
	b.Run("views", func(b *testing.B) {
		var rc Request
		b.ReportAllocs()
		for range b.N {
			rc.Header.Reset()
			rc.fillFromH1(&r)
		}
	})
	b.Run("copies", func(b *testing.B) {
		var rc Request
		b.ReportAllocs()
		for range b.N {
			rc.Header.Reset()
			rc.fillFromH1(&r)
			rc.Target, rc.URI.Authority = strings.Clone(rc.Target), strings.Clone(rc.URI.Authority)
			for i := range rc.Header.list {
				h := &rc.Header.list[i]
				h.Name, h.Value = strings.Clone(h.Name), strings.Clone(h.Value)
			}
		}
	})
}

// BenchmarkHeadersGet looks up the fields a static response's head checks
// (prepareResponse, sendFile) in a typical list, present and absent.
func BenchmarkHeadersGet(b *testing.B) {
	var h Headers
	for _, n := range []string{"Content-Type", "ETag", "Last-Modified", "Content-Length", "Accept-Ranges", "Vary"} {
		h.Set(n, "v")
	}
	names := []string{"Content-Length", "Transfer-Encoding", "Content-Encoding", "content-type", "Accept-Ranges", "Location"}
	b.ReportAllocs()
	for b.Loop() {
		for _, n := range names {
			h.Get(n)
		}
	}
}
