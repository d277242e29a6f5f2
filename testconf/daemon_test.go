package testconf

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDaemonMode starts golighty without -D: the command returns 0 once the
// background server serves, the pid file names it, and SIGTERM stops it
// and removes the pid file.
func TestDaemonMode(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("daemon\n"), 0o644)
	port := freePort(t)
	pidFile := filepath.Join(dir, "golighty.pid")
	conf := filepath.Join(dir, "lighttpd.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("server.document-root = %q\nserver.bind = \"127.0.0.1\"\nserver.port = %d\nserver.pid-file = %q\n", dir, port, pidFile)), 0o644)
	out, err := exec.Command(golightyBin, "-f", conf, "--no-watch").CombinedOutput()
	if err != nil {
		t.Fatalf("daemon start: %v %s", err, out)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 {
		t.Fatalf("pid file holds %q", b)
	}
	defer syscall.Kill(pid, syscall.SIGKILL)
	if _, body, _, err := get(fmt.Sprintf("127.0.0.1:%d", port), "/a.txt"); err != nil || body != "daemon\n" {
		t.Fatalf("daemon serves %q, %v", body, err)
	}
	syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if _, err := os.Stat(pidFile); os.IsNotExist(err) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("pid file not removed after SIGTERM")
}

// TestDaemonStartFailure: a port in use makes the foreground command fail
// with lighttpd's message instead of leaving a broken daemon behind.
func TestDaemonStartFailure(t *testing.T) {
	dir := t.TempDir()
	busy := startServer(t, "golighty", golightyBin, dir, fmt.Sprintf("server.document-root = %q\nserver.bind = \"127.0.0.1\"\nserver.port = @PORT@\n", dir))
	_, p, _ := strings.Cut(busy.addr, ":")
	conf := filepath.Join(dir, "second.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("server.document-root = %q\nserver.bind = \"127.0.0.1\"\nserver.port = %s\n", dir, p)), 0o644)
	out, err := exec.Command(golightyBin, "-D", "-f", conf).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "can't bind to socket: 127.0.0.1:"+p+": Address already in use") {
		t.Fatalf("want a bind failure, got %v: %s", err, out)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 255 {
		t.Fatalf("exit status %v, want 255", err)
	}
	out, err = exec.Command(golightyBin, "-f", conf).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "daemonized server failed to start") {
		t.Fatalf("daemon: want a start failure, got %v: %s", err, out)
	}
}
