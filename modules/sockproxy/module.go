// Package sockproxy is lighttpd's mod_sockproxy: connections to a socket
// (typically in a $SERVER["socket"] block) are passed whole to a backend
// (sockproxy.server), bytes both ways, without any HTTP. TLS, when the
// socket has it, ends at the server.
package sockproxy

import (
	"context"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/modules/internal/gw"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_sockproxy", New: func() core.Module { return &Module{} }})
}

type conf struct{ gw gw.Conf }

// Module is one loaded mod_sockproxy.
type Module struct {
	table *core.Table[conf]
	gw    gw.Gateway
}

var (
	_ core.ConnAcceptHook = (*Module)(nil)
	_ core.Closer         = (*Module)(nil)
)

// Setup binds sockproxy.server, sockproxy.balance and sockproxy.debug
// (lighttpd has no sockproxy.map-extensions).
func (m *Module) Setup(sc *core.SetupContext) error {
	keys := gw.Keys(&m.gw, sc, "sockproxy", func(c *conf) *gw.Conf { return &c.gw })
	keys = keys[:3]
	var err error
	m.table, err = gw.Bind(&m.gw, sc, conf{}, keys)
	return err
}

// Close stops bin-path backends.
func (m *Module) Close() error { return m.gw.Close() }

// ConnAccept takes a new connection when sockproxy.server applies to it;
// the backend is matched as if the request were for "/" (so the key ""
// or "/" matches every connection).
func (m *Module) ConnAccept(rc *core.Request) core.Result {
	c := m.table.Resolve(rc)
	ch, ok, res := gw.Check(rc, &c.gw, true)
	if !ok {
		return res
	}
	rc.SetHandler("mod_sockproxy", &handler{conf: c, ch: ch})
	return core.GoOn
}

type handler struct {
	conf conf
	ch   gw.Choice
	be   gw.Backend
}

// Serve connects to the backend and passes bytes both ways until it
// closes; a connection that cannot be passed on is closed.
func (h *handler) Serve(rc *core.Request) core.Result {
	be := &h.be
	if err := gw.Connect(context.Background(), be, h.ch.Ext, h.ch.Host, h.conf.gw.Balance, &h.ch.SI, true); err != nil {
		return core.Finished
	}
	defer be.Release(false)
	client, err := rc.Tunnel()
	if err != nil {
		return core.Finished
	}
	o := &gw.TunnelOpts{
		ReadIdle:  time.Duration(rc.Conf.MaxReadIdle) * time.Second,
		WriteIdle: time.Duration(rc.Conf.MaxWriteIdle) * time.Second,
		Abort:     func() { be.Conn.Close() },
	}
	if be.Host.Conf.TCPFinPropagate {
		if cw, ok := be.Conn.(interface{ CloseWrite() error }); ok {
			o.CloseUp = cw.CloseWrite
		}
	}
	gw.Tunnel(client, be.Conn, be.Conn, o)
	return core.Finished
}
