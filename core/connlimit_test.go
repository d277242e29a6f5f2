package core

import (
	"net"
	"syscall"
	"testing"
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
	if len(lim.sem) != 1 {
		t.Fatalf("slots in use %d, want 1", len(lim.sem))
	}
	c.Close()
	c.Close() // a second Close must not free a second slot
	if len(lim.sem) != 0 {
		t.Fatalf("slots in use after close %d, want 0", len(lim.sem))
	}
}
