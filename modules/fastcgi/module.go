// Package fastcgi is lighttpd's mod_fastcgi: fastcgi.server backends by
// extension or URL prefix, responders and authorizers, bin-path processes,
// balancing, X-Sendfile, over golighty's FastCGI client.
package fastcgi

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/modules/internal/fcgi"
	"github.com/golighty/golighty/modules/internal/gw"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_fastcgi", New: func() core.Module { return &Module{} }})
}

// conf is the per-request view of the fastcgi.* keys.
type conf struct {
	srv     *gw.Server
	balance gw.Balance
	debug   int
	mapExt  []core.KV
}

// Module is one loaded mod_fastcgi.
type Module struct {
	table  *core.Table[conf]
	parser gw.Parser
	pool   *core.SharedPool
	keys   []string     // SharedPool keys of the spawners and pools this snapshot holds
	srvs   []*gw.Server // every fastcgi.server value, for the statistics

	// authorized marks a request whose authorizer approved it, so the
	// restarted request skips the authorizers and, with the authorizer's
	// docroot, maps its path below it.
	authorized core.Slot[authState]
}

type authState struct{ docroot string }

var (
	_ core.URICleanHook        = (*Module)(nil)
	_ core.DocrootHook         = (*Module)(nil)
	_ core.SubrequestStartHook = (*Module)(nil)
	_ core.Closer              = (*Module)(nil)
	_ core.PluginStatsReporter = (*Module)(nil)
	_ core.BackendReporter     = (*Module)(nil)
)

// requests counts requests sent to FastCGI backends since start
// (lighttpd's fastcgi.requests statistic).
var requests atomic.Int64

// PluginStats reports fastcgi.requests and the gw.backend.* counters of
// every backend (status.statistics-url).
func (m *Module) PluginStats(add func(key string, value int64)) {
	add("fastcgi.requests", requests.Load())
	for _, s := range m.srvs {
		s.PluginStats(add)
	}
}

// Backends lists every backend process with its counters (the Prometheus
// form of mod_status).
func (m *Module) Backends(visit func(core.BackendStat)) {
	for _, s := range m.srvs {
		s.Backends("mod_fastcgi", visit)
	}
}

// Setup binds the fastcgi.* keys. Backends are parsed with lighttpd's
// checks and messages; bin-path processes are registered in the shared
// pool and started at load (not for -tt).
func (m *Module) Setup(sc *core.SetupContext) error {
	m.authorized = core.NewSlot[authState](sc)
	m.pool = sc.Shared()
	m.parser = gw.Parser{Key: "fastcgi.server", Warn: sc.Warn, NewHost: m.newHost(sc)}
	var err error
	m.table, err = core.Bind(sc, conf{}, []core.Key[conf]{
		{Name: "fastcgi.server", Type: core.TypeKVList, Bind: func(v core.Value) (func(*conf), error) {
			srv, err := m.parser.Parse(v.Raw)
			if err != nil {
				return nil, err
			}
			m.srvs = append(m.srvs, srv)
			return func(c *conf) { c.srv = srv }, nil
		}},
		{Name: "fastcgi.balance", Type: core.TypeString, Bind: func(v core.Value) (func(*conf), error) {
			b, err := gw.ParseBalance(v.String())
			if err != nil {
				sc.Warn(v.Pos, "%v", err)
			}
			return func(c *conf) { c.balance = b }, nil
		}},
		{Name: "fastcgi.debug", Type: core.TypeInt, Bind: func(v core.Value) (func(*conf), error) {
			n := int(v.Int())
			return func(c *conf) { c.debug = n }, nil
		}},
		{Name: "fastcgi.map-extensions", Type: core.TypeKV, Bind: func(v core.Value) (func(*conf), error) {
			kv := v.KVs()
			return func(c *conf) { c.mapExt = kv }, nil
		}},
	})
	if err == nil && !sc.Preflight() {
		err = m.startProcesses()
	}
	if err != nil {
		m.Close()
	}
	return err
}

// startProcesses spawns the bin-path backends at load, as lighttpd does at
// start-up: a backend that cannot start fails the start (or the reload,
// which then keeps the running config). -tt starts nothing. Processes
// already running for an unchanged backend are reused.
func (m *Module) startProcesses() error {
	for _, h := range m.parser.Hosts() {
		if h.Spawner == nil {
			continue
		}
		if err := h.Spawner.Ensure(); err != nil {
			return fmt.Errorf("gw-backend failed to start: %s: %w", h.Conf.BinPath, err)
		}
	}
	return nil
}

