// Package rrdtool is lighttpd's mod_rrdtool: requests, bytes in and bytes
// out are counted per rrdtool.db-name and handed once a minute to an
// `rrdtool -` process over its pipe, which creates the round-robin database
// with lighttpd's layout when it is missing.
package rrdtool

import (
	"strings"
	"sync/atomic"

	"github.com/golighty/golighty/core"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_rrdtool", New: func() core.Module { return &Module{} }})
}

// defaultBinary is where lighttpd looks for rrdtool without rrdtool.binary.
const defaultBinary = "/usr/bin/rrdtool"

// conf names the database a request counts in: an index into
// Module.dbs plus one (0: none).
type conf struct{ db int }

// counters are one database's figures since its last update (atomic:
// every request adds to them).
type counters struct {
	path     string
	requests atomic.Int64
	in       atomic.Int64
	out      atomic.Int64
}

// Module is one loaded mod_rrdtool.
type Module struct {
	table *core.Table[conf]
	pool  *core.SharedPool
	key   string // SharedPool key of the rrdtool process, "" when inactive
	w     *writer
	dbs   []*counters
}

var (
	_ core.RequestDoneHook = (*Module)(nil)
	_ core.Closer          = (*Module)(nil)
)

// Setup binds the keys and, when some block names a database, starts (or
// reuses, across reloads) the rrdtool process; -tt starts nothing.
// Counters live with the process, so a reload loses no counts.
func (m *Module) Setup(sc *core.SetupContext) error {
	binary := defaultBinary
	var names []string
	var err error
	m.table, err = core.Bind(sc, conf{}, []core.Key[conf]{
		{Name: "rrdtool.db-name", Type: core.TypeString, Bind: func(v core.Value) (func(*conf), error) {
			name := v.String()
			if strings.TrimSpace(name) == "" {
				return nil, nil // lighttpd ignores a blank name, also in a condition
			}
			names = append(names, name)
			i := len(names)
			return func(c *conf) { c.db = i }, nil
		}},
		{Name: "rrdtool.binary", Type: core.TypeString, Scope: core.ScopeGlobal, Bind: func(v core.Value) (func(*conf), error) {
			if b := v.String(); strings.TrimSpace(b) != "" {
				binary = b
			}
			return nil, nil
		}},
	})
	if err != nil || len(names) == 0 {
		return err
	}
	if sc.Preflight() {
		for range names {
			m.dbs = append(m.dbs, &counters{})
		}
		return nil
	}
	m.pool = sc.Shared()
	m.key = "rrdtool:" + binary
	m.w, err = core.Acquire(m.pool, m.key, func() (*writer, func(), error) {
		w, err := startWriter(binary)
		if err != nil {
			return nil, nil, err
		}
		return w, w.stop, nil
	})
	if err != nil {
		m.key = ""
		return err
	}
	for _, n := range names {
		m.dbs = append(m.dbs, m.w.register(n))
	}
	return nil
}

// RequestDone counts the request in the database its conditions select.
func (m *Module) RequestDone(rc *core.Request) {
	c := m.table.Resolve(rc)
	if c.db == 0 {
		return
	}
	db := m.dbs[c.db-1]
	db.requests.Add(1)
	db.out.Add(int64(rc.RespHeadLen) + rc.Resp.Written())
	db.in.Add(int64(rc.HeadLen) + rc.BodyRead)
}

// Close lets go of the databases and of the rrdtool process (which stops
// when no snapshot uses it any more).
func (m *Module) Close() error {
	if m.key == "" {
		return nil
	}
	for _, db := range m.dbs {
		m.w.unregister(db)
	}
	m.pool.Release(m.key)
	m.key = ""
	return nil
}
