package staticfile_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/lighttpdconf"
)

// BenchmarkKeepAlive1KiB is the whole path for the most common request: a
// keep-alive GET of a 1 KiB file over loopback TCP, through the HTTP/1.x
// engine, the pipeline, the stat cache and the file sender.
func BenchmarkKeepAlive1KiB(b *testing.B) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "1k.txt"), []byte(strings.Repeat("x", 1024)), 0o644)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	src := fmt.Sprintf("server.document-root = %q\nserver.bind = \"127.0.0.1\"\nserver.port = %d\nserver.max-keep-alive-requests = 65535\nmimetype.assign = (\".txt\" => \"text/plain\")\n", dir, port)
	conf, err := lighttpdconf.ParseBytes(filepath.Join(dir, "b.conf"), []byte(src), &lighttpdconf.Options{})
	if err != nil {
		b.Fatal(err)
	}
	snap, err := core.Compile(conf, core.CompileOptions{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	srv := core.NewServer(snap, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { c.Close() }()
	req := []byte("GET /1k.txt HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n")
	br := bufio.NewReaderSize(c, 64<<10)
	// Each response is a fixed-size head plus 1 KiB; learn the size once.
	c.Write(req)
	first := readResponse(b, br)
	// The client must not allocate, so allocs/op measures the server: every
	// later response has the same size (Date has a fixed width).
	buf := make([]byte, first)
	b.SetBytes(1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if (i+2)%60000 == 0 {
			// Stay below server.max-keep-alive-requests (a 16-bit key).
			c.Close()
			if c, err = net.Dial("tcp", addr); err != nil {
				b.Fatal(err)
			}
			br.Reset(c)
		}
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(br, buf); err != nil {
			b.Fatal(err)
		}
		if buf[9] != '2' {
			b.Fatalf("response %q", buf[:20])
		}
	}
}

func readResponse(b *testing.B, br *bufio.Reader) int {
	n := 0
	cl := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			b.Fatal(err)
		}
		if os.Getenv("BENCH_DEBUG") != "" {
			b.Logf("%q", line)
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
