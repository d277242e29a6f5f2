package ssl

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// benchSocket compiles a config with SNI blocks and returns the TLS socket
// of its listener.
func benchSocket(b *testing.B) (*socket, *testPKI) {
	p := newPKI(b)
	snap, err := compile(b, p.dir, baseConf+`
$HTTP["host"] == "a.test" {
	ssl.pemfile = "@DIR@/a.crt"
	ssl.privkey = "@DIR@/a.key"
}
$HTTP["host"] == "b.test" { ssl.pemfile = "@DIR@/b.pem" }
`, freePort(b))
	if err != nil {
		b.Fatal(err)
	}
	m, _ := snap.Module("mod_openssl")
	for _, s := range m.(*Module).sockets {
		return s, p
	}
	b.Fatal("no TLS socket")
	return nil, nil
}

// BenchmarkGetConfigForClient is the per-handshake work golighty adds to
// crypto/tls: resolving the connection's settings through the config's
// conditions with the SNI name and picking the ALPN protocol.
func BenchmarkGetConfigForClient(b *testing.B) {
	s, _ := benchSocket(b)
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	hello := &tls.ClientHelloInfo{ServerName: "a.test", SupportedProtos: []string{"h2", "http/1.1"}, Conn: c1}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.forClient(hello); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandshake is a whole TLS 1.3 handshake (ECDSA P-256, X25519)
// against the socket's configuration over loopback, client and server in
// this process.
func BenchmarkHandshake(b *testing.B) {
	s, p := benchSocket(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				srv := tls.Server(c, s.base)
				srv.Handshake()
				srv.Read(make([]byte, 1)) // until the client closes
				srv.Close()
			}()
		}
	}()
	ccfg := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "a.test", NextProtos: []string{"http/1.1"}}
	b.ReportAllocs()
	for b.Loop() {
		cli, err := tls.Dial("tcp", ln.Addr().String(), ccfg)
		if err != nil {
			b.Fatal(err)
		}
		cli.Close()
	}
}

// BenchmarkKeepAliveTLS is one 1 KiB keep-alive request over TLS 1.3
// through the whole server (client in the same process; a connection is
// replaced when server.max-keep-alive-requests ends it).
func BenchmarkKeepAliveTLS(b *testing.B) {
	p := newPKI(b)
	os.WriteFile(filepath.Join(p.dir, "www", "1k.txt"), bytes.Repeat([]byte("x"), 1024), 0o644)
	s := startSite(b, p.dir, baseConf+"server.max-keep-alive-requests = 65535\n")
	var c *tls.Conn
	var br *bufio.Reader
	dial := func() {
		var err error
		if c, err = tls.Dial("tcp", s.addr, p.client("default.test")); err != nil {
			b.Fatal(err)
		}
		br = bufio.NewReaderSize(c, 64<<10)
	}
	dial()
	defer func() { c.Close() }()
	req := []byte("GET /1k.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Close {
			c.Close()
			dial()
		}
	}
}
