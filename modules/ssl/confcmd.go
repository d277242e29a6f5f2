package ssl

import (
	"crypto/tls"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/golighty/golighty/core"
)

// params are a TLS socket's protocol settings: lighttpd's defaults, then
// ssl.cipher-list, then ssl.openssl.ssl-conf-cmd in order, each mapped to
// the nearest crypto/tls setting.
type params struct {
	minVer, maxVer uint16
	disabled       map[uint16]bool // Protocol "-TLSv1.1" and friends
	suites         []uint16        // TLS 1.2 suites (crypto/tls picks their order itself)
	curves         []tls.CurveID   // nil: crypto/tls's defaults
	noTickets      bool
	lowAsked       bool // MinProtocol named a version below TLS 1.2
	// seclevel is OpenSSL's security level: Debian's openssl.cnf sets 2,
	// and from 1 on OpenSSL 3 cannot sign a TLS 1.0/1.1 handshake, so
	// lighttpd serves those versions only at level 0.
	seclevel int
	warnings []string
}

// Versions crypto/tls serves, lowest first.
var tlsVersions = []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13}

// protoNames are OpenSSL's protocol names (MinProtocol, MaxProtocol,
// Protocol), and SSL_PROTOCOL's values.
var protoNames = map[string]uint16{
	"TLSv1": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11, "TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13,
}

func versionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return "unknown"
}

func defaultParams() params {
	cs, err := evalCipherString(defaultCipherList)
	if err != nil {
		panic(err)
	}
	return params{minVer: tls.VersionTLS12, maxVer: tls.VersionTLS13, suites: cs.suites, seclevel: 2}
}

// cipherList applies ssl.cipher-list (SSL_CTX_set_cipher_list: nothing is
// appended). lighttpd also turns on server preference for it, which
// crypto/tls always applies in its own order.
func (p *params) cipherList(s string) error {
	cs, err := evalCipherString(s)
	if err != nil {
		return fmt.Errorf("SSL: %v: %s", err, s)
	}
	p.setSuites(cs, "ssl.cipher-list "+s)
	return nil
}

func (p *params) setSuites(cs cipherSet, what string) {
	p.suites = cs.suites
	if cs.seclevel >= 0 {
		p.seclevel = cs.seclevel
	}
	if len(cs.suites) == 0 {
		p.warn("%s enables no cipher crypto/tls implements; TLS 1.2 handshakes will fail (TLS 1.3 is not affected)", what)
	}
}

func (p *params) warn(format string, args ...any) {
	p.warnings = append(p.warnings, fmt.Sprintf(format, args...))
}

// confCmd applies ssl.openssl.ssl-conf-cmd as lighttpd passes it to
// OpenSSL's SSL_CONF_cmd: command names are case-insensitive, values as
// OpenSSL reads them. A command or value OpenSSL refuses is an error (lighttpd
// does not start); one crypto/tls cannot follow is a warning naming it.
func (p *params) confCmd(cmds []core.KV) error {
	fail := func(kv core.KV, why string) error {
		return fmt.Errorf("SSL: SSL_CONF_cmd %s %s: %s", kv.Key, kv.Value, why)
	}
	for _, kv := range cmds {
		switch strings.ToLower(kv.Key) {
		case "securitylevel": // a lighttpd extension of SSL_CONF_cmd
			if n, err := strconv.Atoi(strings.TrimSpace(kv.Value)); err == nil && n >= 0 {
				p.seclevel = n
				if n > 2 {
					p.warn("ssl.openssl.ssl-conf-cmd SecurityLevel %d: crypto/tls applies no key-size limits; only TLS 1.0/1.1 follow the level", n)
				}
			}
		case "minprotocol", "maxprotocol":
			v, ok := protoValue(kv.Value)
			if !ok {
				return fail(kv, "bad value")
			}
			if strings.EqualFold(kv.Key, "minprotocol") {
				p.lowAsked = v != 0 && v < tls.VersionTLS12
				if v == 0 || v == 1 { // None, SSLv3
					if v == 1 {
						p.warn("ssl.openssl.ssl-conf-cmd MinProtocol SSLv3: crypto/tls has no SSLv3; TLSv1 is the minimum")
					}
					v = tls.VersionTLS10
				}
				p.minVer = v
			} else {
				if v == 0 {
					v = tls.VersionTLS13
				} else if v == 1 {
					return fail(kv, "SSLv3 cannot be served by crypto/tls")
				}
				p.maxVer = v
			}
		case "protocol":
			if err := p.protocol(kv.Value); err != nil {
				return fail(kv, err.Error())
			}
		case "cipherstring":
			s := kv.Value
			if strings.TrimSpace(s) == "" {
				s = "HIGH"
			}
			s += ":!aNULL:!eNULL:!EXP" // lighttpd appends it
			cs, err := evalCipherString(s)
			if err != nil {
				return fmt.Errorf("SSL: SSL_CONF_cmd %s %s: %v", kv.Key, s, err)
			}
			p.setSuites(cs, "ssl.openssl.ssl-conf-cmd CipherString "+kv.Value)
		case "ciphersuites":
			if err := p.ciphersuites(kv.Value); err != nil {
				return fail(kv, err.Error())
			}
		case "curves", "groups":
			if err := p.groups(kv.Value); err != nil {
				return fail(kv, err.Error())
			}
		case "ecdhparameters":
			if _, ok := groupNames[kv.Value]; !ok && !opensslOnlyGroups[kv.Value] {
				return fail(kv, "passed invalid argument")
			}
			p.warn("ssl.openssl.ssl-conf-cmd ECDHParameters %s: crypto/tls chooses the group from Curves/Groups; ignored", kv.Value)
		case "options":
			if err := p.options(kv.Value); err != nil {
				return fail(kv, err.Error())
			}
		case "dhparameters":
			if _, err := os.Stat(kv.Value); err != nil {
				return fail(kv, strerror(unwrapPath(err)))
			}
			p.warn("ssl.openssl.ssl-conf-cmd DHParameters: crypto/tls has no finite-field DHE; ignored")
		case "verifymode":
			for _, f := range strings.Split(kv.Value, ",") {
				switch strings.TrimSpace(f) {
				case "Peer", "Request", "Require", "Once", "RequestPostHandshake", "RequirePostHandshake":
				default:
					return fail(kv, "bad value")
				}
			}
			p.warn("ssl.openssl.ssl-conf-cmd VerifyMode: use ssl.verifyclient.*; ignored")
		case "signaturealgorithms", "clientsignaturealgorithms", "certificate", "privatekey",
			"serverinfofile", "chaincapath", "chaincafile", "verifycapath", "verifycafile",
			"requestcafile", "requestcapath", "clientcafile", "clientcapath", "recordpadding", "numtickets":
			p.warn("ssl.openssl.ssl-conf-cmd %s: no crypto/tls equivalent; ignored", kv.Key)
		default:
			return fail(kv, "unknown cmd name")
		}
	}
	return nil
}

