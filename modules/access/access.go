// Package access is lighttpd's mod_access: url.access-deny and
// url.access-allow, suffix matches against the decoded URL path.
package access

import (
	"strings"

	"github.com/golighty/golighty/core"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_access", New: func() core.Module { return &Module{} }})
}

type conf struct {
	deny, allow []string
}

// Module is one loaded mod_access.
type Module struct {
	table *core.Table[conf]
}

var (
	_ core.URICleanHook        = (*Module)(nil)
	_ core.SubrequestStartHook = (*Module)(nil)
)

// Setup binds url.access-deny and url.access-allow.
func (m *Module) Setup(sc *core.SetupContext) error {
	var err error
	m.table, err = core.Bind(sc, conf{}, []core.Key[conf]{
		{Name: "url.access-deny", Type: core.TypeList, Bind: func(v core.Value) (func(*conf), error) {
			l := v.List()
			return func(c *conf) { c.deny = l }, nil
		}},
		{Name: "url.access-allow", Type: core.TypeList, Bind: func(v core.Value) (func(*conf), error) {
			l := v.List()
			return func(c *conf) { c.allow = l }, nil
		}},
	})
	return err
}

// URIClean checks the decoded URL path.
func (m *Module) URIClean(rc *core.Request) core.Result { return m.check(rc) }

// SubrequestStart checks again after mod_indexfile appended an index name.
func (m *Module) SubrequestStart(rc *core.Request) core.Result { return m.check(rc) }

func (m *Module) check(rc *core.Request) core.Result {
	c := m.table.Resolve(rc)
	if allowed(c, rc.URI.Path, rc.Conf.ForceLowercase) {
		return core.GoOn
	}
	if rc.Conf.LogRequestHandling {
		if len(c.allow) > 0 {
			rc.Logf("url denied as failed to match any from access_allow %s", rc.URI.Path)
		} else {
			rc.Logf("url denied as we match access_deny %s", rc.URI.Path)
		}
	}
	rc.SetHandler("", nil)
	return rc.Status(403)
}

// allowed applies lighttpd's rule: a non-empty allow list wins over deny.
// An empty string in a list matches every path ("" is a suffix of all).
func allowed(c conf, path string, foldCase bool) bool {
	if len(c.allow) > 0 {
		return matchSuffix(c.allow, path, foldCase)
	}
	return !matchSuffix(c.deny, path, foldCase)
}

func matchSuffix(list []string, path string, foldCase bool) bool {
	for _, s := range list {
		if len(s) > len(path) {
			continue
		}
		tail := path[len(path)-len(s):]
		if tail == s || (foldCase && strings.EqualFold(tail, s)) {
			return true
		}
	}
	return false
}

// InlineHooks marks the module for HTTP/2 requests on the reader
// (core.InlineHooks): its hooks only match the URL.
func (*Module) InlineHooks() {}
