// Package allocsize measures the memory the Go allocator really gives an
// object, for tests that keep per-connection structures inside a size
// class. unsafe.Sizeof is not that figure: since Go 1.22 an object over 512
// bytes that holds pointers carries an 8-byte header in its block, so a
// struct exactly at a class's size (a 3,456-byte conn) takes the next class
// (4,096 bytes: 640 bytes per connection lost).
package allocsize

import "runtime"

// Of returns the bytes one call of alloc takes from the heap: the size
// class of the object it returns (and of anything else it allocates).
// Other goroutines' allocations can only add to a reading, so the smallest
// of a few is taken.
func Of(alloc func() any) uint64 {
	const n = 256
	keep := make([]any, n)
	var best uint64
	var before, after runtime.MemStats
	for try := 0; try < 5; try++ {
		runtime.ReadMemStats(&before)
		for i := range keep {
			keep[i] = alloc()
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / n; try == 0 || per < best {
			best = per
		}
		clear(keep)
	}
	return best
}
