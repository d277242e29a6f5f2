package fastcgi

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golighty/golighty/core/coretest"
)

// oneChild is a FastCGI backend that behaves as a single php-cgi child:
// it takes one connection at a time, answers, and then reads until the
// server closes the connection before it accepts the next. A server that
// closes a finished connection late holds every later request. stop ends
// it (also at cleanup); a test whose server may wait on the child calls it
// first.
func oneChild(t *testing.T, answer func(req *rawReq) string) (ln net.Listener, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var cur net.Conn
	var once sync.Once
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			cur = c
			mu.Unlock()
			if req, err := readRawRequest(bufio.NewReader(c)); err == nil {
				writeResponse(c, answer(req))
				io.Copy(io.Discard, c)
			}
			c.Close()
		}
	}()
	stop = func() {
		once.Do(func() {
			ln.Close()
			mu.Lock()
			if cur != nil {
				cur.Close()
			}
			mu.Unlock()
			<-done
		})
	}
	t.Cleanup(stop)
	return ln, stop
}

// serveTCPAll serves every connection to a loopback listener with h; the
// server side of each connection sends through a small buffer, so a
// client that does not read makes a write wait soon.
func serveTCPAll(t *testing.T, h *coretest.Harness) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetWriteBuffer(4096)
			wg.Add(1)
			go func() {
				defer wg.Done()
				h.Server.ServeConn(c, ln.Addr().String())
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

func dialClient(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

// readBody reads one response to a GET and returns its body.
func readBody(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFinishedBackendClosedInTime: the server closes a finished backend
// connection after the response is written (lighttpd's order), but never
// so late that a single php-cgi child is held: not by pipelined requests,
// not by an authorizer's restart, not by a client that does not read.
func TestFinishedBackendClosedInTime(t *testing.T) {
	be, stop := oneChild(t, func(req *rawReq) string {
		if req.role == 2 {
			return "Status: 200\r\n\r\n"
		}
		uri, _ := req.param("REQUEST_URI")
		if uri == "/big.php" {
			return "\r\n" + strings.Repeat("x", 60<<10) // in memory (below spoolMem), larger than the socket buffers
		}
		return "\r\nanswer for " + uri
	})
	conf := `server.document-root = "@DIR@/www"
server.modules = ("mod_fastcgi")
fastcgi.server = (
  "/auth/" => (( ` + hostOpt(be) + `, "mode" => "authorizer", "check-local" => "disable" )),
  ".php" => (( ` + hostOpt(be) + `, "check-local" => "disable" )) )
`
	h := coretest.New(t, conf)
	addr := serveTCPAll(t, h)
	t.Cleanup(stop) // before serveTCPAll waits for requests held by the child

	t.Run("pipelined", func(t *testing.T) {
		c, br := dialClient(t, addr)
		io.WriteString(c, "GET /1.php HTTP/1.1\r\nHost: a\r\n\r\nGET /2.php HTTP/1.1\r\nHost: a\r\n\r\n")
		for _, want := range []string{"answer for /1.php", "answer for /2.php"} {
			if got := readBody(t, br); got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		}
	})
	t.Run("authorizer then responder", func(t *testing.T) {
		c, br := dialClient(t, addr)
		io.WriteString(c, "GET /auth/x.php HTTP/1.1\r\nHost: a\r\n\r\n")
		if got := readBody(t, br); got != "answer for /auth/x.php" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("client that does not read", func(t *testing.T) {
		// A small receive buffer from the start: the window the client
		// offers stays far below the response.
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048)
			})
		}}
		slow, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer slow.Close()
		io.WriteString(slow, "GET /big.php HTTP/1.1\r\nHost: a\r\n\r\n")
		time.Sleep(50 * time.Millisecond) // its request reaches the child first
		c, br := dialClient(t, addr)
		c.SetDeadline(time.Now().Add(5 * time.Second)) // server.max-write-idle is 360 s
		io.WriteString(c, "GET /next.php HTTP/1.1\r\nHost: a\r\n\r\n")
		if got := readBody(t, br); got != "answer for /next.php" {
			t.Fatalf("got %q", got)
		}
	})
}
