package ssl

import (
	"crypto/tls"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/golighty/golighty/core"
)

// cipherStrings are OpenSSL cipher strings seen in lighttpd configs and
// in OpenSSL's documentation, plus hostile ones.
var cipherStrings = []string{
	defaultCipherList,
	"HIGH:!aNULL:!MD5",
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256",
	"EECDH+AESGCM:EDH+AESGCM",
	"EECDH+AESGCM:EDH+AESGCM:AES256+EECDH:AES256+EDH",
	"ALL:!aNULL:!eNULL:!EXP",
	"DEFAULT",
	"DEFAULT:!SHA1",
	"kRSA:!CBC",
	"ECDHE:-AES128:+CHACHA20",
	"AES128:!ECDSA",
	"aECDSA+CHACHA20",
	"TLSv1.2+ECDHE",
	"SSLv3",
	"TLSv1",
	"AESGCM:!DHE:!PSK:@STRENGTH",
	"HIGH:@SECLEVEL=0",
	"ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA256",
	"!ECDHE:ECDHE",
	"CBC+SHA256",
	"ECDH+SHA384",
	"PSK",
	"NOTHING",
	"RC4:3DES",
	"",
	"::,, ;",
	"TLS_AES_128_GCM_SHA256",
	"FOO:AES128-SHA",
}

// TestCipherStringMatchesOpenSSL compares the suites each string enables
// with what `openssl ciphers` (the library lighttpd links) lists for it.
func TestCipherStringMatchesOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("GOLIGHTY_REQUIRE_PEERS") == "1" {
			t.Fatal("openssl is required (GOLIGHTY_REQUIRE_PEERS=1)")
		}
		t.Skip("openssl not installed")
	}
	for _, s := range cipherStrings {
		t.Run(s, func(t *testing.T) {
			out, oerr := exec.Command(openssl, "ciphers", "-v", s).Output()
			var want []uint16
			for _, line := range strings.Split(string(out), "\n") {
				f := strings.Fields(line)
				if len(f) > 1 && f[1] != "TLSv1.3" {
					if id, ok := goSuites[f[0]]; ok {
						want = append(want, id)
					}
				}
			}
			got, err := evalCipherString(s)
			if (oerr != nil) != (err != nil) {
				t.Fatalf("openssl error %v, ours %v", oerr, err)
			}
			slices.Sort(want)
			g := slices.Clone(got.suites)
			slices.Sort(g)
			if !slices.Equal(g, want) {
				t.Fatalf("suites\n got %s\nwant %s", names(g), names(want))
			}
		})
	}
}

func names(ids []uint16) string {
	var out []string
	for _, id := range ids {
		out = append(out, tls.CipherSuiteName(id))
	}
	return strings.Join(out, " ")
}

