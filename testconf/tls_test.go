package testconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golighty/golighty/modules/ssl/ssltest"
)

// tlsConf is served by golighty and by Debian's lighttpd with mod_openssl:
// a default certificate, one picked by SNI, optional client certificates
// with ssl.verifyclient.username and exportcert, and PHP showing the
// variables a backend sees.
const tlsConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_openssl", "mod_auth", "mod_fastcgi")
auth.require = ("/secret/" => ("method" => "extern", "realm" => "certs", "require" => "user=alice@example.test"))
index-file.names = ("index.html")
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html")
ssl.engine = "enable"
ssl.pemfile = "@ROOT@/default.pem"
ssl.ca-file = "@ROOT@/ca.pem"
ssl.verifyclient.activate = "enable"
ssl.verifyclient.enforce = "disable"
ssl.verifyclient.username = "SSL_CLIENT_S_DN_emailAddress"
ssl.verifyclient.exportcert = "enable"
$HTTP["host"] == "sni.test" {
	ssl.pemfile = "@ROOT@/sni.crt"
	ssl.privkey = "@ROOT@/sni.key"
}
$HTTP["host"] == "strict.test" {
	ssl.verifyclient.enforce = "enable"
}
$HTTP["scheme"] == "https" {
	mimetype.assign = (".txt" => "text/x-over-https", ".html" => "text/html")
}
fastcgi.server = (".php" => (("bin-path" => "@PHP@", "socket" => "@ROOT@/@NAME@.sock", "max-procs" => 1,
	"bin-environment" => ("PHP_FCGI_CHILDREN" => "1"))))
