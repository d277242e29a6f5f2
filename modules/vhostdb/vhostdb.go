// Package vhostdb is lighttpd's mod_vhostdb with its mod_vhostdb_dbi
// backend for SQLite databases: the document root of a host is looked up in
// a database (vhostdb.backend = "dbi", vhostdb.dbi = (...)), optionally
// cached (vhostdb.cache).
//
// As in lighttpd: a request without a host, or a host the database does not
// know (no row, or NULL), keeps server.document-root; a failed query or a
// document root that is not a directory ends the request with 500 and an
// error-log line; a found host becomes the server name (SERVER_NAME, %v).
// Without vhostdb.cache every request asks the database, so a change is seen
// at once; with it, a found host is kept until lighttpd's cleanup would drop
// it, which runs every 8 seconds of the monotonic clock and drops entries
// older than max-age (default 600) seconds. Hosts the database does not know
// are never cached.
package vhostdb

import (
	"fmt"
	"strings"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/lighttpdconf"
	"github.com/golighty/golighty/modules/internal/vhostpath"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_vhostdb", New: func() core.Module { return &Module{} }})
	for name, why := range refusedBackends {
		core.Register(core.ModuleInfo{Name: name, Refused: why})
	}
}

// refusedBackends are lighttpd's vhostdb backends that need a C client
// library; golighty refuses them at start-up.
var refusedBackends = map[string]string{
	"mod_vhostdb_mysql": `MySQL/MariaDB client libraries are not linked into golighty; export the vhosts table to SQLite and use mod_vhostdb_dbi with "dbtype" => "sqlite3", or mod_simple_vhost / mod_evhost when the document root follows from the host name`,
	"mod_vhostdb_pgsql": `PostgreSQL client libraries are not linked into golighty; export the vhosts table to SQLite and use mod_vhostdb_dbi with "dbtype" => "sqlite3", or mod_simple_vhost / mod_evhost when the document root follows from the host name`,
	"mod_vhostdb_ldap":  `LDAP lookups of document roots are not supported; export the host => document root pairs to SQLite and use mod_vhostdb_dbi with "dbtype" => "sqlite3", or mod_simple_vhost / mod_evhost when the document root follows from the host name`,
}

// backend answers the document root of a host ("" when unknown).
type backend interface {
	query(rc *core.Request, host string) (string, error)
}

// backendRef is a vhostdb.backend value, resolved after every module is set
// up (lighttpd's backends register themselves when their module loads).
type backendRef struct {
	name string
	pos  lighttpdconf.Pos
	b    backend
}

type conf struct {
	backend *backendRef
	cache   *cache
}

// found is a looked-up host: what a request with that host gets.
type found struct {
	host    string // the authority it was found for (a copy)
	docroot string // ends in '/'
}

// Module is one loaded mod_vhostdb.
type Module struct {
	table  *core.Table[conf]
	refs   []*backendRef
	caches []*cache // every vhostdb.cache of the config (for tests)
	// perRequest keeps a lookup for the rest of its request when there is
	// no vhostdb.cache (internal restarts ask no second time).
	perRequest core.Slot[found]
}

var (
	_ core.DocrootHook   = (*Module)(nil)
	_ core.PostSetupHook = (*Module)(nil)
)

// Setup binds vhostdb.backend and vhostdb.cache.
func (m *Module) Setup(sc *core.SetupContext) error {
	m.perRequest = core.NewSlot[found](sc)
	var err error
	m.table, err = core.Bind(sc, conf{}, []core.Key[conf]{
		{Name: "vhostdb.backend", Type: core.TypeString, Bind: func(v core.Value) (func(*conf), error) {
			if v.String() == "" {
				return nil, nil // as lighttpd: a blank value does not override
			}
			ref := &backendRef{name: v.String(), pos: v.Pos}
			m.refs = append(m.refs, ref)
			return func(c *conf) { c.backend = ref }, nil
		}},
		{Name: "vhostdb.cache", Type: core.TypeArray, Bind: func(v core.Value) (func(*conf), error) {
			vc := newCache(maxAge(v.Elements()))
			m.caches = append(m.caches, vc)
			return func(c *conf) { c.cache = vc }, nil
		}},
	})
	return err
}

// maxAge reads "max-age" from vhostdb.cache as lighttpd does: an integer,
// or a string strtol reads whole; anything else means 600.
func maxAge(elems []lighttpdconf.Element) int64 {
	age := int64(600)
	for _, e := range elems {
		if !e.HasKey || e.Key != "max-age" {
			continue
		}
		switch e.Value.Kind {
		case lighttpdconf.KindInteger:
			age = int64(e.Value.Int)
		case lighttpdconf.KindString:
			age = 600
			if n, ok := cStrtol32(e.Value.Str); ok {
				age = n
			}
		default:
			age = 600
		}
	}
	return age
}

// PostSetup finds the module behind every vhostdb.backend value.
func (m *Module) PostSetup(sc *core.SetupContext) error {
	have := map[string]backend{}
	for _, mod := range sc.Loaded() {
		if d, ok := mod.(*DBI); ok {
			have["dbi"] = d
		}
	}
	for _, ref := range m.refs {
		ref.b = have[ref.name]
		if ref.b == nil {
			return &core.ConfigError{Pos: ref.pos, Err: fmt.Errorf("vhostdb.backend not supported: %s (%s)", ref.name, backendHint(ref.name))}
		}
	}
	return nil
}

func backendHint(name string) string {
	switch name {
	case "dbi":
		return `add "mod_vhostdb_dbi" to server.modules`
	case "mysql", "pgsql", "ldap":
		return "golighty has no mod_vhostdb_" + name + `; use "dbi" with an SQLite database (mod_vhostdb_dbi, "dbtype" => "sqlite3")`
	}
	return `golighty's backend is "dbi" (mod_vhostdb_dbi) with an SQLite database`
}

// Docroot sets the document root and server name of a known host.
func (m *Module) Docroot(rc *core.Request) core.Result {
	host := rc.URI.Authority
	if host == "" {
		return core.GoOn
	}
	if f := m.perRequest.Get(rc); f != nil && f.host == host {
		return use(rc, f)
	}
	c := m.table.Resolve(rc)
	if c.backend == nil {
		return core.GoOn
	}
	if c.cache != nil {
		if f := c.cache.get(host); f != nil {
			return use(rc, f)
		}
	}
	docroot, err := c.backend.b.query(rc, host)
	if err != nil {
		rc.Logf("%v", err)
		return rc.Status(500)
	}
	if docroot == "" {
		return core.GoOn
	}
	docroot = vhostpath.WithSlash(docroot)
	if err := vhostpath.IsDir(rc, docroot); err != nil {
		vhostpath.Perror(rc, docroot, err)
		return rc.Status(500)
	}
	f := &found{host: strings.Clone(host), docroot: docroot}
	if c.cache != nil {
		c.cache.put(f)
	} else {
		m.perRequest.Set(rc, f)
	}
	return use(rc, f)
}

func use(rc *core.Request, f *found) core.Result {
	rc.Conf.ServerName = f.host
	rc.Phys.DocRoot = f.docroot
	return core.GoOn
}

// cStrtol32 is C's strtol(s, &end, 10) accepted only when it reads the whole
// non-empty string and fits in 32 bits.
func cStrtol32(s string) (int64, bool) {
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-'
		t = t[1:]
	}
	if t == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
		if n > 1<<31 {
			return 0, false
		}
	}
	if neg {
		n = -n
	}
	if n < -1<<31 || n > 1<<31-1 {
		return 0, false
	}
	return n, true
}
