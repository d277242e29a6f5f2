package vhostpath

import "sync"

// maxCached bounds a Cache: a client sending random Host headers can make
// it forget, never grow.
const maxCached = 4096

// Cache remembers computed document roots by a key that includes the
// request's host, so that the steady state builds no string per request.
// It keeps no verdict about the file system (that is the stat cache's job),
// only the result of string work, so it never changes what is served.
// Keys must not hold request views: the caller clones the host it puts in
// (the view rule); Get may be called with a view.
type Cache[K comparable] struct {
	mu sync.RWMutex
	m  map[K]string
}

// Get returns the path stored under k.
func (c *Cache[K]) Get(k K) (string, bool) {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	return v, ok
}

// Put stores v under k, starting over when the cache is full.
func (c *Cache[K]) Put(k K, v string) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCached {
		c.m = make(map[K]string)
	}
	c.m[k] = v
	c.mu.Unlock()
}

// Len is the number of entries (for tests).
func (c *Cache[K]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// Keys lists the keys (for tests).
func (c *Cache[K]) Keys() []K {
	c.mu.RLock()
	defer c.mu.RUnlock()
	keys := make([]K, 0, len(c.m))
	for k := range c.m {
		keys = append(keys, k)
	}
	return keys
}
