// Package freelist keeps values that own a resource (a descriptor
// registered with the netpoller, say) for reuse, up to a bound. Unlike
// sync.Pool it never drops a value on its own, which would leak the
// resource; a Put beyond the bound is refused instead, and the caller
// releases the value, so a burst's extras do not stay open.
package freelist

import "sync"

// List is a bounded stack of idle values; the zero value keeps none.
type List[T any] struct {
	Max int // values kept at most

	mu   sync.Mutex
	idle []T
}

// Get takes the value put last; ok is false when none is kept.
func (l *List[T]) Get() (v T, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.idle)
	if n == 0 {
		return v, false
	}
	v = l.idle[n-1]
	var zero T
	l.idle[n-1] = zero
	l.idle = l.idle[:n-1]
	return v, true
}

// Put keeps v for a later Get, unless Max values are kept already: then
// it reports false and v is the caller's to release.
func (l *List[T]) Put(v T) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.idle) >= l.Max {
		return false
	}
	l.idle = append(l.idle, v)
	return true
}

// Len is the number of values kept.
func (l *List[T]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.idle)
}
