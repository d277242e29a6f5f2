package rawsys

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestConnect connects raw sockets to real listeners of every address
// family Connect encodes, and checks that the peer sees the right address.
func TestConnect(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, network, addr string
		domain              int
		sa                  func(net.Addr) unix.Sockaddr
	}{
		{"unix", "unix", filepath.Join(dir, "s"), unix.AF_UNIX, func(a net.Addr) unix.Sockaddr {
			return &unix.SockaddrUnix{Name: a.String()}
		}},
		{"abstract", "unix", "@golighty-rawsys-test", unix.AF_UNIX, func(a net.Addr) unix.Sockaddr {
			return &unix.SockaddrUnix{Name: "@golighty-rawsys-test"}
		}},
		{"tcp4", "tcp4", "127.0.0.1:0", unix.AF_INET, func(a net.Addr) unix.Sockaddr {
			ta := a.(*net.TCPAddr)
			return &unix.SockaddrInet4{Port: ta.Port, Addr: [4]byte(ta.IP.To4())}
		}},
		{"tcp6", "tcp6", "[::1]:0", unix.AF_INET6, func(a net.Addr) unix.Sockaddr {
			ta := a.(*net.TCPAddr)
			return &unix.SockaddrInet6{Port: ta.Port, Addr: [16]byte(ta.IP.To16())}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen(tc.network, tc.addr)
			if err != nil {
				t.Skipf("no %s listener here: %v", tc.name, err)
			}
			defer ln.Close()
			fd, err := unix.Socket(tc.domain, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			if e := Connect(fd, tc.sa(ln.Addr())); e != 0 {
				t.Fatalf("connect %s: %v", ln.Addr(), e)
			}
			c, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, e := Write(uintptr(fd), []byte("ping")); e != 0 {
				t.Fatal(e)
			}
			var b [4]byte
			if _, err := c.Read(b[:]); err != nil || string(b[:]) != "ping" {
				t.Fatalf("peer read %q, %v", b, err)
			}
			if tc.network != "unix" {
				local, err := unix.Getsockname(fd)
				if err != nil {
					t.Fatal(err)
				}
				var port int
				switch sa := local.(type) {
				case *unix.SockaddrInet4:
					port = sa.Port
				case *unix.SockaddrInet6:
					port = sa.Port
				}
				if got := c.RemoteAddr().(*net.TCPAddr).Port; got != port {
					t.Fatalf("peer sees port %d, socket has %d", got, port)
				}
			}
		})
	}
}

// TestConnectRefusesLongPaths: a path that does not fit sun_path is an
// error, not a truncated address.
func TestConnectRefusesLongPaths(t *testing.T) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	long := make([]byte, 108)
	for i := range long {
		long[i] = 'a'
	}
	if e := Connect(fd, &unix.SockaddrUnix{Name: string(long)}); e != unix.EINVAL {
		t.Fatalf("got %v, want EINVAL", e)
	}
}

// tcpPair connects a TCP client to a loopback listener: the client's end
// and the server's, both closed when the test ends.
func tcpPair(t *testing.T) (*net.TCPConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return c.(*net.TCPConn), peer
}

// TestReadable peeks at a socket with nothing to read, with data (which
// the peek leaves in place), and at its end.
func TestReadable(t *testing.T) {
	c, peer := tcpPair(t)
	rc, _ := c.SyscallConn()
	if r, err := Readable(rc); r || err != nil {
		t.Fatalf("idle socket: readable=%v, %v", r, err)
	}
	peer.Write([]byte("x"))
	time.Sleep(20 * time.Millisecond)
	if r, err := Readable(rc); !r || err != nil {
		t.Fatalf("with data: readable=%v, %v", r, err)
	}
	var buf [1]byte
	if n, _ := c.Read(buf[:]); n != 1 || buf[0] != 'x' {
		t.Fatalf("the peek consumed the byte: %q", buf[:n])
	}
	peer.Close()
	time.Sleep(20 * time.Millisecond)
	if r, err := Readable(rc); !r || err != nil {
		t.Fatalf("at EOF: readable=%v, %v", r, err)
	}
	c.Close()
	if _, err := Readable(rc); err == nil {
		t.Fatal("closed connection: no error")
	}
}

// awaited is the reading end a wait watches: a socket or a pipe.
type awaited interface {
	io.Reader
	syscall.Conn
	SetReadDeadline(time.Time) error
}

