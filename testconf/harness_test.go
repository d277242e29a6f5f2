// Package testconf holds golighty's bundled configuration and the
// integration tests that run the real binary (and Debian's lighttpd, side by
// side) on loopback ports and speak raw HTTP to them.
package testconf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var golightyBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "golighty-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	golightyBin = filepath.Join(dir, "golighty")
	build := exec.Command("go", "build", "-o", golightyBin, "../cmd/golighty")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building golighty:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requirePeer skips when a comparison peer is missing, or fails under
// GOLIGHTY_REQUIRE_PEERS=1 (CI), so a green CI run means it ran.
func requirePeer(t testing.TB, bin string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		if os.Getenv("GOLIGHTY_REQUIRE_PEERS") == "1" {
			t.Fatalf("%s is required (GOLIGHTY_REQUIRE_PEERS=1) but not installed", bin)
		}
		t.Skipf("%s not installed", bin)
	}
	return p
}

// freePort finds a loopback port that is free now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// server is a running golighty or lighttpd.
type server struct {
	name string
	addr string
	cmd  *exec.Cmd
	log  *syncLog
}

// syncLog collects a server's output; tests may read it while it runs.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServer writes conf (with @PORT@ replaced) and runs bin -D -f on it,
// waiting until the port accepts connections.
func startServer(t testing.TB, name, bin, dir, conf string) *server {
	t.Helper()
	return startServerOn(t, name, bin, dir, conf, freePort(t))
}

// startServerOn is startServer on a port the caller chose (@PORT@).
func startServerOn(t testing.TB, name, bin, dir, conf string, port int) *server {
	t.Helper()
	conf = strings.ReplaceAll(conf, "@PORT@", fmt.Sprint(port))
	path := filepath.Join(dir, name+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-D", "-f", path}
	if name == "golighty" {
		args = append(args, "--no-watch")
	}
	cmd := exec.Command(bin, args...)
	log := &syncLog{}
	cmd.Stdout, cmd.Stderr = log, log
	// A backend the server leaves behind keeps its output pipe open: never
	// let that hang the test once the server itself has exited.
	cmd.WaitDelay = 3 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{name: name, addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd, log: log}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if name == "golighty" {
			checkNoPanic(t, log.String(), dir)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", s.addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return s
		}
		if cmd.ProcessState != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not start on %s: %s", name, s.addr, log.String())
	return nil
}

// exchange is what a raw request produced.
type exchange struct {
	raw    []byte
	resp   *http.Response // first response (nil if unparsable or none)
	body   []byte
	closed bool // the server closed the connection after answering
}

// raw sends req on a new connection, half-closes nothing, and reads until
// the server closes or stays quiet for the idle time.
func (s *server) raw(t *testing.T, req string, head bool) exchange {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	buf := make([]byte, 64<<10)
	closed := false
	for {
		// The first byte may take a while on a loaded machine; after it,
		// a quiet spell means the server is done and keeps the connection.
		wait := 400 * time.Millisecond
		if out.Len() == 0 {
			wait = 5 * time.Second
		}
		c.SetReadDeadline(time.Now().Add(wait))
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			var ne net.Error
			if !(errors.As(err, &ne) && ne.Timeout()) {
				closed = true
			}
			break
		}
	}
	ex := exchange{raw: out.Bytes(), closed: closed}
	method := "GET"
	if head {
		method = "HEAD"
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(ex.raw)), &http.Request{Method: method})
	if err == nil {
		ex.resp = resp
		ex.body, _ = io.ReadAll(resp.Body)
	}
	return ex
}

// checkNoPanic fails the test if golighty recovered from a panic while it
// ran: the engine answers such a request with a 500 or closes the
// connection, which a test comparing responses can take for the intended
// outcome. It reads the server's output and the *.log files of its
// directory (server.errorlog is usually there).
func checkNoPanic(t testing.TB, output, dir string) {
	t.Helper()
	const mark = "panic serving request"
	texts := []string{output}
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, l := range logs {
		if b, err := os.ReadFile(l); err == nil {
			texts = append(texts, string(b))
		}
	}
	for _, text := range texts {
		if i := strings.Index(text, mark); i >= 0 {
			t.Errorf("golighty recovered from a panic: %.2000s", text[i:])
			return
		}
	}
}