// newHost wires a parsed backend: a FastCGI dialer per proc address and,
// for bin-path, the shared spawner.
func (m *Module) newHost(sc *core.SetupContext) func(gw.HostConfig) (*gw.Host, error) {
	return func(hc gw.HostConfig) (*gw.Host, error) {
		var sp *gw.Spawner
		if hc.BinPath != "" {
			if msg := gw.CheckBinPath(hc.BinPath); msg != "" {
				sc.Warn(hc.Pos, "%s", msg)
			}
			var key string
			var err error
			sp, key, err = gw.AcquireSpawner(sc.Shared(), &hc, false)
			if err != nil {
				return nil, err
			}
			m.keys = append(m.keys, key)
		}
		h := gw.NewHost(hc, sp)
		for _, p := range h.Procs {
			d := &fcgi.Dialer{
				Network:        p.Addr.Network,
				Address:        p.Addr.Address,
				ConnectTimeout: time.Duration(hc.ConnectTimeout) * time.Second,
				ReadTimeout:    time.Duration(hc.ReadTimeout) * time.Second,
				WriteTimeout:   time.Duration(hc.WriteTimeout) * time.Second,
				KeepConn:       hc.KeepConn > 0,
				MaxConns:       hc.KeepConn,
			}
			if d.KeepConn {
				// The kept connections bind backend workers: a reload
				// must go on with the same pool, not open a second one
				// beside connections the old config still holds.
				key := fmt.Sprintf("fcgi-pool|%s|%s|%d|%v|%v|%v", d.Network, d.Address, d.MaxConns, d.ConnectTimeout, d.ReadTimeout, d.WriteTimeout)
				shared, err := core.Acquire(sc.Shared(), key, func() (*fcgi.Dialer, func(), error) {
					return d, d.CloseIdle, nil
				})
				if err != nil {
					return nil, err
				}
				m.keys = append(m.keys, key)
				d = shared
			}
			p.Client = d
		}
		return h, nil
	}
}

// Close releases the spawners and connection pools: processes stop and
// kept connections close when no other snapshot uses them. Release runs in
// reverse order, so a host's kept connections close before its processes
// are asked to stop (php-cgi finishes reading a kept connection first).
func (m *Module) Close() error {
	for i := len(m.keys) - 1; i >= 0; i-- {
		m.pool.Release(m.keys[i])
	}
	m.keys = nil
	return nil
}

// URIClean matches the URL path: backends with check-local disabled take
// the request here (prefix keys split PATH_INFO), others wait for
// SubrequestStart. A matching extension whose hosts are all down is a 503
// already here, as in lighttpd.
func (m *Module) URIClean(rc *core.Request) core.Result {
	return m.check(rc, true)
}

// SubrequestStart matches the physical path (check-local enabled: the file
// exists, the core checked it).
func (m *Module) SubrequestStart(rc *core.Request) core.Result {
	return m.check(rc, false)
}

// Docroot applies an approving authorizer's docroot to the restarted request.
func (m *Module) Docroot(rc *core.Request) core.Result {
	if st := m.authorized.Get(rc); st != nil && st.docroot != "" {
		rc.Phys.DocRoot = st.docroot
	}
	return core.GoOn
}

// check is gw_check_extension.
func (m *Module) check(rc *core.Request, uriPath bool) core.Result {
	if rc.Handler != nil {
		return core.GoOn
	}
	c := m.table.Resolve(rc)
	if c.srv == nil {
		return core.GoOn
	}
	fn := rc.Phys.Path
	if uriPath {
		fn = rc.URI.Path
	}
	skipAuth := len(c.srv.Auth) > 0 && m.authorized.Get(rc) != nil
	ext := c.srv.Match(c.mapExt, fn, rc.URI.Path, skipAuth)
	if ext == nil {
		return core.GoOn
	}
	si := gw.SelectInfo{
		Authority: rc.URI.Authority, Path: rc.URI.Path, Query: rc.URI.Query,
		RemoteIP: rc.Conn.RemoteIP, Debug: c.debug, Log: rc,
	}
	host := ext.Select(c.balance, &si)
	if host == nil {
		return rc.Status(503)
	}
	if uriPath {
		if host.Conf.CheckLocal {
			return core.GoOn // matched again on the physical path
		}
		if ext.IsPrefix() && ext.Mode != gw.Authorizer {
			script, info := gw.SplitPathInfo(ext.Key, rc.URI.Path, host.Conf.FixRootScriptname)
			if info != "" {
				rc.URI.Path, rc.PathInfo = script, info
			}
		}
	}
	h := handlers.Get().(*handler)
	h.m, h.conf, h.ext, h.host, h.si = m, c, ext, host, si
	rc.SetHandler("mod_fastcgi", h)
	return core.GoOn
}

// errNoProc means a host had no usable proc when the request was sent.
var errNoProc = errors.New("no running process")

// InlineHooks marks the module for HTTP/2 requests on the reader
// (core.InlineHooks): its hooks only match and pick a host (its handler runs
// off the reader).
func (*Module) InlineHooks() {}
