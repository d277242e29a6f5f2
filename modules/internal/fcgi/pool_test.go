package fcgi

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

func getEnv(t *testing.T, d *Dialer, fresh bool) error {
	t.Helper()
	resp, err := d.Do(context.Background(), &Request{Params: cgiParams("GET", "/env", 0), Fresh: fresh})
	if err != nil {
		return err
	}
	defer resp.Close()
	if _, err := resp.ReadHeader(); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp)
	return err
}

// TestKeepConnCap: with KeepConn, never more than MaxConns connections are
// open, however many requests run at once; the others wait for one. This
// is what keeps kept connections from pinning every php-cgi child while a
// new connection waits in the backlog.
func TestKeepConnCap(t *testing.T) {
	checkNoLeak(t)
	d, cl := goBackend(t, "tcp")
	d.KeepConn, d.MaxConns = true, 2
	defer d.CloseIdle()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if err := getEnv(t, d, false); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := cl.accepted.Load(); n > 2 || n == 0 {
		t.Errorf("160 requests from 16 goroutines opened %d connections, want 1 or 2", n)
	}
}

// TestKeepConnFresh: a request that must not be replayed gets a new
// connection; when every slot holds an idle connection, the oldest is
// closed to make room rather than waited for.
func TestKeepConnFresh(t *testing.T) {
	checkNoLeak(t)
	d, cl := goBackend(t, "tcp")
	d.KeepConn, d.MaxConns = true, 1
	defer d.CloseIdle()
	if err := getEnv(t, d, false); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- getEnv(t, d, true) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a fresh request waited behind an idle connection")
	}
	if n := cl.accepted.Load(); n != 2 {
		t.Errorf("connections = %d, want 2 (the fresh request dialed)", n)
	}
	if err := getEnv(t, d, false); err != nil {
		t.Fatal(err)
	}
	if n := cl.accepted.Load(); n != 2 {
		t.Errorf("connections = %d, want 2 (the fresh request's connection reused)", n)
	}
}

// TestKeepConnWait: at the limit a request waits for a connection, gives
// up with its context, and proceeds once one is released.
func TestKeepConnWait(t *testing.T) {
	checkNoLeak(t)
	d, _ := goBackend(t, "tcp")
	d.KeepConn, d.MaxConns = true, 1
	defer d.CloseIdle()
	held, err := d.Do(context.Background(), &Request{Params: cgiParams("GET", "/env", 0)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := d.Do(ctx, &Request{Params: cgiParams("GET", "/env", 0)}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the context's deadline", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("waited %v", el)
	}
	got := make(chan error, 1)
	go func() { got <- getEnv(t, d, false) }()
	time.Sleep(50 * time.Millisecond)
	io.Copy(io.Discard, held)
	held.Close()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting request did not get the released connection")
	}
}

// TestKeepConnDropped: a backend that closes a kept connection after
// the next request arrived, without answering (php-cgi retiring a child),
// shows as Dropped; a backend that answered, or a new connection, does not.
func TestKeepConnDropped(t *testing.T) {
	checkNoLeak(t)
	d := scriptBackend(t, true, func(c net.Conn, in received) {
		c.Write(stdout("Content-Type: text/plain\r\n\r\nfirst"))
		c.Write(stdout(""))
		c.Write(endRequest(0, 0))
		var b [1]byte
		c.Read(b[:]) // the next request arrives; close unanswered
	})
	d.KeepConn, d.MaxConns = true, 1
	defer d.CloseIdle()
	resp, err := d.Do(context.Background(), &Request{Params: cgiParams("GET", "/", 0)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resp.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, resp); err != nil {
		t.Fatal(err)
	}
	if resp.Dropped(io.EOF) {
		t.Error("a fresh connection reported as dropped")
	}
	resp.Close()

	resp, err = d.Do(context.Background(), &Request{Params: cgiParams("GET", "/", 0)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = resp.ReadHeader()
	if err == nil {
		t.Fatal("the dropped request got an answer")
	}
	if !resp.Dropped(err) {
		t.Errorf("error %v on a reused connection closed unanswered: Dropped = false", err)
	}
	resp.Close()
}
