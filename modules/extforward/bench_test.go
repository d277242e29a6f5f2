package extforward_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/lighttpdconf"
)

// benchServer runs conf (with @DIR@ and @PORT@ filled in) on a loopback
// port, serving a 1 KiB file, and returns its address.
func benchServer(b *testing.B, conf string) string {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "1k.txt"), []byte(strings.Repeat("x", 1024)), 0o644)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	src := strings.NewReplacer("@DIR@", dir, "@PORT@", fmt.Sprint(port)).Replace(conf)
	parsed, err := lighttpdconf.ParseBytes(filepath.Join(dir, "b.conf"), []byte(src), &lighttpdconf.Options{})
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

const benchBase = `server.document-root = "@DIR@"
server.bind = "127.0.0.1"
server.port = @PORT@
server.max-keep-alive-requests = 65535
mimetype.assign = (".txt" => "text/plain")
`

// BenchmarkKeepAlive1KiB is the keep-alive small-file path with and without
// mod_extforward: what the module costs a request it does not touch, one
// from an untrusted peer, and one whose client it takes from a header.
func BenchmarkKeepAlive1KiB(b *testing.B) {
	const fwd = `server.modules = ("mod_extforward")
extforward.headers = ("X-Forwarded-For", "Forwarded")
`
	cases := []struct {
		name, conf, hdr string
	}{
		{"without module", "", ""},
		{"module, no header", fwd + `extforward.forwarder = ("127.0.0.1" => "trust")`, ""},
		{"untrusted peer", fwd + `extforward.forwarder = ("10.0.0.0/8" => "trust")`, "X-Forwarded-For: 203.0.113.7\r\n"},
		{"trusted X-Forwarded-For", fwd + `extforward.forwarder = ("127.0.0.1" => "trust", "10.0.0.0/8" => "trust")`,
			"X-Forwarded-For: 203.0.113.7, 10.1.1.1\r\nX-Forwarded-Proto: https\r\n"},
		{"trusted Forwarded", fwd + `extforward.forwarder = ("127.0.0.1" => "trust", "10.0.0.0/8" => "trust")`,
			"Forwarded: for=203.0.113.7;proto=https, for=10.1.1.1\r\n"},
		{"trusted X-Forwarded-For, remoteip block", fwd + `extforward.forwarder = ("127.0.0.1" => "trust", "10.0.0.0/8" => "trust")
$HTTP["remoteip"] == "203.0.113.0/24" { server.name = "clients" }`, "X-Forwarded-For: 203.0.113.7, 10.1.1.1\r\n"},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			addr := benchServer(b, benchBase+tc.conf)
			req := []byte("GET /1k.txt HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n" + tc.hdr + "\r\n")
			benchKeepAlive(b, addr, req)
		})
	}
}

func benchKeepAlive(b *testing.B, addr string, req []byte) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { c.Close() }()
	br := bufio.NewReaderSize(c, 64<<10)
	c.Write(req)
	resp, err := readHead(br)
	if err != nil {
		b.Fatal(err)
	}
	// Every response has the same size (Date has a fixed width): read
	// them without allocating, so allocs/op counts the server.
	buf := make([]byte, resp)
	b.SetBytes(1024)
	b.ReportAllocs()
	cpu := cpuTime()
	b.ResetTimer()
	defer func() { b.ReportMetric(float64(cpuTime()-cpu)/1e3/float64(b.N), "cpu-µs/op") }()
	for i := 0; i < b.N; i++ {
		if (i+2)%60000 == 0 {
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

// cpuTime is the process's user+system CPU time in ns: on a shared machine
// it measures the work per request where wall time mostly measures the
// neighbours (client and server run in this process, the same in every
// case).
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// readHead reads one response and returns its total size.
func readHead(br *bufio.Reader) (int, error) {
	n, length := 0, 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return 0, err
		}
		n += len(line)
		if strings.HasPrefix(line, "Content-Length: ") {
			fmt.Sscanf(line, "Content-Length: %d", &length)
		}
		if line == "\r\n" {
			break
		}
	}
	if _, err := br.Discard(length); err != nil {
		return 0, err
	}
	return n + length, nil
}

// BenchmarkNewConnection is a request on a fresh connection, plain and
// behind a PROXY v2 header (with an SSL TLV, as haproxy sends for a TLS
// client): the difference is what reading the header costs a connection.
// The client's own dial is in both.
func BenchmarkNewConnection(b *testing.B) {
	const proxyConf = `server.modules = ("mod_extforward")
extforward.forwarder = ("127.0.0.1" => "trust")
extforward.hap-PROXY = "enable"
`
	req := "GET /1k.txt HTTP/1.0\r\n\r\n"
	cases := []struct{ name, conf, send string }{
		{"plain", "", req},
		{"plain, module loaded", `server.modules = ("mod_extforward")
extforward.forwarder = ("127.0.0.1" => "trust")`, req},
		{"PROXY v1", proxyConf, "PROXY TCP4 203.0.113.7 192.0.2.1 4444 80\r\n" + req},
		{"PROXY v2", proxyConf, string(v2SSL(false)) + req},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			addr := benchServer(b, benchBase+tc.conf)
			send := []byte(tc.send)
			buf := make([]byte, 4096)
			b.ReportAllocs()
			cpu := cpuTime()
			b.ResetTimer()
			defer func() { b.ReportMetric(float64(cpuTime()-cpu)/1e3/float64(b.N), "cpu-µs/op") }()
			for i := 0; i < b.N; i++ {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				c.Write(send)
				n := 0
				for {
					m, err := c.Read(buf[n:])
					n += m
					if err != nil {
						break
					}
				}
				c.Close()
				if n < 12 || buf[9] != '2' {
					b.Fatalf("response %q", buf[:n])
				}
			}
		})
	}
}
