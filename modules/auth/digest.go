package auth

import (
	"crypto/subtle"
	"encoding/hex"
	"hash"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golighty/golighty/core"
)

// Digest parameters lighttpd reads from an Authorization: Digest header.
const (
	pUsername = iota
	pRealm
	pNonce
	pURI
	pAlgorithm
	pQop
	pCnonce
	pNc
	pResponse
	pUserStar
	pUserHash
	nParams
)

var paramNames = [nParams]string{"username", "realm", "nonce", "uri", "algorithm", "qop", "cnonce", "nc", "response", "username*", "userhash"}

// digestParams are the values found (views of the header) and which were.
type digestParams struct {
	v   [nParams]string
	has [nParams]bool
}

// parseDigestParams reads the text after "Digest " as lighttpd's
// mod_auth_digest_parse_authorization does: known keys are matched
// case-sensitively where a token starts, quoted values keep their
// backslashes, an unknown token is stepped over one byte at a time, and a
// malformed pair ends the parse (what was read so far stays).
func parseDigestParams(p *digestParams, s string) {
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == ',') {
			i++
		}
		if i == len(s) {
			return
		}
		e := i
		for e < len(s) && s[e] != '=' && s[e] != ' ' && s[e] != '\t' {
			e++
		}
		id := paramID(s[i:e])
		if id < 0 {
			i++
			continue
		}
		c := e // blanks may stand before the '='
		for c < len(s) && (s[c] == ' ' || s[c] == '\t') {
			c++
		}
		if c == len(s) || s[c] != '=' {
			return
		}
		c++
		for c < len(s) && (s[c] == ' ' || s[c] == '\t') {
			c++
		}
		if c < len(s) && s[c] == '"' {
			c++
			e = c
			for e < len(s) && s[e] != '"' {
				if s[e] == '\\' {
					e++
					if e == len(s) {
						return
					}
				}
				e++
			}
			if e == len(s) {
				return
			}
		} else {
			e = c
			for e < len(s) && s[e] != ',' && s[e] != ' ' && s[e] != '\t' {
				e++
			}
		}
		p.v[id], p.has[id] = s[c:e], true
		if e < len(s) && s[e] == ',' {
			i = e + 1
			continue
		}
		k := strings.IndexByte(s[e:], ',')
		if k < 0 {
			return
		}
		i = e + k + 1
	}
}

func paramID(tok string) int {
	for i, n := range paramNames {
		if n == tok {
			return i
		}
	}
	return -1
}

// checkDigest is lighttpd's mod_auth_check_digest, with golighty's signed
// nonces (nonce.go).
func (m *Module) checkDigest(rc *core.Request, req *Require, c *conf) core.Result {
	var db DigestBackend
	if b := c.backend.get(); b != nil {
		db, _ = b.(DigestBackend)
	}
	if db == nil {
		return misconfigured(rc, c.backend, "digest")
	}
	v := authorization(rc)
	if len(v) < 7 || !foldEq(v[:7], "digest ") {
		return challengeDigest(rc, req, 0)
	}
	var p digestParams
	parseDigestParams(&p, v[7:])

	var ai DigestInfo
	if r, ok := validateDigest(rc, req, &p, &ai); !ok {
		return r
	}
	// The nonce: ours, signed, and not older than 10 minutes.
	now := time.Now().Unix()
	ts, st := verifyNonce(req, ai.Algo, p.v[pNonce], now)
	if st != nonceOK {
		// A nonce this server did not sign (a forgery, one from before a
		// restart or from lighttpd) is refused like an expired one:
		// stale=true lets a client that knows the password retry with a
		// fresh nonce without asking its user again.
		if st == nonceForged {
			rc.Logf("digest: nonce mismatch")
		}
		return challengeDigest(rc, req, ai.Algo)
	}

	if !m.digestHA1(rc, req, c, db, &ai) {
		rc.FailedLogin()
		return challengeDigest(rc, req, 0)
	}
	var want [32]byte
	n := ai.Algo.Size()
	response(want[:0], &ai, &p, rc.Method)
	var got [32]byte
	for i := range got[:n] {
		got[i] = unhex(p.v[pResponse][2*i])<<4 | unhex(p.v[pResponse][2*i+1])
	}
	if subtle.ConstantTimeCompare(got[:n], want[:n]) != 1 {
		rc.Logf("digest: auth failed for %s: wrong password, IP: %s", ai.User, rc.Conn.RemoteIP)
		rc.FailedLogin()
		return challengeDigest(rc, req, 0)
	}
	if !req.MatchUser(ai.User) {
		return challengeDigest(rc, req, 0)
	}
	if now-ts > 540 {
		// The nonce expires within a minute: offer the next one.
		rc.Resp.Header.Set("Authentication-Info", `nextnonce="`+newNonce(req, ai.Algo&^AlgoSess, now)+`"`)
	}
	rc.RemoteUser, rc.AuthType = ai.User, "Digest"
	return core.GoOn
}

