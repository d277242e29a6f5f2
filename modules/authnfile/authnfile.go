// Package authnfile is lighttpd's mod_authn_file: the "plain", "htpasswd"
// and "htdigest" backends of mod_auth, reading user files named by
// auth.backend.{plain,htpasswd,htdigest}.userfile (any scope).
//
// As in lighttpd the backends apply only valid-user and user= rules
// (group= and host= never match), htpasswd answers Basic only, and a file
// that cannot be read fails every login with a log line. Files are re-read
// when they change. Passwords and hashes are compared in constant time and
// never logged.
package authnfile

import (
	"crypto/subtle"
	"strings"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/modules/auth"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_authn_file", New: func() core.Module { return &Module{} }})
}

type conf struct {
	plain, htdigest, htpasswd string // user files; "" when unset
}

// Module is one loaded mod_authn_file.
type Module struct {
	table *core.Table[conf]
	files *userFiles
}

var (
	_ core.Module          = (*Module)(nil)
	_ auth.BackendProvider = (*Module)(nil)
	_ auth.DigestBackend   = plainBackend{}
	_ auth.DigestBackend   = htdigestBackend{}
	_ auth.Backend         = htpasswdBackend{}
)

// Setup binds the user-file keys; auth.backend.plain.groupfile is accepted
// and, as in lighttpd, unused.
func (m *Module) Setup(sc *core.SetupContext) error {
	m.files = newUserFiles()
	file := func(set func(*conf, string)) func(core.Value) (func(*conf), error) {
		return func(v core.Value) (func(*conf), error) {
			s := v.String()
			return func(c *conf) { set(c, s) }, nil
		}
	}
	var err error
	m.table, err = core.Bind(sc, conf{}, []core.Key[conf]{
		{Name: "auth.backend.plain.groupfile", Type: core.TypeString, Bind: func(core.Value) (func(*conf), error) { return nil, nil }},
		{Name: "auth.backend.plain.userfile", Type: core.TypeString, Bind: file(func(c *conf, s string) { c.plain = s })},
		{Name: "auth.backend.htdigest.userfile", Type: core.TypeString, Bind: file(func(c *conf, s string) { c.htdigest = s })},
		{Name: "auth.backend.htpasswd.userfile", Type: core.TypeString, Bind: file(func(c *conf, s string) { c.htpasswd = s })},
	})
	return err
}

// AuthBackends offers the three backends to mod_auth.
func (m *Module) AuthBackends() map[string]auth.Backend {
	return map[string]auth.Backend{
		"plain":    plainBackend{m},
		"htpasswd": htpasswdBackend{m},
		"htdigest": htdigestBackend{m},
	}
}

// lines returns the parsed user file for a request, nil when the key is
// unset or the file unreadable.
func (m *Module) lines(rc *core.Request, pick func(*conf) string, digest bool) []line {
	c := m.table.Resolve(rc)
	path := pick(&c)
	if path == "" {
		return nil
	}
	return m.files.get(path, digest, rc.Logf)
}

func plainFile(c *conf) string    { return c.plain }
func htpasswdFile(c *conf) string { return c.htpasswd }
func htdigestFile(c *conf) string { return c.htdigest }

// plainBackend reads "user:password" lines.
type plainBackend struct{ m *Module }

func (b plainBackend) Basic(rc *core.Request, req *auth.Require, user, pw string) bool {
	stored, ok := lookup(b.m.lines(rc, plainFile, false), user)
	return ok && subtle.ConstantTimeCompare([]byte(stored), []byte(pw)) == 1 && req.MatchUser(user)
}

func (b plainBackend) Digest(rc *core.Request, ai *auth.DigestInfo) bool {
	stored, ok := lookup(b.m.lines(rc, plainFile, false), ai.User)
	if !ok {
		return false
	}
	auth.HA1Of(&ai.HA1, ai.Algo, ai.User, ai.Realm, stored)
	return true
}

// htpasswdBackend reads "user:hash" lines as Apache's htpasswd writes them.
type htpasswdBackend struct{ m *Module }

func (b htpasswdBackend) Basic(rc *core.Request, req *auth.Require, user, pw string) bool {
	hash, ok := lookup(b.m.lines(rc, htpasswdFile, false), user)
	return ok && checkHtpasswd(hash, pw) && req.MatchUser(user)
}

// htdigestBackend reads "user:realm:hex(H(user:realm:password))[:userhash]"
// lines as Apache's htdigest writes them (MD5; SHA-256 lines have 64 hex
// digits).
type htdigestBackend struct{ m *Module }

// Basic checks pw against the line of the require's realm, with the
// strongest hash the require allows (lighttpd uses one algorithm here).
func (b htdigestBackend) Basic(rc *core.Request, req *auth.Require, user, pw string) bool {
	ai := auth.DigestInfo{Algo: req.Algo &^ auth.AlgoSess, User: user, Realm: req.Realm}
	if !findDigest(b.m.lines(rc, htdigestFile, true), &ai) {
		return false
	}
	var got [32]byte
	auth.HA1Of(&got, ai.Algo, user, req.Realm, pw)
	n := ai.Algo.Size()
	return subtle.ConstantTimeCompare(got[:n], ai.HA1[:n]) == 1 && req.MatchUser(user)
}

func (b htdigestBackend) Digest(rc *core.Request, ai *auth.DigestInfo) bool {
	return findDigest(b.m.lines(rc, htdigestFile, true), ai)
}

// findDigest fills ai.HA1 from the first line for ai's user (or userhash)
// and realm whose hash has the algorithm's length; a line with bad hex
// fails the lookup, as in lighttpd.
func findDigest(lines []line, ai *auth.DigestInfo) bool {
	n := ai.Algo.Size()
	for i := range lines {
		realm, rest, _ := strings.Cut(lines[i].rest, ":")
		hash, userhash, hasUH := strings.Cut(rest, ":")
		if realm != ai.Realm {
			continue
		}
		if ai.UserHash {
			if !hasUH || len(userhash) != len(ai.User) || subtle.ConstantTimeCompare([]byte(userhash), []byte(ai.User)) != 1 || len(lines[i].user) > 256 {
				continue
			}
		} else if lines[i].user != ai.User {
			continue
		}
		if len(hash) != 2*n {
			continue
		}
		if !decodeHex(ai.HA1[:n], hash) {
			return false
		}
		if ai.UserHash {
			ai.User = lines[i].user
		}
		return true
	}
	return false
}

func decodeHex(dst []byte, s string) bool {
	for i := range dst {
		hi, lo := unhex(s[2*i]), unhex(s[2*i+1])
		if hi > 15 || lo > 15 {
			return false
		}
		dst[i] = hi<<4 | lo
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
