package h1

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

const closeReq = "GET /f.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"

// lingerConfig lingers for limit (the sweep then runs at least that often).
func lingerConfig(limit time.Duration) Config {
	cfg := testConfig()
	cfg.LingerTimeout = limit
	return cfg
}

// TestLingerInPoller: a connection closed after its response lingers in the
// idle poller, with no goroutine, until the client ends it, its time is
// up, it sends more than the budget, or the server stops; the client always
// gets the whole response first.
func TestLingerInPoller(t *testing.T) {
	tests := []struct {
		name   string
		limit  time.Duration
		client func(t *testing.T, s *Server, c net.Conn) // after the response, while lingering
		within time.Duration                             // the server closes within
	}{
		{"client closes", 5 * time.Second, func(t *testing.T, _ *Server, c net.Conn) {
			must(t, c.(*net.TCPConn).CloseWrite())
		}, 2 * time.Second},
		{"client sends more, then closes", 5 * time.Second, func(t *testing.T, _ *Server, c net.Conn) {
			send(t, c, "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n"+strings.Repeat("x", 100<<10))
			time.Sleep(50 * time.Millisecond)
			must(t, c.(*net.TCPConn).CloseWrite())
		}, 2 * time.Second},
		{"client stays: the linger times out", 150 * time.Millisecond, func(*testing.T, *Server, net.Conn) {}, 2 * time.Second},
		{"client sends more than the budget", 5 * time.Second, func(t *testing.T, _ *Server, c net.Conn) {
			chunk := []byte(strings.Repeat("y", 64<<10))
			c.SetWriteDeadline(time.Now().Add(3 * time.Second))
			for sent := 0; sent <= lingerBudget; sent += len(chunk) {
				if _, err := c.Write(chunk); err != nil {
					return // the server closed once the budget was spent
				}
			}
		}, 2 * time.Second},
		{"server shuts down", 5 * time.Second, func(t *testing.T, s *Server, _ net.Conn) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			must(t, s.Shutdown(ctx))
		}, 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, addr := startServer(t, lingerConfig(tc.limit), testHandler(testDocroot(t)))
			c, br := dial(t, addr)
			send(t, c, closeReq)
			if r := read(t, br, false); r.status != 200 || string(r.body) != fileBody {
				t.Fatalf("response %d %q", r.status, r.body)
			}
			waitFor(t, "the connection to linger in the poller", func() bool { return parkedCount(s) == 1 && served(s) == 0 })
			if n := s.OpenConns(); n != 1 {
				t.Errorf("OpenConns = %d while lingering, want 1", n)
			}
			start := time.Now()
			tc.client(t, s, c)
			waitFor(t, "the server to close the connection", func() bool { return s.OpenConns() == 0 && parkedCount(s) == 0 })
			if el := time.Since(start); el > tc.within {
				t.Errorf("closed after %v, want within %v", el, tc.within)
			}
			if !isClosed(c, br, 2*time.Second) {
				t.Error("the client's side is still open")
			}
		})
	}
}

// TestLingerClientClosedFirst: a client that half-closed with its request
// gets the response and the connection ends without a wait in the poller.
func TestLingerClientClosedFirst(t *testing.T) {
	s, addr := startServer(t, lingerConfig(5*time.Second), testHandler(testDocroot(t)))
	c, err := net.Dial("tcp", addr)
	must(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	send(t, c, closeReq)
	must(t, c.(*net.TCPConn).CloseWrite())
	br := bufio.NewReader(c)
	if r := read(t, br, false); r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	if !isClosed(c, br, 2*time.Second) {
		t.Fatal("still open")
	}
	waitFor(t, "the connection to end", func() bool { return s.OpenConns() == 0 })
	if n := parkedCount(s); n != 0 {
		t.Errorf("%d connections parked", n)
	}
}

// TestLingerManyConnections: connections per request leave no goroutine
// behind while their clients are slow to close.
func TestLingerManyConnections(t *testing.T) {
	s, addr := startServer(t, lingerConfig(5*time.Second), testHandler(testDocroot(t)))
	const n = 50
	conns := make([]net.Conn, 0, n)
	for range n {
		c, br := dial(t, addr)
		send(t, c, closeReq)
		read(t, br, false)
		conns = append(conns, c)
	}
	waitFor(t, "all to linger in the poller", func() bool { return parkedCount(s) == n && served(s) == 0 })
	for _, c := range conns {
		c.Close()
	}
	waitFor(t, "all to close", func() bool { return s.OpenConns() == 0 && parkedCount(s) == 0 })
}

// TestLingerAfterIdlePark: a connection that was parked idle before (its
// socket already in the poller's set) lingers there after its last request.
func TestLingerAfterIdlePark(t *testing.T) {
	cfg := parkConfig()
	cfg.LingerTimeout = 5 * time.Second
	s, addr := startServer(t, cfg, testHandler(testDocroot(t)))
	c, br := dial(t, addr)
	send(t, c, "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
	read(t, br, false)
	waitFor(t, "the connection to park idle", func() bool { return parkedCount(s) == 1 && served(s) == 0 })
	send(t, c, closeReq)
	if r := read(t, br, false); r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	waitFor(t, "the connection to linger in the poller", func() bool { return parkedCount(s) == 1 && served(s) == 0 })
	must(t, c.(*net.TCPConn).CloseWrite())
	waitFor(t, "the server to close the connection", func() bool { return s.OpenConns() == 0 && parkedCount(s) == 0 })
	if !isClosed(c, br, 2*time.Second) {
		t.Error("the client's side is still open")
	}
}
