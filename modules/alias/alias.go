// Package alias is lighttpd's mod_alias: alias.url maps URL-path prefixes to
// directories outside the document root.
package alias

import (
	"fmt"
	"strings"

	"github.com/golighty/golighty/core"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_alias", New: func() core.Module { return &Module{} }})
}

type conf struct{ aliases []core.KV }

// Module is one loaded mod_alias.
type Module struct{ table *core.Table[conf] }

var _ core.PhysicalHook = (*Module)(nil)

// Setup binds alias.url and refuses lists where a key can never match
// because an earlier key is its prefix (lighttpd does the same).
func (m *Module) Setup(sc *core.SetupContext) error {
	var err error
	m.table, err = core.Bind(sc, conf{}, []core.Key[conf]{
		{Name: "alias.url", Type: core.TypeKV, Bind: func(v core.Value) (func(*conf), error) {
			kv := v.KVs()
			if err := checkOrder(kv); err != nil {
				return nil, err
			}
			return func(c *conf) { c.aliases = kv }, nil
		}},
	})
	return err
}

func checkOrder(kv []core.KV) error {
	for j := range kv {
		for k := j + 1; k < len(kv); k++ {
			if strings.HasPrefix(kv[k].Key, kv[j].Key) {
				return fmt.Errorf("alias.url: `%s' will never match as `%s' matched first", kv[k].Key, kv[j].Key)
			}
		}
	}
	return nil
}

// Physical replaces the matched prefix of the URL part of the physical path
// by the alias target, which also becomes the base directory.
func (m *Module) Physical(rc *core.Request) core.Result {
	c := m.table.Resolve(rc)
	if len(c.aliases) == 0 {
		return core.GoOn
	}
	newPath, base, status := remap(c.aliases, rc.Phys.Path, rc.Phys.BasePath, rc.Conf.ForceLowercase)
	if status != 0 {
		return rc.Status(status)
	}
	if newPath != "" {
		rc.Phys.Path, rc.Phys.BasePath = newPath, base
	}
	return core.GoOn
}

// remap applies the first matching alias to path (whose part after basedir
// is the URL path). It returns "" when nothing matched, or status 403 for the
// traversal lighttpd guards against: a key without trailing slash, a target
// with one, and the URL continuing with "." or ".." then "/" or its end
// ("/icons.." against "/icons" => "/usr/share/icons/").
func remap(aliases []core.KV, path, basedir string, fold bool) (string, string, int) {
	base := strings.TrimSuffix(basedir, "/")
	if len(path) == 0 || len(path) < len(base) {
		return "", "", 0
	}
	uri := path[len(base):]
	for _, a := range aliases {
		k := a.Key
		if len(k) > len(uri) {
			continue
		}
		if !(uri[:len(k)] == k || (fold && strings.EqualFold(uri[:len(k)], k))) {
			continue
		}
		rest := uri[len(k):]
		if strings.HasPrefix(rest, ".") {
			s := rest[1:]
			s = strings.TrimPrefix(s, ".")
			if (s == "" || s[0] == '/') && k != "" && k[len(k)-1] != '/' && strings.HasSuffix(a.Value, "/") {
				return "", "", 403
			}
		}
		return a.Value + rest, a.Value, 0
	}
	return "", "", 0
}

// InlineHooks marks the module for HTTP/2 requests on the reader
// (core.InlineHooks): its hook only maps the path.
func (*Module) InlineHooks() {}
