//go:build !race

// The race detector makes sync.Pool drop objects at random, so allocation
// counts are only meaningful without it.

package secdownload

import (
	"testing"
	"time"
)

func TestVerifyDoesNotAllocate(t *testing.T) {
	now := time.Now()
	ts := hexTime(now)
	for _, alg := range allAlgorithms {
		t.Run(alg.String(), func(t *testing.T) {
			c := testConfig(alg)
			c.HashQueryString = true
			c.PathSegments = 2
			urlPath := "/dl/" + token(alg, "verysecret", ts, "/a/b?x=1") + "/" + ts + "/a/b/c.iso"
			allocs := testing.AllocsPerRun(200, func() {
				if _, status, handled, _ := c.Verify(urlPath, "x=1", now); !handled || status != 0 {
					t.Fatalf("Verify rejected the link: %d", status)
				}
			})
			if allocs != 0 {
				t.Fatalf("Verify allocates %.1f times per check", allocs)
			}
		})
	}
}
