package h1

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

var fuzzSeeds = []string{
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET http://a/b HTTP/1.1\r\nHost: A\r\n\r\n",
	"POST /e HTTP/1.1\r\nHost: [::1]:80\r\nTransfer-Encoding: chunked\r\n\r\n5;x\r\nhello\r\n0\r\nT: v\r\n\r\n",
	"GET / HTTP/1.0\nX: a\n b\n\n",
	"CONNECT 1:2 HTTP/1.0\r\n\r\n",
	"GET / HTTP/2.0\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: 1.2.3.4:010\r\n\r\n",
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), true)
	}
	for _, tc := range wireCases {
		f.Add([]byte(tc.raw), true)
	}
	allowed := map[int]bool{0: true, 400: true, 411: true, 413: true, 501: true, 505: true}
	f.Fuzz(func(t *testing.T, data []byte, strict bool) {
		hl, lines := FindHead(data)
		if hl == 0 || lines == 0 {
			return
		}
		o := DefaultParseOptions()
		o.HeaderStrict, o.HostStrict, o.HostNormalize = strict, strict, !strict
		o.MaxRequestSize = 1 << 20
		var r Request
		st := ParseRequest(data[:hl], &r, &o)
		if !allowed[st] {
			t.Fatalf("status %d not allowed", st)
		}
		if st != 0 {
			if r.Reason == "" || r.KeepAlive {
				t.Fatalf("error %d without reason or with keep-alive", st)
			}
			return
		}
		if r.Method == "" || len(r.Target) == 0 || r.Proto == ProtoUnknown {
			t.Fatalf("valid request with empty fields: %+v", r)
		}
		if r.Proto == HTTP11 && r.Host == nil {
			t.Fatalf("HTTP/1.1 accepted without Host")
		}
		if r.Chunked && r.ContentLength != -1 || !r.Chunked && r.ContentLength < 0 {
			t.Fatalf("inconsistent length: %d chunked=%v", r.ContentLength, r.Chunked)
		}
		for _, h := range r.Headers {
			if len(h.Value) == 0 {
				t.Fatalf("empty header value kept: %q", h.Name)
			}
		}
	})
}

// FuzzConn drives a whole connection over net.Pipe with arbitrary client
// bytes: it must neither panic nor hang, and whatever it writes must start
// with a status line.
func FuzzConn(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n"))
	root := testDocroot(f)
	cfg := testConfig()
	// Short limits: the client cannot half-close a pipe, so each input
	// ends by a server timeout.
	cfg.MaxReadIdle = 20 * time.Millisecond
	cfg.MaxKeepAliveIdle = 20 * time.Millisecond
	cfg.HeadTimeout = 50 * time.Millisecond
	s := &Server{Handler: testHandler(root)}
	s.SetConfig(cfg)
	f.Fuzz(func(t *testing.T, data []byte) {
		cli, srv := net.Pipe()
		done := make(chan struct{})
		go func() { s.ServeConn(srv); close(done) }()
		go func() {
			cli.SetWriteDeadline(time.Now().Add(time.Second))
			cli.Write(data)
		}()
		cli.SetReadDeadline(time.Now().Add(2 * time.Second))
		out, _ := io.ReadAll(bufio.NewReader(cli))
		cli.Close()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			t.Fatal("connection goroutine did not finish")
		}
		if len(out) > 0 && !(len(out) >= 9 && (string(out[:9]) == "HTTP/1.1 " || string(out[:9]) == "HTTP/1.0 ")) {
			t.Fatalf("output does not start with a status line: %q", out[:min(len(out), 40)])
		}
	})
}