`

// tlsEnvScript prints the TLS-related variables, sorted.
const tlsEnvScript = `<?php header("Content-Type: text/plain");
$keys = array_keys($_SERVER); sort($keys);
foreach ($keys as $k) {
	if (preg_match('/^(SSL_(CLIENT|CIPHER|PROTOCOL)|HTTPS$|REQUEST_SCHEME$|REMOTE_USER$|AUTH_TYPE$|SERVER_NAME$|SERVER_PROTOCOL$)/', $k)) echo "$k=", $_SERVER[$k], "\n";
}
`

// tlsPKI is the test's certificates, written below root.
type tlsPKI struct {
	root    string
	ca      *ssltest.Cert
	def     *ssltest.Cert
	sni     *ssltest.Cert
	alice   *ssltest.Cert
	mallory *ssltest.Cert
}

func tlsSetup(t *testing.T) *tlsPKI {
	t.Helper()
	root := t.TempDir()
	ca := ssltest.NewCA(t, "Side Root")
	p := &tlsPKI{root: root, ca: ca,
		def: ca.Issue(t, ssltest.Options{Subject: pkix.Name{CommonName: "default.test"}, DNSNames: []string{"default.test"}}),
		sni: ca.Issue(t, ssltest.Options{Subject: pkix.Name{CommonName: "sni.test"}, DNSNames: []string{"sni.test"}}),
		alice: ca.Issue(t, ssltest.Options{Client: true, Serial: 0x0a1b2c, Subject: pkix.Name{
			Country: []string{"DE"}, Province: []string{"Berlin"}, Organization: []string{"Org, Inc"},
			OrganizationalUnit: []string{"Dev"}, CommonName: "alice",
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: []int{1, 2, 840, 113549, 1, 9, 1}, Value: "alice@example.test"}}}}),
		mallory: ssltest.NewCA(t, "mallory"),
	}
	p.def.WritePEM(t, root, "default.pem")
	p.sni.WriteCert(t, root, "sni.crt")
	p.sni.WriteKey(t, root, "sni.key")
	p.alice.WriteCert(t, root, "alice.crt")
	p.alice.WriteKey(t, root, "alice.key")
	ca.WriteCert(t, root, "ca.pem")
	writeTree(t, root, map[string]string{
		"www/index.html":   "<p>index</p>\n",
		"www/a.txt":        "0123456789\n",
		"www/dir/x.txt":    "x\n",
		"www/env.php":      tlsEnvScript,
		"www/big.txt":      strings.Repeat("0123456789abcdef", 8192),
		"www/sub/in.html":  "in\n",
		"www/secret/s.txt": "for alice\n",
	})
	return p
}

func (p *tlsPKI) conf(name, php string) string {
	return strings.NewReplacer("@ROOT@", p.root, "@PHP@", php, "@NAME@", name).Replace(tlsConf)
}

// tlsExchange sends raw request bytes over a new TLS connection and reads
// until the server closes or goes quiet.
func tlsExchange(t *testing.T, addr string, cfg *tls.Config, req string) ([]byte, error) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(&d, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	io.WriteString(c, req)
	var out bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		wait := 400 * time.Millisecond
		if out.Len() == 0 {
			wait = 5 * time.Second
		}
		c.SetReadDeadline(time.Now().Add(wait))
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, io.EOF) {
				return out.Bytes(), nil
			}
			return out.Bytes(), err
		}
	}
}

// tlsHandshake reports what a handshake with cfg negotiated ("fail" when it
// failed), in a form both servers can be compared by.
func tlsHandshake(addr string, cfg *tls.Config) string {
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(&d, "tcp", addr, cfg)
	if err != nil {
		return "fail"
	}
	defer c.Close()
	// TLS 1.3 reports a refused client certificate on the first read.
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /a.txt HTTP/1.0\r\n\r\n")
	if _, err := io.ReadAll(c); err != nil {
		return "fail after handshake"
	}
	st := c.ConnectionState()
	return fmt.Sprintf("%s %s alpn=%q cert=%s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), st.NegotiatedProtocol, st.PeerCertificates[0].Subject.CommonName)
}

func TestTLSSideBySide(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	php := requirePeer(t, "php-cgi")
	tlsRequireModule(t)
	p := tlsSetup(t)
	g := startServer(t, "golighty", golightyBin, p.root, p.conf("golighty", php))
	l := startServer(t, "lighttpd", lighttpd, p.root, p.conf("lighttpd", php))
	client := func(f func(*tls.Config)) *tls.Config {
		c := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "default.test"}
		if f != nil {
			f(c)
		}
		return c
	}

	t.Run("handshakes", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			cfg  *tls.Config
		}{
			{"TLS 1.3", client(nil)},
			{"TLS 1.2", client(func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 })},
			{"TLS 1.1 refused", client(func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 })},
			{"ALPN http/1.1", client(func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })},
			{"ALPN client order", client(func(c *tls.Config) { c.NextProtos = []string{"http/1.0", "http/1.1"} })},
			{"ALPN unknown first", client(func(c *tls.Config) { c.NextProtos = []string{"x-foo", "http/1.1"} })},
			{"ALPN nothing in common", client(func(c *tls.Config) { c.NextProtos = []string{"x-foo"} })},
			{"SNI picks the certificate", client(func(c *tls.Config) { c.ServerName = "sni.test" })},
			{"SNI upper case", client(func(c *tls.Config) { c.ServerName = "SNI.TEST"; c.InsecureSkipVerify = true })},
			{"unknown SNI gets the default", client(func(c *tls.Config) { c.ServerName = "other.test"; c.InsecureSkipVerify = true })},
			{"enforced client certificate missing", client(func(c *tls.Config) { c.ServerName = "strict.test"; c.InsecureSkipVerify = true })},
			{"enforced client certificate untrusted", client(func(c *tls.Config) {
				c.ServerName, c.InsecureSkipVerify = "strict.test", true
				c.GetClientCertificate = tlsSend(p.mallory)
			})},
			{"enforced client certificate trusted", client(func(c *tls.Config) {
				c.ServerName, c.InsecureSkipVerify = "strict.test", true
				c.Certificates = []tls.Certificate{p.alice.TLS()}
			})},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if gh, lh := tlsHandshake(g.addr, tc.cfg), tlsHandshake(l.addr, tc.cfg); gh != lh {
					t.Fatalf("golighty %s\nlighttpd %s", gh, lh)
				}
			})
		}
		// One TLS 1.2 suite offered: both must take it or both refuse.
		for _, id := range []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_128_GCM_SHA256} {
			t.Run(tls.CipherSuiteName(id), func(t *testing.T) {
				cfg := client(func(c *tls.Config) { c.MaxVersion, c.CipherSuites = tls.VersionTLS12, []uint16{id} })
				if gh, lh := tlsHandshake(g.addr, cfg), tlsHandshake(l.addr, cfg); gh != lh {
					t.Fatalf("golighty %s\nlighttpd %s", gh, lh)
				}
			})
		}
	})

	t.Run("ALPN with h2", func(t *testing.T) {
		for _, protos := range [][]string{{"h2", "http/1.1"}, {"http/1.1", "h2"}, {"h2"}} {
			cfg := client(func(c *tls.Config) { c.NextProtos = protos })
			if gp, lp := tlsALPN(g.addr, cfg), tlsALPN(l.addr, cfg); gp != lp {
				t.Errorf("%q: golighty %s, lighttpd %s", protos, gp, lp)
			}
		}
	})

	t.Run("HTTP/2 over TLS (curl --http2)", func(t *testing.T) {
		tlsRequireCurl(t)
		pinned := []string{"--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384"}
		withCert := append([]string{"--cert", p.root + "/alice.crt", "--key", p.root + "/alice.key"}, pinned...)
		for _, tc := range []struct {
			name string
			path string
			args []string
		}{
			{"static file", "/a.txt", nil},
			{"128 KiB file", "/big.txt", nil},
			{"range", "/big.txt", []string{"-r", "100-199"}},
			{"missing", "/missing", nil},
			{"PHP environment", "/env.php", pinned},
			{"PHP environment with a client certificate", "/env.php", withCert},
			{"client certificate as extern authentication", "/secret/s.txt", withCert},
		} {
			t.Run(tc.name, func(t *testing.T) {
				gv, gb := tlsCurl(t, g.addr, p.root, tc.path, tc.args...)
				lv, lb := tlsCurl(t, l.addr, p.root, tc.path, tc.args...)
				if !strings.HasPrefix(gv, "2 ") {
					t.Fatalf("golighty answered with HTTP version/status %q", gv)
				}
				if gv != lv || gb != lb {
					t.Fatalf("golighty %s:\n%s\nlighttpd %s:\n%s", gv, gb, lv, lb)
				}
			})
		}
	})

	t.Run("backend environment", func(t *testing.T) {
		pinned := func(f func(*tls.Config)) *tls.Config {
			return client(func(c *tls.Config) {
				// One suite, so both servers negotiate the same one.
				c.MaxVersion, c.CipherSuites = tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}
				if f != nil {
					f(c)
				}
			})
		}
		for _, tc := range []struct {
			name string
			cfg  *tls.Config
			want string // a line the output must hold
		}{
			{"no client certificate", pinned(nil), "SSL_CLIENT_VERIFY=NONE"},
			{"trusted client certificate", pinned(func(c *tls.Config) { c.Certificates = []tls.Certificate{p.alice.TLS()} }), "REMOTE_USER=alice@example.test"},
			{"untrusted client certificate", pinned(func(c *tls.Config) { c.GetClientCertificate = tlsSend(p.mallory) }), "SSL_CLIENT_VERIFY=FAILED:"},
			{"TLS 1.3", client(func(c *tls.Config) { c.Certificates = []tls.Certificate{p.alice.TLS()} }), "SSL_PROTOCOL=TLSv1.3"},
			{"SNI", pinned(func(c *tls.Config) { c.ServerName = "sni.test" }), "SERVER_NAME=sni.test"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req := "GET /env.php HTTP/1.0\r\nHost: " + tc.cfg.ServerName + "\r\n\r\n"
				gb, gerr := tlsExchange(t, g.addr, tc.cfg, req)
				lb, lerr := tlsExchange(t, l.addr, tc.cfg, req)
				if gerr != nil || lerr != nil {
					t.Fatalf("golighty %v, lighttpd %v", gerr, lerr)
				}
				_, _, gbody := splitResponse(gb)
				_, _, lbody := splitResponse(lb)
				if !bytes.Equal(gbody, lbody) {
					t.Fatalf("environment differs:\ngolighty:\n%s\nlighttpd:\n%s", gbody, lbody)
				}
				if !bytes.Contains(gbody, []byte(tc.want)) {
					t.Fatalf("no %q in\n%s", tc.want, gbody)
				}
			})
		}
	})

	t.Run("responses", func(t *testing.T) {
		cfg := client(nil)
		for _, req := range []string{
			"GET /a.txt HTTP/1.0\r\n\r\n",
			"HEAD /a.txt HTTP/1.0\r\n\r\n",
			"GET /missing HTTP/1.0\r\n\r\n",
			"GET /dir HTTP/1.0\r\nHost: default.test\r\n\r\n", // the redirect says https
			"GET /sub HTTP/1.1\r\nHost: default.test:8443\r\nConnection: close\r\n\r\n",
			"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=2-5\r\nConnection: close\r\n\r\n",
			"GET /big.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /big.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			"POST /a.txt HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
			"GET /a.txt HTTP/1.1\r\n\r\n",
		} {
			name := strings.NewReplacer("\r", "", "\n", "|").Replace(req)
			t.Run(name, func(t *testing.T) {
				gb, gerr := tlsExchange(t, g.addr, cfg, req)
				lb, lerr := tlsExchange(t, l.addr, cfg, req)
				if gerr != nil || lerr != nil {
					t.Fatalf("golighty %v, lighttpd %v", gerr, lerr)
				}
				gs, gh, gbody := splitResponse(gb)
				ls, lh, lbody := splitResponse(lb)
				if !strings.HasPrefix(gs, "HTTP/1.") {
					t.Fatalf("no response: %q", gb)
				}
				if strings.Contains(string(gb), "Content-Type: text/plain") {
					t.Errorf(`$HTTP["scheme"] == "https" did not apply: %q`, gb)
				}
				if gs != ls || strings.Join(gh, "\n") != strings.Join(lh, "\n") || !bytes.Equal(gbody, lbody) {
					t.Fatalf("golighty:\n%s\n%s\n(%d body bytes)\nlighttpd:\n%s\n%s\n(%d body bytes)", gs, strings.Join(gh, "\n"), len(gbody), ls, strings.Join(lh, "\n"), len(lbody))
				}
			})
		}
	})

	t.Run("client certificate as extern authentication", func(t *testing.T) {
		// ssl.verifyclient.username sets REMOTE_USER before mod_auth looks.
		for _, tc := range []struct {
			name   string
			cfg    *tls.Config
			status string
		}{
			{"alice", client(func(c *tls.Config) { c.Certificates = []tls.Certificate{p.alice.TLS()} }), "HTTP/1.0 200 OK"},
			{"no certificate", client(nil), "HTTP/1.0 401 Unauthorized"},
			{"untrusted", client(func(c *tls.Config) { c.GetClientCertificate = tlsSend(p.mallory) }), "HTTP/1.0 401 Unauthorized"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req := "GET /secret/s.txt HTTP/1.0\r\n\r\n"
				gb, gerr := tlsExchange(t, g.addr, tc.cfg, req)
				lb, lerr := tlsExchange(t, l.addr, tc.cfg, req)
				if gerr != nil || lerr != nil {
					t.Fatalf("golighty %v, lighttpd %v", gerr, lerr)
				}
				gs, gh, gbody := splitResponse(gb)
				ls, lh, lbody := splitResponse(lb)
				if gs != tc.status || gs != ls || strings.Join(gh, "\n") != strings.Join(lh, "\n") || !bytes.Equal(gbody, lbody) {
					t.Fatalf("want %s\ngolighty:\n%s\nlighttpd:\n%s", tc.status, gb, lb)
				}
			})
		}
	})

	t.Run("plain HTTP to the TLS port", func(t *testing.T) {
		for _, s := range []*server{g, l} {
			c, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(c, "GET /a.txt HTTP/1.0\r\n\r\n")
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			b, err := io.ReadAll(c)
			c.Close()
			var ne net.Error
			if len(b) != 0 || errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("%s: got %q, err %v; want the connection closed without a byte", s.name, b, err)
			}
		}
	})
}

// TestTLSOldVersionsSideBySide: with MinProtocol TLSv1, lighttpd on
// OpenSSL 3 serves TLS 1.0 and 1.1 only at security level 0; golighty
// follows.
func TestTLSOldVersionsSideBySide(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	tlsRequireModule(t)
	p := tlsSetup(t)
	for _, tc := range []struct{ name, cmd string }{
		{"default level", `"MinProtocol" => "TLSv1", "CipherString" => "DEFAULT"`},
		{"level 0", `"MinProtocol" => "TLSv1", "CipherString" => "DEFAULT:@SECLEVEL=0"`},
		{"level 0, TLS 1.1 minimum", `"MinProtocol" => "TLSv1.1", "SecurityLevel" => "0"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := "server.document-root = \"" + p.root + "/www\"\nserver.bind = \"127.0.0.1\"\nserver.port = @PORT@\n" +
				"server.modules = (\"mod_openssl\")\nssl.engine = \"enable\"\nssl.pemfile = \"" + p.root + "/default.pem\"\n" +
				"ssl.openssl.ssl-conf-cmd = (" + tc.cmd + ")\n"
			dir := t.TempDir()
			g := startServer(t, "golighty", golightyBin, dir, conf)
			l := startServer(t, "lighttpd", lighttpd, dir, conf)
			for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12} {
				cfg := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "default.test", MinVersion: v, MaxVersion: v}
				if gh, lh := tlsHandshake(g.addr, cfg), tlsHandshake(l.addr, cfg); gh != lh {
					t.Errorf("%s: golighty %s, lighttpd %s", tls.VersionName(v), gh, lh)
				}
			}
		})
	}
}

