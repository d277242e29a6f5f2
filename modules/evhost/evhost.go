// Package evhost is lighttpd's mod_evhost: evhost.path-pattern builds the
// document root from parts of the host name (%0 domain.tld, %1 tld,
// %2 domain, %3.. subdomains, %_ the whole host, %{n.m} the m-th character
// of part n, %% a percent sign).
//
// As in lighttpd: a part the host does not have expands to nothing; the
// result gets a trailing slash; when it is not a directory the error is
// logged and server.document-root stays; a request without a host is left
// alone; an empty pattern in a block does not override an outer one.
package evhost

import (
	"fmt"
	"strings"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/modules/internal/vhostpath"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_evhost", New: func() core.Module { return &Module{} }})
}

type conf struct{ pattern *pattern }

type cacheKey struct {
	p    *pattern
	host string
}

// Module is one loaded mod_evhost.
type Module struct {
	table *core.Table[conf]
	paths vhostpath.Cache[cacheKey]
}

var _ core.DocrootHook = (*Module)(nil)

// Setup binds evhost.path-pattern and compiles each pattern once.
func (m *Module) Setup(sc *core.SetupContext) error {
	var err error
	m.table, err = core.Bind(sc, conf{}, []core.Key[conf]{
		{Name: "evhost.path-pattern", Type: core.TypeString, Bind: func(v core.Value) (func(*conf), error) {
			if v.String() == "" {
				return nil, nil
			}
			p, err := parsePattern(v.String())
			if err != nil {
				return nil, fmt.Errorf("invalid evhost.path-pattern: %s", v.String())
			}
			return func(c *conf) { c.pattern = p }, nil
		}},
	})
	return err
}

// Docroot replaces the document root by the expanded pattern when that is
// a directory.
func (m *Module) Docroot(rc *core.Request) core.Result {
	host := rc.URI.Authority
	if host == "" {
		return core.GoOn
	}
	c := m.table.Resolve(rc)
	if c.pattern == nil {
		return core.GoOn
	}
	if vhostpath.UnsafeHost(host) {
		rc.Logf("refusing host %q as part of a path (evhost.path-pattern)", host)
		return core.GoOn
	}
	k := cacheKey{c.pattern, host}
	p, ok := m.paths.Get(k)
	if !ok {
		if p, ok = c.pattern.docroot(host); !ok {
			rc.Logf("%s: refusing the path host %q made (evhost.path-pattern)", p, host)
			return core.GoOn
		}
		k.host = strings.Clone(host)
		m.paths.Put(k, p)
	}
	if err := vhostpath.IsDir(rc, p); err != nil {
		vhostpath.Perror(rc, p, err)
		return core.GoOn
	}
	rc.Phys.DocRoot = p
	return core.GoOn
}

// InlineHooks marks the module for HTTP/2 requests on the reader
// (core.InlineHooks): its hook only builds a document root and stats it.
func (*Module) InlineHooks() {}
