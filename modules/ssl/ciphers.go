package ssl

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// cipher is one row of opensslCiphers.
type cipher struct {
	name          string
	ver           string // minimum protocol: SSLv3, TLSv1, TLSv1.2
	kx, au        string // ECDH, DH, RSA, PSK, ... / RSA, ECDSA, DSS, None, ...
	enc, mac      string // AESGCM(128), AES(256), ... / AEAD, SHA1, SHA256, ...
	deflt, fips   bool
	goID          uint16 // the crypto/tls suite, 0 when Go lacks it
	useBits, bits int    // SSL_CIPHER_USEKEYSIZE, SSL_CIPHER_ALGKEYSIZE
}

// goSuites maps OpenSSL names to the TLS 1.2 suites crypto/tls implements.
var goSuites = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	"ECDHE-ECDSA-AES128-SHA256":     tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-RSA-AES128-SHA256":       tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	"AES128-SHA":                    tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	"AES256-SHA":                    tls.TLS_RSA_WITH_AES_256_CBC_SHA,
	"AES128-SHA256":                 tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
}

// tls13Names are OpenSSL's (and IANA's) names of the TLS 1.3 suites, with
// their key sizes, for SSL_CIPHER and friends.
var tls13Names = map[uint16]struct {
	name string
	bits int
}{
	tls.TLS_AES_128_GCM_SHA256:       {"TLS_AES_128_GCM_SHA256", 128},
	tls.TLS_AES_256_GCM_SHA384:       {"TLS_AES_256_GCM_SHA384", 256},
	tls.TLS_CHACHA20_POLY1305_SHA256: {"TLS_CHACHA20_POLY1305_SHA256", 256},
}

var (
	cipherTable []*cipher
	cipherByGo  = map[uint16]*cipher{}
)

func init() {
	for _, line := range strings.Split(strings.TrimSpace(opensslCiphers), "\n") {
		f := strings.Fields(line)
		c := &cipher{name: f[0], ver: f[1], kx: f[2], au: f[3], enc: f[4], mac: f[5],
			deflt: strings.Contains(f[6], "D"), fips: strings.Contains(f[6], "F")}
		if i := strings.IndexByte(c.enc, '('); i >= 0 {
			c.bits, _ = strconv.Atoi(strings.TrimSuffix(c.enc[i+1:], ")"))
			c.useBits = c.bits
		}
		c.goID = goSuites[c.name]
		cipherTable = append(cipherTable, c)
		if c.goID != 0 {
			cipherByGo[c.goID] = c
		}
	}
}

// encIs reports whether c's encryption is one of the families (the part
// before the key size).
func (c *cipher) encIs(fams ...string) bool {
	fam, _, _ := strings.Cut(c.enc, "(")
	for _, f := range fams {
		if fam == f {
			return true
		}
	}
	return false
}

func (c *cipher) encBits(fam string, bits int) bool {
	return c.encIs(fam) && c.bits == bits
}