// tlsSend makes a client send c whatever CAs the server asks for (Go's
// client would otherwise send nothing for an unknown issuer).
func tlsSend(c *ssltest.Cert) func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		cert := c.TLS()
		return &cert, nil
	}
}

// tlsALPN reports the protocol a handshake negotiated ("fail" when it
// failed).
func tlsALPN(addr string, cfg *tls.Config) string {
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(&d, "tcp", addr, cfg)
	if err != nil {
		return "fail"
	}
	defer c.Close()
	return fmt.Sprintf("%q", c.ConnectionState().NegotiatedProtocol)
}

func tlsRequireCurl(t *testing.T) {
	t.Helper()
	out, err := exec.Command("curl", "--version").Output()
	if err != nil || !bytes.Contains(out, []byte("HTTP2")) {
		if os.Getenv("GOLIGHTY_REQUIRE_PEERS") == "1" {
			t.Fatal("curl with HTTP/2 is required (GOLIGHTY_REQUIRE_PEERS=1)")
		}
		t.Skip("curl with HTTP/2 not installed")
	}
}

// tlsCurl fetches path from addr with curl --http2 (trusting the test CA,
// SNI default.test) and returns "<HTTP version> <status>" and the body.
func tlsCurl(t *testing.T, addr, root, path string, extra ...string) (string, string) {
	t.Helper()
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	args := append([]string{"-s", "--http2", "--cacert", root + "/ca.pem", "--resolve", "default.test:" + port + ":127.0.0.1",
		"-w", "\n%{http_version} %{response_code}"}, extra...)
	out, err := exec.Command("curl", append(args, "https://default.test:"+port+path)...).Output()
	if err != nil {
		t.Fatalf("curl %s: %v", path, err)
	}
	i := bytes.LastIndexByte(out, '\n')
	return string(out[i+1:]), string(out[:i])
}

