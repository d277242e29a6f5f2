package rawaccept

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func listen(t testing.TB, addr string) *Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skip("no loopback:", err)
	}
	l, err := Wrap(ln.(*net.TCPListener))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// accepted dials l and returns the accepted side and the client's.
func accepted(t testing.TB, l *Listener) (*Conn, *net.TCPConn) {
	t.Helper()
	cc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); cc.Close() })
	return c.(*Conn), cc.(*net.TCPConn)
}

func TestAddresses(t *testing.T) {
	for _, tc := range []struct {
		name, listen string
		shared       bool // the listener's address object is the local one
	}{
		{"bound", "127.0.0.1:0", true},
		{"wildcard", "0.0.0.0:0", false},
		{"bound v6", "[::1]:0", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.listen == "[::1]:0" {
				if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
					t.Skip("no IPv6 loopback")
				} else {
					ln.Close()
				}
			}
			l := listen(t, tc.listen)
			port := l.Addr().(*net.TCPAddr).Port
			dial := "127.0.0.1"
			if tc.listen == "[::1]:0" {
				dial = "::1"
			}
			cc, err := net.Dial("tcp", net.JoinHostPort(dial, strconv.Itoa(port)))
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			nc, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if got, want := nc.RemoteAddr().String(), cc.LocalAddr().String(); got != want {
				t.Errorf("RemoteAddr %s, client is %s", got, want)
			}
			if got, want := nc.LocalAddr().String(), cc.RemoteAddr().String(); got != want {
				t.Errorf("LocalAddr %s, client dialed %s", got, want)
			}
			if got := nc.LocalAddr() == l.Addr(); got != tc.shared {
				t.Errorf("local address is the listener's: %v, want %v", got, tc.shared)
			}
		})
	}
}

// TestNoDelay: accepted sockets have TCP_NODELAY, inherited from the
// listener or set on each.
func TestNoDelay(t *testing.T) {
	l := listen(t, "127.0.0.1:0")
	for i := 0; i < 3; i++ {
		c, _ := accepted(t, l)
		var v int
		c.control(func(fd uintptr) { v, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY) })
		if v == 0 {
			t.Fatalf("connection %d: TCP_NODELAY off", i)
		}
	}
}