// finish settles the version range. crypto/tls serves one contiguous range.
func (p *params) finish() error {
	if p.seclevel > 0 && p.minVer < tls.VersionTLS12 {
		if p.lowAsked {
			p.warn("TLS 1.0 and 1.1 need security level 0 (\"CipherString\" => \"...:@SECLEVEL=0\"), as lighttpd on OpenSSL 3 does; TLS 1.2 is the minimum")
		}
		p.minVer = tls.VersionTLS12
	}
	var on []uint16
	for _, v := range tlsVersions {
		if v >= p.minVer && v <= p.maxVer && !p.disabled[v] {
			on = append(on, v)
		}
	}
	if len(on) == 0 {
		return fmt.Errorf("SSL: the protocol settings leave no TLS version enabled (MinProtocol %s, MaxProtocol %s)", versionName(p.minVer), versionName(p.maxVer))
	}
	lo, hi := on[0], on[len(on)-1]
	for _, v := range tlsVersions {
		if v > lo && v < hi && p.disabled[v] {
			p.warn("ssl.openssl.ssl-conf-cmd Protocol disables %s between enabled versions; crypto/tls serves a contiguous range, %s to %s", versionName(v), versionName(lo), versionName(hi))
		}
	}
	p.minVer, p.maxVer = lo, hi
	return nil
}

// protoValue reads a MinProtocol/MaxProtocol value: 0 for None (no limit), 1
// for SSLv3; OpenSSL compares these names case-sensitively.
func protoValue(s string) (uint16, bool) {
	switch s {
	case "None":
		return 0, true
	case "SSLv3":
		return 1, true
	}
	v, ok := protoNames[s]
	return v, ok
}

// protocol applies "Protocol" ("ALL,-TLSv1,-TLSv1.1"): OpenSSL turns the
// named versions on or off, case-insensitively.
func (p *params) protocol(value string) error {
	if p.disabled == nil {
		p.disabled = map[uint16]bool{}
	}
	for _, f := range strings.Split(value, ",") {
		f = strings.TrimSpace(f)
		on := true
		if strings.HasPrefix(f, "-") {
			on, f = false, f[1:]
		} else {
			f = strings.TrimPrefix(f, "+")
		}
		var vs []uint16
		switch {
		case strings.EqualFold(f, "ALL"):
			vs = tlsVersions
		case strings.EqualFold(f, "SSLv2"), strings.EqualFold(f, "SSLv3"):
			continue // never served
		default:
			for name, v := range protoNames {
				if strings.EqualFold(f, name) {
					vs = []uint16{v}
				}
			}
			if vs == nil {
				return fmt.Errorf("bad value")
			}
		}
		for _, v := range vs {
			p.disabled[v] = !on
		}
	}
	return nil
}

