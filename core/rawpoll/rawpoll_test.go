package rawpoll

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golighty/golighty/core/rawsys"
	"golang.org/x/sys/unix"
)

// pair returns a Conn and the plain descriptor of its peer (a unix stream
// socket pair, both non-blocking).
func pair(t testing.TB) (*Conn, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := Open(fds[0], "pair")
	t.Cleanup(func() { c.Close(); unix.Close(fds[1]) })
	return c, fds[1]
}

func TestReadWaitsForData(t *testing.T) {
	c, peer := pair(t)
	go func() {
		time.Sleep(30 * time.Millisecond)
		unix.Write(peer, []byte("hello"))
	}()
	var b [16]byte
	n, err := c.Read(b[:])
	if err != nil || string(b[:n]) != "hello" {
		t.Fatalf("read %q, %v", b[:n], err)
	}
}

// TestWaitRegistersFirst: a read that has to wait on a newly borrowed slot
// makes no call between the registration and the wake-up (the registration
// reports a socket that is ready already): an answer that comes later is
// read with two calls (the first, then the one after the wake-up), one
// that is there with one; a wait on the slot held since then calls again
// before it sleeps.
func TestWaitRegistersFirst(t *testing.T) {
	for _, tc := range []struct {
		name          string
		arrives, held bool
		want          int
	}{
		{"answer later", true, false, 2},
		{"answer there", false, false, 1},
		{"answer later, slot held", true, true, 3},
	} {
		c, peer := pair(t)
		if tc.held {
			answer(peer, true)
			var b [1]byte
			if _, err := c.Read(b[:]); err != nil {
				t.Fatal(err)
			}
		}
		answer(peer, tc.arrives)
		n := 0
		err := rawConn{c}.Read(func(fd uintptr) bool {
			n++
			return peekCounted(fd, nil)
		})
		if err != nil {
			t.Fatal(err)
		}
		if n != tc.want {
			t.Errorf("%s: %d calls, want %d", tc.name, n, tc.want)
		}
	}
}

// TestAwaitReadable: AwaitReadable returns once the answer is there, or at
// once if it was, with no check of its own on a newly borrowed slot and
// one (before it sleeps) on a slot held since an earlier wait; its deadline
// holds, and a failed registration is reported.
func TestAwaitReadable(t *testing.T) {
	peeks := 0
	peekReadable = func(fd uintptr) bool { return peekCounted(fd, &peeks) }
	t.Cleanup(func() { peekReadable = rawsys.PeekReadable })
	for _, tc := range []struct {
		name          string
		arrives, held bool
		wantPeeks     int
	}{
		{"answer later", true, false, 0},
		{"answer there", false, false, 0},
		{"answer later, slot held", true, true, 1},
		{"answer there, slot held", false, true, 1},
	} {
		peeks = 0
		c, peer := pair(t)
		if tc.held {
			c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			if err := (rawConn{c}).AwaitReadable(); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("%s: await with nothing coming: %v", tc.name, err)
			}
			c.SetReadDeadline(time.Time{})
			peeks = 0
		}
		start := time.Now()
		answer(peer, tc.arrives)
		if err := (rawConn{c}).AwaitReadable(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		waited := time.Since(start)
		if tc.arrives && waited < 25*time.Millisecond {
			t.Errorf("%s: returned after %v, before the answer", tc.name, waited)
		}
		if peeks != tc.wantPeeks {
			t.Errorf("%s: %d peeks, want %d", tc.name, peeks, tc.wantPeeks)
		}
		var b [4]byte
		if n, err := c.Read(b[:]); err != nil || string(b[:n]) != "x" {
			t.Fatalf("%s: read %q, %v", tc.name, b[:n], err)
		}
	}

	// A socket the set cannot take (a regular file's descriptor: epoll
	// refuses it) fails the wait with the registration's error.
	f, err := os.CreateTemp(t.TempDir(), "plain")
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	c := Open(fd, "file")
	defer c.Close()
	if err := (rawConn{c}).AwaitReadable(); !errors.Is(err, unix.EPERM) {
		t.Fatalf("await on a regular file: %v, want EPERM", err)
	}
	if c.s.rd.s != nil {
		t.Fatal("the slot of a failed registration is still held")
	}
}

