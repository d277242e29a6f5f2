package urinorm

import "testing"

func BenchmarkParse(b *testing.B) {
	o := DefaultOptions()
	for _, tc := range []struct{ name, target string }{
		{"normal", "/api/v1/users/42/profile?fields=name,email&sort=asc"},
		{"encoded", "/files/%7euser/caf%c3%a9%20menu.pdf?q=%41"},
		{"dotseg", "/a/b/../c/./d//e"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(tc.target, &o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkNormalizeTarget(b *testing.B) {
	o := DefaultOptions()
	target := []byte("/api/v1/users/42/profile?fields=name,email&sort=asc")
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		dst, _, _ = NormalizeTarget(dst[:0], target, &o)
	}
}