// ciphersuites handles "Ciphersuites" (TLS 1.3). crypto/tls always offers
// its three TLS 1.3 suites: a list that leaves one out is warned about.
func (p *params) ciphersuites(value string) error {
	if strings.TrimSpace(value) == "" {
		p.warn("ssl.openssl.ssl-conf-cmd Ciphersuites is empty: crypto/tls cannot turn TLS 1.3 suites off; they stay")
		return nil
	}
	known := map[string]bool{"TLS_AES_128_CCM_SHA256": true, "TLS_AES_128_CCM_8_SHA256": true}
	for _, t := range tls13Names {
		known[t.name] = true
	}
	listed := map[string]bool{}
	n := 0
	for _, name := range strings.Split(value, ":") {
		if known[name] {
			listed[name] = true
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("no cipher match")
	}
	var missing []string
	for _, id := range []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256} {
		if name := tls13Names[id].name; !listed[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		p.warn("ssl.openssl.ssl-conf-cmd Ciphersuites %s: crypto/tls cannot turn off %s; they stay enabled", value, strings.Join(missing, ", "))
	}
	return nil
}

// groupNames are the key-exchange groups crypto/tls implements, under the
// names OpenSSL accepts for them (case-sensitive, as OpenSSL's lookup).
var groupNames = map[string]tls.CurveID{
	"X25519": tls.X25519, "x25519": tls.X25519,
	"P-256": tls.CurveP256, "prime256v1": tls.CurveP256, "secp256r1": tls.CurveP256,
	"P-384": tls.CurveP384, "secp384r1": tls.CurveP384,
	"P-521": tls.CurveP521, "secp521r1": tls.CurveP521,
}

// opensslOnlyGroups are names OpenSSL 3.0 accepts that crypto/tls lacks.
var opensslOnlyGroups = map[string]bool{
	"X448": true, "x448": true, "ffdhe2048": true, "ffdhe3072": true, "ffdhe4096": true, "ffdhe6144": true,
	"ffdhe8192": true, "P-224": true, "secp224r1": true, "P-192": true, "secp192r1": true, "prime192v1": true,
	"secp160k1": true, "secp160r1": true, "secp160r2": true, "secp192k1": true, "secp224k1": true,
	"secp256k1": true, "brainpoolP256r1": true, "brainpoolP384r1": true, "brainpoolP512r1": true,
	"brainpoolP256r1tls13": true, "brainpoolP384r1tls13": true, "brainpoolP512r1tls13": true,
	"sect163k1": true, "sect163r1": true, "sect163r2": true, "sect193r1": true, "sect193r2": true,
	"sect233k1": true, "sect233r1": true, "sect239k1": true, "sect283k1": true, "sect283r1": true,
	"sect409k1": true, "sect409r1": true, "sect571k1": true, "sect571r1": true,
}

// groups handles "Curves"/"Groups" ("X25519:P-256"): the groups crypto/tls
// has become its preference list; others are warned about.
func (p *params) groups(value string) error {
	var ids []tls.CurveID
	var skipped []string
	for _, name := range strings.Split(value, ":") {
		if id, ok := groupNames[name]; ok {
			ids = append(ids, id)
			continue
		}
		if !opensslOnlyGroups[name] {
			return fmt.Errorf("passed invalid argument")
		}
		skipped = append(skipped, name)
	}
	if len(skipped) > 0 {
		p.warn("ssl.openssl.ssl-conf-cmd Groups: crypto/tls has no %s; ignored", strings.Join(skipped, ", "))
	}
	if len(ids) == 0 {
		return fmt.Errorf("none of the groups is implemented by crypto/tls")
	}
	p.curves = ids
	return nil
}

// options handles "Options" ("-SessionTicket,ServerPreference"): names are
// case-insensitive, comma-separated, '-' clears. crypto/tls has the
// behaviour of most fixed; turning on one it cannot do is warned about.
func (p *params) options(value string) error {
	for _, f := range strings.Split(value, ",") {
		f = strings.TrimSpace(f)
		on := true
		if strings.HasPrefix(f, "-") {
			on, f = false, f[1:]
		} else {
			f = strings.TrimPrefix(f, "+")
		}
		switch strings.ToLower(f) {
		case "sessionticket":
			p.noTickets = !on
		case "serverpreference":
			if !on {
				p.warn("ssl.openssl.ssl-conf-cmd Options -ServerPreference: crypto/tls always picks the cipher by its own preference; ignored")
			}
		case "compression", "ktls", "clientrenegotiation", "unsafelegacyrenegotiation":
			if on {
				p.warn("ssl.openssl.ssl-conf-cmd Options %s: not available in crypto/tls; ignored", f)
			}
		case "encryptthenmac", "antireplay", "bugs", "canames", "middleboxcompat", "allownodhekex", "extendedmastersecret", "dhsingle",
			"ecdhsingle", "emptyfragments", "noresumptiononrenegotiation", "unsafelegacyserverconnect",
			"norenegotiation", "prioritizechacha":
			// Fixed in crypto/tls in the way a server wants them, or
			// about features it does not have (renegotiation, DHE).
		default:
			return fmt.Errorf("bad value")
		}
	}
	return nil
}

// depthValue reads ssl.verifyclient.depth, limited to 255 as lighttpd.
func depthValue(n int64) (int, string) {
	if n > 255 {
		return 255, "ssl.verifyclient.depth is absurdly large (" + strconv.FormatInt(n, 10) + "); limiting to 255"
	}
	return int(n), ""
}