// answer writes a byte to peer: at once, or 30 ms from now (later).
func answer(peer int, later bool) {
	if !later {
		unix.Write(peer, []byte("x"))
		return
	}
	go func() {
		time.Sleep(30 * time.Millisecond)
		unix.Write(peer, []byte("x"))
	}()
}

// peekCounted is rawsys.PeekReadable, counted in n (if not nil).
func peekCounted(fd uintptr, n *int) bool {
	if n != nil {
		*n++
	}
	return rawsys.PeekReadable(fd)
}

func TestReadEOF(t *testing.T) {
	c, peer := pair(t)
	unix.Write(peer, []byte("last"))
	unix.Shutdown(peer, unix.SHUT_WR)
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "last" {
		t.Fatalf("read %q, %v", got, err)
	}
}

// TestWriteWaitsForRoom writes more than the socket buffers hold while the
// peer reads slowly: Write returns only when all of it went out.
func TestWriteWaitsForRoom(t *testing.T) {
	c, peer := pair(t)
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	got := make(chan []byte)
	go func() {
		var all []byte
		b := make([]byte, 8192)
		for len(all) < len(want) {
			n, err := unix.Read(peer, b)
			if err == unix.EAGAIN {
				time.Sleep(time.Millisecond)
				continue
			}
			if err != nil || n == 0 {
				break
			}
			all = append(all, b[:n]...)
		}
		got <- all
	}()
	n, err := c.Write(want)
	if err != nil || n != len(want) {
		t.Fatalf("wrote %d, %v", n, err)
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("peer read %d bytes, not what was written", len(b))
	}
}

func TestDeadlines(t *testing.T) {
	c, _ := pair(t)
	c.SetReadDeadline(time.Now().Add(40 * time.Millisecond))
	start := time.Now()
	var b [1]byte
	_, err := c.Read(b[:])
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read: %v, want a deadline error", err)
	}
	if d := time.Since(start); d < 35*time.Millisecond || d > 2*time.Second {
		t.Fatalf("deadline hit after %v", d)
	}
	// A deadline in the past fails at once; clearing it lets reads wait.
	c.SetReadDeadline(time.Unix(1, 0))
	if _, err := c.Read(b[:]); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("past deadline: %v", err)
	}
	c.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() { _, err := c.Read(b[:]); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("read without deadline returned %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	// Moving the deadline into the past wakes the waiting read.
	c.SetReadDeadline(time.Unix(1, 0))
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a new deadline did not wake the read")
	}
}

// TestCloseWakesAndReleases: Close from another goroutine ends a blocked
// read with os.ErrClosed, and the descriptor is closed only after it.
func TestCloseWakesAndReleases(t *testing.T) {
	c, peer := pair(t)
	done := make(chan error, 1)
	go func() {
		var b [1]byte
		_, err := c.Read(b[:])
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("read: %v, want os.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not wake the read")
	}
	// The peer sees the close.
	var b [1]byte
	for i := 0; ; i++ {
		n, err := unix.Read(peer, b[:])
		if err == nil && n == 0 {
			break
		}
		if i > 200 {
			t.Fatalf("peer did not see the close: %d, %v", n, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := c.Close(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
}

// TestNoDescriptorLeak opens and closes many connections, some with a
// read in flight, and counts the process's descriptors.
func TestNoDescriptorLeak(t *testing.T) {
	before := fdCount(t)
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		c := Open(fds[0], "pair"+strconv.Itoa(i))
		if i%2 == 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var b [1]byte
				c.Read(b[:])
			}()
		}
		unix.Write(fds[1], []byte("x"))
		c.Close()
		unix.Close(fds[1])
	}
	wg.Wait()
	// Waits borrowed slots; the pool may keep them (at most a few here).
	pooled := slots.Len()
	if after := fdCount(t); after > before+pooled || pooled > 8 {
		t.Fatalf("descriptors %d -> %d, %d slots pooled", before, after, pooled)
	}
}

// TestConcurrentReadWrite runs a reader and a writer on one Conn against
// an echoing peer (the FastCGI client's stdin copier and response reader).
func TestConcurrentReadWrite(t *testing.T) {
	c, peer := pair(t)
	pc := Open(peer, "peer")
	go io.Copy(pc, pc) // echo
	want := bytes.Repeat([]byte("golighty"), 1<<15)
	go func() {
		if _, err := c.Write(want); err != nil {
			t.Errorf("write: %v", err)
		}
	}()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("echo differs: %v", err)
	}
}