func TestReadWrite(t *testing.T) {
	l := listen(t, "127.0.0.1:0")
	c, cc := accepted(t, l)
	// The client writes after the server began to wait: the read enters
	// the netpoller.
	go func() {
		time.Sleep(30 * time.Millisecond)
		cc.Write([]byte("hello"))
	}()
	var b [16]byte
	n, err := c.Read(b[:])
	if err != nil || string(b[:n]) != "hello" {
		t.Fatalf("read %q, %v", b[:n], err)
	}
	if c.reg.Load() == nil {
		t.Fatal("a read that waited is not in the netpoller")
	}
	// More than the socket buffers hold: the write waits for the client.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18)
	done := make(chan []byte)
	go func() {
		got, _ := io.ReadAll(io.LimitReader(cc, int64(len(big))))
		done <- got
	}()
	if n, err := c.Write(big); n != len(big) || err != nil {
		t.Fatalf("write %d of %d: %v", n, len(big), err)
	}
	if got := <-done; !bytes.Equal(got, big) {
		t.Fatalf("client read %d bytes, differing", len(got))
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := cc.Read(b[:]); n != 0 || err != io.EOF {
		t.Fatalf("client after CloseWrite: %d, %v", n, err)
	}
	cc.Close()
	if n, err := c.Read(b[:]); n != 0 || err != io.EOF {
		t.Fatalf("after the client closed: %d, %v", n, err)
	}
}

// TestReadNoWait: bytes that are there are read without entering the
// netpoller, and so is the end of the stream.
func TestReadNoWait(t *testing.T) {
	l := listen(t, "127.0.0.1:0")
	c, cc := accepted(t, l)
	cc.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	cc.CloseWrite()
	time.Sleep(20 * time.Millisecond)
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "GET / HTTP/1.0\r\n\r\n" {
		t.Fatalf("read %q, %v", got, err)
	}
	if c.reg.Load() != nil {
		t.Fatal("registered without waiting")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() && errors.Is(err, os.ErrDeadlineExceeded)
}

func TestDeadlines(t *testing.T) {
	for _, tc := range []struct {
		name       string
		registered bool // the socket waited before
		past       bool // the deadline is past when set
	}{
		{"future, first wait", false, false},
		{"future, registered", true, false},
		{"past, not registered", false, true},
		{"past, registered", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := listen(t, "127.0.0.1:0")
			c, cc := accepted(t, l)
			var b [8]byte
			if tc.registered {
				go func() { time.Sleep(20 * time.Millisecond); cc.Write([]byte("x")) }()
				c.Read(b[:])
			}
			d := time.Now().Add(50 * time.Millisecond)
			if tc.past {
				d = time.Now().Add(-time.Second)
			}
			if tc.past {
				// Bytes that are there do not make it succeed.
				cc.Write([]byte("x"))
				time.Sleep(10 * time.Millisecond)
			}
			c.SetReadDeadline(d)
			start := time.Now()
			errc := make(chan error, 1)
			go func() {
				_, err := c.Read(b[:])
				errc <- err
			}()
			var err error
			select {
			case err = <-errc:
			case <-time.After(5 * time.Second):
				t.Fatal("the read's deadline did not end it")
			}
			if !isTimeout(err) {
				t.Fatalf("read: %v, want a timeout", err)
			}
			if el := time.Since(start); tc.past && el > 20*time.Millisecond || !tc.past && el < 40*time.Millisecond {
				t.Fatalf("timed out after %v", el)
			}
			// A raw call that would wait fails the same way.
			rc, _ := c.SyscallConn()
			if err := rc.Read(func(uintptr) bool { return false }); !isTimeout(err) {
				t.Fatalf("raw read: %v, want a timeout", err)
			}
			// A cleared deadline lets calls wait again.
			c.SetReadDeadline(time.Time{})
			want := "y"
			if tc.past {
				want = "xy"
			}
			cc.Write([]byte("y"))
			time.Sleep(10 * time.Millisecond)
			if n, err := c.Read(b[:]); err != nil || string(b[:n]) != want {
				t.Fatalf("after clearing: %q, %v", b[:n], err)
			}
			// A write deadline in the past fails a write at once.
			c.SetWriteDeadline(time.Now().Add(-time.Second))
			if _, err := c.Write([]byte("z")); !isTimeout(err) {
				t.Fatalf("write: %v, want a timeout", err)
			}
		})
	}
}

// TestCloseWakes: Close ends a read and a write that wait, with
// net.ErrClosed, and later calls fail the same way.
func TestCloseWakes(t *testing.T) {
	l := listen(t, "127.0.0.1:0")
	c, _ := accepted(t, l)
	errs := make(chan error, 2)
	go func() {
		var b [8]byte
		_, err := c.Read(b[:])
		errs <- err
	}()
	go func() {
		_, err := c.Write(bytes.Repeat([]byte("x"), 64<<20)) // the client never reads
		errs <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		select {
		case err := <-errs:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("waiting call ended with %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not wake a waiting call")
		}
	}
	var b [1]byte
	if _, err := c.Read(b[:]); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if err := c.SetReadDeadline(time.Now()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("deadline after close: %v", err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
}

// TestNoDescriptorLeak: connections closed before, while and after
// waiting leave no descriptor behind, nor does the listener.
func TestNoDescriptorLeak(t *testing.T) {
	before := fdCount(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	l, err := Wrap(ln.(*net.TCPListener))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 150; i++ {
		cc, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		nc, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c := nc.(*Conn)
		switch i % 3 {
		case 0: // never waits
		case 1: // closed while waiting
			wg.Add(1)
			go func() {
				defer wg.Done()
				var b [1]byte
				c.Read(b[:])
			}()
			time.Sleep(time.Millisecond)
		case 2: // waited, then closed
			go cc.Write([]byte("x"))
			var b [1]byte
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			c.Read(b[:])
		}
		c.Close()
		cc.Close()
	}
	wg.Wait()
	l.Close()
	time.Sleep(10 * time.Millisecond)
	if after := fdCount(t); after > before {
		t.Fatalf("descriptors %d -> %d", before, after)
	}
}

func fdCount(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// TestListenerClose: Close ends a waiting Accept with net.ErrClosed.
func TestListenerClose(t *testing.T) {
	l := listen(t, "127.0.0.1:0")
	errc := make(chan error)
	go func() {
		_, err := l.Accept()
		errc <- err
	}()
	time.Sleep(30 * time.Millisecond)
	l.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept still waits after Close")
	}
}

// TestConcurrentClose closes connections while other goroutines read,
// write and make raw calls on them (run with -race): every call ends, and
// none fails otherwise than with the end of the connection.
func TestConcurrentClose(t *testing.T) {
	l := listen(t, "127.0.0.1:0")
	for i := 0; i < 40; i++ {
		c, cc := accepted(t, l)
		go io.Copy(io.Discard, cc)
		var wg sync.WaitGroup
		wg.Add(3)
		go func() {
			defer wg.Done()
			var b [64]byte
			c.Read(b[:])
		}()
		go func() {
			defer wg.Done()
			for {
				if _, err := c.Write(make([]byte, 4096)); err != nil {
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			rc, _ := c.SyscallConn()
			for rc.Control(func(uintptr) {}) == nil {
				time.Sleep(100 * time.Microsecond)
			}
		}()
		time.Sleep(time.Duration(i%4) * time.Millisecond)
		c.Close()
		wg.Wait()
	}
}

// BenchmarkAcceptClose is a connection's start and end on the server: the
// client's connect, Accept, a request read that is there, the answer and
// Close; beside net's listener for comparison.
func BenchmarkAcceptClose(b *testing.B) {
	for _, raw := range []bool{true, false} {
		name := "net"
		if raw {
			name = "rawaccept"
		}
		b.Run(name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Skip(err)
			}
			var l net.Listener = ln
			if raw {
				if l, err = Wrap(ln.(*net.TCPListener)); err != nil {
					b.Fatal(err)
				}
			}
			defer l.Close()
			addr := ln.Addr().(*net.TCPAddr)
			sa := &unix.SockaddrInet4{Port: addr.Port, Addr: [4]byte{127, 0, 0, 1}}
			req := []byte("GET / HTTP/1.1\r\n\r\n")
			buf := make([]byte, 512)
			b.ReportAllocs()
			for b.Loop() {
				fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
				if err != nil {
					b.Fatal(err)
				}
				if err := unix.Connect(fd, sa); err != nil {
					b.Fatal(err)
				}
				unix.Write(fd, req)
				c, err := l.Accept()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Read(buf); err != nil {
					b.Fatal(err)
				}
				c.Write(req)
				c.Close()
				unix.Close(fd)
			}
		})
	}
}

var _ syscall.Conn = (*Conn)(nil)

// TestAcceptAllocs: an accepted connection is one allocation, its client
// address included (it was three).
func TestAcceptAllocs(t *testing.T) {
	l := listen(t, "127.0.0.1:0")
	const n = 50
	clients := make([]net.Conn, 0, n)
	for range n {
		cc, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, cc)
	}
	defer func() {
		for _, cc := range clients {
			cc.Close()
		}
	}()
	conns := make([]net.Conn, 0, n)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	runtime.ReadMemStats(&after)
	for _, c := range conns {
		if c.RemoteAddr().(*net.TCPAddr).Port == 0 {
			t.Error("no client port")
		}
		c.Close()
	}
	if per := float64(after.Mallocs-before.Mallocs) / n; per > 1.1 {
		t.Errorf("%.2f allocations per accepted connection, want 1", per)
	}
}
