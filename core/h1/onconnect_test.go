package h1

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// TestOnConnect: the hook runs before the first request, what it changes
// lasts for every request of the connection, false closes silently, and
// Shutdown cuts a connection still in the hook.
func TestOnConnect(t *testing.T) {
	type seen struct {
		ip    string
		port  int
		host  string
		data  any
		proxy bool
	}
	got := make(chan seen, 4)
	h := HandlerFunc(func(w *ResponseWriter, r *Request) {
		got <- seen{r.Conn.RemoteIP, r.Conn.RemotePort, string(r.Host), r.Conn.Data, r.Conn.ProxyTLS}
		w.Respond(nil)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	entered := make(chan struct{}, 1)
	s := &Server{Handler: h, OnConnect: func(ci *ConnInfo) bool {
		var b [1]byte
		if _, err := io.ReadFull(ci.Conn, b[:]); err != nil {
			entered <- struct{}{}
			return false
		}
		switch b[0] {
		case 'A': // accept as a TLS client of 192.0.2.1
			ci.RemoteIP, ci.RemotePort, ci.ProxyTLS, ci.Data = "192.0.2.1", 4444, true, "state"
			return true
		case 'W': // wait for more, so Shutdown finds it in the hook
			entered <- struct{}{}
			io.ReadFull(ci.Conn, b[:])
		}
		return false
	}}
	s.SetConfig(testConfig())
	go s.Serve(ln)
	defer func() { ln.Close(); s.Close() }()

	t.Run("accepted", func(t *testing.T) {
		c, br := dial(t, ln.Addr().String())
		send(t, c, "AGET / HTTP/1.1\r\nHost: a:443\r\n\r\nGET / HTTP/1.1\r\nHost: b\r\n\r\n")
		read(t, br, false)
		read(t, br, false)
		for _, host := range []string{"a", "b"} { // :443 is the default port of a TLS client
			if g := <-got; g != (seen{"192.0.2.1", 4444, host, "state", true}) {
				t.Fatalf("request saw %+v", g)
			}
		}
	})
	t.Run("refused", func(t *testing.T) {
		c, br := dial(t, ln.Addr().String())
		send(t, c, "RGET / HTTP/1.1\r\nHost: a\r\n\r\n")
		if !isClosed(c, br, 2*time.Second) {
			t.Fatal("refused connection stays open")
		}
		select {
		case g := <-got:
			t.Fatalf("a refused connection was served: %+v", g)
		default:
		}
	})
	t.Run("shutdown cuts the hook", func(t *testing.T) {
		c, br := dial(t, ln.Addr().String())
		send(t, c, "W")
		<-entered
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// The hook's own read has no deadline: Shutdown's must end it.
		if err := s.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown waited for a connection in OnConnect: %v", err)
		}
		if !isClosed(c, br, 2*time.Second) {
			t.Fatal("connection in OnConnect not closed")
		}
	})
}
