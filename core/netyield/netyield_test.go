package netyield

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestYieldRunsNetworkReady: with one P, a goroutine parked on a socket
// read runs within one Yield of its data arriving, while the caller never
// blocks otherwise.
func TestYieldRunsNetworkReady(t *testing.T) {
	testRunsNetworkReady(t, Yield, 1)
}

// TestYieldRunsNetworkReadyInRound: the same while another goroutine
// yields all along, so that the caller mostly joins a round the other
// goroutine leads, within two Yields: the round the caller joins may have
// polled before the data came (any poll made its leader runnable; the
// round ends when the leader runs again), and the next one polls after.
// Failed 8 times in 300 runs when held to one Yield.
func TestYieldRunsNetworkReadyInRound(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var stop atomic.Bool
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for !stop.Load() {
			Yield()
		}
	}()
	runtime.Gosched() // the other yielder leads a round
	testRunsNetworkReady(t, Yield, 2)
	stop.Store(true)
	<-ended
}

func testRunsNetworkReady(t *testing.T, yield func(), yields int) {
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
		// Wait for the byte to reach the socket without parking (no
		// netpoller look meanwhile): a raw poll(2) keeps the processor. A
		// fixed spin of a millisecond was not always enough on a loaded
		// machine, and the test then blamed Yield for a byte not there.
		if !readableSoon(t, server, &got) {
			t.Fatalf("round %d: the byte did not reach the socket within a second", round)
		}
		for range yields {
			if yield(); got.Load() {
				break
			}
		}
		if !got.Load() {
			t.Fatalf("round %d: the reader whose data arrived did not run within %d Yields", round, yields)
		}
	}
}

// TestYieldConcurrent: many goroutines yielding at once all return, and
// share the netpoller's rounds.
func TestYieldConcurrent(t *testing.T) {
	const yielders, each = 200, 50
	mu.Lock()
	before := round
	mu.Unlock()
	var wg sync.WaitGroup
	for range yielders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
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
	mu.Lock()
	rounds := round - before
	mu.Unlock()
	// A round per yield would be 10,000; the first yielders start while
	// the others are still being created, so some rounds have one caller.
	if rounds == 0 || rounds > yielders*each/4 {
		t.Errorf("%d netpoller rounds for %d yields, want 1..%d", rounds, yielders*each, yielders*each/4)
	}
}

func BenchmarkYield(b *testing.B) {
	for b.Loop() {
		Yield()
	}
}

// readableSoon waits up to a second for c to have bytes, in raw poll(2)
// calls that do not go through the scheduler, or for the reader to have
// taken them already: the write that sent them is an ordinary system call,
// during which the runtime may hand the processor to another thread, whose
// scheduler then polls the network and runs the reader.
func readableSoon(t *testing.T, c net.Conn, got *atomic.Bool) bool {
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	ready := false
	rc.Control(func(fd uintptr) {
		for range 100 {
			pfd := unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
			r, _, e := unix.RawSyscall(unix.SYS_POLL, uintptr(unsafe.Pointer(&pfd)), 1, 10)
			if ready = e == 0 && r == 1 && pfd.Revents&unix.POLLIN != 0 || got.Load(); ready {
				return
			}
		}
	})
	return ready
}