// TestSyscallConnConnect waits for a connect in progress through
// SyscallConn's Write, as the FastCGI dialer does for TCP backends.
func TestSyscallConnConnect(t *testing.T) {
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ln)
	if err := unix.Bind(ln, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	unix.Listen(ln, 4)
	sa, _ := unix.Getsockname(ln)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	cerr := unix.Connect(fd, sa)
	c := Open(fd, "tcp")
	defer c.Close()
	if cerr != nil && cerr != unix.EINPROGRESS {
		t.Fatal(cerr)
	}
	rc, _ := c.SyscallConn()
	var peerErr error
	err = rc.Write(func(fd uintptr) bool {
		_, peerErr = unix.Getpeername(int(fd))
		return peerErr == nil
	})
	if err != nil || peerErr != nil {
		t.Fatalf("connect: %v, %v", err, peerErr)
	}
}

func fdCount(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// BenchmarkRoundTrip is one request/response exchange over a socket pair
// with a goroutine echoing: a read that waits, and a write.
func BenchmarkRoundTrip(b *testing.B) {
	c, peer := pair(b)
	pc := Open(peer, "peer")
	roundTrips(b, c, pc)
}

// roundTrips measures exchanges of a small message between c and pc,
// which echoes it from its own goroutine; pc is closed at the end.
func roundTrips(b *testing.B, c, pc io.ReadWriteCloser) {
	go func() {
		var buf [64]byte
		for {
			n, err := pc.Read(buf[:])
			if err != nil {
				return
			}
			pc.Write(buf[:n])
		}
	}()
	msg := []byte("ping")
	var buf [64]byte
	b.ReportAllocs()
	for b.Loop() {
		c.Write(msg)
		if _, err := c.Read(buf[:]); err != nil {
			b.Fatal(err)
		}
	}
	pc.Close()
}

// BenchmarkOpenClose is a connection's registration and close.
func BenchmarkOpenClose(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		c := Open(fds[0], "pair")
		c.Close()
		unix.Close(fds[1])
	}
}

// BenchmarkRoundTripOSFile is BenchmarkRoundTrip through *os.File, what
// the FastCGI client used before, for comparison.
func BenchmarkRoundTripOSFile(b *testing.B) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	c, pc := os.NewFile(uintptr(fds[0]), "c"), os.NewFile(uintptr(fds[1]), "peer")
	defer c.Close()
	roundTrips(b, c, pc)
}

// BenchmarkOpenCloseOSFile is BenchmarkOpenClose through os.NewFile.
func BenchmarkOpenCloseOSFile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		os.NewFile(uintptr(fds[0]), "pair").Close()
		unix.Close(fds[1])
	}
}

