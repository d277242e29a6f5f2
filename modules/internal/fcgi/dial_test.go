package fcgi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDialAddresses: every address form a fastcgi.server entry can produce
// reaches the backend, and each failure is a *net.OpError with Op "dial"
// (the gateway tells connect failures from the rest that way) with the
// text net.Dial would give.
func TestDialAddresses(t *testing.T) {
	tcp, _ := goBackend(t, "tcp")
	unixd, _ := goBackend(t, "unix")
	_, port, _ := net.SplitHostPort(tcp.Address)
	var v6 string
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		v6 = ln.Addr().String()
		ln.Close() // only to learn that ::1 works here
	}
	refused := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}()
	tests := []struct {
		name, network, addr string
		wantErr             string // substring; "" = must succeed
	}{
		{"tcp literal", "tcp", tcp.Address, ""},
		{"tcp host name", "tcp", "localhost:" + port, ""},
		{"tcp network inferred", "", tcp.Address, ""},
		{"unix", "unix", unixd.Address, ""},
		{"unix inferred from the leading slash", "", unixd.Address, ""},
		{"refused", "tcp", refused, "dial tcp " + refused + ": connect: connection refused"},
		{"missing socket file", "unix", filepath.Join(t.TempDir(), "none.sock"), "connect: no such file or directory"},
		{"bad port", "tcp", "127.0.0.1:http-alt", "invalid port"},
		{"no port", "tcp", "127.0.0.1", "missing port"},
		{"unknown network", "udp", "127.0.0.1:9", "unknown network udp"},
		{"socket path too long", "unix", "/" + strings.Repeat("x", 200), "dial unix"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &Dialer{Network: tc.network, Address: tc.addr, ConnectTimeout: 2 * time.Second}
			resp, err := d.Do(context.Background(), &Request{Params: cgiParams("GET", "/env", 0)})
			if tc.wantErr != "" {
				if err == nil {
					resp.Close()
					t.Fatalf("connected, want error containing %q", tc.wantErr)
				}
				var op *net.OpError
				if !errors.As(err, &op) || op.Op != "dial" {
					t.Errorf("error %v (%T) is not a dial *net.OpError", err, err)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %q, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Close()
			if _, err := resp.ReadHeader(); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadAll(resp); err != nil {
				t.Fatal(err)
			}
		})
	}
	if v6 != "" {
		t.Run("tcp6 literal", func(t *testing.T) {
			ln, err := net.Listen("tcp6", "[::1]:0")
			if err != nil {
				t.Skip(err)
			}
			defer ln.Close()
			d := &Dialer{Address: ln.Addr().String()}
			go func() {
				if c, err := ln.Accept(); err == nil {
					c.Close()
				}
			}()
			nc, err := d.connect(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			nc.Close()
		})
	}
}

// TestDialFileDescriptorsReleased: failed and successful dials leave no
// descriptor behind.
func TestDialFileDescriptorsReleased(t *testing.T) {
	d, _ := goBackend(t, "unix")
	bad := &Dialer{Address: filepath.Join(t.TempDir(), "none.sock")}
	before := openFDs(t)
	for range 200 {
		resp, err := d.Do(context.Background(), &Request{Params: cgiParams("GET", "/env", 0)})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp)
		resp.Close()
		if _, err := bad.Do(context.Background(), &Request{}); err == nil {
			t.Fatal("dial to a missing socket succeeded")
		}
	}
	// The backend side closes asynchronously; allow it to settle.
	deadline := time.Now().Add(2 * time.Second)
	for openFDs(t) > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := openFDs(t); after > before+2 {
		t.Errorf("open descriptors grew from %d to %d over 400 dials", before, after)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// fullBacklog is a listening TCP port whose accept queue is full, so a
// new connect never completes (the SYN is dropped).
func fullBacklog(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
	for range 4 {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	return addr
}

// TestConnectTimeout: a connect that does not complete fails after
// ConnectTimeout with a deadline error (the gateway's 503 and log depend on
// it), and a cancelled context ends the wait early.
func TestConnectTimeout(t *testing.T) {
	addr := fullBacklog(t)
	d := &Dialer{Network: "tcp", Address: addr, ConnectTimeout: 300 * time.Millisecond}
	start := time.Now()
	_, err := d.Do(context.Background(), &Request{})
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Fatalf("error %v is not a dial error", err)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("error %v, want a deadline error", err)
	}
	if el := time.Since(start); el < 250*time.Millisecond || el > 3*time.Second {
		t.Errorf("took %v, want about 300ms", el)
	}

	d = &Dialer{Network: "tcp", Address: addr, ConnectTimeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = d.Do(ctx, &Request{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want the context's", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("cancelled dial took %v", el)
	}
}

// TestDialConcurrent: one Dialer used from many goroutines (what every
// proc's Dialer sees); run under -race it checks that the shared resolved
// address is only read.
func TestDialConcurrent(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			d, _ := goBackend(t, network)
			errs := make(chan error, 8)
			for range 8 {
				go func() {
					var err error
					for range 20 {
						var resp *Response
						if resp, err = d.Do(context.Background(), &Request{Params: cgiParams("GET", "/env", 0)}); err != nil {
							break
						}
						_, err = io.Copy(io.Discard, resp)
						resp.Close()
						if err != nil {
							break
						}
					}
					errs <- err
				}()
			}
			for range 8 {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
		})
	}
}
