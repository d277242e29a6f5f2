package statcache

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/golighty/golighty/core/httpfile"
)

func benchFile(b *testing.B) string {
	p := filepath.Join(b.TempDir(), "index.html")
	if err := os.WriteFile(p, make([]byte, 4096), 0o644); err != nil {
		b.Fatal(err)
	}
	return p
}

// fixedSecond keeps every lookup a hit, as within one wall-clock second.
func fixedSecond() int64 { return 1_000_000 }

func BenchmarkStatHit(b *testing.B) {
	p := benchFile(b)
	c := New(Config{Now: fixedSecond})
	defer c.Close()
	c.Stat(p)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Stat(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkOpenHitWithETag(b *testing.B) {
	p := benchFile(b)
	c := New(Config{Now: fixedSecond})
	defer c.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h, err := c.Open(p)
			if err != nil {
				b.Fatal(err)
			}
			if _, ok := h.Content(); !ok || h.Entry.ETag(httpfile.ETagDefault) == "" {
				b.Fatal("no content or etag")
			}
			h.Release()
		}
	})
}

// BenchmarkStatMiss is the per-second revalidation cost (one stat(2)).
func BenchmarkStatMiss(b *testing.B) {
	p := benchFile(b)
	var sec int64
	c := New(Config{Now: func() int64 { sec++; return sec }})
	defer c.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Stat(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenDisabled(b *testing.B) {
	p := benchFile(b)
	c := New(Config{Engine: EngineDisable})
	b.ReportAllocs()
	for b.Loop() {
		h, err := c.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		h.Release()
	}
}

// BenchmarkStatHitMany looks up 10,000 cached paths in a random order (a
// site whose files outnumber what one hot path measures: each lookup
// misses the CPU caches).
func BenchmarkStatHitMany(b *testing.B) {
	dir := b.TempDir()
	const n = 10000
	paths := make([]string, n)
	for i := range paths {
		paths[i] = filepath.Join(dir, "f"+strconv.Itoa(i)+".txt")
		if err := os.WriteFile(paths[i], []byte("x"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	c := New(Config{Now: fixedSecond, MaxEntries: 2 * n})
	defer c.Close()
	for _, p := range paths {
		c.Stat(p)
	}
	order := rand.New(rand.NewPCG(1, 2)).Perm(n)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := c.Stat(paths[order[i%n]]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
