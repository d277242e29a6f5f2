// Package indexfile is lighttpd's mod_indexfile: for a URL path ending in
// "/", the first existing entry of index-file.names (old name
// server.indexfiles) is appended to the URL and physical paths.
package indexfile

import (
	"errors"
	"io/fs"
	"strings"
	"syscall"

	"github.com/golighty/golighty/core"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_indexfile", New: func() core.Module { return &Module{} }})
}

type conf struct{ names []string }

// Module is one loaded mod_indexfile.
type Module struct{ table *core.Table[conf] }

var _ core.SubrequestStartHook = (*Module)(nil)

// Setup binds index-file.names and its old spelling server.indexfiles.
func (m *Module) Setup(sc *core.SetupContext) error {
	names := func(v core.Value) (func(*conf), error) {
		l := v.List()
		return func(c *conf) { c.names = l }, nil
	}
	var err error
	m.table, err = core.Bind(sc, conf{}, []core.Key[conf]{
		{Name: "index-file.names", Type: core.TypeList, Bind: names},
		{Name: "server.indexfiles", Type: core.TypeList, Bind: names},
	})
	return err
}

// SubrequestStart tries the index names in order (behaviors.md §4.2).
func (m *Module) SubrequestStart(rc *core.Request) core.Result {
	if rc.Handler != nil || !strings.HasSuffix(rc.URI.Path, "/") {
		return core.GoOn
	}
	c := m.table.Resolve(rc)
	if len(c.names) == 0 {
		return core.GoOn
	}
	if rc.Conf.LogRequestHandling {
		rc.Logf("-- handling the request as Indexfile")
		rc.Logf("URI          : %s", rc.URI.Path)
	}
	for _, name := range c.names {
		if name == "" {
			continue
		}
		var candidate string
		if name[0] == '/' {
			candidate = joinSlash(rc.Phys.DocRoot, name)
		} else {
			candidate = joinSlash(rc.Phys.Path, name)
		}
		if _, err := rc.Stat(candidate); err != nil {
			switch {
			case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
				continue
			case errors.Is(err, fs.ErrPermission):
				return rc.Status(403)
			}
			rc.Logf("index file error for request: %s -> %s: %v", rc.URI.Path, rc.Phys.Path, err)
			return rc.Status(500)
		}
		if name[0] == '/' {
			// An absolute name is an index generator below the document
			// root: it replaces the URL path.
			rc.Env.Set("PATH_TRANSLATED_DIRINDEX", rc.Phys.Path)
			rc.URI.Path = name
		} else {
			rc.URI.Path += name
		}
		rc.Phys.Path = candidate
		return core.GoOn
	}
	return core.GoOn
}

// joinSlash appends name to dir with exactly one slash between them.
func joinSlash(dir, name string) string {
	dir = strings.TrimSuffix(dir, "/")
	return dir + "/" + strings.TrimPrefix(name, "/")
}

// InlineHooks marks the module for HTTP/2 requests on the reader
// (core.InlineHooks): its hook only stats the candidate names.
func (*Module) InlineHooks() {}
