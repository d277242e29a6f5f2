//go:build !race

// The race detector makes sync.Pool drop objects at random, so allocation
// counts are only meaningful without it (.ci/run runs this file's test in
// a second, non-race pass).

package staticfile_test

import "testing"

// TestKeepAliveAllocs: a kept-alive request for a small file allocates
// nothing in the whole server (engine, socket I/O, pipeline, stat cache,
// file sender).
func TestKeepAliveAllocs(t *testing.T) {
	r := testing.Benchmark(BenchmarkKeepAlive1KiB)
	if r.N == 0 {
		t.Fatal("the benchmark did not run")
	}
	if a := r.AllocsPerOp(); a != 0 {
		t.Fatalf("%d allocations (%d bytes) per request over %d requests", a, r.AllocedBytesPerOp(), r.N)
	}
}