func TestConfCmd(t *testing.T) {
	dir := t.TempDir()
	dh := dir + "/dh.pem"
	os.WriteFile(dh, []byte("x"), 0o644)
	for _, tc := range []struct {
		name     string
		cmds     []core.KV
		err      string // substring of the error, "" for none
		warn     string // substring of a warning, "" for none
		min, max uint16
		check    func(t *testing.T, p *params)
	}{
		{name: "defaults", min: tls.VersionTLS12, max: tls.VersionTLS13},
		{name: "MinProtocol", cmds: []core.KV{{Key: "MinProtocol", Value: "TLSv1.3"}}, min: tls.VersionTLS13, max: tls.VersionTLS13},
		{name: "keys are case-insensitive", cmds: []core.KV{{Key: "maxprotocol", Value: "TLSv1.2"}}, min: tls.VersionTLS12, max: tls.VersionTLS12},
		{name: "values are not", cmds: []core.KV{{Key: "MinProtocol", Value: "tlsv1.3"}}, err: "SSL_CONF_cmd MinProtocol tlsv1.3: bad value"},
		// OpenSSL 3 at security level 1 and above signs no TLS 1.0/1.1
		// handshake: lighttpd serves them only at level 0.
		{name: "MinProtocol None", cmds: []core.KV{{Key: "MinProtocol", Value: "None"}}, min: tls.VersionTLS12, max: tls.VersionTLS13},
		{name: "MinProtocol None at level 0", cmds: []core.KV{{Key: "MinProtocol", Value: "None"}, {Key: "CipherString", Value: "DEFAULT:@SECLEVEL=0"}}, min: tls.VersionTLS10, max: tls.VersionTLS13},
		{name: "MinProtocol TLSv1 at level 2", cmds: []core.KV{{Key: "MinProtocol", Value: "TLSv1"}}, warn: "need security level 0", min: tls.VersionTLS12, max: tls.VersionTLS13},
		{name: "MinProtocol TLSv1 with SecurityLevel 0", cmds: []core.KV{{Key: "MinProtocol", Value: "TLSv1"}, {Key: "SecurityLevel", Value: "0"}}, min: tls.VersionTLS10, max: tls.VersionTLS13},
		{name: "MinProtocol SSLv3", cmds: []core.KV{{Key: "MinProtocol", Value: "SSLv3"}, {Key: "SecurityLevel", Value: "0"}}, warn: "no SSLv3", min: tls.VersionTLS10, max: tls.VersionTLS13},
		{name: "TLSv1.4", cmds: []core.KV{{Key: "MinProtocol", Value: "TLSv1.4"}}, err: "bad value"},
		{name: "min above max", cmds: []core.KV{{Key: "MinProtocol", Value: "TLSv1.3"}, {Key: "MaxProtocol", Value: "TLSv1.2"}}, err: "no TLS version"},
		{name: "Protocol gap", cmds: []core.KV{{Key: "MinProtocol", Value: "TLSv1"}, {Key: "Protocol", Value: "ALL,-TLSv1.1"}, {Key: "SecurityLevel", Value: "0"}}, warn: "contiguous", min: tls.VersionTLS10, max: tls.VersionTLS13},
		{name: "Protocol bad", cmds: []core.KV{{Key: "Protocol", Value: "-TLSv1.4"}}, err: "bad value"},
		{name: "unknown command", cmds: []core.KV{{Key: "Foo", Value: "bar"}}, err: "SSL_CONF_cmd Foo bar: unknown cmd name"},
		{name: "no ticket", cmds: []core.KV{{Key: "Options", Value: "-SessionTicket"}}, min: tls.VersionTLS12, max: tls.VersionTLS13,
			check: func(t *testing.T, p *params) {
				if !p.noTickets {
					t.Error("tickets still on")
				}
			}},
		{name: "options case-insensitive, spaces", cmds: []core.KV{{Key: "Options", Value: " -sessionticket , ServerPreference"}}, min: tls.VersionTLS12, max: tls.VersionTLS13},
		{name: "option unknown", cmds: []core.KV{{Key: "Options", Value: "-Bogus"}}, err: "bad value"},
		{name: "option empty item", cmds: []core.KV{{Key: "Options", Value: "SessionTicket,,KTLS"}}, err: "bad value"},
		{name: "option without equivalent", cmds: []core.KV{{Key: "Options", Value: "Compression"}}, warn: "Options Compression", min: tls.VersionTLS12, max: tls.VersionTLS13},
		{name: "client preference", cmds: []core.KV{{Key: "Options", Value: "-ServerPreference"}}, warn: "-ServerPreference", min: tls.VersionTLS12, max: tls.VersionTLS13},
		{name: "CipherString", cmds: []core.KV{{Key: "CipherString", Value: "ECDHE+AESGCM"}}, min: tls.VersionTLS12, max: tls.VersionTLS13,
			check: func(t *testing.T, p *params) {
				if len(p.suites) != 4 {
					t.Errorf("suites %s", names(p.suites))
				}
			}},
		{name: "CipherString gets !aNULL:!eNULL:!EXP", cmds: []core.KV{{Key: "CipherString", Value: "eNULL"}}, err: "eNULL:!aNULL:!eNULL:!EXP: no cipher match"},
		{name: "CipherString only unsupported", cmds: []core.KV{{Key: "CipherString", Value: "DHE+AESGCM"}}, warn: "TLS 1.2 handshakes will fail", min: tls.VersionTLS12, max: tls.VersionTLS13},
		{name: "CipherString invalid command", cmds: []core.KV{{Key: "CipherString", Value: "AES:@FOO"}}, err: "invalid command"},
		{name: "Ciphersuites subset", cmds: []core.KV{{Key: "Ciphersuites", Value: "TLS_AES_256_GCM_SHA384"}}, warn: "cannot turn off TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256", min: tls.VersionTLS12, max: tls.VersionTLS13},
		{name: "Ciphersuites all", cmds: []core.KV{{Key: "Ciphersuites", Value: "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"}}, min: tls.VersionTLS12, max: tls.VersionTLS13},
		{name: "Ciphersuites none known", cmds: []core.KV{{Key: "Ciphersuites", Value: "TLS_FOO"}}, err: "no cipher match"},
		{name: "Groups", cmds: []core.KV{{Key: "Groups", Value: "X25519:P-256"}}, min: tls.VersionTLS12, max: tls.VersionTLS13,
			check: func(t *testing.T, p *params) {
				if !slices.Equal(p.curves, []tls.CurveID{tls.X25519, tls.CurveP256}) {
					t.Errorf("curves %v", p.curves)
				}
			}},
		{name: "Curves with one Go lacks", cmds: []core.KV{{Key: "Curves", Value: "x448:secp384r1"}}, warn: "no x448", min: tls.VersionTLS12, max: tls.VersionTLS13},
		{name: "Curves unknown", cmds: []core.KV{{Key: "Curves", Value: "nope"}}, err: "passed invalid argument"},
		{name: "Curves names are case-sensitive", cmds: []core.KV{{Key: "Curves", Value: "p-256"}}, err: "passed invalid argument"},
		{name: "DHParameters", cmds: []core.KV{{Key: "DHParameters", Value: dh}}, warn: "no finite-field DHE", min: tls.VersionTLS12, max: tls.VersionTLS13},
		{name: "DHParameters missing", cmds: []core.KV{{Key: "DHParameters", Value: dir + "/none"}}, err: "No such file or directory"},
		{name: "SignatureAlgorithms", cmds: []core.KV{{Key: "SignatureAlgorithms", Value: "ECDSA+SHA256"}}, warn: "SignatureAlgorithms: no crypto/tls equivalent", min: tls.VersionTLS12, max: tls.VersionTLS13},
		{name: "SecurityLevel 2", cmds: []core.KV{{Key: "SecurityLevel", Value: "2"}}, min: tls.VersionTLS12, max: tls.VersionTLS13},
		{name: "SecurityLevel 3", cmds: []core.KV{{Key: "SecurityLevel", Value: "3"}}, warn: "SecurityLevel 3", min: tls.VersionTLS12, max: tls.VersionTLS13},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := defaultParams()
			err := p.confCmd(tc.cmds)
			if err == nil {
				err = p.finish()
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.minVer != tc.min || p.maxVer != tc.max {
				t.Errorf("versions %s-%s, want %s-%s", versionName(p.minVer), versionName(p.maxVer), versionName(tc.min), versionName(tc.max))
			}
			joined := strings.Join(p.warnings, "\n")
			if (tc.warn == "") != (joined == "") || !strings.Contains(joined, tc.warn) {
				t.Errorf("warnings %q, want %q", joined, tc.warn)
			}
			if tc.check != nil {
				tc.check(t, &p)
			}
		})
	}
}

