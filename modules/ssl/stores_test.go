package ssl

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/lighttpdconf"
	"github.com/golighty/golighty/modules/ssl/ssltest"
)

// watchedSite is a site whose config watcher runs, as golighty's does.
type watchedSite struct {
	*site
	shared *core.SharedPool
	path   string
}

func startWatched(t *testing.T, dir, conf string) *watchedSite {
	t.Helper()
	port := freePort(t)
	conf = strings.NewReplacer("@DIR@", dir, "@PORT@", fmt.Sprint(port)).Replace(conf)
	path := filepath.Join(dir, "lighttpd.conf")
	os.WriteFile(path, []byte(conf), 0o644)
	shared := core.NewSharedPool()
	loader := &core.Loader{Path: path, Shared: shared}
	snap, err := loader.Load()
	if err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	prev := slog.Default()
	slog.SetDefault(logger) // the stores report through the default logger, as in golighty
	t.Cleanup(func() { slog.SetDefault(prev) })
	srv := core.NewServer(snap, logger)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	r := &core.Reloader{Loader: loader, Server: srv, Log: logger}
	r.Prime(snap.Conf)
	w := core.NewWatcher(r, logger, false)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx, snap.Conf); close(done) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	time.Sleep(50 * time.Millisecond) // the watcher has its directories
	return &watchedSite{site: &site{addr: fmt.Sprintf("127.0.0.1:%d", port), srv: srv, log: &log, dir: dir}, shared: shared, path: path}
}

func waitUntil(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *site) serial(t *testing.T, sni string) int64 {
	t.Helper()
	st, err := s.handshake(t, &tls.Config{InsecureSkipVerify: true, ServerName: sni})
	if err != nil {
		t.Fatal(err)
	}
	return st.PeerCertificates[0].SerialNumber.Int64()
}

func TestCertificateSwapWithoutRestart(t *testing.T) {
	p := newPKI(t)
	s := startWatched(t, p.dir, baseConf)
	first := p.def.Cert.SerialNumber.Int64()
	if got := s.serial(t, "default.test"); got != first {
		t.Fatalf("serial %d, want %d", got, first)
	}
	// A connection opened before the swap keeps working after it.
	old, err := tls.Dial("tcp", s.addr, p.client("default.test"))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()

	next := p.ca.Issue(t, ssltest.Options{Subject: pkix.Name{CommonName: "default.test"}, DNSNames: []string{"default.test"}})
	next.WritePEM(t, p.dir, "default.pem")
	waitUntil(t, "the new certificate", func() bool { return s.serial(t, "default.test") == next.Cert.SerialNumber.Int64() })

	fmt.Fprintf(old, "GET /index.html HTTP/1.0\r\n\r\n")
	old.SetDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(old); err != nil || !strings.HasPrefix(string(b), "HTTP/1.0 200") {
		t.Fatalf("old connection: %v %q", err, b)
	}

	t.Run("a bad file keeps the running certificate", func(t *testing.T) {
		os.WriteFile(filepath.Join(p.dir, "default.pem.tmp"), []byte("not a certificate"), 0o600)
		os.Rename(filepath.Join(p.dir, "default.pem.tmp"), filepath.Join(p.dir, "default.pem"))
		waitUntil(t, "the error log line", func() bool { return strings.Contains(s.log.String(), "cannot be used") })
		if got := s.serial(t, "default.test"); got != next.Cert.SerialNumber.Int64() {
			t.Fatalf("serial %d after a bad file", got)
		}
	})
	t.Run("a key that does not match keeps the running certificate", func(t *testing.T) {
		other := p.ca.Issue(t, ssltest.Options{})
		mixed := append(next.CertPEM(), other.KeyPEM()...)
		os.WriteFile(filepath.Join(p.dir, "default.pem.tmp"), mixed, 0o600)
		os.Rename(filepath.Join(p.dir, "default.pem.tmp"), filepath.Join(p.dir, "default.pem"))
		waitUntil(t, "the mismatch log line", func() bool { return strings.Contains(s.log.String(), "does not match") })
		if got := s.serial(t, "default.test"); got != next.Cert.SerialNumber.Int64() {
			t.Fatalf("serial %d after a mismatched key", got)
		}
	})
}

