package coretest

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// GetOn requests path from the server at addr on a connection of its own
// (Connection: close) and returns the status and body.
func GetOn(addr, path string) (int, string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, "", err
	}
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// WaitFor polls cond every 10 ms for up to 5 s and fails t if it never
// holds.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// SettlesAtMost waits (up to 2 s) for count to fall to most or below and
// fails the test with its last value if it does not: a goroutine between
// sending a request and suspending it still counts for a moment.
func SettlesAtMost(t testing.TB, what string, count func() int, most int) {
	t.Helper()
	n := count()
	for i := 0; n > most && i < 200; i++ {
		time.Sleep(10 * time.Millisecond)
		n = count()
	}
	if n > most {
		t.Errorf("%d %s, want at most %d", n, what, most)
	}
}

// HeldRequests sends n requests for prefix0 .. prefix(n-1) at once (GetAll)
// to a server whose backend holds each until release is closed, waits until
// held reports all n at the backend, runs whileHeld, releases them and
// expects each its own answer (ExpectOwnAnswers).
func HeldRequests(t testing.TB, addr, prefix string, n int, held func() int, release chan struct{}, whileHeld func()) {
	t.Helper()
	paths := make([]string, n)
	for i := range paths {
		paths[i] = prefix + strconv.Itoa(i)
	}
	results := GetAll(addr, paths)
	WaitFor(t, "every request at the backend", func() bool { return held() == n })
	whileHeld()
	close(release)
	ExpectOwnAnswers(t, results, n)
}

// Got is one GetAll request's outcome.
type Got struct {
	Path, Body string
	Status     int
	Err        error
}

// GetAll requests each of paths at once, each on a connection of its own
// (GetOn), and delivers the outcomes as they come.
func GetAll(addr string, paths []string) <-chan Got {
	ch := make(chan Got, len(paths))
	for _, p := range paths {
		go func() {
			s, b, err := GetOn(addr, p)
			ch <- Got{p, b, s, err}
		}()
	}
	return ch
}

// ExpectOwnAnswers reads n outcomes from ch and fails t unless each is a
// 200 whose body is its own path (a backend echoing REQUEST_URI).
func ExpectOwnAnswers(t testing.TB, ch <-chan Got, n int) {
	t.Helper()
	for range n {
		g := <-ch
		if g.Err != nil || g.Status != 200 || g.Body != g.Path {
			t.Fatalf("%s: got %d %q %v, want 200 with its own answer", g.Path, g.Status, g.Body, g.Err)
		}
	}
}

// ResetWhileWaiting sends a GET of path to addr, waits until arrived
// holds (the backend has the request) and waiting (goroutines waiting for
// the answer) is 0, then resets the connection (a close with RST) and
// expects the backend's connection closed soon after: gone delivers how
// long the backend held it.
func ResetWhileWaiting(t testing.TB, addr, path string, arrived func() bool, waiting func() int, gone <-chan time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, "the request at the backend", arrived)
	time.Sleep(100 * time.Millisecond)
	if w := waiting(); w != 0 {
		t.Fatalf("%d goroutines wait for the answer, want the request suspended", w)
	}
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	select {
	case d := <-gone:
		if d > 2*time.Second {
			t.Errorf("backend connection closed %v after the request, want within a few check intervals", d)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("the backend connection stayed open for a client that reset")
	}
}

// ExpectReadTimeout requests path from addr, whose backend stays silent,
// and expects lighttpd's 504 once a read-timeout of 1 s passed (and the
// engine's sweep of suspended requests, once a second).
func ExpectReadTimeout(t testing.TB, addr, path string) {
	t.Helper()
	start := time.Now()
	status, _, err := GetOn(addr, path)
	if err != nil || status != 504 {
		t.Fatalf("got %d %v, want 504", status, err)
	}
	if d := time.Since(start); d < time.Second || d > 5*time.Second {
		t.Errorf("504 after %v, want after the 1 s read-timeout (and the poller's sweep)", d)
	}
}

// GoroutinesIn counts the goroutines whose stacks hold frame (a function
// name as runtime.Stack prints it, "pkg.(*T).Method(").
func GoroutinesIn(frame string) int {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), frame)
}

// GetsAndPosts sends n requests for path?i=N (N from 0) one after another
// on one keep-alive connection to addr: a GET, or for every third a POST
// with an N-byte body. The backend must answer each with "METHOD URI
// BODYLEN" (the request URI as it received it). halfway runs before the
// second half (a test changing how requests wait). Each answer must be its
// own request's: a handler reused with something of an earlier request
// would show here.
func GetsAndPosts(t testing.TB, addr, path string, n int, halfway func()) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	for i := range n {
		if i == n/2 && halfway != nil {
			halfway()
		}
		uri := path + "?i=" + strconv.Itoa(i)
		req := "GET " + uri + " HTTP/1.1\r\nHost: x\r\n\r\n"
		want := "GET " + uri + " 0"
		if i%3 == 1 {
			body := strings.Repeat("b", i)
			req = "POST " + uri + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(i) + "\r\n\r\n" + body
			want = "POST " + uri + " " + strconv.Itoa(i)
		}
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(i, err)
		}
		got, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 || string(got) != want {
			t.Fatalf("request %d: %d %q (%v), want %q", i, resp.StatusCode, got, err, want)
		}
	}
}
