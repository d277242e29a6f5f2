package gw

import (
	"fmt"

	"github.com/golighty/golighty/core"
)

// Conf is the per-request view of the keys every gateway module has
// (xxx.server, xxx.balance, xxx.debug, xxx.map-extensions).
type Conf struct {
	Srv     *Server
	Balance Balance
	Debug   int
	MapExt  []core.KV
}

// Gateway is what a stream gateway module (mod_proxy, mod_scgi,
// mod_ajp13, mod_wstunnel, mod_sockproxy) shares with the others: the
// backend parser, the bin-path processes it started and the shared-pool
// entries its snapshot holds.
type Gateway struct {
	Parser Parser
	// ShellExec runs bin-path through /bin/sh -c "exec ..." (mod_scgi).
	ShellExec bool
	// NoAuthorizer refuses "mode" => "authorizer" hosts with lighttpd's
	// message (mod_proxy, mod_wstunnel).
	NoAuthorizer bool
	// CheckLocal keeps the hosts' check-local option; otherwise it is
	// forced off (lighttpd's gw_exts_clear_check_local for every stream
	// module but mod_scgi).
	CheckLocal bool

	pool *core.SharedPool
	keys []string
}

// Keys returns the prefix.server/.balance/.debug/.map-extensions keys
// binding into the Conf that get returns; Bind binds them.
func Keys[T any](g *Gateway, sc *core.SetupContext, prefix string, get func(*T) *Conf) []core.Key[T] {
	g.pool = sc.Shared()
	g.Parser.Key = prefix + ".server"
	g.Parser.Warn = sc.Warn
	g.Parser.NewHost = g.newHost
	return []core.Key[T]{
		{Name: prefix + ".server", Type: core.TypeKVList, Bind: func(v core.Value) (func(*T), error) {
			srv, err := g.Parser.Parse(v.Raw)
			if err != nil {
				return nil, err
			}
			if g.NoAuthorizer && len(srv.Auth) > 0 {
				return nil, fmt.Errorf("%s must not define any hosts with attribute \"mode\" = \"authorizer\"", g.Parser.Key)
			}
			if !g.CheckLocal {
				for _, e := range srv.Resp {
					for _, h := range e.Hosts {
						h.Conf.CheckLocal = false
					}
				}
			}
			return func(c *T) { get(c).Srv = srv }, nil
		}},
		{Name: prefix + ".balance", Type: core.TypeString, Bind: func(v core.Value) (func(*T), error) {
			b, err := ParseBalance(v.String())
			if err != nil {
				sc.Warn(v.Pos, "%v", err)
			}
			return func(c *T) { get(c).Balance = b }, nil
		}},
		{Name: prefix + ".debug", Type: core.TypeInt, Bind: func(v core.Value) (func(*T), error) {
			n := int(v.Int())
			return func(c *T) { get(c).Debug = n }, nil
		}},
		{Name: prefix + ".map-extensions", Type: core.TypeKV, Bind: func(v core.Value) (func(*T), error) {
			kv := v.KVs()
			return func(c *T) { get(c).MapExt = kv }, nil
		}},
	}
}

// newHost wires a parsed backend, with the shared spawner for bin-path.
func (g *Gateway) newHost(hc HostConfig) (*Host, error) {
	var sp *Spawner
	if hc.BinPath != "" {
		if msg := CheckBinPath(hc.BinPath); msg != "" && g.Parser.Warn != nil {
			g.Parser.Warn(hc.Pos, "%s", msg)
		}
		var key string
		var err error
		sp, key, err = AcquireSpawner(g.pool, &hc, g.ShellExec)
		if err != nil {
			return nil, err
		}
		g.keys = append(g.keys, key)
	}
	return NewHost(hc, sp), nil
}

// start spawns the bin-path backends at load, as lighttpd at start-up
// (not for -tt). A backend that cannot start fails the load.
func (g *Gateway) start(sc *core.SetupContext) error {
	if sc.Preflight() {
		return nil
	}
	for _, h := range g.Parser.Hosts() {
		if h.Spawner == nil {
			continue
		}
		if err := h.Spawner.Ensure(); err != nil {
			return fmt.Errorf("gw-backend failed to start: %s: %w", h.Conf.BinPath, err)
		}
	}
	return nil
}

// Bind binds a stream module's keys (Keys' and its own) with core.Bind,
// then starts the bin-path backends; on failure whatever the binding
// acquired is released.
func Bind[T any](g *Gateway, sc *core.SetupContext, def T, keys []core.Key[T]) (*core.Table[T], error) {
	t, err := core.Bind(sc, def, keys)
	if err == nil {
		err = g.start(sc)
	}
	if err != nil {
		g.Close()
		return nil, err
	}
	return t, nil
}

// Close releases the snapshot's processes and kept connections.
func (g *Gateway) Close() error {
	for _, h := range g.Parser.Hosts() {
		h.CloseIdle()
	}
	for i := len(g.keys) - 1; i >= 0; i-- {
		g.pool.Release(g.keys[i])
	}
	g.keys = nil
	return nil
}

// Choice is the backend a request was matched to.
type Choice struct {
	Ext  *Ext
	Host *Host
	SI   SelectInfo
}

// Check is gw_check_extension for a stream module: the path (the URL path
// when uriPath, else the physical path) is matched against c.Srv, a host is
// selected (503 when every host is down), and with check-local disabled a
// prefix key splits PATH_INFO off the URL path. ok is false when the
// request is not for this module, or when the match waits for the
// physical path (check-local enabled). The choice is a value, which the
// handler keeps: most requests checked are not for the module.
func Check(rc *core.Request, c *Conf, uriPath bool) (ch Choice, ok bool, res core.Result) {
	if rc.Handler != nil || c.Srv == nil {
		return ch, false, core.GoOn
	}
	fn := rc.Phys.Path
	if uriPath {
		fn = rc.URI.Path
	}
	ext := c.Srv.Match(c.MapExt, fn, rc.URI.Path, false)
	if ext == nil {
		return ch, false, core.GoOn
	}
	ch = Choice{Ext: ext, SI: SelectInfo{
		Authority: rc.URI.Authority, Path: rc.URI.Path, Query: rc.URI.Query,
		RemoteIP: rc.Conn.RemoteIP, Debug: c.Debug, Log: rc,
	}}
	ch.Host = ext.Select(c.Balance, &ch.SI)
	if ch.Host == nil {
		return ch, false, rc.Status(503)
	}
	if uriPath {
		if ch.Host.Conf.CheckLocal {
			return ch, false, core.GoOn
		}
		if ext.IsPrefix() {
			script, info := SplitPathInfo(ext.Key, rc.URI.Path, ch.Host.Conf.FixRootScriptname)
			if info != "" {
				rc.URI.Path, rc.PathInfo = script, info
			}
		}
	}
	return ch, true, core.GoOn
}
