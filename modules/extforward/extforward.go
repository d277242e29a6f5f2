// Package extforward is lighttpd's mod_extforward: behind trusted proxies,
// the client address (and scheme) of a request is taken from what the proxy
// reports instead of the connecting socket, so $HTTP["remoteip"], the access
// log, REMOTE_ADDR/REMOTE_PORT and HTTPS/REQUEST_SCHEME name the real client.
//
// Two sources, as in lighttpd 1.4.69:
//   - per request, a header (extforward.headers: X-Forwarded-For and other
//     lists, or Forwarded) from a trusted peer; the address lasts until the
//     request ends, the next request on the connection starts from the
//     connection's address again;
//   - per connection, a PROXY protocol header (extforward.hap-PROXY, v1 or
//     v2) read before the first request from a trusted peer; its address
//     lasts for the connection, and headers are still applied on top of it
//     when that address is itself a trusted proxy.
//
// An untrusted peer's headers are ignored; on a hap-PROXY socket its bytes
// are read as HTTP (so a PROXY line is a 400). A trusted peer that sends no
// valid PROXY header is disconnected.
package extforward

import (
	"errors"
	"io"
	"net/netip"
	"strings"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/proxyhdr"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_extforward", New: func() core.Module { return &Module{} }})
}

// header is one entry of extforward.headers.
type header struct {
	name      string
	forwarded bool // RFC 7239 Forwarded, else a list of addresses
}

type conf struct {
	fwd             *forwarder // nil: extforward.forwarder not set, nothing to do
	headers         []header   // nil or empty: no header is read
	hapProxy        bool
	sslClientVerify bool
}

// Module is one loaded mod_extforward.
type Module struct {
	table *core.Table[conf]
	// done marks a request whose headers were applied, so an internal
	// restart (rewrite, error handler) does not apply them again, as in
	// lighttpd.
	done core.Slot[struct{}]
}

var (
	_ core.ConnStartHook = (*Module)(nil)
	_ core.URIRawHook    = (*Module)(nil)
)

// defaultHeaders are read when the global block sets no extforward.headers
// and does not enable hap-PROXY.
var defaultHeaders = []header{{name: "X-Forwarded-For"}, {name: "Forwarded-For"}}

var doneMark struct{}

// Setup binds the five extforward.* keys.
func (m *Module) Setup(sc *core.SetupContext) error {
	m.done = core.NewSlot[struct{}](sc)
	def := conf{}
	// lighttpd's defaults: X-Forwarded-For, Forwarded-For unless the global
	// block lists headers or enables hap-PROXY. An empty global list also
	// means the defaults; an empty list in a condition means none.
	g := sc.Config().Global
	globalHeaders, hasHeaders := g.Get("extforward.headers")
	hap := false
	if e, ok := g.Get("extforward.hap-PROXY"); ok {
		hap, _ = core.ParseBool(e.Value)
	}
	if !hap {
		def.headers = defaultHeaders
	}
	var err error
	m.table, err = core.Bind(sc, def, []core.Key[conf]{
		{Name: "extforward.forwarder", Type: core.TypeKV, Bind: func(v core.Value) (func(*conf), error) {
			f, err := parseForwarder(v.KVs(), func(format string, args ...any) { sc.Warn(v.Pos, format, args...) })
			if err != nil {
				return nil, err
			}
			return func(c *conf) { c.fwd = f }, nil
		}},
		{Name: "extforward.headers", Type: core.TypeList, Bind: func(v core.Value) (func(*conf), error) {
			hs := make([]header, len(v.List()))
			for i, n := range v.List() {
				hs[i] = header{name: n, forwarded: strings.EqualFold(n, "Forwarded")}
			}
			if hasHeaders && v.Pos == globalHeaders.Value.Pos && len(hs) == 0 {
				return nil, nil // empty in the global block: keep the defaults
			}
			return func(c *conf) { c.headers = hs }, nil
		}},
		{Name: "extforward.params", Type: core.TypeKVAny, Bind: bindParams},
		{Name: "extforward.hap-PROXY", Type: core.TypeBool, Bind: func(v core.Value) (func(*conf), error) {
			on := v.Bool()
			return func(c *conf) { c.hapProxy = on }, nil
		}},
		{Name: "extforward.hap-PROXY-ssl-client-verify", Type: core.TypeBool, Bind: func(v core.Value) (func(*conf), error) {
			on := v.Bool()
			return func(c *conf) { c.sslClientVerify = on }, nil
		}},
	})
	return err
}

// bindParams checks extforward.params with lighttpd's messages. lighttpd
// 1.4.56 to 1.4.71 then never applies them (the parsed value is dropped
// before it reaches a request), so host= and remote_user= of a Forwarded
// header are ignored there; golighty ignores them too, so both servers see
// the same Host and REMOTE_USER.
func bindParams(v core.Value) (func(*conf), error) {
	for _, e := range v.Elements() {
		if e.Key != "host" && e.Key != "remote_user" {
			return nil, errors.New("extforward.params keys must be one of: host, remote_user, but not: " + e.Key)
		}
		if _, ok := core.ParseBool(e.Value); !ok {
			return nil, errors.New("extforward.params values must be one of: 0, 1, enable, disable; error for key: " + e.Key)
		}
	}
	return nil, nil
}