func TestSeparateKeyFileSwap(t *testing.T) {
	p := newPKI(t)
	s := startWatched(t, p.dir, baseConf+`$HTTP["host"] == "a.test" {
	ssl.pemfile = "@DIR@/a.crt"
	ssl.privkey = "@DIR@/a.key"
}
`)
	next := p.ca.Issue(t, ssltest.Options{Subject: pkix.Name{CommonName: "a.test"}})
	// Key first, then the certificate: in between the pair does not match
	// and the old one keeps serving.
	next.WriteKey(t, p.dir, "a.key")
	time.Sleep(200 * time.Millisecond)
	if got := s.serial(t, "a.test"); got != p.a.Cert.SerialNumber.Int64() {
		t.Fatalf("serial %d while the pair does not match", got)
	}
	next.WriteCert(t, p.dir, "a.crt")
	waitUntil(t, "the new pair", func() bool { return s.serial(t, "a.test") == next.Cert.SerialNumber.Int64() })
}

// TestReloadSharesCertificates checks that a config reload reuses loaded
// certificates (no re-read of unchanged files) and that a forced reload
// picks up a changed file, as lighttpd's SIGUSR1 does.
func TestReloadSharesCertificates(t *testing.T) {
	p := newPKI(t)
	dir := p.dir
	shared := core.NewSharedPool()
	conf := strings.NewReplacer("@DIR@", dir, "@PORT@", "0").Replace(baseConf)
	path := filepath.Join(dir, "lighttpd.conf")
	os.WriteFile(path, []byte(conf), 0o644)
	load := func() *core.Snapshot {
		parsed, err := lighttpdconf.ParseFile(path, &lighttpdconf.Options{})
		if err != nil {
			t.Fatal(err)
		}
		snap, err := core.Compile(parsed, core.CompileOptions{}, shared)
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}
	store := func(s *core.Snapshot) *certStore {
		m, _ := s.Module("mod_openssl")
		return m.(*Module).certs[0]
	}
	a := load()
	b := load()
	if store(a) != store(b) {
		t.Fatal("the second load did not share the certificate store")
	}
	before := store(b).cur.Load()
	c := load()
	if store(c).cur.Load() != before {
		t.Fatal("an unchanged certificate was loaded again")
	}
	next := p.ca.Issue(t, ssltest.Options{Subject: pkix.Name{CommonName: "default.test"}})
	next.WritePEM(t, dir, "default.pem")
	d := load()
	if got := store(d).get().Leaf.SerialNumber; got.Cmp(next.Cert.SerialNumber) != 0 {
		t.Fatalf("reload kept serial %v", got)
	}
	for _, s := range []*core.Snapshot{a, b, c, d} {
		m, _ := s.Module("mod_openssl")
		m.(*Module).Close()
	}
}

