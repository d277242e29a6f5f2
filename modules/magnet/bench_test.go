package magnet_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/lighttpdconf"
	_ "github.com/golighty/golighty/modules/magnet"
	_ "github.com/golighty/golighty/modules/staticfile"
)

const rewriteScript = `
local r = lighty.r
local path = r.req_attr["uri.path"]
if path:sub(1, 4) == "/mg/" then
  r.req_attr["request.uri"] = path:sub(4)
  return lighty.RESTART_REQUEST
end
return 0
`

// BenchmarkRewrite is a keep-alive GET over loopback of a 1 KiB file,
// plain and through a magnet.attract-raw-url-to script that rewrites the
// URL and restarts the request (bench/compare.sh's magnet case).
func BenchmarkRewrite(b *testing.B) {
	for _, tc := range []struct{ name, conf, target string }{
		{"no-script", "", "/1k.txt"},
		{"script-passes", "magnet.attract-raw-url-to = (\"@DIR@/r.lua\")", "/1k.txt"},
		{"script-rewrites", "magnet.attract-raw-url-to = (\"@DIR@/r.lua\")", "/mg/1k.txt"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			conn, br, req := startServer(b, tc.conf, tc.target)
			resp := make([]byte, 0, 2048)
			n := readOne(b, conn, br, req)
			resp = resp[:n]
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%60000 == 59999 {
					b.StopTimer()
					conn, br, req = startServer(b, tc.conf, tc.target)
					b.StartTimer()
				}
				conn.Write(req)
				if _, err := io.ReadFull(br, resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func startServer(tb testing.TB, extra, target string) (net.Conn, *bufio.Reader, []byte) {
	dir := tb.TempDir()
	os.WriteFile(filepath.Join(dir, "1k.txt"), []byte(strings.Repeat("x", 1024)), 0o644)
	os.WriteFile(filepath.Join(dir, "r.lua"), []byte(rewriteScript), 0o644)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	src := fmt.Sprintf("server.document-root = %q\nserver.bind = \"127.0.0.1\"\nserver.port = %d\n"+
		"server.max-keep-alive-requests = 65535\nmimetype.assign = (\".txt\" => \"text/plain\")\n"+
		"server.modules = (\"mod_magnet\")\n%s\n", dir, port, strings.ReplaceAll(extra, "@DIR@", dir))
	conf, err := lighttpdconf.ParseBytes(filepath.Join(dir, "b.conf"), []byte(src), &lighttpdconf.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	snap, err := core.Compile(conf, core.CompileOptions{}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	srv := core.NewServer(snap, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := srv.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn, bufio.NewReaderSize(conn, 64<<10), []byte("GET " + target + " HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n")
}

// readOne sends req and reads its response, returning the response size.
func readOne(tb testing.TB, conn net.Conn, br *bufio.Reader, req []byte) int {
	conn.Write(req)
	n, cl := 0, 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			tb.Fatal(err)
		}
		if n == 0 && !strings.HasPrefix(line, "HTTP/1.1 200 ") {
			tb.Fatalf("answer %q", line)
		}
		n += len(line)
		if strings.HasPrefix(line, "Content-Length: ") {
			cl, _ = strconv.Atoi(strings.TrimSpace(line[len("Content-Length: "):]))
		}
		if line == "\r\n" {
			break
		}
	}
	br.Discard(cl)
	return n + cl
}
