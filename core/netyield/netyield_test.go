package netyield

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestYieldRunsNetworkReady: with one P, a goroutine parked on a socket
// read runs within one Yield of its data arriving, while the caller never
// blocks otherwise.
func TestYieldRunsNetworkReady(t *testing.T) {
	testRunsNetworkReady(t, Yield)
}

func testRunsNetworkReady(t *testing.T, yield func()) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	for round := range 20 {
		var got atomic.Bool
		parked := make(chan struct{})
		go func() {
			close(parked)
			var b [1]byte
			if n, _ := server.Read(b[:]); n == 1 {
				got.Store(true)
			}
		}()
		<-parked
		runtime.Gosched() // the reader reaches its read and parks
		if _, err := client.Write([]byte{'x'}); err != nil {
			t.Fatal(err)
		}
		// Spin (no park, so no poll) while the byte reaches the socket.
		for start := time.Now(); time.Since(start) < time.Millisecond; {
		}
		yield()
		if !got.Load() {
			t.Fatalf("round %d: the reader whose data arrived did not run within one Yield", round)
		}
	}
}

// TestYieldConcurrent: many goroutines yielding at once all return, and
// the eventfds are reused.
func TestYieldConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				Yield()
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("yields did not return")
	}
	n := pool.Len()
	if n == 0 || n > maxIdle {
		t.Errorf("%d idle yielders kept, want 1..%d", n, maxIdle)
	}
}

func BenchmarkYield(b *testing.B) {
	for b.Loop() {
		Yield()
	}
}
