// Package keyedmap is a concurrent map from a string to a pointer whose
// pointee carries that string: the stat cache's entries, keyed by their
// paths.
//
// Lookups take no lock and write no shared memory; changes take a mutex.
// The table is open-addressed (linear probing) and holds the pointers with
// their keys' hashes: 16 bytes a slot, 21-43 bytes per entry at the loads
// it keeps, where github.com/puzpuzpuz/xsync's map, which the stat cache
// used before, took 76 bytes per entry (a node holding the key and the
// value, and the buckets) with 10,000 files cached, and one more cache
// miss per lookup (the node). A probe compares the hash in the slot and
// reads the value (another cache line) only when it matches. Where every
// line is cached already (a benchmark of 10,000 small keys), xsync's
// lookup is the faster, 21-27 against 27-36 ns; serving 10,000 files at
// random, the server's CPU per request did not tell them apart.
//
// A deleted slot keeps a tombstone, so that lookups probing past it still
// find what lies beyond; a change that would leave less than a quarter of
// the slots empty rebuilds the table, sized for what is live, and
// publishes the new one atomically. A lookup under way on the old table
// sees the map as it was before the change, as it would had it run a
// moment earlier.
package keyedmap

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// Map maps keyOf(v) to v for each v stored. The zero Map is not usable:
// make one with New.
type Map[T any] struct {
	keyOf func(*T) string
	seed  maphash.Seed
	tomb  *T // marks a deleted slot; never returned

	mu  sync.Mutex // serialises changes
	tab atomic.Pointer[table[T]]
}

type table[T any] struct {
	slots []slot[T]
	mask  uint64
	live  int // under Map.mu
	used  int // live and tombstones, under Map.mu
}

// slot holds a value and its key's hash. A slot whose value is live never
// changes its hash: it is reused for another key only after a tombstone,
// and the hash is stored before the value. A lookup that reads a value and
// then a newer hash treats the slot as another key's: as if it had looked
// a moment later (the value was deleted) or earlier (not yet stored).
type slot[T any] struct {
	v atomic.Pointer[T]
	h atomic.Uint64
}

// minSlots is the smallest table.
const minSlots = 16

// New returns an empty Map whose values are keyed by keyOf, which must
// return the same string for a value as long as it is stored.
func New[T any](keyOf func(*T) string) *Map[T] {
	m := &Map[T]{keyOf: keyOf, seed: maphash.MakeSeed(), tomb: new(T)}
	m.tab.Store(newTable[T](minSlots))
	return m
}

func newTable[T any](n int) *table[T] {
	return &table[T]{slots: make([]slot[T], n), mask: uint64(n - 1)}
}

// Load returns the value stored under k.
func (m *Map[T]) Load(k string) (*T, bool) {
	t := m.tab.Load()
	h := maphash.String(m.seed, k)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		v := s.v.Load()
		if v == nil {
			return nil, false
		}
		if s.h.Load() == h && v != m.tomb && m.keyOf(v) == k {
			return v, true
		}
	}
}

// Swap stores v under its key and returns the value it replaced.
func (m *Map[T]) Swap(v *T) (prev *T, loaded bool) {
	k := m.keyOf(v)
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tab.Load()
	h := maphash.String(m.seed, k)
	free := -1 // the first tombstone on the probe path
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		cur := t.slots[i].v.Load()
		switch {
		case cur == nil:
			if free < 0 {
				if (t.used+1)*4 > len(t.slots)*3 {
					t = m.rebuild(t, t.live+1)
					m.insert(t, h, v)
					return nil, false
				}
				free = int(i)
				t.used++
			}
			t.slots[free].h.Store(h)
			t.slots[free].v.Store(v)
			t.live++
			return nil, false
		case cur == m.tomb:
			if free < 0 {
				free = int(i)
			}
		case t.slots[i].h.Load() == h && m.keyOf(cur) == k:
			t.slots[i].v.Store(v)
			return cur, true
		}
	}
}

// Delete removes k's value and returns it.
func (m *Map[T]) Delete(k string) (*T, bool) {
	return m.delete(k, nil)
}

// DeleteIf removes k's value if it is v.
func (m *Map[T]) DeleteIf(k string, v *T) bool {
	_, ok := m.delete(k, v)
	return ok
}

func (m *Map[T]) delete(k string, only *T) (*T, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tab.Load()
	h := maphash.String(m.seed, k)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		cur := t.slots[i].v.Load()
		if cur == nil {
			return nil, false
		}
		if cur == m.tomb || t.slots[i].h.Load() != h || m.keyOf(cur) != k {
			continue
		}
		if only != nil && cur != only {
			return nil, false
		}
		t.slots[i].v.Store(m.tomb)
		t.live--
		if t.live*8 < len(t.slots) && len(t.slots) > minSlots {
			m.rebuild(t, t.live) // mostly empty: give the slots back
		}
		return cur, true
	}
}

// Range calls f for each value until f returns false. Values stored or
// deleted meanwhile may or may not be seen; f may change the map.
func (m *Map[T]) Range(f func(*T) bool) {
	t := m.tab.Load()
	for i := range t.slots {
		if v := t.slots[i].v.Load(); v != nil && v != m.tomb && !f(v) {
			return
		}
	}
}

// Len returns the number of values stored.
func (m *Map[T]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tab.Load().live
}

// rebuild publishes a table with t's live values and room for want: at
// most two thirds full, so that a twelfth of it is left to fill before
// the spare quarter is reached again.
func (m *Map[T]) rebuild(t *table[T], want int) *table[T] {
	n := minSlots
	for n < want*3/2 {
		n *= 2
	}
	nt := newTable[T](n)
	for i := range t.slots {
		if v := t.slots[i].v.Load(); v != nil && v != m.tomb {
			m.insert(nt, t.slots[i].h.Load(), v)
		}
	}
	m.tab.Store(nt)
	return nt
}

// insert puts v, whose key hashes to h and is not in t, into t (not yet
// published, or under Map.mu with room to spare).
func (m *Map[T]) insert(t *table[T], h uint64, v *T) {
	i := h & t.mask
	for t.slots[i].v.Load() != nil {
		i = (i + 1) & t.mask
	}
	t.slots[i].h.Store(h)
	t.slots[i].v.Store(v)
	t.live++
	t.used++
}
