package scgi

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golighty/golighty/core/coretest"
	"github.com/golighty/golighty/modules/internal/gw"

	// The default modules a config loads.
	_ "github.com/golighty/golighty/modules/dirlisting"
	_ "github.com/golighty/golighty/modules/indexfile"
	_ "github.com/golighty/golighty/modules/staticfile"
)

// servedConf sends everything to the SCGI backend at sock, on a real
// listener (the engine's Serve: requests waiting for their answer can
// suspend).
func servedConf(sock, opts string) string {
	return fmt.Sprintf(`server.document-root = "@DIR@"
server.modules = ("mod_scgi")
server.bind = "127.0.0.1"
server.port = @PORT@
scgi.server = ( "/" => (( "socket" => %q, "check-local" => "disable" %s )))
`, sock, opts)
}

// scgiBackend serves each connection with serve after reading the
// request's netstring (its variables; the requests here have no body).
func scgiBackend(t *testing.T, serve func(env map[string]string, c net.Conn)) string {
	sock := filepath.Join(t.TempDir(), "scgi.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				n, err := br.ReadString(':')
				if err != nil {
					return
				}
				size, _ := strconv.Atoi(strings.TrimSuffix(n, ":"))
				block := make([]byte, size+1) // and the comma
				if _, err := io.ReadFull(br, block); err != nil {
					return
				}
				env := map[string]string{}
				f := strings.Split(string(block[:size]), "\x00")
				for i := 0; i+1 < len(f); i += 2 {
					env[f[i]] = f[i+1]
				}
				serve(env, c)
			}()
		}
	}()
	return sock
}

// suspendEvery makes every request that waits for its answer suspend.
func suspendEvery(t *testing.T) {
	old := waits.SetAbove(0)
	t.Cleanup(func() { waits.SetAbove(old) })
}

// exchangeWaits counts goroutines in the handler's exchange: requests
// waiting for their answer in a goroutine.
func exchangeWaits() int { return coretest.GoroutinesIn("scgi.(*handler).exchange(") }

// TestSuspendedRequests: requests held by a slow backend beyond the first
// waits.Above() wait without a goroutine each, and every one gets its own
// answer once the backend replies.
func TestSuspendedRequests(t *testing.T) {
	const n = 200
	var arrived atomic.Int32
	release := make(chan struct{})
	sock := scgiBackend(t, func(env map[string]string, c net.Conn) {
		arrived.Add(1)
		<-release
		io.WriteString(c, "Status: 200\r\nContent-Type: text/plain\r\n\r\n"+env["REQUEST_URI"])
	})
	addr := coretest.BenchServer(t, servedConf(sock, ""), nil)
	coretest.HeldRequests(t, addr, "/held/", n, func() int { return int(arrived.Load()) }, release, func() {
		coretest.SettlesAtMost(t, fmt.Sprintf("goroutines wait in the handler for %d held requests", n), exchangeWaits, int(waits.Above()))
		if out := readers.Out(); out != 0 {
			t.Errorf("%d read buffers held by requests waiting for their answer, want none", out)
		}
	})
}

// TestSuspendedReadTimeout: a suspended request whose backend stays silent
// past read-timeout gets lighttpd's 504, as a waiting one does.
func TestSuspendedReadTimeout(t *testing.T) {
	suspendEvery(t)
	release := make(chan struct{})
	defer close(release)
	sock := scgiBackend(t, func(env map[string]string, c net.Conn) { <-release })
	addr := coretest.BenchServer(t, servedConf(sock, `, "read-timeout" => 1`), nil)
	coretest.ExpectReadTimeout(t, addr, "/held")
}

// TestSuspendedClientReset: a client that resets while its request waits
// suspended gets its backend connection closed.
func TestSuspendedClientReset(t *testing.T) {
	suspendEvery(t)
	old := gw.ClientCheckInterval.Swap(int64(100 * time.Millisecond))
	t.Cleanup(func() { gw.ClientCheckInterval.Store(old) })
	var arrived atomic.Int32
	gone := make(chan time.Duration, 1)
	sock := scgiBackend(t, func(env map[string]string, c net.Conn) {
		arrived.Add(1)
		start := time.Now()
		c.SetReadDeadline(start.Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == io.EOF {
			gone <- time.Since(start)
			return
		}
		io.WriteString(c, "Status: 200\r\n\r\nlate")
	})
	addr := coretest.BenchServer(t, servedConf(sock, ""), nil)
	coretest.ResetWhileWaiting(t, addr, "/held", func() bool { return arrived.Load() == 1 }, exchangeWaits, gone)
}
