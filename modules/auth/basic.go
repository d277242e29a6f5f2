package auth

import (
	"bytes"

	"github.com/golighty/golighty/core"
)

// maxBasicLen is lighttpd's limit on the base64 text after "Basic ": it
// decodes into a 1 KiB buffer; longer credentials get a fresh challenge.
const maxBasicLen = 1363

// checkBasic is lighttpd's mod_auth_check_basic.
func (m *Module) checkBasic(rc *core.Request, req *Require, c *conf) core.Result {
	b := c.backend.get()
	if b == nil {
		return misconfigured(rc, c.backend, "basic")
	}
	v := authorization(rc)
	if len(v) < 6 || !foldEq(v[:6], "basic ") {
		return challengeBasic(rc, req)
	}
	enc := v[6:]
	if len(enc) > maxBasicLen {
		return challengeBasic(rc, req)
	}
	var buf [1024]byte
	cred, ok := DecodeBase64(buf[:0], enc)
	if !ok {
		rc.Logf("decoding base64-string failed")
		return rc.Status(400)
	}
	i := bytes.IndexByte(cred, ':')
	if i < 0 {
		rc.Logf("missing ':' in Basic credentials")
		return rc.Status(400)
	}
	user, pw := cred[:i], cred[i+1:]
	defer clear(buf[:])

	if c.cache != nil {
		if name, ok := c.cache.basic(req, c.backend, user, pw); ok {
			rc.RemoteUser, rc.AuthType = name, "Basic"
			return core.GoOn
		}
	}
	// Backends see the password as lighttpd's C string: up to a NUL.
	cpw := pw
	if j := bytes.IndexByte(cpw, 0); j >= 0 {
		cpw = cpw[:j]
	}
	name := string(user)
	if !b.Basic(rc, req, name, string(cpw)) {
		rc.Logf("password doesn't match for %s username: %s IP: %s", rc.URI.Path, name, rc.Conn.RemoteIP)
		rc.FailedLogin()
		return challengeBasic(rc, req)
	}
	if c.cache != nil {
		name = c.cache.putBasic(req, c.backend, name, pw)
	}
	rc.RemoteUser, rc.AuthType = name, "Basic"
	return core.GoOn
}

func challengeBasic(rc *core.Request, req *Require) core.Result {
	rc.Resp.Header.Set("WWW-Authenticate", `Basic realm="`+req.Realm+`", charset="UTF-8"`)
	return rc.Status(401)
}

// authorization is the Authorization request header; repeated fields are
// joined with ", " as lighttpd joins them.
func authorization(rc *core.Request) string {
	v, n := "", 0
	for i := 0; i < rc.Header.Len(); i++ {
		h := rc.Header.At(i)
		if h.Value == "" || !foldEq(h.Name, "authorization") {
			continue
		}
		if n == 0 {
			v = h.Value
		} else {
			v += ", " + h.Value
		}
		n++
	}
	return v
}

// b64 maps a byte to its standard base64 value; skip marks the bytes
// lighttpd's decoder passes over (controls and space, not NUL or DEL), bad
// the ones that end the input, pad the '='.
const (
	b64Bad  = 0xff
	b64Skip = 0xfe
	b64Pad  = 0xfd
)

var b64 = func() (t [256]byte) {
	for i := range t {
		t[i] = b64Bad
	}
	for i := 1; i <= ' '; i++ {
		t[i] = b64Skip
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	t['='] = b64Pad
	return t
}()

// DecodeBase64 decodes as lighttpd's li_base64_dec (BASE64_STANDARD) does:
// whitespace and controls are skipped, decoding stops at '=' or at the
// first byte outside the alphabet (what came before counts, unless the stop
// is a NUL), and a dangling single character fails. An empty result fails
// too (lighttpd cannot tell it from an error).
func DecodeBase64(dst []byte, s string) ([]byte, bool) {
	var acc uint32
	n := 0
	i := 0
	var stop byte = b64Skip
	for ; i < len(s); i++ {
		v := b64[s[i]]
		if v == b64Skip {
			continue
		}
		if v == b64Bad || v == b64Pad {
			stop = v
			break
		}
		acc = acc<<6 | uint32(v)
		n++
		if n&3 == 0 {
			dst = append(dst, byte(acc>>16), byte(acc>>8), byte(acc))
			acc = 0
		}
	}
	if i < len(s) && stop == b64Bad && s[i] == 0 {
		return nil, false
	}
	switch n & 3 {
	case 3:
		dst = append(dst, byte(acc>>10), byte(acc>>2))
	case 2:
		dst = append(dst, byte(acc>>4))
	case 1:
		return nil, false
	}
	return dst, len(dst) > 0
}