// validateDigest is lighttpd's mod_auth_digest_validate_params; it fills ai
// from p or answers the request (400 or a fresh challenge).
func validateDigest(rc *core.Request, req *Require, p *digestParams, ai *DigestInfo) (core.Result, bool) {
	if !((!p.has[pQop] || (p.has[pNc] && p.has[pCnonce])) &&
		p.has[pUsername] != p.has[pUserStar] &&
		p.has[pRealm] && p.has[pNonce] && p.has[pURI] && p.has[pResponse]) {
		rc.Logf("digest: missing field")
		return rc.Status(400), false
	}
	ai.User, ai.Realm = p.v[pUsername], p.v[pRealm]
	ai.UserHash = len(p.v[pUserHash]) == 4 // "true" (lighttpd only looks at the length)
	if !p.has[pUsername] {
		u, msg := decodeUserStar(p)
		if msg != "" {
			rc.Logf("digest: invalid \"username*\" %s", msg)
			return rc.Status(400), false
		}
		ai.User = u
	}
	if ai.Realm != req.Realm {
		rc.Logf("digest: realm mismatch")
		return challengeDigest(rc, req, 0), false
	}
	a, ok := parseAlgorithm(p.v[pAlgorithm])
	if !ok || req.Algo&a&^AlgoSess == 0 {
		rc.Logf("digest: (%s): invalid", p.v[pAlgorithm])
		return challengeDigest(rc, req, 0), false
	}
	ai.Algo = a
	if a&AlgoSess != 0 && !p.has[pCnonce] {
		rc.Logf("digest: (%s): missing field", p.v[pAlgorithm])
		return rc.Status(400), false
	}
	if len(p.v[pResponse]) != 2*a.Size() || !isHex(p.v[pResponse]) {
		rc.Logf("digest: (%s): invalid format", p.v[pResponse])
		return rc.Status(400), false
	}
	if p.has[pQop] && foldEq(p.v[pQop], "auth-int") {
		rc.Logf("digest: qop=auth-int not supported")
		return rc.Status(400), false
	}
	// A digest made for one URI must not be replayed on another.
	if p.v[pURI] != rc.Target {
		rc.Logf("digest: auth failed: uri mismatch (%s != %s), IP: %s", rc.Target, p.v[pURI], rc.Conn.RemoteIP)
		return rc.Status(400), false
	}
	return core.GoOn, true
}

// decodeUserStar reads an RFC 5987 "username*" (charset'lang'%XX-value);
// msg names what is wrong with it.
func decodeUserStar(p *digestParams) (user, msg string) {
	if len(p.v[pUserHash]) == 4 {
		return "", `with "userhash" = true`
	}
	s := p.v[pUserStar]
	rest := ""
	utf := false
	switch {
	case len(s) > 5 && foldEq(s[:5], "utf-8"):
		rest, utf = s[5:], true
	case len(s) > 10 && foldEq(s[:10], "iso-8859-1"):
		rest = s[10:]
	}
	if rest == "" || rest[0] != '\'' {
		return "", "ext-value"
	}
	j := strings.IndexByte(rest[1:], '\'')
	if j < 0 {
		return "", "ext-value"
	}
	dec := pctDecode(rest[j+2:])
	if utf && s[0] == 'u' && !utf8.ValidString(dec) {
		return "", "invalid UTF-8"
	}
	if len(dec) > 256 {
		return "", "too long"
	}
	for i := 0; i < len(dec); i++ {
		if dec[i] < 0x20 || dec[i] == 0x7f {
			return "", "contains ctrl chars"
		}
	}
	return dec, ""
}

