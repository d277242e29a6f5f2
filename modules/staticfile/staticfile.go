// Package staticfile is lighttpd's mod_staticfile: it answers GET, HEAD,
// QUERY and POST for the physical path with the core's file sender, unless
// the extension is excluded or PATH_INFO is refused.
package staticfile

import (
	"strings"

	"github.com/golighty/golighty/core"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_staticfile", New: func() core.Module { return &Module{} }})
}

type conf struct {
	excludeExt      []string
	disablePathinfo bool
}

// Module is one loaded mod_staticfile.
type Module struct{ table *core.Table[conf] }

var (
	_ core.SubrequestStartHook = (*Module)(nil)
	_ core.Handler             = (*Module)(nil)
)

// Setup binds static-file.exclude-extensions and static-file.disable-pathinfo
// (static-file.etags is read by the core's file sender).
func (m *Module) Setup(sc *core.SetupContext) error {
	var err error
	m.table, err = core.Bind(sc, conf{}, []core.Key[conf]{
		{Name: "static-file.exclude-extensions", Type: core.TypeList, Bind: func(v core.Value) (func(*conf), error) {
			l := v.List()
			return func(c *conf) { c.excludeExt = l }, nil
		}},
		{Name: "static-file.disable-pathinfo", Type: core.TypeBool, Bind: func(v core.Value) (func(*conf), error) {
			b := v.Bool()
			return func(c *conf) { c.disablePathinfo = b }, nil
		}},
	})
	return err
}

// SubrequestStart claims the request when it is a static file to serve.
func (m *Module) SubrequestStart(rc *core.Request) core.Result {
	if rc.Handler != nil {
		return core.GoOn
	}
	switch rc.Method {
	case "GET", "HEAD", "QUERY", "POST":
	default:
		return core.GoOn
	}
	c := m.table.Resolve(rc)
	if why := refuse(c, rc.PathInfo, rc.Phys.Path); why != "" {
		if rc.Conf.LogRequestHandling {
			rc.Logf("-- NOT handling file as static file, %s forbidden", why)
		}
		return core.GoOn
	}
	rc.SetHandler("mod_staticfile", m)
	return core.GoOn
}

// refuse returns why lighttpd would not serve the path as a static file.
func refuse(c conf, pathInfo, path string) string {
	if c.disablePathinfo && pathInfo != "" {
		return "pathinfo"
	}
	for _, ext := range c.excludeExt {
		if strings.HasSuffix(path, ext) {
			return "extension"
		}
	}
	return ""
}

// Serve sends the file.
func (m *Module) Serve(rc *core.Request) core.Result {
	return rc.SendFile(rc.Phys.Path)
}

// InlineHooks marks the module for HTTP/2 requests on the reader
// (core.InlineHooks): its hook only claims files.
func (*Module) InlineHooks() {}

// InlineHandler: serving a file waits for nothing but the file system
// (core.InlineHandler); HTTP/2 flow control is waited for off the reader.
func (*Module) InlineHandler() {}
