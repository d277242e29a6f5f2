package h1

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golighty/golighty/core/filefd"
)

const browserRequest = "GET /static/css/site.css?v=3 HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"Connection: keep-alive\r\n" +
	"sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n" +
	"sec-ch-ua-mobile: ?0\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n" +
	"sec-ch-ua-platform: \"Linux\"\r\n" +
	"Accept: text/css,*/*;q=0.1\r\n" +
	"Sec-Fetch-Site: same-origin\r\n" +
	"Sec-Fetch-Mode: no-cors\r\n" +
	"Sec-Fetch-Dest: style\r\n" +
	"Referer: https://www.example.com/\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Accept-Language: en-US,en;q=0.9\r\n" +
	"Cookie: session=abc123; theme=dark\r\n" +
	"If-None-Match: \"1234-5678\"\r\n" +
	"If-Modified-Since: Tue, 01 Oct 2024 10:00:00 GMT\r\n\r\n"

func BenchmarkParseRequest(b *testing.B) {
	buf := []byte(browserRequest)
	o := DefaultParseOptions()
	var r Request
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		hl, _ := FindHead(buf)
		if ParseRequest(buf[:hl], &r, &o) != 0 {
			b.Fatal(r.Reason)
		}
	}
}

func BenchmarkWriteHead(b *testing.B) {
	cfg := DefaultConfig()
	c := &conn{srv: &Server{}, cfg: &cfg, wbuf: make([]byte, 0, wbufSize)}
	c.req.Body = &c.body
	c.rw.c = c
	c.req.Proto, c.req.Method, c.req.KeepAlive = HTTP11, "GET", true
	c.body.done = true
	etag := []byte(`"3203597165"`)
	b.ReportAllocs()
	for b.Loop() {
		c.rw.reset(&c.req)
		c.rw.AddHeader("Content-Type", "text/css")
		c.rw.AddHeaderBytes("ETag", etag)
		c.rw.AddHeader("Last-Modified", "Tue, 01 Oct 2024 10:00:00 GMT")
		c.rw.AddHeader("Accept-Ranges", "bytes")
		c.rw.writeHead(1024)
		c.wbuf = c.wbuf[:0]
	}
}

// BenchmarkKeepAliveRoundTrip: one client on one keep-alive loopback
// connection fetching 1 KiB, request after request. Client and server
// allocations are both counted; the handlers allocate nothing themselves.
func BenchmarkKeepAliveRoundTrip(b *testing.B) {
	root := b.TempDir()
	body := bytes.Repeat([]byte("x"), 1024)
	path := filepath.Join(root, "1k.txt")
	must(b, os.WriteFile(path, body, 0o644))
	f, err := os.Open(path)
	must(b, err)
	defer f.Close()
	handlers := []struct {
		name string
		h    Handler
	}{
		{"sendfile", HandlerFunc(func(w *ResponseWriter, r *Request) {
			w.AddHeader("Content-Type", "text/plain")
			w.SendFile(filefd.Of(f), 0, 1024)
		})},
		{"memory", HandlerFunc(func(w *ResponseWriter, r *Request) {
			w.AddHeader("Content-Type", "text/plain")
			w.Respond(body)
		})},
	}
	for _, hc := range handlers {
		b.Run(hc.name, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.MaxKeepAliveRequests = 1 << 30
			_, addr := startServer(b, cfg, hc.h)
			roundTrips(b, addr)
		})
	}
	// The same client against Debian's lighttpd serving the same file, for
	// a figure taken under the same machine load.
	b.Run("lighttpd", func(b *testing.B) {
		if _, err := os.Stat(lighttpdBin); err != nil {
			b.Skip("no lighttpd")
		}
		roundTrips(b, startLighttpd(b, root))
	})
}

func roundTrips(b *testing.B, addr string) {
	c, err := net.Dial("tcp", addr)
	must(b, err)
	defer func() { c.Close() }()
	req := []byte("GET /1k.txt HTTP/1.1\r\nHost: localhost\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	// Learn the response size once (the Date value has a fixed width).
	c.Write(req)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	first := make([]byte, 4096)
	size, _ := io.ReadAtLeast(c, first, 1024)
	c.SetReadDeadline(time.Time{})
	buf := make([]byte, size)
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		_, err := c.Write(req)
		if err == nil {
			_, err = io.ReadFull(c, buf)
		}
		if err != nil { // a keep-alive limit was reached: reconnect once
			c.Close()
			if c, err = net.Dial("tcp", addr); err != nil {
				b.Fatal(err)
			}
			c.Write(req)
			if _, err := io.ReadFull(c, buf); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	if !bytes.HasPrefix(buf, []byte("HTTP/1.1 200 OK\r\n")) {
		b.Fatalf("unexpected response %q", buf[:40])
	}
}

// BenchmarkConnPerRequest: a new loopback connection per 1 KiB request
// (Connection: close), read to the server's close; the server lingers
// until the client's close. Client and server allocations are both counted.
func BenchmarkConnPerRequest(b *testing.B) {
	root := b.TempDir()
	path := filepath.Join(root, "1k.txt")
	must(b, os.WriteFile(path, bytes.Repeat([]byte("x"), 1024), 0o644))
	f, err := os.Open(path)
	must(b, err)
	defer f.Close()
	_, addr := startServer(b, DefaultConfig(), HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.AddHeader("Content-Type", "text/plain")
		w.SendFile(filefd.Of(f), 0, 1024)
	}))
	req := []byte("GET /1k.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	b.ReportAllocs()
	for b.Loop() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		// Read to the server's close.
		if n, _ := io.Copy(io.Discard, c); n < 1024 {
			b.Fatalf("short response: %d bytes", n)
		}
		c.Close()
	}
}

// BenchmarkHostCache: a connection's Host check, from its cache (the same
// host as the last request) and without it.
func BenchmarkHostCache(b *testing.B) {
	o := DefaultParseOptions()
	h := []byte("127.0.0.1:8080")
	var scratch []byte
	b.Run("hit", func(b *testing.B) {
		var hc HostCache
		for b.Loop() {
			if _, ok := hc.Policy(h, &o, &scratch); !ok {
				b.Fatal("refused")
			}
		}
	})
	b.Run("policy", func(b *testing.B) {
		for b.Loop() {
			if _, ok := hostPolicy(h, &o, &scratch); !ok {
				b.Fatal("refused")
			}
		}
	})
}
