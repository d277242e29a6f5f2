// Package userdir is lighttpd's mod_userdir: "/~user/rest" is served from
// the user's home directory + userdir.path (or, with userdir.basepath, from
// basepath + [first letter] + user + userdir.path, without asking the
// password database).
//
// As in lighttpd: the module is off until userdir.path is set (an empty
// userdir.path serves the home itself); "/~user" without the slash is
// redirected before the user is checked at all; exclude-user matches
// without case when server.force-lowercase-filenames is on, include-user
// always with case; with basepath a user name may only hold letters,
// digits, '-', '_' and '.' (not "." or "..") and the directory is not
// checked; without it the home directory + userdir.path must exist. The
// directory becomes the base of the physical path, so backends see it as
// DOCUMENT_ROOT.
package userdir

import (
	"strings"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/ascii"
	"github.com/golighty/golighty/modules/internal/vhostpath"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_userdir", New: func() core.Module { return newModule(lookupHome) }})
}

type conf struct {
	path        string
	pathSet     bool
	exclude     []string
	include     []string
	includeSet  bool // an empty include-user list lets nobody in
	basepath    string
	letterhomes bool
	active      bool
}

// Module is one loaded mod_userdir.
type Module struct {
	table *core.Table[conf]
	homes *homeCache
}

var _ core.PhysicalHook = (*Module)(nil)

func newModule(lookup func(string) (string, bool)) *Module {
	return &Module{homes: newHomeCache(lookup)}
}

// Setup binds the userdir.* keys.
func (m *Module) Setup(sc *core.SetupContext) error {
	var err error
	m.table, err = core.Bind(sc, conf{active: true}, []core.Key[conf]{
		{Name: "userdir.path", Type: core.TypeString, Bind: func(v core.Value) (func(*conf), error) {
			s := v.String()
			return func(c *conf) { c.path, c.pathSet = s, true }, nil
		}},
		{Name: "userdir.exclude-user", Type: core.TypeList, Bind: func(v core.Value) (func(*conf), error) {
			l := v.List()
			return func(c *conf) { c.exclude = l }, nil
		}},
		{Name: "userdir.include-user", Type: core.TypeList, Bind: func(v core.Value) (func(*conf), error) {
			l := v.List()
			return func(c *conf) { c.include, c.includeSet = l, true }, nil
		}},
		{Name: "userdir.basepath", Type: core.TypeString, Bind: func(v core.Value) (func(*conf), error) {
			s := v.String()
			return func(c *conf) { c.basepath = s }, nil
		}},
		{Name: "userdir.letterhomes", Type: core.TypeBool, Bind: func(v core.Value) (func(*conf), error) {
			on := v.Bool()
			return func(c *conf) { c.letterhomes = on }, nil
		}},
		{Name: "userdir.active", Type: core.TypeBool, Bind: func(v core.Value) (func(*conf), error) {
			on := v.Bool()
			return func(c *conf) { c.active = on }, nil
		}},
	})
	return err
}

// maxUser is the longest user name lighttpd looks at (its 256-byte buffer).
const maxUser = 255

// Physical maps "/~user/rest" into the user's directory.
func (m *Module) Physical(rc *core.Request) core.Result {
	p := rc.URI.Path
	if len(p) < 2 || p[0] != '/' || p[1] != '~' {
		return core.GoOn
	}
	c := m.table.Resolve(rc)
	if !c.active || !c.pathSet {
		return core.GoOn
	}
	rest := p[2:]
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		if rest == "" {
			return core.GoOn
		}
		return rc.RedirectToDirectory()
	}
	user := rest[:slash]
	if user == "" {
		return core.GoOn
	}
	if listed(c.exclude, user, rc.Conf.ForceLowercase) {
		return core.GoOn
	}
	if c.includeSet && !listed(c.include, user, false) {
		return core.GoOn
	}
	if len(user) > maxUser {
		return core.GoOn
	}
	var dir string
	if c.basepath == "" {
		home, ok := m.homes.dir(user, c.path, func(p string) error { return vhostpath.IsDir(rc, p) })
		if !ok {
			return core.GoOn
		}
		dir = home
	} else {
		if !validUser(user) {
			return core.GoOn
		}
		if rc.Conf.ForceLowercase {
			user = strings.ToLower(user)
		}
		dir = c.basepath
		if c.letterhomes {
			if user[0] == '.' {
				return core.GoOn
			}
			dir = vhostpath.Join(dir, user[:1])
		}
		dir = vhostpath.Join(vhostpath.Join(dir, user), c.path)
	}
	rc.Phys.BasePath = dir
	path := vhostpath.WithSlash(dir)
	if rel := rc.Phys.RelPath; len(rel) > 2 {
		if i := strings.IndexByte(rel[2:], '/'); i >= 0 {
			path += rel[2+i+1:]
		}
	}
	rc.Phys.Path = path
	return core.GoOn
}

// listed reports whether user is in the list, ignoring ASCII case when
// fold is set (lighttpd's buffer_eq_icase_slen; no Unicode folding).
func listed(l []string, user string, fold bool) bool {
	for _, s := range l {
		if s == user || (fold && ascii.EqualFold(s, user)) {
			return true
		}
	}
	return false
}

// validUser is lighttpd's guard against "/~../" with userdir.basepath:
// letters, digits, '-', '_' and '.', and not "." or "..".
func validUser(u string) bool {
	if u == "." || u == ".." {
		return false
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
