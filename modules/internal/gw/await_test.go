package gw

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestAwaitAnswer: the wait ends when the backend sends (reading nothing),
// when it closes, at the read timeout, and at once for a connection
// without a raw socket.
func TestAwaitAnswer(t *testing.T) {
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "b.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pair := func() (client, server net.Conn) {
		c, err := net.Dial("unix", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(); s.Close() })
		return c, s
	}

	c, s := pair()
	go func() { time.Sleep(50 * time.Millisecond); s.Write([]byte("answer")) }()
	if err := AwaitAnswer(c, 5*time.Second); err != nil {
		t.Fatalf("backend answered: %v", err)
	}
	buf := make([]byte, 16)
	if n, _ := c.Read(buf); string(buf[:n]) != "answer" {
		t.Errorf("read %q after the wait, want the whole answer (the wait reads nothing)", buf[:n])
	}

	c, s = pair()
	go func() { time.Sleep(50 * time.Millisecond); s.Close() }()
	if err := AwaitAnswer(c, 5*time.Second); err != nil {
		t.Errorf("backend closed: %v, want the wait to end without error (the read sees the end)", err)
	}

	c, _ = pair()
	start := time.Now()
	if err := AwaitAnswer(c, 100*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("silent backend: %v, want the read timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("timed out after %v, want about 100ms", d)
	}

	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	if err := AwaitAnswer(p1, time.Second); err != nil {
		t.Errorf("a connection without a raw socket: %v, want nil at once", err)
	}
}

// TestWaitGateEnterBelow: requests deciding at once never count more
// waits in goroutines than the gate's limit (a check apart from the count
// let 65 of 64 through), and a Leave makes room again.
func TestWaitGateEnterBelow(t *testing.T) {
	const above, n = 4, 64
	for round := range 300 {
		g := NewWaitGate(above)
		var entered atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if g.EnterBelow() {
					entered.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		if got := entered.Load(); got != above {
			t.Fatalf("round %d: %d of %d entered below a gate of %d", round, got, n, above)
		}
		if g.EnterBelow() {
			t.Fatal("entered a full gate")
		}
		g.Leave()
		if !g.EnterBelow() {
			t.Fatal("no room after a Leave")
		}
	}
}
