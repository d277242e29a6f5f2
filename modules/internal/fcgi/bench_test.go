package fcgi

import (
	"context"
	"io"
	"strconv"
	"testing"
)

// benchHeaders stands in for the ~40 CGI params of a typical request.
var benchHeaders = func() [][2]string {
	h := [][2]string{
		{"CONTENT_LENGTH", "0"}, {"QUERY_STRING", "x=1"}, {"REQUEST_URI", "/index.php/extra?x=1"},
		{"REDIRECT_STATUS", "200"}, {"SCRIPT_NAME", "/index.php"}, {"PATH_INFO", "/extra"},
		{"PATH_TRANSLATED", "/srv/example/www/extra"}, {"SCRIPT_FILENAME", "/srv/example/www/index.php"},
		{"DOCUMENT_ROOT", "/srv/example/www"}, {"REQUEST_METHOD", "GET"}, {"SERVER_PROTOCOL", "HTTP/1.1"},
		{"SERVER_SOFTWARE", "lighttpd/1.4.69"}, {"GATEWAY_INTERFACE", "CGI/1.1"}, {"REQUEST_SCHEME", "http"},
		{"SERVER_PORT", "28101"}, {"SERVER_ADDR", "127.0.0.1"}, {"SERVER_NAME", "www.example.com"},
		{"REMOTE_ADDR", "127.0.0.1"}, {"REMOTE_PORT", "50810"}, {"HTTP_HOST", "www.example.com:28101"},
		{"HTTP_USER_AGENT", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"},
		{"HTTP_ACCEPT", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		{"HTTP_ACCEPT_LANGUAGE", "en-US,en;q=0.5"}, {"HTTP_ACCEPT_ENCODING", "gzip, deflate, br"},
		{"HTTP_COOKIE", "session=0123456789abcdef0123456789abcdef; theme=dark; lang=en"},
	}
	for i := len(h); i < 40; i++ {
		h = append(h, [2]string{"HTTP_X_CUSTOM_" + strconv.Itoa(i), "value-" + strconv.Itoa(i)})
	}
	return h
}()

func BenchmarkParams40(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		p := NewParams()
		for _, kv := range benchHeaders {
			p.Add(kv[0], kv[1])
		}
		p.Release()
	}
}

func roundTrip(b *testing.B, d *Dialer, fill func(*Params), buf []byte) {
	b.Helper()
	p := NewParams()
	fill(p)
	resp, err := d.Do(context.Background(), &Request{Params: p})
	p.Release()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := resp.ReadHeader(); err != nil {
		b.Fatal(err)
	}
	for {
		_, err := resp.Read(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	resp.Close()
}

func BenchmarkRoundTripGo(b *testing.B) {
	for _, tc := range []struct {
		name    string
		network string
		keep    bool
	}{{"tcp", "tcp", false}, {"unix", "unix", false}, {"tcp-keepconn", "tcp", true}} {
		b.Run(tc.name, func(b *testing.B) {
			d, _ := goBackend(b, tc.network)
			d.KeepConn = tc.keep
			defer d.CloseIdle()
			fill := func(p *Params) {
				for _, kv := range benchHeaders {
					p.Add(kv[0], kv[1])
				}
				p.Add("REQUEST_URI", "/big?n=100")
			}
			buf := make([]byte, 32<<10)
			b.ReportAllocs()
			for b.Loop() {
				roundTrip(b, d, fill, buf)
			}
		})
	}
}

// BenchmarkRoundTripPHP: one request to php-cgi, on a new connection (as
// lighttpd) and on a kept one (the keep-conn option).
func BenchmarkRoundTripPHP(b *testing.B) {
	for _, keep := range []bool{false, true} {
		name := "new-conn"
		if keep {
			name = "keep-conn"
		}
		b.Run(name, func(b *testing.B) {
			d, dir := startPHP(b)
			d.KeepConn, d.MaxConns = keep, 1
			defer d.CloseIdle()
			fill := func(p *Params) {
				for _, kv := range benchHeaders {
					p.Add(kv[0], kv[1])
				}
				p.Add("SCRIPT_FILENAME", dir+"/hello.php")
			}
			buf := make([]byte, 32<<10)
			b.ReportAllocs()
			for b.Loop() {
				roundTrip(b, d, fill, buf)
			}
		})
	}
}

// BenchmarkEcho4MiB streams 4 MiB up and back through net/http/fcgi
// (throughput of the STDIN writer and STDOUT reader together).
func BenchmarkEcho4MiB(b *testing.B) {
	d, _ := goBackend(b, "unix")
	const n = 4 << 20
	buf := make([]byte, 64<<10)
	b.SetBytes(2 * n)
	b.ReportAllocs()
	for b.Loop() {
		p := cgiParams("POST", "/echo", n)
		resp, err := d.Do(context.Background(), &Request{Params: p, Stdin: &patternReader{n: n}, ContentLength: n})
		p.Release()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := resp.ReadHeader(); err != nil {
			b.Fatal(err)
		}
		got, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{resp}, buf)
		if err != nil || got != n {
			b.Fatalf("echoed %d, err %v", got, err)
		}
		resp.Close()
	}
}