// ConnStart reads the PROXY header of a trusted peer on a hap-PROXY socket
// (lighttpd's handle_connection_accept). Only $SERVER["socket"] and
// $HTTP["remoteip"] conditions are known at this point.
func (m *Module) ConnStart(rc *core.Request) bool {
	c := m.table.Resolve(rc)
	if !c.hapProxy || c.fwd == nil || !c.fwd.connTrusted(rc.Conn.RemoteIP) {
		return true
	}
	h, err := rc.ReadProxyHeader()
	if err != nil {
		if errors.Is(err, proxyhdr.ErrInvalid) || errors.Is(err, proxyhdr.ErrTooLarge) || errors.Is(err, io.ErrUnexpectedEOF) {
			rc.Logf("hap-PROXY proto received invalid/unsupported request")
		} else {
			rc.Logf("hap-PROXY recv(): %v", err)
		}
		return false
	}
	if h.HasAddr {
		rc.SetRemoteAddr(h.Addr, h.Port)
	}
	if h.TLS {
		rc.SetScheme("https")
	}
	return true
}

// URIRaw applies the PROXY header's variables and, from a trusted peer, the
// first configured forwarding header present (lighttpd's uri_raw handler).
func (m *Module) URIRaw(rc *core.Request) core.Result {
	if m.done.Get(rc) != nil {
		return core.GoOn
	}
	m.done.Set(rc, &doneMark)
	if h := rc.Conn.Proxy; h != nil {
		for _, v := range h.Env {
			rc.Env.Set(v.Name, v.Value)
		}
	}
	c := m.table.Resolve(rc)
	if c.fwd == nil {
		return core.GoOn
	}
	if c.sslClientVerify {
		m.clientVerify(rc)
	}
	for _, h := range c.headers {
		v := requestHeader(&rc.Header, h.name)
		if v == "" {
			continue
		}
		if !c.fwd.connTrusted(rc.Conn.RemoteIP) {
			return core.GoOn
		}
		if h.forwarded {
			return applyForwarded(rc, c.fwd, v)
		}
		applyList(rc, c.fwd, v)
		return core.GoOn
	}
	return core.GoOn
}

// clientVerify exports the client certificate a PROXY v2 header vouched for
// (extforward.hap-PROXY-ssl-client-verify).
func (m *Module) clientVerify(rc *core.Request) {
	if h := rc.Conn.Proxy; h != nil && h.CertVerified {
		if cn, ok := h.Lookup("SSL_CLIENT_S_DN_CN"); ok {
			rc.Env.Set("SSL_CLIENT_VERIFY", "SUCCESS")
			rc.RemoteUser, rc.AuthType = cn, "SSL_CLIENT_VERIFY"
			return
		}
	}
	rc.Env.Set("SSL_CLIENT_VERIFY", "NONE")
}

// applyList takes the client from X-Forwarded-For or a like header, and the
// scheme from X-Forwarded-Proto when the address was taken.
func applyList(rc *core.Request, f *forwarder, v string) {
	addr, ok := lastUntrusted(v, f)
	if !ok || !setAddr(rc, addr) {
		return
	}
	if proto := requestHeader(&rc.Header, "X-Forwarded-Proto"); proto != "" {
		setProto(rc, proto)
	}
}

// applyForwarded takes client and scheme from a Forwarded header.
func applyForwarded(rc *core.Request, f *forwarder, v string) core.Result {
	var ps [maxFwdParams]fwdParam
	n, err := parseForwarded(v, &ps)
	if err == nil && n > 0 {
		var addr, proto string
		var ok bool
		addr, proto, ok, err = chooseForwarded(ps[:n], f)
		if ok && setAddr(rc, addr) {
			setProto(rc, proto)
		}
	}
	if err != nil {
		rc.Logf("%s", err)
		return rc.Status(400)
	}
	return core.GoOn
}

// setAddr makes addr the request's client address if it is a numeric IP.
// lighttpd also takes the inet_aton forms ("10", "127.1", octal parts),
// printed as sent: ambiguous spellings golighty does not accept from a
// header.
func setAddr(rc *core.Request, addr string) bool {
	if a, err := netip.ParseAddr(addr); err != nil || a.Zone() != "" {
		rc.Logf("could not parse ip address %s", addr)
		return false
	}
	rc.SetRemoteAddr(addr, 0)
	return true
}

// setProto applies X-Forwarded-Proto or proto=: only "http" and "https"
// (any case) change the scheme.
func setProto(rc *core.Request, proto string) {
	switch {
	case proto == "" || strings.EqualFold(proto, rc.URI.Scheme):
	case strings.EqualFold(proto, "https"):
		rc.SetScheme("https")
	case strings.EqualFold(proto, "http"):
		rc.SetScheme("http")
	}
}

// requestHeader is the value of a request header, repeated fields joined
// with ", " as lighttpd joins them; "" when absent or empty.
func requestHeader(h *core.Headers, name string) string {
	v := ""
	for i := 0; i < h.Len(); i++ {
		kv := h.At(i)
		if kv.Value == "" || !strings.EqualFold(kv.Name, name) {
			continue
		}
		if v == "" {
			v = kv.Value
		} else {
			v += ", " + kv.Value
		}
	}
	return v
}

// InlineHooks marks the module for HTTP/2 requests on the reader
// (core.InlineHooks): its hooks only read headers and addresses.
func (*Module) InlineHooks() {}