// TestAwait: AwaitReadable on a socket and AwaitInput on a pipe wait for
// data arriving later and leave it unread, end when the writer closes, and
// give up at the read deadline.
func TestAwait(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pair  func(t *testing.T) (awaited, io.WriteCloser)
		await func(syscall.RawConn) error
	}{
		{"socket", func(t *testing.T) (awaited, io.WriteCloser) { return tcpPair(t) }, AwaitReadable},
		{"pipe", func(t *testing.T) (awaited, io.WriteCloser) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close(); w.Close() })
			return r, w
		}, AwaitInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, w := tc.pair(t)
			rc, _ := r.SyscallConn()
			r.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
			if err := tc.await(rc); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("nothing sent: %v, want the deadline", err)
			}
			r.SetReadDeadline(time.Time{})
			time.AfterFunc(30*time.Millisecond, func() { w.Write([]byte("y")) })
			start := time.Now()
			if err := tc.await(rc); err != nil {
				t.Fatal(err)
			}
			if time.Since(start) < 20*time.Millisecond {
				t.Fatalf("returned after %v, before the data was sent", time.Since(start))
			}
			var buf [1]byte
			if n, _ := r.Read(buf[:]); n != 1 || buf[0] != 'y' {
				t.Fatalf("the wait consumed the byte: %q", buf[:n])
			}
			time.AfterFunc(30*time.Millisecond, func() { w.Close() })
			if err := tc.await(rc); err != nil {
				t.Fatalf("writer closed: %v", err)
			}
			if n, err := r.Read(buf[:]); n != 0 || err != io.EOF {
				t.Fatalf("after the writer closed: %d, %v; want the end", n, err)
			}
		})
	}
}

// TestSocket: a socket comes with the flags asked for, and a bad domain
// gives its errno, not a descriptor.
func TestSocket(t *testing.T) {
	fd, e := Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if e != 0 {
		t.Fatalf("socket: %v", e)
	}
	defer unix.Close(fd)
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK == 0 {
		t.Errorf("flags %#x, %v: not non-blocking", fl, err)
	}
	if fd, e := Socket(-1, unix.SOCK_STREAM, 0); e != unix.EAFNOSUPPORT {
		t.Errorf("domain -1: fd %d, errno %v; want EAFNOSUPPORT", fd, e)
	}
}

// TestShutdown: a half-close ends the peer's stream; a full one also makes
// the socket itself read as ended (what wakes a watcher of it).
func TestShutdown(t *testing.T) {
	c, peer := tcpPair(t)
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var e syscall.Errno
	rc.Control(func(fd uintptr) { e = Shutdown(fd, unix.SHUT_WR) })
	if e != 0 {
		t.Fatalf("shutdown: %v", e)
	}
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := peer.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("peer read %d, %v after the half-close, want EOF", n, err)
	}
	rc.Control(func(fd uintptr) { e = Shutdown(fd, unix.SHUT_RDWR) })
	if ready, err := Readable(rc); e != 0 || err != nil || !ready {
		t.Errorf("after a full shutdown (%v): readable %v, %v; want readable", e, ready, err)
	}
}

// TestConnectedAndSoError: a socket reads as connected only once it has a
// peer, and SO_ERROR reports a refused connect; SO_TYPE reads back.
func TestConnectedAndSoError(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if Connected(fd) {
		t.Fatal("a socket that never connected reads as connected")
	}
	if v, e := GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); e != 0 || v != unix.SOCK_STREAM {
		t.Fatalf("SO_TYPE %d, %v", v, e)
	}
	if e := Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); e != 0 {
		t.Fatal(e)
	}
	if !Connected(fd) {
		t.Fatal("a connected socket reads as not connected")
	}
	if v, e := GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); e != 0 || v != 0 {
		t.Fatalf("SO_ERROR %d, %v on a connected socket", v, e)
	}

	// A refused non-blocking connect: SO_ERROR says so once it failed.
	ln2, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln2.Addr().(*net.TCPAddr).Port
	ln2.Close()
	fd2, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd2)
	e := Connect(fd2, &unix.SockaddrInet4{Port: closed, Addr: [4]byte{127, 0, 0, 1}})
	if e == unix.EINPROGRESS {
		pfd := []unix.PollFd{{Fd: int32(fd2), Events: unix.POLLOUT}}
		unix.Poll(pfd, 5000)
		var v int
		v, e = GetsockoptInt(fd2, unix.SOL_SOCKET, unix.SO_ERROR)
		if e == 0 {
			e = syscall.Errno(v)
		}
	}
	if e != unix.ECONNREFUSED || Connected(fd2) {
		t.Fatalf("connect to a closed port: %v, connected %v", e, Connected(fd2))
	}
}