// tlsRequireModule checks Debian's lighttpd can load mod_openssl
// (lighttpd-mod-openssl), like requirePeer.
func tlsRequireModule(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/lib/lighttpd/mod_openssl.so"); err != nil {
		if os.Getenv("GOLIGHTY_REQUIRE_PEERS") == "1" {
			t.Fatal("lighttpd-mod-openssl is required (GOLIGHTY_REQUIRE_PEERS=1) but not installed")
		}
		t.Skip("lighttpd-mod-openssl not installed")
	}
}

// TestTLSConfigCheck runs -tt on TLS configs lighttpd refuses and accepts:
// both must agree on the exit status, and golighty names the problem.
func TestTLSConfigCheck(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	tlsRequireModule(t)
	p := tlsSetup(t)
	os.WriteFile(filepath.Join(p.root, "garbage.pem"), []byte("garbage\n"), 0o644)
	other := p.ca.Issue(t, ssltest.Options{})
	os.WriteFile(filepath.Join(p.root, "mismatch.pem"), append(p.def.CertPEM(), other.KeyPEM()...), 0o644)
	base := "server.document-root = \"" + p.root + "/www\"\nserver.port = 8443\nserver.modules = (\"mod_openssl\")\nssl.engine = \"enable\"\n"
	for _, tc := range []struct {
		name, conf, msg string
	}{
		{"good", `ssl.pemfile = "@ROOT@/default.pem"`, ""},
		{"missing pemfile", `ssl.pemfile = "@ROOT@/none.pem"`, "No such file or directory"},
		{"garbage pemfile", `ssl.pemfile = "@ROOT@/garbage.pem"`, "couldn't read X509 certificate"},
		{"key does not match", `ssl.pemfile = "@ROOT@/mismatch.pem"`, "does not match"},
		{"no pemfile", ``, "ssl.pemfile has to be set"},
		{"socket with other ssl keys but no pemfile", `ssl.pemfile = "@ROOT@/default.pem"
$SERVER["socket"] == ":9443" { ssl.engine = "enable"
ssl.verifyclient.activate = "enable" }`, "ssl.pemfile has to be set in same"},
		{"socket inherits", `ssl.pemfile = "@ROOT@/default.pem"
$SERVER["socket"] == ":9443" { ssl.engine = "enable" }`, ""},
		{"bad ssl-conf-cmd", `ssl.pemfile = "@ROOT@/default.pem"
ssl.openssl.ssl-conf-cmd = ("MinProtocol" => "TLSv9")`, "SSL_CONF_cmd MinProtocol TLSv9: bad value"},
		{"cipher string matching nothing", `ssl.pemfile = "@ROOT@/default.pem"
ssl.openssl.ssl-conf-cmd = ("CipherString" => "NOTHING")`, "no cipher match"},
		{"bad ca-file", `ssl.pemfile = "@ROOT@/default.pem"
ssl.ca-file = "@ROOT@/garbage.pem"`, "ca-file is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.conf")
			os.WriteFile(path, []byte(base+strings.ReplaceAll(tc.conf, "@ROOT@", p.root)+"\n"), 0o644)
			gout, gerr := exec.Command(golightyBin, "-tt", "-f", path).CombinedOutput()
			_, lerr := exec.Command(lighttpd, "-tt", "-f", path).CombinedOutput()
			gcode, lcode := exitCode(gerr), exitCode(lerr)
			if gcode != lcode {
				t.Fatalf("golighty exit %d, lighttpd %d\n%s", gcode, lcode, gout)
			}
			if tc.msg == "" && gcode != 0 || tc.msg != "" && (gcode != 255 || !strings.Contains(string(gout), tc.msg)) {
				t.Fatalf("exit %d, output %q, want %q", gcode, gout, tc.msg)
			}
		})
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestTLSCertificateSwapUnderLoad replaces the certificate while clients
// open new connections without pause: every request must succeed, new
// handshakes must see each new certificate, and a broken file in between
// must change nothing.
func TestTLSCertificateSwapUnderLoad(t *testing.T) {
	p := tlsSetup(t)
	conf := strings.NewReplacer("@ROOT@", p.root).Replace(`
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.modules = ("mod_openssl")
server.errorlog = "@ROOT@/error.log"
ssl.engine = "enable"
ssl.pemfile = "@ROOT@/default.pem"
`)
	// Not named "golighty": startServer then leaves the watcher on.
	s := startServer(t, "golighty-watching", golightyBin, p.root, conf)
	var ok, failed atomic.Int64
	var lastErr atomic.Value
	seen := sync.Map{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "default.test"}
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := tls.Dial("tcp", s.addr, cfg)
				if err == nil {
					seen.Store(c.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), true)
					c.SetDeadline(time.Now().Add(5 * time.Second))
					io.WriteString(c, "GET /a.txt HTTP/1.0\r\n\r\n")
					var b []byte
					b, err = io.ReadAll(c)
					c.Close()
					if err == nil && !bytes.HasSuffix(b, []byte("0123456789\n")) {
						err = fmt.Errorf("response %q", b)
					}
				}
				if err != nil {
					failed.Add(1)
					lastErr.Store(err)
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	waitSeen := func(serial int64) {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if _, hit := seen.Load(serial); hit {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Errorf("certificate %d never served", serial)
	}
	waitSeen(p.def.Cert.SerialNumber.Int64())
	for i := 0; i < 4; i++ {
		next := p.ca.Issue(t, ssltest.Options{Subject: pkix.Name{CommonName: "default.test"}, DNSNames: []string{"default.test"}})
		if i == 2 {
			os.WriteFile(filepath.Join(p.root, "default.pem.tmp"), []byte("half a cert"), 0o600)
			os.Rename(filepath.Join(p.root, "default.pem.tmp"), filepath.Join(p.root, "default.pem"))
			time.Sleep(300 * time.Millisecond)
		}
		next.WritePEM(t, p.root, "default.pem")
		waitSeen(next.Cert.SerialNumber.Int64())
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d requests, %d failed", ok.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed, last: %v", failed.Load(), ok.Load()+failed.Load(), lastErr.Load())
	}
	if ok.Load() < 50 {
		t.Fatalf("only %d requests: no load", ok.Load())
	}
	if log, _ := os.ReadFile(filepath.Join(p.root, "error.log")); !bytes.Contains(log, []byte("cannot be used")) {
		t.Errorf("the broken file was not reported:\n%s", log)
	}
}

// TestTLSH2spec runs the HTTP/2 conformance suite (h2spec) against the
// golighty binary over TLS (ALPN h2): every test must pass.
func TestTLSH2spec(t *testing.T) {
	bin := requirePeer(t, "h2spec")
	p := tlsSetup(t)
	writeTree(t, p.root, map[string]string{"www/index.html": strings.Repeat("conformance\n", 200)})
	conf := strings.NewReplacer("@ROOT@", p.root).Replace(`
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.modules = ("mod_openssl")
index-file.names = ("index.html")
ssl.engine = "enable"
ssl.pemfile = "@ROOT@/default.pem"
`)
	g := startServer(t, "golighty", golightyBin, p.root, conf)
	host, port, _ := strings.Cut(g.addr, ":")
	n, failed := runH2spec(t, bin, host, port, "-t", "-k")
	t.Logf("h2spec over TLS: %d of %d passed", n-len(failed), n)
	if n < 145 {
		t.Errorf("h2spec ran %d tests, want 145", n)
	}
	for _, f := range failed {
		t.Errorf("failed: %s", f)
	}
}