// cipherAliases are OpenSSL 3.0's cipher-string words (ssl/ssl_ciph.c's
// alias table, observed with `openssl ciphers`); words it knows that match
// nothing in this build (RC4, 3DES, EXP, ...) are absent and, as in OpenSSL,
// a rule naming an unknown word changes nothing.
var cipherAliases = map[string]func(c *cipher) bool{
	"ALL":                 func(c *cipher) bool { return c.enc != "None" },
	"COMPLEMENTOFALL":     func(c *cipher) bool { return c.enc == "None" },
	"DEFAULT":             func(c *cipher) bool { return c.deflt },
	"COMPLEMENTOFDEFAULT": func(c *cipher) bool { return !c.deflt && c.enc != "None" },
	"HIGH":                func(c *cipher) bool { return c.enc != "None" },
	"FIPS":                func(c *cipher) bool { return c.fips },
	"eNULL":               func(c *cipher) bool { return c.enc == "None" },
	"NULL":                func(c *cipher) bool { return c.enc == "None" },
	"aNULL":               func(c *cipher) bool { return c.au == "None" },
	"kRSA":                func(c *cipher) bool { return c.kx == "RSA" },
	"RSA":                 func(c *cipher) bool { return c.kx == "RSA" },
	"aRSA":                func(c *cipher) bool { return c.au == "RSA" },
	"kDHE":                func(c *cipher) bool { return c.kx == "DH" },
	"kEDH":                func(c *cipher) bool { return c.kx == "DH" },
	"DH":                  func(c *cipher) bool { return c.kx == "DH" },
	"DHE":                 func(c *cipher) bool { return c.kx == "DH" && c.au != "None" },
	"EDH":                 func(c *cipher) bool { return c.kx == "DH" && c.au != "None" },
	"ADH":                 func(c *cipher) bool { return c.kx == "DH" && c.au == "None" },
	"kECDHE":              func(c *cipher) bool { return c.kx == "ECDH" },
	"kEECDH":              func(c *cipher) bool { return c.kx == "ECDH" },
	"ECDH":                func(c *cipher) bool { return c.kx == "ECDH" },
	"ECDHE":               func(c *cipher) bool { return c.kx == "ECDH" && c.au != "None" },
	"EECDH":               func(c *cipher) bool { return c.kx == "ECDH" && c.au != "None" },
	"AECDH":               func(c *cipher) bool { return c.kx == "ECDH" && c.au == "None" },
	"aECDSA":              func(c *cipher) bool { return c.au == "ECDSA" },
	"ECDSA":               func(c *cipher) bool { return c.au == "ECDSA" },
	"aDSS":                func(c *cipher) bool { return c.au == "DSS" },
	"DSS":                 func(c *cipher) bool { return c.au == "DSS" },
	"kPSK":                func(c *cipher) bool { return c.kx == "PSK" },
	"kRSAPSK":             func(c *cipher) bool { return c.kx == "RSAPSK" },
	"kDHEPSK":             func(c *cipher) bool { return c.kx == "DHEPSK" },
	"kECDHEPSK":           func(c *cipher) bool { return c.kx == "ECDHEPSK" },
	"aPSK":                func(c *cipher) bool { return c.au == "PSK" },
	"PSK":                 func(c *cipher) bool { return strings.HasSuffix(c.kx, "PSK") },
	"kSRP":                func(c *cipher) bool { return c.kx == "SRP" },
	"SRP":                 func(c *cipher) bool { return c.kx == "SRP" },
	"aSRP":                func(c *cipher) bool { return c.au == "SRP" },
	"AES":                 func(c *cipher) bool { return c.encIs("AES", "AESGCM", "AESCCM", "AESCCM8") },
	"AES128":              func(c *cipher) bool { return c.bits == 128 && c.encIs("AES", "AESGCM", "AESCCM", "AESCCM8") },
	"AES256":              func(c *cipher) bool { return c.bits == 256 && c.encIs("AES", "AESGCM", "AESCCM", "AESCCM8") },
	"AESGCM":              func(c *cipher) bool { return c.encIs("AESGCM") },
	"AESCCM":              func(c *cipher) bool { return c.encIs("AESCCM", "AESCCM8") },
	"AESCCM8":             func(c *cipher) bool { return c.encIs("AESCCM8") },
	"CAMELLIA":            func(c *cipher) bool { return c.encIs("Camellia") },
	"CAMELLIA128":         func(c *cipher) bool { return c.encBits("Camellia", 128) },
	"CAMELLIA256":         func(c *cipher) bool { return c.encBits("Camellia", 256) },
	"CHACHA20":            func(c *cipher) bool { return c.encIs("CHACHA20/POLY1305") },
	"ARIA":                func(c *cipher) bool { return c.encIs("ARIAGCM") },
	"ARIAGCM":             func(c *cipher) bool { return c.encIs("ARIAGCM") },
	"ARIA128":             func(c *cipher) bool { return c.encBits("ARIAGCM", 128) },
	"ARIA256":             func(c *cipher) bool { return c.encBits("ARIAGCM", 256) },
	"CBC":                 func(c *cipher) bool { return c.encIs("AES", "Camellia") },
	"MD5":                 func(c *cipher) bool { return c.mac == "MD5" },
	"SHA1":                func(c *cipher) bool { return c.mac == "SHA1" },
	"SHA":                 func(c *cipher) bool { return c.mac == "SHA1" },
	"SHA256":              func(c *cipher) bool { return c.mac == "SHA256" },
	"SHA384":              func(c *cipher) bool { return c.mac == "SHA384" },
	"SSLv3":               func(c *cipher) bool { return c.ver == "SSLv3" },
	"TLSv1":               func(c *cipher) bool { return c.ver == "TLSv1" },
	"TLSv1.0":             func(c *cipher) bool { return c.ver == "TLSv1" },
	"TLSv1.2":             func(c *cipher) bool { return c.ver == "TLSv1.2" },
	// Known to OpenSSL, empty in its 3.0 default provider.
	"MEDIUM": nil, "LOW": nil, "EXP": nil, "EXPORT": nil, "RC4": nil, "3DES": nil, "DES": nil,
	"IDEA": nil, "SEED": nil, "RC2": nil, "kGOST": nil, "aGOST": nil, "GOST94": nil, "GOST89MAC": nil,
}

// errNoCipherMatch is OpenSSL's "no cipher match": the string leaves no
// TLS 1.2 cipher at all.
var errNoCipherMatch = errors.New("no cipher match")

