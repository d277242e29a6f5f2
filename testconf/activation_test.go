package testconf

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestSystemdSocketActivation passes a listening socket the way systemd
// does (fd 3, LISTEN_PID, LISTEN_FDS) and expects golighty to serve on it
// without binding anything itself.
func TestSystemdSocketActivation(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("activated\n"), 0o644)
	conf := filepath.Join(dir, "lighttpd.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("server.document-root = %q\nserver.systemd-socket-activation = \"enable\"\n", dir)), 0o644)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, _ := l.(*net.TCPListener).File()
	addr := l.Addr().String()
	l.Close() // the duplicate in f keeps the socket open
	// sh's $$ is the pid that exec keeps: LISTEN_PID must name the server.
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" -D --no-watch -f "$1"`, golightyBin, conf)
	cmd.ExtraFiles = []*os.File{f}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	var body string
	for i := 0; i < 200; i++ {
		if _, b, _, err := get(addr, "/a.txt"); err == nil {
			body = b
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if body != "activated\n" {
		t.Fatalf("no answer on the inherited socket: %q", body)
	}
}