// TestDialTCP dials a TCP listener through a Target and checks what a
// gateway uses besides Read and Write: both addresses, and CloseWrite.
func TestDialTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tg, err := Resolve(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := tg.Dial(context.Background(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if got, want := c.RemoteAddr().String(), ln.Addr().String(); got != want {
		t.Errorf("RemoteAddr %s, want %s", got, want)
	}
	if got, want := c.LocalAddr().String(), peer.RemoteAddr().String(); got != want {
		t.Errorf("LocalAddr %s, want %s", got, want)
	}
	c.Write([]byte("up"))
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(peer); err != nil || string(b) != "up" {
		t.Fatalf("peer read %q, %v (want the bytes, then EOF)", b, err)
	}
	peer.Write([]byte("down"))
	peer.Close()
	if b, err := io.ReadAll(c); err != nil || string(b) != "down" {
		t.Fatalf("read %q, %v", b, err)
	}
}

// TestDialErrors: a refused connect and a bad address come back as
// net.Dial would report them.
func TestDialErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	tg, err := Resolve(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Dial(context.Background(), time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("closed port: %v, want connection refused", err)
	}
	missing := filepath.Join(t.TempDir(), "none.sock")
	tg, _ = Resolve(context.Background(), "unix", missing)
	if _, err := tg.Dial(context.Background(), 0); !errors.Is(err, syscall.ENOENT) || !strings.Contains(err.Error(), "dial unix "+missing) {
		t.Errorf("missing socket: %v", err)
	}
	if _, err := Resolve(context.Background(), "tcp", "127.0.0.1"); err == nil {
		t.Error("an address without a port resolved")
	}
	if _, err := Resolve(context.Background(), "udp", "127.0.0.1:1"); err == nil {
		t.Error("udp resolved")
	}
}

// TestSlotComesBackWithoutDeadline: a slot whose wait had a deadline (or
// was woken by Close) goes back to the pool with none, so the next
// connection that borrows it waits as long as it must.
func TestSlotComesBackWithoutDeadline(t *testing.T) {
	for _, how := range []string{"deadline", "close wake"} {
		t.Run(how, func(t *testing.T) {
			c, _ := pair(t)
			var b [1]byte
			switch how {
			case "deadline":
				c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
				if _, err := c.Read(b[:]); !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("read: %v, want a deadline error", err)
				}
			case "close wake":
				done := make(chan error, 1)
				go func() { _, err := c.Read(b[:]); done <- err }()
				time.Sleep(20 * time.Millisecond)
				c.Close()
				if err := <-done; !errors.Is(err, os.ErrClosed) {
					t.Fatalf("read: %v, want os.ErrClosed", err)
				}
			}
			c.Close() // the slot goes back to the pool
			next, peer := pair(t)
			go func() {
				time.Sleep(60 * time.Millisecond)
				unix.Write(peer, []byte("x"))
			}()
			if n, err := next.Read(b[:]); err != nil || n != 1 {
				t.Fatalf("the next connection's read: %d, %v (a stale deadline on its slot?)", n, err)
			}
		})
	}
}

// TestClosedConnCannotReachItsSuccessor: once a Conn is closed its state
// serves later Conns; every call through the closed one (a second Close, a
// deadline, a read, a write, raw access) finds it closed and leaves the
// socket that uses the state now untouched.
func TestClosedConnCannotReachItsSuccessor(t *testing.T) {
	var old, cur *Conn
	var peer int
	for range 100 {
		old, _ = pair(t)
		old.Close()
		cur, peer = pair(t)
		if cur.s == old.s {
			break
		}
	}
	if cur.s != old.s {
		t.Fatal("a closed Conn's state was never reused")
	}
	// Bytes wait for the successor: a stale read that reached its socket
	// would take them rather than block.
	answer(peer, false)
	if err := old.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second Close: %v, want os.ErrClosed", err)
	}
	if err := old.SetDeadline(time.Unix(1, 0)); !errors.Is(err, os.ErrClosed) {
		t.Errorf("SetDeadline: %v, want os.ErrClosed", err)
	}
	if _, err := old.Write([]byte("stale")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write: %v, want os.ErrClosed", err)
	}
	if _, err := old.Read(make([]byte, 8)); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read: %v, want os.ErrClosed", err)
	}
	rc, _ := old.SyscallConn()
	if err := rc.Control(func(uintptr) { t.Error("raw access to the successor's socket") }); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Control: %v, want os.ErrClosed", err)
	}
	if old.Name() != "" || old.RemoteAddr() != nil {
		t.Errorf("closed Conn names %q, %v", old.Name(), old.RemoteAddr())
	}

	// The successor still has its socket, and no deadline.
	if _, err := cur.Write([]byte("ping")); err != nil {
		t.Fatalf("successor's write: %v", err)
	}
	buf := make([]byte, 8)
	if n, err := unix.Read(peer, buf); err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("peer read %q, %v", buf[:max(n, 0)], err)
	}
	if n, err := cur.Read(buf); err != nil || string(buf[:n]) != "x" {
		t.Fatalf("successor's read %q, %v", buf[:n], err)
	}
}

// TestOpenCloseAllocs: a Conn costs its handle, not its state (without the
// race detector, which makes sync.Pool drop items).
func TestOpenCloseAllocs(t *testing.T) {
	if rawsys.RaceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	fd := fds[0]
	const n = 2000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		d, err := unix.Dup(fd)
		if err != nil {
			t.Fatal(err)
		}
		Open(d, "dup").Close()
	}
	runtime.ReadMemStats(&after)
	unix.Close(fd)
	if bytes := (after.TotalAlloc - before.TotalAlloc) / n; bytes >= 64 {
		t.Errorf("Open and Close: %d bytes per Conn, want the 16-byte handle", bytes)
	}
}
