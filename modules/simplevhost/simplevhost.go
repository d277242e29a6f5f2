// Package simplevhost is lighttpd's mod_simple_vhost: the document root is
// server-root + host + document-root, with a default host when that
// directory does not exist.
//
// As in lighttpd: the port is cut from the host at its first ':' (so an
// IPv6 literal becomes "["), server-root and document-root get a trailing
// slash, an empty server-root turns the module off for its block, and
// without default-host an unknown host is served from server-root +
// document-root. The chosen host (or default-host) becomes the server name
// (SERVER_NAME, %v).
package simplevhost

import (
	"strings"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/modules/internal/vhostpath"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_simple_vhost", New: func() core.Module { return &Module{} }})
}

type conf struct {
	serverRoot  string // ends in '/'; "" = module off
	defaultHost string
	docRoot     string // ends in '/', or ""
	debug       bool
}

// cacheKey names one built path: the same host under other settings is
// another path.
type cacheKey struct{ serverRoot, docRoot, host string }

// Module is one loaded mod_simple_vhost.
type Module struct {
	table *core.Table[conf]
	paths vhostpath.Cache[cacheKey]
}

var _ core.DocrootHook = (*Module)(nil)

// Setup binds the simple-vhost.* keys.
func (m *Module) Setup(sc *core.SetupContext) error {
	dir := func(set func(*conf, string)) func(core.Value) (func(*conf), error) {
		return func(v core.Value) (func(*conf), error) {
			s := vhostpath.WithSlash(v.String())
			return func(c *conf) { set(c, s) }, nil
		}
	}
	var err error
	m.table, err = core.Bind(sc, conf{}, []core.Key[conf]{
		{Name: "simple-vhost.server-root", Type: core.TypeString, Bind: dir(func(c *conf, s string) { c.serverRoot = s })},
		{Name: "simple-vhost.default-host", Type: core.TypeString, Bind: func(v core.Value) (func(*conf), error) {
			s := v.String()
			return func(c *conf) { c.defaultHost = s }, nil
		}},
		{Name: "simple-vhost.document-root", Type: core.TypeString, Bind: dir(func(c *conf, s string) { c.docRoot = s })},
		{Name: "simple-vhost.debug", Type: core.TypeShort, Bind: func(v core.Value) (func(*conf), error) {
			on := v.Int() != 0
			return func(c *conf) { c.debug = on }, nil
		}},
	})
	return err
}

// Docroot tries the request's host, then the default host.
func (m *Module) Docroot(rc *core.Request) core.Result {
	c := m.table.Resolve(rc)
	if c.serverRoot == "" {
		return core.GoOn
	}
	if host := rc.URI.Authority; host != "" && !unsafeHost(host) {
		if p, ok := m.root(rc, &c, host); ok {
			rc.Conf.ServerName = host
			rc.Phys.DocRoot = p
			return core.GoOn
		}
	}
	if p, ok := m.root(rc, &c, c.defaultHost); ok {
		if c.defaultHost != "" {
			rc.Conf.ServerName = c.defaultHost
		}
		rc.Phys.DocRoot = p
	}
	return core.GoOn
}

// root builds the document root for host and reports whether it is a
// directory.
func (m *Module) root(rc *core.Request, c *conf, host string) (string, bool) {
	k := cacheKey{c.serverRoot, c.docRoot, host}
	p, ok := m.paths.Get(k)
	if !ok {
		p = buildPath(c.serverRoot, host, c.docRoot)
		k.host = strings.Clone(host)
		m.paths.Put(k, p)
	}
	if err := vhostpath.IsDir(rc, p); err != nil {
		if c.debug {
			vhostpath.Perror(rc, p, err)
		}
		return "", false
	}
	return p, true
}

// unsafeHost reports a host golighty does not make part of a path: one
// adding segments, or "..", which lighttpd (with host-strict disabled)
// turns into server-root/../ and so serves what lies above.
func unsafeHost(host string) bool {
	if i := strings.IndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return host == ".." || vhostpath.UnsafeHost(host)
}

// buildPath is server-root + host without port + document-root, ending in
// '/' (lighttpd's build_doc_root_path).
func buildPath(serverRoot, host, docRoot string) string {
	if i := strings.IndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	p := serverRoot + host
	if docRoot != "" {
		return vhostpath.Join(p, docRoot)
	}
	return vhostpath.WithSlash(p)
}

// InlineHooks marks the module for HTTP/2 requests on the reader
// (core.InlineHooks): its hook only builds a document root and stats it.
func (*Module) InlineHooks() {}