// cipherSet is the result of a cipher string: the OpenSSL ciphers it
// enables, and the crypto/tls suites among them.
type cipherSet struct {
	enabled  int      // OpenSSL ciphers enabled
	suites   []uint16 // the ones crypto/tls has, in table order
	seclevel int      // @SECLEVEL=n, -1 when the string does not set it
}

// evalCipherString applies an OpenSSL cipher string ("EECDH+AESGCM:!SHA1")
// the way SSL_CTX_set_cipher_list does to its set of ciphers: words joined
// by '+' must all match; a rule adds, '-' removes, '!' removes for good,
// '+' only reorders. crypto/tls ignores the order of configured suites, so
// only the set is kept. @STRENGTH changes no set; @SECLEVEL=n is returned.
func evalCipherString(s string) (cipherSet, error) {
	active := make([]bool, len(cipherTable))
	killed := make([]bool, len(cipherTable))
	seclevel := -1
	i := 0
	for i < len(s) {
		ch := s[i]
		if itemSep(ch) {
			i++
			continue
		}
		op := byte(0)
		if ch == '!' || ch == '-' || ch == '+' {
			op = ch
			i++
		}
		if i < len(s) && s[i] == '@' {
			j := i + 1
			for j < len(s) && ruleChar(s[j]) {
				j++
			}
			word := s[i+1 : j]
			switch {
			case word == "STRENGTH":
			case strings.HasPrefix(word, "SECLEVEL="):
				n, err := strconv.Atoi(word[len("SECLEVEL="):])
				if err != nil || n < 0 {
					return cipherSet{}, fmt.Errorf("invalid command @%s", word)
				}
				seclevel = n
			default:
				return cipherSet{}, fmt.Errorf("invalid command @%s", word)
			}
			i = j
			continue
		}
		// One rule: words joined by '+', each of OpenSSL's rule characters.
		var preds []func(*cipher) bool
		known := true
		for {
			j := i
			for j < len(s) && ruleChar(s[j]) {
				j++
			}
			if j == i {
				return cipherSet{}, fmt.Errorf("invalid command at %q", s[i:])
			}
			word := s[i:j]
			i = j
			if p, ok := cipherAliases[word]; ok {
				if p == nil {
					known = false
				}
				preds = append(preds, p)
			} else if c := cipherNamed(word); c != nil {
				preds = append(preds, func(x *cipher) bool { return x == c })
			} else {
				// OpenSSL ignores the rest of the rule.
				known = false
				for i < len(s) && !itemSep(s[i]) {
					i++
				}
				break
			}
			if i < len(s) && s[i] == '+' {
				i++
				continue
			}
			break
		}
		if !known {
			continue
		}
		for k, c := range cipherTable {
			if !matchAll(preds, c) {
				continue
			}
			switch op {
			case 0:
				if !killed[k] {
					active[k] = true
				}
			case '-':
				active[k] = false
			case '!':
				active[k], killed[k] = false, true
			}
		}
	}
	cs := cipherSet{seclevel: seclevel}
	for k, c := range cipherTable {
		if active[k] {
			cs.enabled++
			if c.goID != 0 {
				cs.suites = append(cs.suites, c.goID)
			}
		}
	}
	if cs.enabled == 0 {
		return cs, errNoCipherMatch
	}
	return cs, nil
}

func itemSep(c byte) bool { return c == ':' || c == ' ' || c == ';' || c == ',' }

// ruleChar is a character OpenSSL reads as part of a rule word.
func ruleChar(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '='
}

func cipherNamed(name string) *cipher {
	for _, c := range cipherTable {
		if c.name == name {
			return c
		}
	}
	return nil
}

func matchAll(preds []func(*cipher) bool, c *cipher) bool {
	for _, p := range preds {
		if !p(c) {
			return false
		}
	}
	return true
}

// defaultCipherList is lighttpd 1.4.69's LIGHTTPD_DEFAULT_CIPHER_LIST.
const defaultCipherList = "EECDH+AESGCM:AES256+EECDH:CHACHA20:!SHA1:!SHA256:!SHA384"

// cipherEnv returns the OpenSSL name and key sizes of a negotiated suite,
// for SSL_CIPHER, SSL_CIPHER_USEKEYSIZE and SSL_CIPHER_ALGKEYSIZE.
func cipherEnv(id uint16) (name string, useBits, algBits int) {
	if t, ok := tls13Names[id]; ok {
		return t.name, t.bits, t.bits
	}
	if c := cipherByGo[id]; c != nil {
		return c.name, c.useBits, c.bits
	}
	return tls.CipherSuiteName(id), 0, 0
}
