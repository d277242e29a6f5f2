package statcache

import (
	"os"
	"path/filepath"
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
