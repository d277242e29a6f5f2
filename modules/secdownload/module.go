package secdownload

import (
	"time"

	"github.com/golighty/golighty/core"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_secdownload", New: func() core.Module { return &Module{} }})
}

// Module is one loaded mod_secdownload: lighttpd 1.4.67's physical-path
// hook, kept alive in golighty after lighttpd 1.4.68 dropped it.
type Module struct{ table *core.Table[Config] }

var _ core.PhysicalHook = (*Module)(nil)

// Setup binds the secdownload.* keys. An empty string means unset, as in
// lighttpd; an unknown algorithm is a load error.
func (m *Module) Setup(sc *core.SetupContext) error {
	str := func(set func(*Config, string)) func(core.Value) (func(*Config), error) {
		return func(v core.Value) (func(*Config), error) {
			s := v.String()
			return func(c *Config) { set(c, s) }, nil
		}
	}
	var err error
	m.table, err = core.Bind(sc, Config{Timeout: DefaultTimeout}, []core.Key[Config]{
		{Name: "secdownload.secret", Type: core.TypeString, Bind: str(func(c *Config, s string) { c.Secret = []byte(s) })},
		{Name: "secdownload.document-root", Type: core.TypeString, Bind: str(func(c *Config, s string) { c.DocumentRoot = s })},
		{Name: "secdownload.uri-prefix", Type: core.TypeString, Bind: str(func(c *Config, s string) { c.URIPrefix = s })},
		{Name: "secdownload.timeout", Type: core.TypeInt, Bind: func(v core.Value) (func(*Config), error) {
			n := v.Int()
			return func(c *Config) { c.Timeout = n }, nil
		}},
		{Name: "secdownload.algorithm", Type: core.TypeString, Bind: func(v core.Value) (func(*Config), error) {
			if v.String() == "" {
				return func(c *Config) { c.Algorithm = AlgorithmUnset }, nil
			}
			a, err := ParseAlgorithm(v.String())
			if err != nil {
				return nil, err
			}
			return func(c *Config) { c.Algorithm = a }, nil
		}},
		{Name: "secdownload.path-segments", Type: core.TypeShort, Bind: func(v core.Value) (func(*Config), error) {
			n := int(v.Int())
			return func(c *Config) { c.PathSegments = n }, nil
		}},
		{Name: "secdownload.hash-querystr", Type: core.TypeBool, Bind: func(v core.Value) (func(*Config), error) {
			b := v.Bool()
			return func(c *Config) { c.HashQueryString = b }, nil
		}},
	})
	return err
}

// Physical verifies a signed link and maps it below secdownload.document-root;
// the core's path check and mod_staticfile then serve the file.
func (m *Module) Physical(rc *core.Request) core.Result {
	if rc.Handler != nil {
		return core.GoOn
	}
	c := m.table.Resolve(rc)
	rel, status, handled, reason := c.Verify(rc.URI.Path, rc.URI.Query, time.Now())
	if !handled {
		return core.GoOn
	}
	if status != 0 {
		rc.Logf("mod_secdownload: %s: %s", reason, rc.URI.Path)
		return rc.Status(status)
	}
	rc.Phys.DocRoot = c.DocumentRoot
	rc.Phys.BasePath = c.DocumentRoot
	rc.Phys.RelPath = rel
	if len(c.DocumentRoot) > 0 && c.DocumentRoot[len(c.DocumentRoot)-1] == '/' {
		rc.Phys.Path = c.DocumentRoot + rel[1:]
	} else {
		rc.Phys.Path = c.DocumentRoot + rel
	}
	return core.GoOn
}

// InlineHooks marks the module for HTTP/2 requests on the reader
// (core.InlineHooks): its hook only checks a hash and a time.
func (*Module) InlineHooks() {}
