package regex

import "testing"

var benchSubjects = []string{"/static/css/site.css", "/api/v2/users/42/profile", "/index.php"}

func benchMatch(b *testing.B, pattern, engine string) {
	re := MustCompile(pattern)
	if re.Engine() != engine {
		b.Fatalf("engine %s, want %s", re.Engine(), engine)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		re.MatchString(benchSubjects[i%len(benchSubjects)])
	}
}

func benchFind(b *testing.B, pattern, engine string) {
	re := MustCompile(pattern)
	if re.Engine() != engine {
		b.Fatalf("engine %s, want %s", re.Engine(), engine)
	}
	dst := make([]int, 0, 2*(re.NumSubexp()+1))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		dst = re.FindStringSubmatchIndex(dst, benchSubjects[i%len(benchSubjects)])
	}
}

func BenchmarkMatchString(b *testing.B) {
	b.Run("re2", func(b *testing.B) { benchMatch(b, `^/api/v[0-9]+/(users|groups)/([0-9]+)`, "re2") })
	b.Run("pcre", func(b *testing.B) { benchMatch(b, `^/api/v[0-9]+/(?!admin)(users|groups)/([0-9]+)`, "pcre") })
	b.Run("re2-suffix", func(b *testing.B) { benchMatch(b, `\.php$`, "re2") })
}

func BenchmarkFindStringSubmatchIndex(b *testing.B) {
	b.Run("re2", func(b *testing.B) { benchFind(b, `^/api/v[0-9]+/(users|groups)/([0-9]+)`, "re2") })
	b.Run("pcre", func(b *testing.B) { benchFind(b, `^/api/v[0-9]+/(?!admin)(users|groups)/([0-9]+)`, "pcre") })
}

func BenchmarkCompile(b *testing.B) {
	b.Run("re2", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			MustCompile(`^/api/v[0-9]+/(users|groups)/([0-9]+)`)
		}
	})
	b.Run("pcre", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			MustCompile(`^/api/v[0-9]+/(?!admin)(users|groups)/([0-9]+)`)
		}
	})
}
