package core

import (
	"testing"

	"github.com/golighty/golighty/core/statcache"
)

// TestSharedPoolContentBudget: the stat cache a snapshot gets holds the
// content budget its pool was given (what --memory=fast sets), and the
// cache's default otherwise; a reload's snapshot shares the first cache.
func TestSharedPoolContentBudget(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  int64
		want int64
	}{
		{"default", 0, statcache.DefaultContentBudget},
		{"set", 4 << 20, 4 << 20},
		{"small", 1 << 10, 1 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const conf = `server.document-root = "@DIR@"`
			pool := NewSharedPool()
			pool.SetContentBudget(tc.set)
			first, err := compileIn(t, conf, pool)
			if err != nil {
				t.Fatal(err)
			}
			defer first.release()
			if got := first.stat.ContentBudget(); got != tc.want {
				t.Errorf("budget %d, want %d", got, tc.want)
			}
			next, err := compileIn(t, conf, pool)
			if err != nil {
				t.Fatal(err)
			}
			defer next.release()
			if next.stat != first.stat {
				t.Error("a second snapshot from the pool made its own stat cache")
			}
		})
	}
}
