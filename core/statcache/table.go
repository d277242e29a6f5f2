package statcache

import (
	"hash/maphash"
	"sync"
)

// table maps paths to entries: a Go map per shard, each behind its own
// read-write lock, the shard chosen by the path's hash.
//
// It replaced a sync.Map, whose lookups walk a trie of small nodes: with
// 10,000 files asked for at random (bench/compare.sh many) the lookup was
// 18.6% of golighty's user time, about 0.6 µs with the nodes out of the
// CPU's cache, where a map reaches its slot in one or two cache lines.
// Sharding keeps readers on different cores off each other's lock.
type table struct {
	seed   maphash.Seed
	shards [tableShards]shard
}

const tableShards = 64

type shard struct {
	mu sync.RWMutex
	m  map[string]*Entry
	_  [64 - 32]byte // one shard per cache line (RWMutex 24 bytes, map 8)
}

func (t *table) init() {
	t.seed = maphash.MakeSeed()
	for i := range t.shards {
		t.shards[i].m = make(map[string]*Entry)
	}
}

func (t *table) shard(k string) *shard {
	return &t.shards[maphash.String(t.seed, k)%tableShards]
}

// load returns k's entry.
func (t *table) load(k string) (*Entry, bool) {
	s := t.shard(k)
	s.mu.RLock()
	e, ok := s.m[k]
	s.mu.RUnlock()
	return e, ok
}

// swap stores e under k and returns the entry it replaced.
func (t *table) swap(k string, e *Entry) (prev *Entry, loaded bool) {
	s := t.shard(k)
	s.mu.Lock()
	prev, loaded = s.m[k]
	s.m[k] = e
	s.mu.Unlock()
	return prev, loaded
}

// loadAndDelete removes k and returns what it mapped to.
func (t *table) loadAndDelete(k string) (*Entry, bool) {
	s := t.shard(k)
	s.mu.Lock()
	e, ok := s.m[k]
	if ok {
		delete(s.m, k)
	}
	s.mu.Unlock()
	return e, ok
}

// compareAndDelete removes k if it still maps to e.
func (t *table) compareAndDelete(k string, e *Entry) bool {
	s := t.shard(k)
	s.mu.Lock()
	cur, ok := s.m[k]
	ok = ok && cur == e
	if ok {
		delete(s.m, k)
	}
	s.mu.Unlock()
	return ok
}

// deleteIf removes the entries pred selects, one shard at a time, and
// hands each to gone once its shard's lock is released (gone may close
// descriptors; pred is called with the lock held and must not use t).
func (t *table) deleteIf(pred func(*Entry) bool, gone func(*Entry)) {
	var out []*Entry
	for i := range t.shards {
		s := &t.shards[i]
		out = out[:0]
		s.mu.Lock()
		for k, e := range s.m {
			if pred(e) {
				delete(s.m, k)
				out = append(out, e)
			}
		}
		s.mu.Unlock()
		for _, e := range out {
			gone(e)
		}
	}
}
