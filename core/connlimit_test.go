package core

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The limiter must not hide the socket: sendfile(2) needs its descriptor.
func TestLimitedConnKeepsSyscallConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := newConnLimiter(1)
	wl := lim.wrap(ln)
	defer wl.Close()
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			defer c.Close()
			c.Read(make([]byte, 1))
		}
	}()
	c, err := wl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(syscall.Conn); !ok {
		t.Fatalf("accepted %T does not expose its descriptor", c)
	}
	if n := lim.open.Load(); n != 1 {
		t.Fatalf("slots in use %d, want 1", n)
	}
	c.Close()
	c.Close() // a second Close must not free a second slot
	if n := lim.open.Load(); n != 0 {
		t.Fatalf("slots in use after close %d, want 0", n)
	}
}

// TestConnLimiterWaits: at the limit an acceptor waits until a slot is
// given back, and stops waiting when its listener closes.
func TestConnLimiterWaits(t *testing.T) {
	lim := newConnLimiter(2)
	never := make(chan struct{})
	for i := 0; i < 2; i++ {
		if !lim.acquire(never) {
			t.Fatal("a free slot was refused")
		}
	}
	got := make(chan bool, 1)
	go func() { got <- lim.acquire(never) }()
	select {
	case <-got:
		t.Fatal("a third connection was taken under a limit of 2")
	case <-time.After(50 * time.Millisecond):
	}
	lim.release()
	select {
	case ok := <-got:
		if !ok {
			t.Fatal("the waiting acceptor gave up")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a slot given back did not reach the waiting acceptor")
	}
	done := make(chan struct{})
	go func() { got <- lim.acquire(done) }()
	time.Sleep(10 * time.Millisecond)
	close(done)
	select {
	case ok := <-got:
		if ok {
			t.Fatal("a slot was taken over the limit")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("closing the listener did not end the wait")
	}
	if n := lim.open.Load(); n != 2 {
		t.Fatalf("%d slots counted, want 2", n)
	}

	// Two acceptors waiting, two slots given back at once: both go on.
	for i := 0; i < 2; i++ {
		go func() { got <- lim.acquire(never) }()
	}
	time.Sleep(50 * time.Millisecond)
	lim.release()
	lim.release()
	for i := 0; i < 2; i++ {
		select {
		case <-got:
		case <-time.After(2 * time.Second):
			t.Fatalf("acceptor %d still waits with a slot free (%d counted)", i+1, lim.open.Load())
		}
	}
}

// TestConnLimiterStress: acceptors on several listeners and connections
// closing all the time never pass the limit, and none waits forever while
// slots are free.
func TestConnLimiterStress(t *testing.T) {
	const limit, acceptors, rounds = 3, 8, 3000
	lim := newConnLimiter(limit)
	never := make(chan struct{})
	var inUse, peak atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < acceptors; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				lim.acquire(never)
				n := inUse.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				if r%7 == 0 {
					runtime.Gosched()
				}
				inUse.Add(-1)
				lim.release()
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(20 * time.Second):
		t.Fatalf("acceptors stuck with %d slots counted", lim.open.Load())
	}
	if p := peak.Load(); p > limit {
		t.Errorf("%d connections at once under a limit of %d", p, limit)
	}
	if n := lim.open.Load(); n != 0 {
		t.Errorf("%d slots counted at the end, want 0", n)
	}
}
