// Package magnet is lighttpd's mod_magnet: Lua scripts (on
// github.com/yuin/gopher-lua, a Lua 5.1 VM in Go) that read and change a
// request at three points of its handling and may answer it themselves,
// with lighttpd 1.4.69's lighty.* API.
package magnet

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/golighty/golighty/core"
	lua "github.com/yuin/gopher-lua"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_magnet", New: func() core.Module { return &Module{} }})
}

// Stages a script runs at (lighttpd's p->conf.stage).
const (
	stageResponseStart = -1
	stagePhysical      = 0
	stageRawURL        = 1
)

// restartRequest is lighty.RESTART_REQUEST.
const restartRequest = 99

// maxRestarts: a request restarted this many times by scripts is dropped
// (lighttpd counts in the _L_MAGNET_RESTART environment variable).
const maxRestarts = 10

type conf struct {
	rawURL, physical, responseStart []*script
}

// Module is one loaded mod_magnet. Scripts are compiled once per load and
// again when their file changes.
type Module struct {
	table   *core.Table[conf]
	scripts map[string]*script
}

var (
	_ core.URICleanHook      = (*Module)(nil)
	_ core.PhysicalHook      = (*Module)(nil)
	_ core.ResponseStartHook = (*Module)(nil)
	_ core.Closer            = (*Module)(nil)
)

// Setup binds the magnet.attract-*-to keys: lists of script paths.
func (m *Module) Setup(sc *core.SetupContext) error {
	m.scripts = map[string]*script{}
	list := func(key string, set func(*conf, []*script)) core.Key[conf] {
		return core.Key[conf]{Name: key, Type: core.TypeList, Bind: func(v core.Value) (func(*conf), error) {
			var ss []*script
			for _, p := range v.List() {
				if strings.TrimSpace(p) == "" {
					return nil, fmt.Errorf("unexpected (blank) value for %s; expected list of \"scriptpath\"", key)
				}
				s := m.scripts[p]
				if s == nil {
					s = newScript(p)
					m.scripts[p] = s
				}
				ss = append(ss, s)
			}
			return func(c *conf) { set(c, ss) }, nil
		}}
	}
	var err error
	m.table, err = core.Bind(sc, conf{}, []core.Key[conf]{
		list("magnet.attract-raw-url-to", func(c *conf, s []*script) { c.rawURL = s }),
		list("magnet.attract-physical-path-to", func(c *conf, s []*script) { c.physical = s }),
		list("magnet.attract-response-start-to", func(c *conf, s []*script) { c.responseStart = s }),
	})
	return err
}

// Close drops the Lua states of the retired configuration.
func (m *Module) Close() error {
	for _, s := range m.scripts {
		s.close()
	}
	return nil
}

// URIClean runs magnet.attract-raw-url-to (after the URL was cleaned, as
// in lighttpd 1.4.69).
func (m *Module) URIClean(rc *core.Request) core.Result {
	return m.attractAll(rc, m.table.Resolve(rc).rawURL, stageRawURL)
}

// Physical runs magnet.attract-physical-path-to.
func (m *Module) Physical(rc *core.Request) core.Result {
	return m.attractAll(rc, m.table.Resolve(rc).physical, stagePhysical)
}

// ResponseStart runs magnet.attract-response-start-to.
func (m *Module) ResponseStart(rc *core.Request) core.Result {
	return m.attractAll(rc, m.table.Resolve(rc).responseStart, stageResponseStart)
}

// attractAll runs the scripts in order while each lets the request go on.
func (m *Module) attractAll(rc *core.Request, scripts []*script, stage int) core.Result {
	for _, s := range scripts {
		if res := attract(rc, s, stage); res != core.GoOn {
			return res
		}
	}
	return core.GoOn
}

// attract runs one script and acts on what it returned: nothing or 0 to go
// on, a status >= 200 to answer, 1xx to go on (lighttpd sends it as an
// interim response), lighty.RESTART_REQUEST to run the request again.
func attract(rc *core.Request, s *script, stage int) core.Result {
	st, err := s.acquire(rc)
	if err != nil {
		rc.Logf("loading script %s failed: %s", s.path, err)
		if stage >= stagePhysical {
			rc.Resp.Status = 500
		}
		return core.Finished
	}
	ret, err := st.run(rc, stage)
	defer s.release(st, err)
	if err != nil {
		for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
			rc.Logf("lua: %s", line)
		}
		st.reset()
		if stage >= stagePhysical {
			rc.Resp.Status = 500
			return core.Finished
		}
		return core.GoOn
	}
	defer st.reset()
	code, ok := returnCode(ret)
	if !ok {
		rc.Logf("lua_pcall(): unexpected non-integer return type: %s", ret.Type().String())
		return core.GoOn
	}
	st.copyLegacyHeaders()
	switch {
	case code >= 200:
		rc.Resp.Status = code
		st.attachLegacyContent()
		switch n, has := rc.Resp.BodyLen(); {
		case has && n > 0:
			// lighttpd makes mod_magnet the handler of a response with a
			// body: no error document replaces it.
			rc.Resp.Dynamic = true
		case code >= 400:
			// Without a body lighttpd's error document answers, and the
			// script's headers go with the rest.
			rc.Resp.ClearBody()
		default:
			rc.Resp.SetBody(nil)
		}
		return core.Finished
	case code >= 100:
		// Interim responses are not sent; the request goes on.
		return core.GoOn
	case code == restartRequest:
		return restart(rc, s, st)
	}
	return core.GoOn
}

// restart re-runs the request from the (possibly changed) request.uri, as
// lighttpd's HANDLER_COMEBACK; after the physical path is known it just
// goes on with the path the script left, as lighttpd does.
func restart(rc *core.Request, s *script, st *state) core.Result {
	n, _ := strconv.Atoi(rc.Env.Get("_L_MAGNET_RESTART"))
	n++
	rc.Env.Set("_L_MAGNET_RESTART", strconv.Itoa(n))
	if n >= maxRestarts {
		rc.Logf("too many request restarts (infinite loop?) for %s", s.path)
		return core.Drop
	}
	if rc.Phys.Path != "" {
		return core.GoOn
	}
	if st.host != "" {
		rc.URI.Authority = st.host
	}
	res, err := rc.Rewrite(rc.URI.Target)
	if err != nil {
		rc.KeepAlive = false
		rc.Resp.Status = 400
		return core.Finished
	}
	return res
}

// returnCode reads a script's return value as lighttpd's lua_tointegerx:
// nil is 0, numbers and numeric strings with an integral value count.
func returnCode(v lua.LValue) (int, bool) {
	var f float64
	switch x := v.(type) {
	case *lua.LNilType:
		return 0, true
	case lua.LNumber:
		f = float64(x)
	case lua.LString:
		n, err := strconv.ParseFloat(strings.TrimSpace(string(x)), 64)
		if err != nil {
			return 0, false
		}
		f = n
	default:
		return 0, false
	}
	if f != math.Trunc(f) || f > math.MaxInt32 || f < math.MinInt32 {
		return 0, false
	}
	return int(f), true
}