func FuzzCipherString(f *testing.F) {
	for _, s := range cipherStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := evalCipherString(s)
		if err != nil {
			return
		}
		if cs.enabled == 0 || len(cs.suites) > cs.enabled {
			t.Fatalf("%q: %d enabled, %d suites", s, cs.enabled, len(cs.suites))
		}
		for _, id := range cs.suites {
			if cipherByGo[id] == nil {
				t.Fatalf("%q: suite %x not in the table", s, id)
			}
		}
		// Removing everything again leaves nothing.
		if _, err := evalCipherString(s + ":!ALL:!COMPLEMENTOFALL"); err != errNoCipherMatch {
			t.Fatalf("%q: kill all gave %v", s, err)
		}
	})
}

func FuzzConfCmd(f *testing.F) {
	f.Add("MinProtocol", "TLSv1.2", "Options", "-SessionTicket")
	f.Add("Protocol", "ALL,-TLSv1.1", "MaxProtocol", "TLSv1.2")
	f.Add("CipherString", "EECDH+AESGCM", "Curves", "X25519:P-256")
	f.Add("Ciphersuites", "TLS_AES_256_GCM_SHA384", "Groups", "x448")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		if strings.EqualFold(k1, "DHParameters") || strings.EqualFold(k2, "DHParameters") {
			return // stats a path
		}
		p := defaultParams()
		if err := p.confCmd([]core.KV{{Key: k1, Value: v1}, {Key: k2, Value: v2}}); err != nil {
			return
		}
		if err := p.finish(); err != nil {
			return
		}
		if p.minVer < tls.VersionTLS10 || p.maxVer > tls.VersionTLS13 || p.minVer > p.maxVer {
			t.Fatalf("versions %x-%x", p.minVer, p.maxVer)
		}
	})
}

func TestCipherStringErrors(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{"TLS_AES_128_GCM_SHA256", "no cipher match"}, // unknown word: the rule is skipped
		{"_AES", "invalid command"},
		{"AES:@FOO", "invalid command"},
		{"HIGH:@SECLEVEL=x", "invalid command"},
		{"!ALL", "no cipher match"},
		{"AES128-SHA", ""},
		{"FOO_BAR:AES128-SHA", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := evalCipherString(tc.in)
			if (tc.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
		})
	}
}
