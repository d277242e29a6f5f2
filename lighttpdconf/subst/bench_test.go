package subst

import "testing"

func BenchmarkExpand(b *testing.B) {
	rule := []string{"/wiki/Main Page", "Main Page", "a&b"}
	cond := []string{"www.example.org", "www"}
	u := &URLParts{Scheme: "https", Authority: "www.example.org", Port: 443, Path: "/wiki/Main%20Page?x=1", Query: "x=1", HasQuery: true}
	for _, tc := range []struct{ name, tmpl string }{
		{"raw", "/index.php?title=$1"},
		{"encoded", "/index.php?page=${1}&host=%1&${esc:2}${qsa}"},
		{"redirect", "${url.scheme}://%1.example.net${url.path}${qsa}"},
	} {
		tmpl, _ := Compile(tc.tmpl)
		dst := make([]byte, 0, 256)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				dst = tmpl.Expand(dst[:0], rule, cond, u)
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile("/index.php?page=${1}&host=%1&${esc:2}${qsa}"); err != nil {
			b.Fatal(err)
		}
	}
}