func ocspResponse(t *testing.T, ca *ssltest.Cert, leaf *x509.Certificate, next time.Time) []byte {
	t.Helper()
	der, err := ocsp.CreateResponse(ca.Cert, ca.Cert, ocsp.Response{
		Status: ocsp.Good, SerialNumber: leaf.SerialNumber,
		ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: next,
	}, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestOCSPStapling(t *testing.T) {
	p := newPKI(t)
	inter := p.ca.Issue(t, ssltest.Options{Subject: pkix.Name{CommonName: "Intermediate"}, CA: true})
	leaf := inter.Issue(t, ssltest.Options{Subject: pkix.Name{CommonName: "stapled.test"}, DNSNames: []string{"stapled.test"}})
	leaf.WritePEM(t, p.dir, "stapled.pem") // with the intermediate: the response is checked against it
	good := ocspResponse(t, inter, leaf.Cert, time.Now().Add(time.Hour))
	os.WriteFile(filepath.Join(p.dir, "good.der"), good, 0o644)
	os.WriteFile(filepath.Join(p.dir, "expired.der"), ocspResponse(t, inter, leaf.Cert, time.Now().Add(-time.Minute)), 0o644)
	os.WriteFile(filepath.Join(p.dir, "other.der"), ocspResponse(t, inter, p.a.Cert, time.Now().Add(time.Hour)), 0o644)
	wrongSigner := ocspResponse(t, p.ca, leaf.Cert, time.Now().Add(time.Hour))
	os.WriteFile(filepath.Join(p.dir, "forged.der"), wrongSigner, 0o644)
	for _, tc := range []struct {
		file    string
		stapled bool
		warn    string
	}{
		{"good.der", true, ""},
		{"expired.der", false, "expired"},
		{"other.der", false, "no response matching"},
		{"forged.der", false, "OCSP stapling file read error"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			conf := baseConf + `$HTTP["host"] == "stapled.test" {
	ssl.pemfile = "@DIR@/stapled.pem"
	ssl.stapling-file = "@DIR@/` + tc.file + `"
}
`
			snap, err := compile(t, t.TempDir(), strings.ReplaceAll(conf, "@DIR@", p.dir), freePort(t))
			if err != nil {
				t.Fatal(err)
			}
			var warnings []string
			for _, w := range snap.Warnings {
				warnings = append(warnings, w.Msg)
			}
			if got := strings.Join(warnings, "\n"); tc.warn != "" && !strings.Contains(got, tc.warn) {
				t.Errorf("warnings %q, want %q", got, tc.warn)
			}
			srv := core.NewServer(snap, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			s := &site{addr: srv.Addrs()[0].String()}
			st, err := s.handshake(t, &tls.Config{InsecureSkipVerify: true, ServerName: "stapled.test"})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(st.OCSPResponse) > 0; got != tc.stapled {
				t.Fatalf("stapled %v, want %v", got, tc.stapled)
			}
			if tc.stapled && string(st.OCSPResponse) != string(good) {
				t.Fatal("stapled bytes differ from the file")
			}
		})
	}
}

func TestMustStapleWarns(t *testing.T) {
	p := newPKI(t)
	feature, _ := asn1.Marshal([]int{5})
	ms := p.ca.Issue(t, ssltest.Options{ExtraExtensions: []pkix.Extension{{Id: oidTLSFeature, Value: feature}}})
	path := ms.WritePEM(t, p.dir, "ms.pem")
	st, err := loadCert(certFiles{pem: path, key: path}, func(msg string) {
		if !strings.Contains(msg, "Must-Staple") {
			t.Errorf("warning %q", msg)
		}
	})
	if err != nil || !st.mustStaple {
		t.Fatalf("%v, must-staple %v", err, st != nil && st.mustStaple)
	}
}

func writeStek(t *testing.T, path string, active, expire time.Time) {
	t.Helper()
	b := make([]byte, 92)
	binary.NativeEndian.PutUint32(b[4:], uint32(active.Unix()))
	binary.NativeEndian.PutUint32(b[8:], uint32(expire.Unix()))
	rand.Read(b[12:])
	os.WriteFile(path+".tmp", b, 0o600)
	os.Rename(path+".tmp", path)
}

func TestSessionTickets(t *testing.T) {
	p := newPKI(t)
	resumes := func(t *testing.T, first, second string, version uint16) bool {
		t.Helper()
		cache := tls.NewLRUClientSessionCache(4)
		cfg := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "default.test", ClientSessionCache: cache, MaxVersion: version}
		for i, addr := range []string{first, second} {
			c, err := tls.Dial("tcp", addr, cfg)
			if err != nil {
				t.Fatal(err)
			}
			// TLS 1.3 tickets arrive after the handshake: read a response.
			fmt.Fprintf(c, "GET /index.html HTTP/1.0\r\n\r\n")
			io.ReadAll(c)
			resumed := c.ConnectionState().DidResume
			c.Close()
			if i == 1 {
				return resumed
			}
		}
		return false
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		name := versionName(v)
		t.Run(name+" resumes", func(t *testing.T) {
			s := startSite(t, p.dir, baseConf)
			if !resumes(t, s.addr, s.addr, v) {
				t.Fatal("no resumption")
			}
		})
		t.Run(name+" -SessionTicket", func(t *testing.T) {
			s := startSite(t, p.dir, baseConf+`ssl.openssl.ssl-conf-cmd = ("Options" => "-SessionTicket")`+"\n")
			if resumes(t, s.addr, s.addr, v) {
				t.Fatal("resumed without tickets")
			}
		})
	}
	t.Run("ssl.stek-file shared by two servers", func(t *testing.T) {
		stek := filepath.Join(p.dir, "stek")
		writeStek(t, stek, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
		conf := baseConf + `ssl.stek-file = "@DIR@/stek"` + "\n"
		a := startSite(t, p.dir, conf)
		b := startSite(t, p.dir, conf) // its own SharedPool: another process
		if !resumes(t, a.addr, b.addr, tls.VersionTLS13) {
			t.Fatal("a ticket from one server did not resume on the other")
		}
	})
	t.Run("without ssl.stek-file each server has its keys", func(t *testing.T) {
		a := startSite(t, p.dir, baseConf)
		b := startSite(t, p.dir, baseConf)
		if resumes(t, a.addr, b.addr, tls.VersionTLS13) {
			t.Fatal("resumed across servers with random keys")
		}
	})
	t.Run("keys: the active one encrypts, unexpired ones decrypt", func(t *testing.T) {
		now := time.Now().Unix()
		m := &stekManager{}
		m.keys[0] = stekKey{active: now + 3600, expire: now + 7200, secret: [32]byte{1}} // newest, not yet active
		m.keys[1] = stekKey{active: now - 3600, expire: now + 3600, secret: [32]byte{2}}
		m.keys[2] = stekKey{active: now - 7200, expire: now - 1, secret: [32]byte{3}} // expired
		got := m.ticketKeys(now)
		if len(got) != 2 || got[0] != [32]byte{2} || got[1] != [32]byte{1} {
			t.Fatalf("keys %v", got)
		}
		m.keys[1].expire = now - 1
		got = m.ticketKeys(now)
		if len(got) != 2 || got[0] == [32]byte{1} || got[1] != [32]byte{1} {
			t.Fatalf("without an active key: %v", got)
		}
	})
	t.Run("rotation every 8 hours keeps three", func(t *testing.T) {
		m := &stekManager{log: slog.Default}
		start := time.Now()
		for i := 0; i < 5; i++ {
			m.check(start.Add(time.Duration(i) * 8 * time.Hour))
		}
		if m.keys[0].active != start.Add(32*time.Hour).Unix() || m.keys[2].active != start.Add(16*time.Hour).Unix() {
			t.Fatalf("keys %+v", m.keys)
		}
		m.check(start.Add(33 * time.Hour)) // not due
		if m.keys[0].active != start.Add(32*time.Hour).Unix() {
			t.Fatal("rotated early")
		}
	})
}

func TestSessionTicketsSurviveReload(t *testing.T) {
	p := newPKI(t)
	s := startWatched(t, p.dir, baseConf)
	cache := tls.NewLRUClientSessionCache(4)
	cfg := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "default.test", ClientSessionCache: cache}
	dial := func() bool {
		c, err := tls.Dial("tcp", s.addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /index.html HTTP/1.0\r\n\r\n")
		io.ReadAll(c)
		return c.ConnectionState().DidResume
	}
	dial()
	conf, _ := os.ReadFile(s.path)
	os.WriteFile(s.path, append(conf, []byte("server.tag = \"reloaded\"\n")...), 0o644)
	waitUntil(t, "the reload", func() bool { return strings.Contains(s.log.String(), "config reloaded") })
	if !dial() {
		t.Fatal("a ticket issued before the reload did not resume")
	}
}

// TestDNOnelineMatchesOpenSSL renders subjects as SSL_CLIENT_S_DN and
// compares with `openssl x509 -nameopt oneline,-esc_msb`, the form lighttpd
// prints.
func TestDNOnelineMatchesOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("GOLIGHTY_REQUIRE_PEERS") == "1" {
			t.Fatal("openssl is required (GOLIGHTY_REQUIRE_PEERS=1)")
		}
		t.Skip("openssl not installed")
	}
	ca := ssltest.NewCA(t, "DN CA")
	multi, _ := asn1.Marshal(pkix.RDNSequence{
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 6}, Value: "DE"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: "a"}, {Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "b"}},
		{{Type: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: "x"}},
	})
	for _, tc := range []struct {
		name string
		subj pkix.Name
		raw  []byte
	}{
		{"plain", pkix.Name{Country: []string{"DE"}, Organization: []string{"Org"}, CommonName: "alice"}, nil},
		{"comma quoted", pkix.Name{Organization: []string{"Org, Inc"}, CommonName: "alice"}, nil},
		{"quotes and backslash", pkix.Name{CommonName: `a "b" \c`}, nil},
		{"plus and leading space", pkix.Name{CommonName: " a+b", OrganizationalUnit: []string{"#x"}}, nil},
		{"utf8", pkix.Name{CommonName: "Jürgen Ω"}, nil},
		{"email and uid", pkix.Name{CommonName: "c", ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: "a@b.example"},
			{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, Value: "u1"},
			{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, Value: "example"}}}, nil},
		{"multi-valued and unknown", pkix.Name{}, multi},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ca.Issue(t, ssltest.Options{Subject: tc.subj, Client: true})
			if tc.raw != nil {
				c = issueRaw(t, ca, tc.raw)
			}
			path := c.WriteCert(t, t.TempDir(), "c.pem")
			out, err := exec.Command(openssl, "x509", "-in", path, "-noout", "-subject", "-nameopt", "oneline,-esc_msb").Output()
			if err != nil {
				t.Fatal(err)
			}
			want := strings.TrimSuffix(strings.TrimPrefix(string(out), "subject="), "\n")
			if got := oneline(c.Cert.RawSubject); got != want {
				t.Fatalf("\n got %q\nwant %q", got, want)
			}
		})
	}
}

