package vhostdb

import (
	"sync"

	"golang.org/x/sys/unix"
)

// maxCacheEntries bounds a vhostdb.cache; lighttpd's splay tree is bounded
// only by its 32-bit hash. When full, expired entries go first, then all.
const maxCacheEntries = 16384

// cache is one vhostdb.cache: hosts found in the database, kept as
// lighttpd keeps them. Once a second lighttpd's main loop, on noticing the
// new second, runs the cleanup with the clock still at the previous second
// p, and when p is a multiple of 8 drops the entries with p - ctime >
// max-age; until then an entry is used however old. The same arithmetic on
// the same clock (CLOCK_MONOTONIC seconds) gives the same answers without a
// cleanup goroutine.
type cache struct {
	maxAge int64
	now    func() int64 // monotonic seconds
	mu     sync.RWMutex
	m      map[string]cacheEntry
}

type cacheEntry struct {
	f     *found
	ctime int64
}

func newCache(maxAge int64) *cache {
	return &cache{maxAge: maxAge, now: monotonicSeconds, m: map[string]cacheEntry{}}
}

// get returns the entry for host unless lighttpd's cleanup would have
// removed it by now.
func (c *cache) get(host string) *found {
	c.mu.RLock()
	e, ok := c.m[host]
	c.mu.RUnlock()
	if !ok || c.dropped(e.ctime, c.now()) {
		return nil
	}
	return e.f
}

// dropped reports whether lighttpd's cleanup has dropped an entry cached
// at ctime by second now: the cleanup at tick t (t%8 == 0, t >= ctime,
// t - ctime > max-age) runs when the clock reaches t+1.
func (c *cache) dropped(ctime, now int64) bool {
	t := max(ctime+c.maxAge+1, ctime)
	if r := t % 8; r != 0 {
		t += 8 - r
	}
	return now >= t+1
}

// put stores f (whose strings are the cache's own).
func (c *cache) put(f *found) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCacheEntries {
		for k, e := range c.m {
			if c.dropped(e.ctime, now) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxCacheEntries {
			clear(c.m)
		}
	}
	c.m[f.host] = cacheEntry{f: f, ctime: now}
}

// monotonicSeconds is lighttpd's log_monotonic_secs: CLOCK_MONOTONIC in
// whole seconds, so cleanup ticks fall on the same seconds as lighttpd's.
func monotonicSeconds() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Sec
}
