package testconf

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestMaxConnections holds server.max-connections idle connections open; a
// further client is not served until one of them goes away.
func TestMaxConnections(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("x"), 0o644)
	s := startServer(t, "golighty", golightyBin, dir, fmt.Sprintf("server.document-root = %q\nserver.bind = \"127.0.0.1\"\nserver.port = @PORT@\nserver.max-connections = 2\n", dir))
	var held []net.Conn
	for len(held) < 2 {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	// startServer's readiness probe also used a slot: give it time to go.
	time.Sleep(100 * time.Millisecond)
	third, err := net.Dial("tcp", s.addr) // completes: the kernel's backlog
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	io.WriteString(third, "GET /a.txt HTTP/1.0\r\n\r\n")
	third.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, _ := third.Read(make([]byte, 64)); n != 0 {
		t.Fatal("a connection over server.max-connections was served")
	}
	held[0].Close()
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(third)
	if len(b) == 0 || string(b[:12]) != "HTTP/1.0 200" {
		t.Fatalf("after a slot freed: %q", b)
	}
}
