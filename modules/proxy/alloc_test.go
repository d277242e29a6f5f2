package proxy

import (
	"bytes"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"
	"time"

	"github.com/golighty/golighty/core/rawsys"
	"golang.org/x/sys/unix"
)

// TestProxiedRequestAllocs: a proxied request allocates twice, the backend
// connection's 16-byte handle and one string of the response's header
// values: the handler, its choice, backend connection state, readers and
// client watch are reused (12 allocations, 720 bytes before). Backend and
// client make raw system calls with fixed buffers, so what is counted is
// golighty's.
func TestProxiedRequestAllocs(t *testing.T) {
	if rawsys.RaceEnabled {
		t.Skip("sync.Pool drops a quarter of its puts under the race detector")
	}
	sock := filepath.Join(t.TempDir(), "be.sock")
	lfd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(lfd, &unix.SockaddrUnix{Name: sock}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(lfd, 64); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("k"), 1024)
	answer := fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: Mon, 07 Dec 2026 12:00:00 GMT\r\n"+
		"ETag: \"1-2\"\r\nLast-Modified: Mon, 07 Dec 2026 11:00:00 GMT\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	go func() { // a blocking backend: one raw accept, read, write and close per request
		buf := make([]byte, 4096)
		for {
			fd, _, e := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(lfd), 0, 0, unix.SOCK_CLOEXEC, 0, 0)
			if e == unix.EINTR {
				continue
			}
			if e != 0 {
				return // the listener was shut down
			}
			got := 0
			for !bytes.Contains(buf[:got], []byte("\r\n\r\n")) {
				n, err := unix.Read(int(fd), buf[got:])
				if n <= 0 || err != nil {
					break
				}
				got += n
			}
			unix.Write(int(fd), answer)
			unix.Close(int(fd))
		}
	}()
	t.Cleanup(func() { unix.Shutdown(lfd, unix.SHUT_RDWR); unix.Close(lfd) })

	h := harness(t, sock, "")
	// The client's connection is a socket (deadlines on a net.Pipe
	// allocate timers).
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "client.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	go h.Server.ServeConn(server, ":80")
	client.SetDeadline(time.Now().Add(time.Minute))
	req := []byte("GET /x?y=1 HTTP/1.1\r\nHost: alloc\r\nUser-Agent: t\r\n\r\n")
	resp := make([]byte, 8192)
	get := func() {
		if _, err := client.Write(req); err != nil {
			t.Fatal(err)
		}
		got, want := 0, -1
		for want < 0 || got < want {
			n, err := client.Read(resp[got:])
			if err != nil {
				t.Fatalf("after %q: %v", resp[:got], err)
			}
			got += n
			if want < 0 {
				want = wholeResponse(resp[:got])
			}
		}
		if !bytes.HasPrefix(resp, []byte("HTTP/1.1 200 ")) || !bytes.HasSuffix(resp[:got], body) {
			t.Fatalf("response %q", resp[:got])
		}
	}
	for range 20 { // the pools fill
		get()
	}
	// No collection meanwhile: it would empty the pools.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 500
	for range n {
		get()
	}
	runtime.ReadMemStats(&after)
	allocs := float64(after.Mallocs-before.Mallocs) / n
	bytesPer := (after.TotalAlloc - before.TotalAlloc) / n
	t.Logf("%.2f allocations, %d bytes per proxied request", allocs, bytesPer)
	// (Bytes vary with the pools' buffers made meanwhile: a request whose
	// goroutine finds its processor's pool empty makes one.)
	if allocs > 2.1 {
		t.Errorf("%.2f allocations per proxied request; want two: the backend connection's handle and the response's header values", allocs)
	}
}

// wholeResponse is the length of the response whose start is in b (-1:
// its head is not all there yet).
func wholeResponse(b []byte) int {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return -1
	}
	i := bytes.Index(b[:end], []byte("\r\nContent-Length: "))
	if i < 0 {
		return end + 4
	}
	v := b[i+len("\r\nContent-Length: "):]
	v = v[:bytes.IndexByte(v, '\r')]
	cl, _ := strconv.Atoi(string(v))
	return end + 4 + cl
}
