package coretest

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/lighttpdconf"
)

// KeepAliveBench serves conf ("@DIR@" replaced by a temporary directory
// holding files, "@PORT@" by a free loopback port) and sends req b.N times
// on one keep-alive connection, reading each response whole (see
// KeepAliveLoop).
func KeepAliveBench(b *testing.B, conf string, files map[string]string, req string) {
	b.Helper()
	KeepAliveLoop(b, BenchServer(b, conf, files), req)
}

// KeepAliveBenchDir is KeepAliveBench with prepare filling the directory
// before the config is compiled (a database a module opens at start-up).
func KeepAliveBenchDir(b *testing.B, conf string, prepare func(dir string), req string) {
	b.Helper()
	KeepAliveLoop(b, BenchServerDir(b, conf, prepare), req)
}

// BenchServer starts a server on conf (see KeepAliveBench) for the rest of
// the benchmark and returns its address.
func BenchServer(b testing.TB, conf string, files map[string]string) string {
	b.Helper()
	return BenchServerDir(b, conf, func(dir string) {
		for rel, body := range files {
			p := filepath.Join(dir, rel)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchServerDir is BenchServer with prepare filling the directory.
func BenchServerDir(b testing.TB, conf string, prepare func(dir string)) string {
	b.Helper()
	dir := b.TempDir()
	prepare(dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf = strings.NewReplacer("@DIR@", dir, "@PORT@", fmt.Sprint(port)).Replace(conf)
	parsed, err := lighttpdconf.ParseBytes(filepath.Join(dir, "bench.conf"), []byte(conf), &lighttpdconf.Options{})
	if err != nil {
		b.Fatal(err)
	}
	snap, err := core.Compile(parsed, core.CompileOptions{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	srv := core.NewServer(snap, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// KeepAliveLoop sends req b.N times on one keep-alive connection to addr,
// reading each response whole. The client does not allocate, so allocs/op
// are the server's; cpu-µs/op is the process's CPU time per request
// (client and server together), steadier than wall time on a shared
// machine. Every response must have the same length (a fixed file, Date
// of fixed width).
func KeepAliveLoop(b *testing.B, addr, req string) {
	b.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { c.Close() }()
	br := bufio.NewReaderSize(c, 64<<10)
	if _, err := io.WriteString(c, req); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, responseLen(b, br))
	raw := []byte(req)
	b.ReportAllocs()
	cpu := CPUTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if (i+2)%60000 == 0 { // stay below server.max-keep-alive-requests
			c.Close()
			if c, err = net.Dial("tcp", addr); err != nil {
				b.Fatal(err)
			}
			br.Reset(c)
		}
		if _, err := c.Write(raw); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(br, buf); err != nil {
			b.Fatal(err)
		}
		if buf[9] != '2' {
			b.Fatalf("response %q", buf[:20])
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(CPUTime()-cpu)/1e3/float64(b.N), "cpu-µs/op")
}

// CPUTime is the process's user and system CPU time in ns.
func CPUTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// responseLen reads one response and returns its length in bytes.
func responseLen(b *testing.B, br *bufio.Reader) int {
	n, cl := 0, 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			b.Fatal(err)
		}
		n += len(line)
		if strings.HasPrefix(line, "Content-Length: ") {
			fmt.Sscanf(line, "Content-Length: %d", &cl)
		}
		if line == "\r\n" {
			break
		}
	}
	if _, err := br.Discard(cl); err != nil {
		b.Fatal(err)
	}
	return n + cl
}

// PipeBench sends req b.N times on in-memory keep-alive connections to h's
// server, dialing again when the server ends one (max-keep-alive-requests);
// check sees each response and its body.
func (h *Harness) PipeBench(b *testing.B, req string, check func(resp *http.Response, body []byte) error) {
	b.Helper()
	var (
		client net.Conn
		br     *bufio.Reader
		done   chan struct{}
	)
	connect := func() {
		var server net.Conn
		client, server = net.Pipe()
		br = bufio.NewReader(client)
		done = make(chan struct{})
		go func(done chan struct{}) {
			defer close(done)
			h.Server.ServeConn(server, "127.0.0.1:80")
		}(done)
	}
	connect()
	hreq := &http.Request{Method: "GET"}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		go io.WriteString(client, req)
		resp, err := http.ReadResponse(br, hreq)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if err := check(resp, body); err != nil {
			b.Fatal(err)
		}
		if resp.Close {
			client.Close()
			<-done
			connect()
		}
	}
	b.StopTimer()
	client.Close()
	<-done
}
