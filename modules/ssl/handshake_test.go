package ssl

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/lighttpdconf"
	"github.com/golighty/golighty/modules/ssl/ssltest"
	_ "github.com/golighty/golighty/modules/staticfile"
)

// site is a running server for handshake tests.
type site struct {
	addr string
	srv  *core.Server
	log  *syncBuffer
	dir  string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// compile parses conf (with @DIR@ and @PORT@ replaced) and sets it up.
func compile(t testing.TB, dir, conf string, port int) (*core.Snapshot, error) {
	t.Helper()
	conf = strings.NewReplacer("@DIR@", dir, "@PORT@", fmt.Sprint(port)).Replace(conf)
	path := filepath.Join(dir, "lighttpd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	parsed, err := lighttpdconf.ParseFile(path, &lighttpdconf.Options{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return core.Compile(parsed, core.CompileOptions{}, core.NewSharedPool())
}

// startSite serves conf on a loopback port; dir holds its files.
func startSite(t testing.TB, dir, conf string) *site {
	t.Helper()
	port := freePort(t)
	snap, err := compile(t, dir, conf, port)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	var log syncBuffer
	srv := core.NewServer(snap, slog.New(slog.NewTextHandler(&log, nil)))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return &site{addr: fmt.Sprintf("127.0.0.1:%d", port), srv: srv, log: &log, dir: dir}
}

// handshake connects with cfg and returns the state (and the connection,
// closed at the end of the test).
func (s *site) handshake(t testing.TB, cfg *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(&d, "tcp", s.addr, cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	t.Cleanup(func() { c.Close() })
	return c.ConnectionState(), nil
}

// get sends a request on a new TLS connection and returns the response.
func (s *site) get(t testing.TB, cfg *tls.Config, path, host string) (string, error) {
	t.Helper()
	c, err := tls.Dial("tcp", s.addr, cfg)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, host)
	b, err := io.ReadAll(c)
	return string(b), err
}

// testPKI is a CA with server certificates for a few names.
type testPKI struct {
	dir                string
	ca                 *ssltest.Cert
	def, a, b, wildcrd *ssltest.Cert
}

func newPKI(t testing.TB) *testPKI {
	dir := t.TempDir()
	ca := ssltest.NewCA(t, "Test Root")
	p := &testPKI{dir: dir, ca: ca,
		def: ca.Issue(t, ssltest.Options{Subject: pkix.Name{CommonName: "default.test"}, DNSNames: []string{"default.test", "localhost"}}),
		a:   ca.Issue(t, ssltest.Options{Subject: pkix.Name{CommonName: "a.test"}, DNSNames: []string{"a.test"}}),
		b:   ca.Issue(t, ssltest.Options{Subject: pkix.Name{CommonName: "b.test"}, DNSNames: []string{"b.test"}, RSA: true}),
	}
	p.def.WritePEM(t, dir, "default.pem")
	p.a.WriteCert(t, dir, "a.crt")
	p.a.WriteKey(t, dir, "a.key")
	p.b.WritePEM(t, dir, "b.pem")
	ca.WriteCert(t, dir, "ca.pem")
	os.MkdirAll(filepath.Join(dir, "www"), 0o755)
	os.WriteFile(filepath.Join(dir, "www", "index.html"), []byte("hello\n"), 0o644)
	return p
}

func (p *testPKI) client(sni string) *tls.Config {
	return &tls.Config{RootCAs: p.ca.Pool(), ServerName: sni}
}

const baseConf = `
server.document-root = "@DIR@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.modules = ("mod_openssl")
ssl.engine = "enable"
ssl.pemfile = "@DIR@/default.pem"
`

func TestHandshakeVersions(t *testing.T) {
	p := newPKI(t)
	for _, tc := range []struct {
		name    string
		cmd     string // ssl.openssl.ssl-conf-cmd body
		min     uint16 // client limits
		max     uint16
		want    uint16 // 0: handshake must fail
		wantErr string
	}{
		{"default takes TLS 1.3", "", tls.VersionTLS10, tls.VersionTLS13, tls.VersionTLS13, ""},
		{"default takes TLS 1.2", "", tls.VersionTLS12, tls.VersionTLS12, tls.VersionTLS12, ""},
		{"default refuses TLS 1.1 (lighttpd's minimum is 1.2)", "", tls.VersionTLS10, tls.VersionTLS11, 0, "protocol version"},
		{"MinProtocol TLSv1.3 refuses 1.2", `"MinProtocol" => "TLSv1.3"`, tls.VersionTLS12, tls.VersionTLS12, 0, "protocol version"},
		{"MinProtocol TLSv1.3 takes 1.3", `"MinProtocol" => "TLSv1.3"`, tls.VersionTLS12, tls.VersionTLS13, tls.VersionTLS13, ""},
		{"MaxProtocol TLSv1.2 caps 1.3 clients", `"MaxProtocol" => "TLSv1.2"`, tls.VersionTLS12, tls.VersionTLS13, tls.VersionTLS12, ""},
		{"MinProtocol TLSv1 at level 0 opens 1.0", `"MinProtocol" => "TLSv1", "CipherString" => "DEFAULT:@SECLEVEL=0"`, tls.VersionTLS10, tls.VersionTLS10, tls.VersionTLS10, ""},
		{"MinProtocol TLSv1 at Debian's level 2 does not", `"MinProtocol" => "TLSv1", "CipherString" => "DEFAULT"`, tls.VersionTLS10, tls.VersionTLS11, 0, "protocol version"},
		{"MinProtocol TLSv1.1 refuses 1.0", `"MinProtocol" => "TLSv1.1", "CipherString" => "DEFAULT:@SECLEVEL=0"`, tls.VersionTLS10, tls.VersionTLS10, 0, "protocol version"},
		{"Protocol -TLSv1.3 caps at 1.2", `"Protocol" => "ALL,-TLSv1.3"`, tls.VersionTLS12, tls.VersionTLS13, tls.VersionTLS12, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := baseConf
			if tc.cmd != "" {
				conf += "ssl.openssl.ssl-conf-cmd = (" + tc.cmd + ")\n"
			}
			s := startSite(t, p.dir, conf)
			cfg := p.client("default.test")
			cfg.MinVersion, cfg.MaxVersion = tc.min, tc.max
			cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
			st, err := s.handshake(t, cfg)
			if tc.want == 0 {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("handshake: %v (version %x), want an error with %q", err, st.Version, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.Version != tc.want {
				t.Fatalf("negotiated %s, want %s", versionName(st.Version), versionName(tc.want))
			}
		})
	}
}

func TestDefaultCiphersAreLighttpds(t *testing.T) {
	p := newPKI(t)
	s := startSite(t, p.dir, baseConf)
	for _, tc := range []struct {
		suite uint16
		ok    bool
	}{
		{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, true},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, true},
		{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, true},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, false},    // !SHA1
		{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, false}, // !SHA256
	} {
		t.Run(tls.CipherSuiteName(tc.suite), func(t *testing.T) {
			cfg := p.client("default.test")
			cfg.MaxVersion = tls.VersionTLS12
			cfg.CipherSuites = []uint16{tc.suite}
			st, err := s.handshake(t, cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("handshake err %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && st.CipherSuite != tc.suite {
				t.Fatalf("suite %s", tls.CipherSuiteName(st.CipherSuite))
			}
		})
	}
}

func TestSNIPicksCertificate(t *testing.T) {
	p := newPKI(t)
	conf := baseConf + `
$HTTP["host"] == "a.test" {
	ssl.pemfile = "@DIR@/a.crt"
	ssl.privkey = "@DIR@/a.key"
}
else $HTTP["host"] =~ "^b\.test$" {
	ssl.pemfile = "@DIR@/b.pem"
}
$HTTP["url"] =^ "/never" {
	# not known during the handshake: never applies there
	ssl.pemfile = "@DIR@/b.pem"
}
`
	s := startSite(t, p.dir, conf)
	for _, tc := range []struct {
		sni, want string
	}{
		{"a.test", "a.test"},
		{"A.TEST", "a.test"}, // SNI is lower-cased before matching
		{"b.test", "b.test"},
		{"other.test", "default.test"},
		{"", "default.test"},
	} {
		t.Run("sni="+tc.sni, func(t *testing.T) {
			cfg := &tls.Config{InsecureSkipVerify: true, ServerName: tc.sni}
			st, err := s.handshake(t, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.PeerCertificates[0].Subject.CommonName; got != tc.want {
				t.Fatalf("certificate %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("host differing from SNI is served", func(t *testing.T) {
		out, err := s.get(t, p.client("a.test"), "/index.html", "b.test")
		if err != nil || !strings.HasPrefix(out, "HTTP/1.0 200 OK") {
			t.Fatalf("%v %q", err, out)
		}
	})
}

func TestALPNClientOrderWins(t *testing.T) {
	p := newPKI(t)
	s := startSite(t, p.dir, baseConf)
	noH2 := startSite(t, p.dir, baseConf+`server.feature-flags = ("server.h2proto" => "disable")`+"\n")
	for _, tc := range []struct {
		name   string
		site   *site
		protos []string
		want   string
		fail   bool
	}{
		{"no ALPN", s, nil, "", false},
		{"http/1.1", s, []string{"http/1.1"}, "http/1.1", false},
		{"client order: http/1.0 first", s, []string{"http/1.0", "http/1.1"}, "http/1.0", false},
		{"client order: h2 first", s, []string{"h2", "http/1.1"}, "h2", false},
		{"client order: http/1.1 before h2", s, []string{"http/1.1", "h2"}, "http/1.1", false},
		{"unknown then http/1.1", s, []string{"spdy/3", "http/1.1"}, "http/1.1", false},
		{"h2 with server.h2proto disabled", noH2, []string{"h2", "http/1.1"}, "http/1.1", false},
		{"h2 only with server.h2proto disabled", noH2, []string{"h2"}, "", true},
		{"nothing in common", s, []string{"foo", "bar"}, "", true},
		{"acme-tls/1 not configured", s, []string{"acme-tls/1"}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.site
			cfg := p.client("default.test")
			cfg.NextProtos = tc.protos
			st, err := s.handshake(t, cfg)
			if tc.fail {
				if err == nil || !strings.Contains(err.Error(), "no application protocol") {
					t.Fatalf("want no_application_protocol alert, got %v (%q)", err, st.NegotiatedProtocol)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.NegotiatedProtocol != tc.want {
				t.Fatalf("negotiated %q, want %q", st.NegotiatedProtocol, tc.want)
			}
		})
	}
}

func TestPlainHTTPToTLSPortGetsNoByte(t *testing.T) {
	p := newPKI(t)
	s := startSite(t, p.dir, baseConf)
	for _, req := range []string{
		"GET / HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"\x00\x01garbage\r\n\r\n",
	} {
		t.Run(strings.Fields(req)[0], func(t *testing.T) {
			c, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, req)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			b, err := io.ReadAll(c)
			if len(b) != 0 {
				t.Fatalf("got %q", b)
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("connection left open")
			}
		})
	}
	if !strings.Contains(s.log.String(), "SSL: ") {
		t.Errorf("no log line: %s", s.log)
	}
}

func TestACMEChallenge(t *testing.T) {
	p := newPKI(t)
	acme := filepath.Join(p.dir, "acme")
	os.MkdirAll(acme, 0o755)
	// The challenge certificate is self-signed, as ACME's are.
	chal := ssltest.NewCA(t, "ACME challenge")
	os.WriteFile(filepath.Join(acme, "c.test.crt.pem"), chal.CertPEM(), 0o644)
	os.WriteFile(filepath.Join(acme, "c.test.key.pem"), chal.KeyPEM(), 0o600)
	s := startSite(t, p.dir, baseConf+`ssl.acme-tls-1 = "@DIR@/acme"`+"\n")
	t.Run("challenge answered", func(t *testing.T) {
		c, err := tls.Dial("tcp", s.addr, &tls.Config{InsecureSkipVerify: true, ServerName: "c.test", NextProtos: []string{"acme-tls/1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		st := c.ConnectionState()
		if st.NegotiatedProtocol != "acme-tls/1" || !st.PeerCertificates[0].Equal(chal.Cert) {
			t.Fatalf("proto %q cert %q", st.NegotiatedProtocol, st.PeerCertificates[0].Subject)
		}
		// The handshake was the whole exchange: the server closes.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("connection not closed: %v", err)
		}
	})
	t.Run("unknown name fails the handshake", func(t *testing.T) {
		_, err := s.handshake(t, &tls.Config{InsecureSkipVerify: true, ServerName: "d.test", NextProtos: []string{"acme-tls/1"}})
		if err == nil {
			t.Fatal("handshake succeeded")
		}
	})
	t.Run("path tricks refused", func(t *testing.T) {
		_, err := s.handshake(t, &tls.Config{InsecureSkipVerify: true, ServerName: ".c.test", NextProtos: []string{"acme-tls/1"}})
		if err == nil {
			t.Fatal("handshake succeeded")
		}
	})
	t.Run("normal clients unaffected", func(t *testing.T) {
		st, err := s.handshake(t, &tls.Config{RootCAs: p.ca.Pool(), ServerName: "c.test", NextProtos: []string{"http/1.1", "acme-tls/1"}, InsecureSkipVerify: true})
		if err != nil || st.NegotiatedProtocol != "http/1.1" || st.PeerCertificates[0].Subject.CommonName != "default.test" {
			t.Fatalf("%v %q", err, st.NegotiatedProtocol)
		}
	})
}

func TestClientCertificateHandshake(t *testing.T) {
	p := newPKI(t)
	alice := p.ca.Issue(t, ssltest.Options{Subject: pkix.Name{CommonName: "alice"}, Client: true})
	stranger := ssltest.NewCA(t, "stranger")
	conf := baseConf + `
ssl.ca-file = "@DIR@/ca.pem"
ssl.verifyclient.activate = "enable"
$HTTP["host"] == "optional.test" {
	ssl.verifyclient.enforce = "disable"
}
`
	s := startSite(t, p.dir, conf)
	for _, tc := range []struct {
		name string
		sni  string
		cert *ssltest.Cert
		ok   bool
	}{
		{"enforced, trusted", "default.test", alice, true},
		{"enforced, none", "default.test", nil, false},
		{"enforced, untrusted", "default.test", stranger, false},
		{"optional, none", "optional.test", nil, true},
		{"optional, untrusted", "optional.test", stranger, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &tls.Config{InsecureSkipVerify: true, ServerName: tc.sni}
			if tc.cert != nil {
				c := tc.cert.TLS()
				cfg.Certificates = []tls.Certificate{c}
			}
			// TLS 1.3 reports a refused client certificate on the first
			// read, after the client's side of the handshake.
			out, err := s.get(t, cfg, "/index.html", "x")
			if tc.ok != (err == nil && strings.HasPrefix(out, "HTTP/1.0 200")) {
				t.Fatalf("err %v, response %q, want ok=%v", err, out, tc.ok)
			}
		})
	}
	t.Run("certificate request names the CA", func(t *testing.T) {
		var names [][]byte
		cfg := &tls.Config{InsecureSkipVerify: true, GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			names = cri.AcceptableCAs
			c := alice.TLS()
			return &c, nil
		}}
		if _, err := s.get(t, cfg, "/", "x"); err != nil {
			t.Fatal(err)
		}
		if len(names) != 1 || !bytes.Equal(names[0], p.ca.Cert.RawSubject) {
			t.Fatalf("acceptable CAs %q", names)
		}
	})
}

func TestVerifyClient(t *testing.T) {
	dir := t.TempDir()
	root := ssltest.NewCA(t, "Root")
	inter := root.Issue(t, ssltest.Options{Subject: pkix.Name{CommonName: "Intermediate"}, CA: true})
	good := root.Issue(t, ssltest.Options{Subject: pkix.Name{CommonName: "good"}, Client: true})
	viaInter := inter.Issue(t, ssltest.Options{Subject: pkix.Name{CommonName: "deep"}, Client: true})
	revoked := root.Issue(t, ssltest.Options{Subject: pkix.Name{CommonName: "revoked"}, Client: true, Serial: 4242})
	expired := root.Issue(t, ssltest.Options{Subject: pkix.Name{CommonName: "expired"}, Client: true, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	serverOnly := root.Issue(t, ssltest.Options{Subject: pkix.Name{CommonName: "server"}})
	self := ssltest.NewCA(t, "self")
	root.WriteCert(t, dir, "ca.pem")
	root.WriteCRL(t, dir, "crl.pem", time.Now().Add(time.Hour), 4242)
	root.WriteCRL(t, dir, "stale.pem", time.Now().Add(-time.Minute))
	ca, err := loadCA(caFiles{ca: filepath.Join(dir, "ca.pem")})
	if err != nil {
		t.Fatal(err)
	}
	withCRL, err := loadCA(caFiles{ca: filepath.Join(dir, "ca.pem"), crl: filepath.Join(dir, "crl.pem")})
	if err != nil {
		t.Fatal(err)
	}
	stale, err := loadCA(caFiles{ca: filepath.Join(dir, "ca.pem"), crl: filepath.Join(dir, "stale.pem")})
	if err != nil {
		t.Fatal(err)
	}
	inter.WriteCert(t, dir, "inter.pem")
	dn, err := loadDN(filepath.Join(dir, "inter.pem"))
	if err != nil {
		t.Fatal(err)
	}
	chain := func(c *ssltest.Cert) []*x509.Certificate { return append([]*x509.Certificate{c.Cert}, c.Chain...) }
	for _, tc := range []struct {
		name string
		p    verifyParams
		peer []*x509.Certificate
		code int
	}{
		{"trusted", verifyParams{ca: ca, depth: 9}, chain(good), 0},
		{"through an intermediate", verifyParams{ca: ca, depth: 9}, chain(viaInter), 0},
		{"depth counts the root", verifyParams{ca: ca, depth: 1}, chain(viaInter), errCertChainTooLong},
		{"depth 1 fits leaf and root", verifyParams{ca: ca, depth: 1}, chain(good), 0},
		{"self-signed", verifyParams{ca: ca, depth: 9}, chain(self), errDepthZeroSelfSigned},
		{"missing intermediate", verifyParams{ca: ca, depth: 9}, []*x509.Certificate{viaInter.Cert}, errUnableToGetIssuerLocl},
		{"expired", verifyParams{ca: ca, depth: 9}, chain(expired), errCertHasExpired},
		{"server certificate", verifyParams{ca: ca, depth: 9}, chain(serverOnly), errInvalidPurpose},
		{"revoked", verifyParams{ca: withCRL, depth: 9}, chain(revoked), errCertRevoked},
		{"not revoked", verifyParams{ca: withCRL, depth: 9}, chain(good), 0},
		{"no CRL for the intermediate", verifyParams{ca: withCRL, depth: 9}, chain(viaInter), errUnableToGetCRL},
		{"stale CRL", verifyParams{ca: stale, depth: 9}, chain(good), errCRLHasExpired},
		{"ca-dn-file: issuer listed", verifyParams{ca: ca, dn: dn, depth: 9}, chain(viaInter), 0},
		{"ca-dn-file: issuer not listed", verifyParams{ca: ca, dn: dn, depth: 9}, chain(good), errCertRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := verifyClient(tc.p, tc.peer, time.Now())
			code := 0
			if err != nil {
				code = err.code
			}
			if code != tc.code {
				t.Fatalf("code %d (%v), want %d", code, err, tc.code)
			}
		})
	}
}

// TestReloadTogglesTLS: ssl.engine changed by a reload takes effect on the
// kept listener for new connections.
func TestReloadTogglesTLS(t *testing.T) {
	p := newPKI(t)
	plain := strings.Replace(baseConf, `ssl.engine = "enable"`, `ssl.engine = "disable"`, 1)
	port := freePort(t)
	snap, err := compile(t, p.dir, plain, port)
	if err != nil {
		t.Fatal(err)
	}
	srv := core.NewServer(snap, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	s := &site{addr: fmt.Sprintf("127.0.0.1:%d", port)}
	plainGet := func() string {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /index.html HTTP/1.0\r\n\r\n")
		b, _ := io.ReadAll(c)
		return string(b)
	}
	if out := plainGet(); !strings.HasPrefix(out, "HTTP/1.0 200") {
		t.Fatalf("plain: %q", out)
	}
	for i, conf := range []string{baseConf, plain} {
		next, err := compile(t, p.dir, conf, port)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Reload(next); err != nil {
			t.Fatal(err)
		}
		_, herr := s.handshake(t, p.client("default.test"))
		out := plainGet()
		if tlsOn := i == 0; tlsOn != (herr == nil) || tlsOn == strings.HasPrefix(out, "HTTP/1.0 200") {
			t.Fatalf("reload %d: handshake %v, plain %q", i, herr, out)
		}
	}
}

// TestHandshakeDeadline: a client that connects and sends nothing is cut
// off after server.max-read-idle, as lighttpd does.
func TestHandshakeDeadline(t *testing.T) {
	p := newPKI(t)
	s := startSite(t, p.dir, baseConf+"server.max-read-idle = 1\n")
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(make([]byte, 1))
	if n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read %d, %v: want the server to close", n, err)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 5*time.Second {
		t.Fatalf("closed after %v, want about 1 s", d)
	}
}
