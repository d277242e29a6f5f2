package fastcgi

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golighty/golighty/core/coretest"
	"github.com/golighty/golighty/modules/internal/gw"
)

// slowBackend answers after `answerAfter` unless its connection is closed
// first; it reports on gone when it saw the close, on answered when it
// answered.
func slowBackend(t *testing.T, answerAfter time.Duration) (string, <-chan time.Duration, <-chan struct{}) {
	gone := make(chan time.Duration, 1)
	answered := make(chan struct{}, 1)
	b := startRaw(t, "unix", func(req *rawReq, c net.Conn) {
		start := time.Now()
		// The request is complete: a read returns only when the server
		// closes the connection.
		c.SetReadDeadline(start.Add(answerAfter))
		var buf [1]byte
		if _, err := c.Read(buf[:]); err == io.EOF {
			gone <- time.Since(start)
			return
		}
		writeResponse(c, "Content-Type: text/plain\r\n\r\nlate answer\n")
		answered <- struct{}{}
	})
	return hostOpt(b.ln), gone, answered
}

// serveTCP serves h on a loopback TCP listener (a reset needs a real
// socket) and returns a connected client.
func serveTCP(t *testing.T, h *coretest.Harness) *net.TCPConn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		h.Server.ServeConn(c, ln.Addr().String())
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return c.(*net.TCPConn)
}

func withCheckInterval(t *testing.T, d time.Duration) {
	old := gw.ClientCheckInterval.Swap(int64(d))
	t.Cleanup(func() { gw.ClientCheckInterval.Store(old) })
}

// TestClientResetAbortsBackend: a client that resets its connection while
// the script runs gets its backend connection closed (php-cgi then ends the
// script), as lighttpd does; the backend does not run to completion.
func TestClientResetAbortsBackend(t *testing.T) {
	withCheckInterval(t, 100*time.Millisecond)
	host, gone, answered := slowBackend(t, 5*time.Second)
	h := coretest.New(t, confFor(".php", host, ""))
	h.WriteFile("www/slow.php", "")
	c := serveTCP(t, h)
	if _, err := io.WriteString(c, "GET /slow.php HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the request reached the backend
	resetAndExpectAbort(t, c, gone, answered)
}

// resetAndExpectAbort resets c (a close with RST) and expects the slow
// backend's connection closed soon after, not its answer.
func resetAndExpectAbort(t *testing.T, c *net.TCPConn, gone <-chan time.Duration, answered <-chan struct{}) {
	t.Helper()
	c.SetLinger(0)
	c.Close()
	select {
	case d := <-gone:
		t.Logf("backend connection closed %v after the request reached it", d)
		if d > 2*time.Second {
			t.Errorf("backend connection closed %v after the request, want within a few check intervals", d)
		}
	case <-answered:
		t.Fatal("the backend ran to completion for a client that reset")
	case <-time.After(8 * time.Second):
		t.Fatal("backend saw nothing")
	}
}

// TestClientHalfCloseStillAnswered: a client that only shuts down its
// sending side (FIN) still gets the answer, as from lighttpd; the
// backend is not aborted.
func TestClientHalfCloseStillAnswered(t *testing.T) {
	withCheckInterval(t, 100*time.Millisecond)
	host, gone, _ := slowBackend(t, 700*time.Millisecond)
	h := coretest.New(t, confFor(".php", host, ""))
	h.WriteFile("www/slow.php", "")
	c := serveTCP(t, h)
	defer c.Close()
	if _, err := io.WriteString(c, "GET /slow.php HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "late answer") {
		t.Errorf("status %d body %q, want the backend's answer", resp.StatusCode, body)
	}
	select {
	case <-gone:
		t.Error("the backend was aborted for a half-closed client")
	default:
	}
}