// pctDecode decodes %XX escapes; a '%' not followed by two hex digits stays.
func pctDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1:i+3]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if unhex(s[i]) == 0xff {
			return false
		}
	}
	return true
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 0xff
}

// digestHA1 finds H(A1) for ai's user, in the cache or from the backend.
func (m *Module) digestHA1(rc *core.Request, req *Require, c *conf, db DigestBackend, ai *DigestInfo) bool {
	if ai.UserHash {
		ai.User = strings.ToLower(ai.User)
	}
	if c.cache != nil && c.cache.digest(req, c.backend, ai) {
		return true
	}
	key := ai.User
	if !db.Digest(rc, ai) {
		return false
	}
	if c.cache != nil {
		c.cache.putDigest(req, c.backend, key, ai)
	}
	return true
}

// response computes the expected "response" of RFC 7616 (RFC 2617 without
// qop), lighttpd's mod_auth_digest_mutate, into dst.
func response(dst []byte, ai *DigestInfo, p *digestParams, method string) []byte {
	n := ai.Algo.Size()
	h := ai.Algo.New()
	var a1, a2 [64]byte
	hex.Encode(a1[:], ai.HA1[:n])
	ha1 := a1[:2*n]
	if ai.Algo&AlgoSess != 0 {
		var sum [32]byte
		write(h, ha1, ":", p.v[pNonce], ":", p.v[pCnonce])
		hex.Encode(a1[:], h.Sum(sum[:0]))
		h.Reset()
	}
	var sum [32]byte
	write(h, nil, method, ":", p.v[pURI])
	hex.Encode(a2[:], h.Sum(sum[:0]))
	h.Reset()
	write(h, ha1, ":", p.v[pNonce], ":")
	if p.v[pQop] != "" {
		write(h, nil, p.v[pNc], ":", p.v[pCnonce], ":", p.v[pQop], ":")
	}
	h.Write(a2[:2*n])
	return h.Sum(dst)
}

func write(h hash.Hash, b []byte, s ...string) {
	h.Write(b)
	for _, x := range s {
		h.Write([]byte(x))
	}
}

// challengeDigest answers 401 with one WWW-Authenticate per algorithm, in
// lighttpd's order (SHA-512-256, SHA-256, MD5); a stale nonce gets only the
// algorithm the client used, with stale=true.
func challengeDigest(rc *core.Request, req *Require, stale Algo) core.Result {
	algos := req.Algo
	if stale != 0 {
		algos = stale
	}
	now := time.Now().Unix()
	for _, a := range [...]struct {
		bit  Algo
		name string
	}{{AlgoSHA512_256, "SHA-512-256"}, {AlgoSHA256, "SHA-256"}, {AlgoMD5, "MD5"}} {
		if algos&a.bit == 0 {
			continue
		}
		var b strings.Builder
		b.WriteString(`Digest realm="`)
		b.WriteString(req.Realm)
		b.WriteString(`", charset="UTF-8", algorithm=`)
		b.WriteString(a.name)
		b.WriteString(`, nonce="`)
		b.WriteString(newNonce(req, a.bit, now))
		b.WriteString(`", qop="auth"`)
		if req.UserHash {
			b.WriteString(", userhash=true")
		}
		if stale != 0 {
			b.WriteString(", stale=true")
		}
		rc.Resp.Header.Append("WWW-Authenticate", b.String())
	}
	return rc.Status(401)
}
