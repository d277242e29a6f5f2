package core

import (
	"fmt"
	"strings"
	"testing"
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
