// Package proxy is lighttpd's mod_proxy: requests forwarded to HTTP
// backends (proxy.server, balanced as the other gateways), with
// proxy.header remapping of hosts and URL paths, Forwarded and X-Forwarded-*
// headers, WebSocket and other Upgrade tunnels, and CONNECT.
package proxy

import (
	"fmt"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/lighttpdconf"
	"github.com/golighty/golighty/modules/internal/gw"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_proxy", New: func() core.Module { return &Module{} }})
}

// Forwarded parameters (proxy.forwarded).
const (
	fwdFor = 1 << iota
	fwdProto
	fwdHost
	fwdBy
	fwdRemoteUser
)

// headerOpts is proxy.header.
type headerOpts struct {
	urlPaths     []core.KV // map-urlpath
	hostsRequest []core.KV // map-host-request
	hostsResp    []core.KV // map-host-response
	forceHTTP10  bool
	httpsRemap   bool
	upgrade      bool
	connect      bool
}

// conf is the per-request view of the proxy.* keys.
type conf struct {
	gw          gw.Conf
	forwarded   uint
	header      headerOpts
	replaceHost bool
}

// Module is one loaded mod_proxy.
type Module struct {
	table *core.Table[conf]
	gw    gw.Gateway
}

var (
	_ core.URICleanHook = (*Module)(nil)
	_ core.Closer       = (*Module)(nil)
)

// keepConnDefault is how many connections per backend "keep-conn" =>
// "enable" keeps (golighty's option; lighttpd ignores the key).
const keepConnDefault = 16

// Setup binds the proxy.* keys.
func (m *Module) Setup(sc *core.SetupContext) error {
	m.gw.NoAuthorizer = true
	m.gw.Parser.KeepConnDefault = keepConnDefault
	def := conf{}
	def.header.forceHTTP10 = featureFlag(sc, "proxy.force-http10")
	keys := gw.Keys(&m.gw, sc, "proxy", func(c *conf) *gw.Conf { return &c.gw })
	keys = append(keys,
		core.Key[conf]{Name: "proxy.forwarded", Type: core.TypeKVAny, Bind: func(v core.Value) (func(*conf), error) {
			f, err := parseForwarded(v)
			if err != nil {
				return nil, err
			}
			return func(c *conf) { c.forwarded = f }, nil
		}},
		core.Key[conf]{Name: "proxy.header", Type: core.TypeKVAny, Bind: func(v core.Value) (func(*conf), error) {
			h, err := parseHeaderOpts(v)
			if err != nil {
				return nil, err
			}
			return func(c *conf) { c.header = h }, nil
		}},
		core.Key[conf]{Name: "proxy.replace-http-host", Type: core.TypeBool, Bind: func(v core.Value) (func(*conf), error) {
			b := v.Bool()
			return func(c *conf) { c.replaceHost = b }, nil
		}},
	)
	var err error
	m.table, err = gw.Bind(&m.gw, sc, def, keys)
	return err
}

// featureFlag reads a boolean of server.feature-flags.
func featureFlag(sc *core.SetupContext, name string) bool {
	for _, kv := range sc.Core().Server.FeatureFlags {
		if kv.Key == name {
			switch kv.Value {
			case "enable", "1", "true":
				return true
			}
			return false
		}
	}
	return false
}

// Close stops bin-path backends and closes kept connections.
func (m *Module) Close() error { return m.gw.Close() }

func parseForwarded(v core.Value) (uint, error) {
	var f uint
	for _, e := range v.Elements() {
		var bit uint
		switch e.Key {
		case "by":
			bit = fwdBy
		case "for":
			bit = fwdFor
		case "host":
			bit = fwdHost
		case "proto":
			bit = fwdProto
		case "remote_user":
			bit = fwdRemoteUser
		default:
			return 0, fmt.Errorf("proxy.forwarded keys must be one of: by, for, host, proto, remote_user, but not: %s", e.Key)
		}
		b, ok := core.ParseBool(e.Value)
		if !ok {
			return 0, fmt.Errorf("proxy.forwarded values must be one of: 0, 1, enable, disable; error for key: %s", e.Key)
		}
		if b {
			f |= bit
		}
	}
	return f, nil
}

func parseHeaderOpts(v core.Value) (headerOpts, error) {
	var h headerOpts
	for _, e := range v.Elements() {
		var flag *bool
		switch e.Key {
		case "https-remap":
			flag = &h.httpsRemap
		case "force-http10":
			flag = &h.forceHTTP10
		case "upgrade":
			flag = &h.upgrade
		case "connect":
			flag = &h.connect
		}
		if flag != nil {
			b, ok := core.ParseBool(e.Value)
			if !ok {
				return h, fmt.Errorf("unexpected value for proxy.header; expected \"%s\" => \"enable\" or \"disable\"", e.Key)
			}
			*flag = b
			continue
		}
		kv, ok := kvStrings(e.Value)
		if !ok {
			return h, fmt.Errorf("unexpected value for proxy.header; expected ( \"param\" => ( \"key\" => \"value\" ) ) near key %s", e.Key)
		}
		switch e.Key {
		case "map-urlpath":
			h.urlPaths = kv
		case "map-host-request":
			h.hostsRequest = kv
		case "map-host-response":
			h.hostsResp = kv
		default:
			return h, fmt.Errorf("unexpected key for proxy.header; expected ( \"param\" => ( \"key\" => \"value\" ) ) near key %s", e.Key)
		}
	}
	return h, nil
}

// kvStrings reads ( "k" => "v", ... ).
func kvStrings(v lighttpdconf.Value) ([]core.KV, bool) {
	if v.Kind != lighttpdconf.KindArray {
		return nil, false
	}
	kv := make([]core.KV, 0, len(v.Arr))
	for _, e := range v.Arr {
		if !e.HasKey || e.Value.Kind != lighttpdconf.KindString {
			return nil, false
		}
		kv = append(kv, core.KV{Key: e.Key, Value: e.Value.Str})
	}
	return kv, true
}

// URIClean takes requests whose URL path matches proxy.server (check-local
// is always off for mod_proxy). CONNECT needs proxy.header "connect".
func (m *Module) URIClean(rc *core.Request) core.Result {
	c := m.table.Resolve(rc)
	ch, ok, res := gw.Check(rc, &c.gw, true)
	if !ok {
		return res
	}
	// CONNECT needs proxy.header "connect" and a connection that can be
	// handed over (HTTP/1.x; extended CONNECT over HTTP/2 is not served).
	if rc.Method == "CONNECT" && (!c.header.connect || rc.Proto > 11) {
		rc.KeepAlive = false
		return rc.Status(405)
	}
	h := handlers.Get().(*handler)
	h.conf, h.ch = c, ch
	rc.SetHandler("mod_proxy", h)
	return core.GoOn
}

// InlineHooks marks the module for HTTP/2 requests on the reader
// (core.InlineHooks): its hook only matches (its handler runs off the
// reader).
func (*Module) InlineHooks() {}
