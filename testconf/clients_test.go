package testconf

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func clientSite(t *testing.T, extra string) (*server, string) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("abc\n"), 0o644)
	// t.TempDir's parent is 0700: open both so a dropped user can read.
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	conf := fmt.Sprintf("server.document-root = %q\nserver.bind = \"127.0.0.1\"\nserver.port = @PORT@\n%s", dir, extra)
	return startServer(t, "golighty", golightyBin, dir, conf), dir
}

// A client that sends its request one byte at a time is served normally
// (within the head deadline).
func TestTrickledRequest(t *testing.T) {
	s, _ := clientSite(t, "")
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, b := range []byte("GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") {
		if _, err := c.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	out, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(out), "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(string(out), "\r\n\r\nabc\n") {
		t.Fatalf("trickled request: %q", out)
	}
}

// TestDrippingHeadsCutByReadIdle: with server.max-read-idle = 2, clients
// dripping one head byte every 300 ms (each byte resets an idle timer) are
// cut off once the head has taken 2 s, not after the fixed 30 s bound, and
// a normal client is still served meanwhile.
func TestDrippingHeadsCutByReadIdle(t *testing.T) {
	s, _ := clientSite(t, "server.max-read-idle = 2\n")
	const clients = 20
	closed := make(chan time.Duration, clients)
	start := time.Now()
	for i := 0; i < clients; i++ {
		go func() {
			c, err := net.Dial("tcp", s.addr)
			if err != nil {
				closed <- -1
				return
			}
			defer c.Close()
			head := "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("s", 200)
			for j := 0; j < len(head); j++ {
				if _, err := c.Write([]byte{head[j]}); err != nil {
					break
				}
				c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				if _, err := c.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
					break // the server closed the connection
				}
			}
			closed <- time.Since(start)
		}()
	}
	if _, body, _, err := get(s.addr, "/a.txt"); err != nil || body != "abc\n" {
		t.Fatalf("a normal client was not served meanwhile: %q %v", body, err)
	}
	for i := 0; i < clients; i++ {
		d := <-closed
		if d < 0 || d > 5*time.Second {
			t.Fatalf("a dripping client stayed connected %v (want cut off after about 2 s)", d)
		}
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// Clients that vanish mid-head or mid-body leave the server serving.
func TestClientClosesMidRequest(t *testing.T) {
	s, _ := clientSite(t, "")
	for _, partial := range []string{
		"GET /a.txt HTTP/1.1\r\nHost: x\r\nUser-Ag",
		"POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly part of the body",
		"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /a.txt HTT",
	} {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, partial)
		time.Sleep(20 * time.Millisecond)
		c.Close()
	}
	if _, body, _, err := get(s.addr, "/a.txt"); err != nil || body != "abc\n" {
		t.Fatalf("after abandoned requests: %q %v", body, err)
	}
}

// As root, golighty binds first and then runs as server.username.
func TestDropsPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	s, _ := clientSite(t, "server.username = \"nobody\"\n")
	if _, body, _, err := get(s.addr, "/a.txt"); err != nil || body != "abc\n" {
		t.Fatalf("served as nobody: %q %v", body, err)
	}
	st, err := os.ReadFile("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(st), "\n") {
		if strings.HasPrefix(line, "Uid:") {
			if f := strings.Fields(line); len(f) < 2 || f[1] != u.Uid {
				t.Fatalf("running as %q, want uid %s", line, u.Uid)
			}
			return
		}
	}
	t.Fatal("no Uid line")
}

// TestSilentAndLateClients, side by side: of connections opened at once,
// those that send their request late are served, those that send nothing
// are closed at server.max-read-idle, and the server keeps no descriptor
// of any of them afterwards (golighty accepts with raw accept4 and parks a
// connection whose request is not there yet: the accounting of both).
func TestSilentAndLateClients(t *testing.T) {
	for _, name := range []string{"golighty", "lighttpd"} {
		t.Run(name, func(t *testing.T) {
			bin := golightyBin
			if name == "lighttpd" {
				bin = requirePeer(t, "lighttpd")
			}
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "a.txt"), []byte("abc\n"), 0o644)
			conf := fmt.Sprintf("server.document-root = %q\nserver.bind = \"127.0.0.1\"\nserver.port = @PORT@\n"+
				"server.max-read-idle = 1\nserver.errorlog = %q\n", dir, filepath.Join(dir, "error.log"))
			s := startServer(t, name, bin, dir, conf)
			// Sockets only: a file the stat cache keeps open or the idle
			// poller's epoll set (made at the first park) are not leaks.
			fds := func() int {
				dir := fmt.Sprintf("/proc/%d/fd", s.cmd.Process.Pid)
				ents, err := os.ReadDir(dir)
				if err != nil {
					t.Skip("no /proc")
				}
				n := 0
				for _, e := range ents {
					if l, _ := os.Readlink(dir + "/" + e.Name()); strings.HasPrefix(l, "socket:") {
						n++
					}
				}
				return n
			}
			time.Sleep(100 * time.Millisecond) // the start-up probe's connection is gone
			base := fds()
			const n = 60
			conns := make([]net.Conn, n)
			for i := range conns {
				c, err := net.Dial("tcp", s.addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				conns[i] = c
			}
			time.Sleep(200 * time.Millisecond)
			if got := fds(); got < base+n {
				t.Fatalf("%d sockets with %d connections open, %d before", got, n, base)
			}
			start := time.Now()
			for i, c := range conns {
				if i%2 == 0 {
					continue // silent
				}
				if _, err := c.Write([]byte("GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")); err != nil {
					t.Fatal(err)
				}
			}
			for i, c := range conns {
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				out, err := io.ReadAll(c)
				c.Close() // the server's lingering close waits for this
				switch {
				case err != nil:
					t.Fatalf("connection %d: %v after %q", i, err, out)
				case i%2 == 1 && (!strings.HasPrefix(string(out), "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(string(out), "\r\n\r\nabc\n")):
					t.Fatalf("late request %d: %q", i, out)
				case i%2 == 0 && len(out) != 0:
					t.Fatalf("silent connection %d was answered: %q", i, out)
				}
			}
			if el := time.Since(start); el < 700*time.Millisecond || el > 5*time.Second {
				t.Errorf("silent connections closed after %v, server.max-read-idle is 1 s", el)
			}
			deadline := time.Now().Add(3 * time.Second)
			for fds() > base && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if got := fds(); got > base {
				t.Errorf("%d sockets after every connection ended, %d before", got, base)
			}
		})
	}
}
