package h2

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestH2spec runs the HTTP/2 conformance suite (h2spec) against the engine
// alone, over h2c (every connection speaks HTTP/2 from its first byte) and
// over TLS with ALPN "h2": all 145 tests must pass. (The golighty binary,
// where clear ports also speak HTTP/1.x, is tested in testconf.)
func TestH2spec(t *testing.T) {
	bin, err := exec.LookPath("h2spec")
	if err != nil {
		if os.Getenv("GOLIGHTY_REQUIRE_PEERS") == "1" {
			t.Fatal("h2spec is required (GOLIGHTY_REQUIRE_PEERS=1) but not installed")
		}
		t.Skip("h2spec not installed")
	}
	body := strings.Repeat("conformance\n", 200)
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"h2c", false}, {"tls", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := startEngine(t, text(body), nil)
			addr := e.addr
			if tc.tls {
				addr = tlsFront(t, e.srv)
			}
			host, port, _ := net.SplitHostPort(addr)
			args := []string{"-h", host, "-p", port, "-o", "3"}
			if tc.tls {
				args = append(args, "-t", "-k")
			}
			out, _ := exec.Command(bin, args...).CombinedOutput()
			m := regexp.MustCompile(`(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed`).FindSubmatch(out)
			if m == nil {
				t.Fatalf("no summary from h2spec:\n%s", out)
			}
			t.Logf("h2spec %s: %s", tc.name, m[0])
			if string(m[1]) != "145" || string(m[2]) != "145" {
				t.Errorf("h2spec %s: %s\n%s", tc.name, m[0], failures(out))
			}
		})
	}
}

func failures(out []byte) string {
	if i := strings.Index(string(out), "Failures:"); i >= 0 {
		return string(out[i:])
	}
	return string(out)
}

// tlsFront serves the engine behind a TLS listener that negotiates "h2"
// with a certificate made here.
func tlsFront(t *testing.T, srv *Server) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		NextProtos:   []string{"h2"},
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				tc := c.(*tls.Conn)
				tc.SetDeadline(time.Now().Add(5 * time.Second))
				if tc.Handshake() != nil || tc.ConnectionState().NegotiatedProtocol != "h2" {
					tc.Close()
					return
				}
				tc.SetDeadline(time.Time{})
				srv.ServeConn(tc, ConnOptions{})
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}