// issueRaw signs a client certificate with a subject given as DER.
func issueRaw(t *testing.T, ca *ssltest.Cert, subject []byte) *ssltest.Cert {
	t.Helper()
	c := ca.Issue(t, ssltest.Options{Client: true})
	tmpl := *c.Cert
	tmpl.RawSubject = subject
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca.Cert, c.Key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &ssltest.Cert{Cert: cert, Key: c.Key}
}

func TestSubjectEntries(t *testing.T) {
	ca := ssltest.NewCA(t, "CA")
	c := ca.Issue(t, ssltest.Options{Subject: pkix.Name{Country: []string{"DE"}, OrganizationalUnit: []string{"one", "two"}, CommonName: "bob"}, Client: true})
	got := subjectEntries(c.Cert.RawSubject)
	want := []dnPair{{"SSL_CLIENT_S_DN_C", "DE"}, {"SSL_CLIENT_S_DN_OU", "two"}, {"SSL_CLIENT_S_DN_CN", "bob"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	v := &verdict{leaf: c.Cert}
	v.fill()
	if v.serial != strings.ToUpper(c.Cert.SerialNumber.Text(16)) && v.serial != "0"+strings.ToUpper(c.Cert.SerialNumber.Text(16)) {
		t.Fatalf("serial %q", v.serial)
	}
	for _, tc := range []struct {
		v    *verdict
		want string
	}{
		{&verdict{}, "NONE"},
		{&verdict{leaf: c.Cert}, "SUCCESS"},
		{&verdict{leaf: c.Cert, err: &verifyError{code: 18}}, "FAILED:error:00000012:lib(0)::reason(18)"},
		{&verdict{leaf: c.Cert, err: &verifyError{code: 20}}, "FAILED:error:00000014:lib(0)::reason(20)"},
	} {
		if got := tc.v.status(); got != tc.want {
			t.Errorf("status %q, want %q", got, tc.want)
		}
	}
}
