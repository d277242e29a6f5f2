package h1

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const lighttpdBin = "/usr/sbin/lighttpd"

// startLighttpd runs Debian's lighttpd on a loopback port with a minimal
// config serving root; it is stopped at cleanup.
func startLighttpd(t testing.TB, root string) string {
	t.Helper()
	if _, err := os.Stat(lighttpdBin); err != nil {
		if os.Getenv("GOLIGHTY_REQUIRE_PEERS") == "1" {
			t.Fatalf("lighttpd required (GOLIGHTY_REQUIRE_PEERS=1): %v", err)
		}
		t.Skipf("no %s", lighttpdBin)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := filepath.Join(t.TempDir(), "lighttpd.conf")
	must(t, os.WriteFile(conf, []byte(fmt.Sprintf(`server.document-root = %q
server.bind = "127.0.0.1"
server.port = %d
server.max-request-size = 1
server.errorlog = %q
mimetype.assign = (".txt" => "text/plain")
server.max-keep-alive-requests = 30000
`, root, port, filepath.Join(filepath.Dir(conf), "error.log"))), 0o644))
	cmd := exec.Command(lighttpdBin, "-D", "-f", conf)
	cmd.Stderr = os.Stderr
	must(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("lighttpd did not start on %s", addr)
	return ""
}

// TestSideBySideLighttpd sends every wire case to lighttpd and to the
// engine and compares the status and whether the connection closed.
func TestSideBySideLighttpd(t *testing.T) {
	root := testDocroot(t)
	peer := startLighttpd(t, root)
	_, ours := startServer(t, testConfig(), testHandler(root))
	for _, tc := range wireCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lr, lclosed := exchange(t, peer, tc.raw)
			gr, gclosed := exchange(t, ours, tc.raw)
			if lr.status != gr.status || lr.proto != gr.proto {
				t.Errorf("lighttpd %s %d, golighty %s %d", lr.proto, lr.status, gr.proto, gr.status)
			}
			if lclosed != gclosed {
				t.Errorf("closed: lighttpd %v, golighty %v", lclosed, gclosed)
			}
			lc, _ := lr.header("Connection")
			gc, _ := gr.header("Connection")
			if lc != gc {
				t.Errorf("Connection header: lighttpd %q, golighty %q", lc, gc)
			}
			// Error responses come from the same rules on both sides
			// (error document, framing, Connection, Date, Server): the
			// header names must match in order, and the bodies too.
			if lr.status >= 400 {
				if ln, gn := headerNames(lr), headerNames(gr); ln != gn {
					t.Errorf("header order: lighttpd %s, golighty %s", ln, gn)
				}
				if string(lr.body) != string(gr.body) {
					t.Errorf("body differs:\nlighttpd %q\ngolighty %q", lr.body, gr.body)
				}
			}
			if lr.status != tc.status || lclosed != tc.closes {
				t.Errorf("lighttpd answered %d closed=%v; table says %d closed=%v", lr.status, lclosed, tc.status, tc.closes)
			}
		})
	}
}

func headerNames(r *response) string {
	var names []string
	for _, l := range strings.Split(r.head, "\r\n")[1:] {
		k, _, _ := strings.Cut(l, ":")
		names = append(names, k)
	}
	return strings.Join(names, ",")
}

// TestSideBySideSequences compares multi-request exchanges on one
// connection: statuses in order and whether the connection ends closed.
func TestSideBySideSequences(t *testing.T) {
	root := testDocroot(t)
	peer := startLighttpd(t, root)
	_, ours := startServer(t, testConfig(), testHandler(root))
	const get = "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n"
	tests := []struct {
		name string
		raw  string
		n    int // responses expected
	}{
		{"pipelined_three", get + "HEAD /f.txt HTTP/1.1\r\nHost: a\r\n\r\n" + get, 3},
		{"blank_line_skipped", get + "\r\n" + get, 2},
		{"two_blank_lines", get + "\r\n\r\n" + get, 2},
		{"http10_keepalive_twice", "GET /f.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /f.txt HTTP/1.0\r\n\r\n", 2},
		{"error_stops_pipeline", get + "get / HTTP/1.1\r\nHost: a\r\n\r\n" + get, 2},
		{"post_body_then_get", "POST /f.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" + get, 1},
		{"options_then_get", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n" + get, 2},
	}
	run := func(t *testing.T, addr, raw string, n int) (string, bool) {
		c, err := net.Dial("tcp", addr)
		must(t, err)
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Write([]byte(raw))
		must(t, err)
		br := bufio.NewReader(c)
		var got []string
		heads := strings.Split(raw, "\r\n\r\n")
		for i := 0; i < n; i++ {
			isHead := i < len(heads) && strings.HasPrefix(strings.TrimLeft(heads[i], "\r\n"), "HEAD ")
			r, err := readResponse(br, isHead)
			if err != nil {
				t.Fatalf("response %d: %v", i, err)
			}
			got = append(got, fmt.Sprint(r.status))
		}
		return strings.Join(got, ","), isClosed(c, br, 300*time.Millisecond)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ls, lc := run(t, peer, tc.raw, tc.n)
			gs, gc := run(t, ours, tc.raw, tc.n)
			if ls != gs || lc != gc {
				t.Errorf("lighttpd %s closed=%v; golighty %s closed=%v", ls, lc, gs, gc)
			}
		})
	}
}
