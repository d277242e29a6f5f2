// Package auth is lighttpd's mod_auth: auth.require protects URL-path
// prefixes with HTTP Basic or Digest authentication (or trusts a user name
// another module established, "extern"), asking the backend named by
// auth.backend (mod_authn_file, mod_authn_ldap) to check credentials.
//
// It runs at uri_clean, as lighttpd's does, so it must be listed before the
// dynamic backends (core's compat-module-load warns otherwise). A failed
// login closes the connection after a response delayed to the next full
// second (server.feature-flags "auth.delay-invalid-creds"). Digest nonces are
// signed (nonce.go), which lighttpd only does with a nonce-secret.
package auth

import (
	"fmt"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/lighttpdconf"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_auth", New: func() core.Module { return &Module{} }})
}

type conf struct {
	backend *backendRef // nil: auth.backend unset or blank
	require []*Require
	extern  bool
	cache   *cache
}

// backendRef is one auth.backend value; PostSetup resolves it once every
// authn module is set up.
type backendRef struct {
	name string
	pos  lighttpdconf.Pos
	b    Backend
}

func (r *backendRef) get() Backend {
	if r == nil {
		return nil
	}
	return r.b
}

// Module is one loaded mod_auth.
type Module struct {
	table *core.Table[conf]
	refs  []*backendRef
}

var (
	_ core.URICleanHook  = (*Module)(nil)
	_ core.PostSetupHook = (*Module)(nil)
)

// Setup binds auth.backend, auth.require, auth.extern-authn and auth.cache.
func (m *Module) Setup(sc *core.SetupContext) error {
	var err error
	m.table, err = core.Bind(sc, conf{}, []core.Key[conf]{
		{Name: "auth.backend", Type: core.TypeString, Bind: func(v core.Value) (func(*conf), error) {
			if v.String() == "" {
				return nil, nil // lighttpd: a blank value sets nothing, not even in a condition
			}
			ref := &backendRef{name: v.String(), pos: v.Pos}
			m.refs = append(m.refs, ref)
			return func(c *conf) { c.backend = ref }, nil
		}},
		{Name: "auth.require", Type: core.TypeKVList, Bind: func(v core.Value) (func(*conf), error) {
			reqs, err := parseRequires(sc, v)
			if err != nil {
				return nil, err
			}
			return func(c *conf) { c.require = reqs }, nil
		}},
		{Name: "auth.extern-authn", Type: core.TypeBool, Bind: func(v core.Value) (func(*conf), error) {
			on := v.Bool()
			return func(c *conf) { c.extern = on }, nil
		}},
		{Name: "auth.cache", Type: core.TypeArray, Bind: func(v core.Value) (func(*conf), error) {
			ca := newCache(int64(core.ElementInt32(v.Elements(), "max-age", 600)))
			return func(c *conf) { c.cache = ca }, nil
		}},
	})
	return err
}

// PostSetup resolves every auth.backend value against the backends the
// loaded authn modules offer.
func (m *Module) PostSetup(sc *core.SetupContext) error {
	offered := map[string]Backend{}
	for _, mod := range sc.Loaded() {
		if p, ok := mod.(BackendProvider); ok {
			for name, b := range p.AuthBackends() {
				offered[name] = b
			}
		}
	}
	for _, ref := range m.refs {
		b, ok := offered[ref.name]
		if !ok {
			msg := "auth.backend not supported: " + ref.name
			if hint, ok := refusedBackends[ref.name]; ok {
				msg += " (" + hint + ")"
			}
			return &core.ConfigError{Pos: ref.pos, Err: fmt.Errorf("%s", msg)}
		}
		ref.b = b
	}
	return nil
}

// URIClean applies the first auth.require prefix matching the decoded path.
func (m *Module) URIClean(rc *core.Request) core.Result {
	c := m.table.Resolve(rc)
	if len(c.require) == 0 {
		return core.GoOn
	}
	req := match(c.require, rc.URI.Path, rc.Conf.ForceLowercase)
	if req == nil {
		return core.GoOn
	}
	if c.extern && externUser(rc) != "" && req.MatchUser(externUser(rc)) {
		return core.GoOn
	}
	switch req.Method {
	case "basic":
		return m.checkBasic(rc, req, &c)
	case "digest":
		return m.checkDigest(rc, req, &c)
	}
	return checkExtern(rc, req)
}

// match returns the first require whose prefix starts path, in config
// order; with server.force-lowercase-filenames the comparison ignores case.
func match(reqs []*Require, path string, fold bool) *Require {
	for _, r := range reqs {
		if len(r.Prefix) > len(path) {
			continue
		}
		if path[:len(r.Prefix)] == r.Prefix || (fold && asciiFoldEq(path[:len(r.Prefix)], r.Prefix)) {
			return r
		}
	}
	return nil
}

// externUser is REMOTE_USER as another module set it: an earlier mod_auth
// pass (a rewrite restarts the request) or the environment.
func externUser(rc *core.Request) string {
	if rc.RemoteUser != "" {
		return rc.RemoteUser
	}
	return rc.Env.Get("REMOTE_USER")
}

// checkExtern is "method" => "extern": REMOTE_USER must be set and pass the
// rules; otherwise 401 without a challenge.
func checkExtern(rc *core.Request, req *Require) core.Result {
	if u := externUser(rc); u != "" && req.MatchUser(u) {
		return core.GoOn
	}
	return rc.Status(401)
}

// misconfigured answers 500 for a require whose backend cannot serve it.
func misconfigured(rc *core.Request, ref *backendRef, method string) core.Result {
	if ref == nil {
		rc.Logf("auth.backend not configured for %s", rc.URI.Path)
	} else {
		other := "digest"
		if method == "digest" {
			other = "basic"
		}
		rc.Logf("auth.require \"method\" => \"%s\" invalid (try \"%s\"?) for %s", method, other, rc.URI.Path)
	}
	return rc.Status(500)
}

// asciiFoldEq compares two strings of equal length ignoring ASCII case only,
// as lighttpd's buffer_eq_icase_ssn does.
func asciiFoldEq(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
