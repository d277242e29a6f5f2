// Package ssi is lighttpd's mod_ssi: server-side includes in files whose
// name ends with an ssi.extension (include, echo, fsize, flastmod, config,
// set, printenv, exec and if/elif/else/endif), with ssi.content-type,
// ssi.conditional-requests, ssi.exec and ssi.recursion-max.
package ssi

import (
	"github.com/golighty/golighty/core"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_ssi", New: func() core.Module { return &Module{} }})
}

// conf is the per-request view of the ssi.* keys.
type conf struct {
	extensions   []string
	contentType  string // "" = text/html
	conditional  bool
	exec         bool
	recursionMax int
}

// Module is one loaded mod_ssi.
type Module struct {
	table *core.Table[conf]
}

var _ core.SubrequestStartHook = (*Module)(nil)

// Setup binds the ssi.* keys (ssi.exec is on by default, as in lighttpd).
func (m *Module) Setup(sc *core.SetupContext) error {
	var err error
	m.table, err = core.Bind(sc, conf{exec: true}, []core.Key[conf]{
		{Name: "ssi.extension", Type: core.TypeList, Bind: func(v core.Value) (func(*conf), error) {
			l := v.List()
			return func(c *conf) { c.extensions = l }, nil
		}},
		{Name: "ssi.content-type", Type: core.TypeString, Bind: func(v core.Value) (func(*conf), error) {
			s := v.String()
			return func(c *conf) { c.contentType = s }, nil
		}},
		{Name: "ssi.conditional-requests", Type: core.TypeBool, Bind: func(v core.Value) (func(*conf), error) {
			b := v.Bool()
			return func(c *conf) { c.conditional = b }, nil
		}},
		{Name: "ssi.exec", Type: core.TypeBool, Bind: func(v core.Value) (func(*conf), error) {
			b := v.Bool()
			return func(c *conf) { c.exec = b }, nil
		}},
		{Name: "ssi.recursion-max", Type: core.TypeShort, Bind: func(v core.Value) (func(*conf), error) {
			n := int(v.Int())
			return func(c *conf) { c.recursionMax = n }, nil
		}},
	})
	return err
}

// SubrequestStart claims files whose physical path ends with one of the
// ssi.extension values (case-sensitive).
func (m *Module) SubrequestStart(rc *core.Request) core.Result {
	if rc.Handler != nil {
		return core.GoOn
	}
	c := m.table.Resolve(rc)
	for _, ext := range c.extensions {
		if len(ext) <= len(rc.Phys.Path) && rc.Phys.Path[len(rc.Phys.Path)-len(ext):] == ext {
			rc.SetHandler("mod_ssi", &handler{conf: c})
			return core.GoOn
		}
	}
	return core.GoOn
}
