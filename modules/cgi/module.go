// Package cgi is lighttpd's mod_cgi: cgi.assign runs a file (directly or
// through an interpreter) as a CGI/1.1 script per request, with
// cgi.execute-x-only, cgi.local-redir, cgi.x-sendfile(-docroot),
// cgi.upgrade (WebSocket and other Upgrade tunnels through a script) and
// cgi.limits (read/write timeouts, a signal on client half-close).
package cgi

import (
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/lighttpdconf"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_cgi", New: func() core.Module { return &Module{} }})
}

// conf is the per-request view of the cgi.* keys.
type conf struct {
	assign     []core.KV // suffix -> interpreter ("" runs the file itself)
	xOnly      bool
	localRedir bool
	xsendfile  bool
	xsDocroots []string
	upgrade    bool
	limits     *limits
}

// limits is cgi.limits.
type limits struct {
	readTimeout  time.Duration // 0: none
	writeTimeout time.Duration
	signalFin    syscall.Signal // sent when the client half-closes; 0: none
}

// Module is one loaded mod_cgi.
type Module struct {
	table *core.Table[conf]
	// loops counts a request's local redirects (lighttpd's
	// loops_per_request, more than 5 is a 500).
	loops core.Slot[int]
	// env holds LD_PRELOAD and LD_LIBRARY_PATH of the server's
	// environment, the only variables lighttpd passes on to scripts.
	env []string
}

var _ core.SubrequestStartHook = (*Module)(nil)

// Setup binds the cgi.* keys with lighttpd's checks.
func (m *Module) Setup(sc *core.SetupContext) error {
	m.loops = core.NewSlot[int](sc)
	// The scripts' shared stdin is opened with the configuration, not by
	// the first request: a descriptor that appears under load looks like
	// a leak. Its error, if any, is the requests' to report.
	devNull()
	for _, k := range []string{"LD_PRELOAD", "LD_LIBRARY_PATH"} {
		if v, ok := os.LookupEnv(k); ok {
			m.env = append(m.env, k+"="+v)
		}
	}
	var err error
	m.table, err = core.Bind(sc, conf{}, []core.Key[conf]{
		{Name: "cgi.assign", Type: core.TypeKV, Bind: func(v core.Value) (func(*conf), error) {
			kv := v.KVs()
			return func(c *conf) { c.assign = kv }, nil
		}},
		{Name: "cgi.execute-x-only", Type: core.TypeBool, Bind: boolKey(func(c *conf, b bool) { c.xOnly = b })},
		{Name: "cgi.x-sendfile", Type: core.TypeBool, Bind: boolKey(func(c *conf, b bool) { c.xsendfile = b })},
		{Name: "cgi.x-sendfile-docroot", Type: core.TypeList, Bind: func(v core.Value) (func(*conf), error) {
			var roots []string
			for _, d := range v.List() {
				if !strings.HasPrefix(d, "/") {
					return nil, fmt.Errorf("cgi.x-sendfile-docroot paths must begin with '/'; invalid: \"%s\"", d)
				}
				d = path.Clean(d)
				if !strings.HasSuffix(d, "/") {
					d += "/"
				}
				roots = append(roots, d)
			}
			return func(c *conf) { c.xsDocroots = roots }, nil
		}},
		{Name: "cgi.local-redir", Type: core.TypeBool, Bind: boolKey(func(c *conf, b bool) { c.localRedir = b })},
		{Name: "cgi.upgrade", Type: core.TypeBool, Bind: boolKey(func(c *conf, b bool) { c.upgrade = b })},
		{Name: "cgi.limits", Type: core.TypeKVAny, Bind: func(v core.Value) (func(*conf), error) {
			l := parseLimits(v, sc)
			return func(c *conf) { c.limits = l }, nil
		}},
	})
	return err
}

func boolKey(set func(*conf, bool)) func(core.Value) (func(*conf), error) {
	return func(v core.Value) (func(*conf), error) {
		b := v.Bool()
		return func(c *conf) { set(c, b) }, nil
	}
}

// parseLimits reads cgi.limits as mod_cgi_parse_limits: keys match without
// regard to case, values are integers (a bad one counts as -1), and
// tcp-fin-propagate takes a signal name or number (SIGTERM by default).
func parseLimits(v core.Value, sc *core.SetupContext) *limits {
	l := &limits{}
	for _, e := range v.Elements() {
		n := int64(-1)
		switch e.Value.Kind {
		case lighttpdconf.KindInteger:
			n = int64(e.Value.Int)
		case lighttpdconf.KindString:
			if x, err := strconv.ParseInt(e.Value.Str, 10, 32); err == nil {
				n = x
			}
		}
		switch strings.ToLower(e.Key) {
		case "read-timeout":
			l.readTimeout = time.Duration(max(n, 0)) * time.Second
		case "write-timeout":
			l.writeTimeout = time.Duration(max(n, 0)) * time.Second
		case "tcp-fin-propagate":
			sig := syscall.Signal(n)
			if n == -1 {
				sig = syscall.SIGTERM
				if e.Value.Kind == lighttpdconf.KindString {
					sig = signalByName(strings.ToUpper(e.Value.Str))
				}
			}
			l.signalFin = sig
		default:
			sc.Warn(e.Value.Pos, "unrecognized cgi.limits param: %s", e.Key)
		}
	}
	return l
}

// signalByName maps "TERM" or "SIGTERM" to its signal; unknown names give
// SIGTERM, as lighttpd.
func signalByName(s string) syscall.Signal {
	s = strings.TrimPrefix(s, "SIG")
	sigs := map[string]syscall.Signal{
		"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "ILL": syscall.SIGILL,
		"TRAP": syscall.SIGTRAP, "ABRT": syscall.SIGABRT, "BUS": syscall.SIGBUS, "FPE": syscall.SIGFPE,
		"KILL": syscall.SIGKILL, "USR1": syscall.SIGUSR1, "SEGV": syscall.SIGSEGV, "USR2": syscall.SIGUSR2,
		"PIPE": syscall.SIGPIPE, "ALRM": syscall.SIGALRM, "TERM": syscall.SIGTERM, "CHLD": syscall.SIGCHLD,
		"CONT": syscall.SIGCONT, "URG": syscall.SIGURG, "XCPU": syscall.SIGXCPU, "XFSZ": syscall.SIGXFSZ,
		"WINCH": syscall.SIGWINCH, "POLL": syscall.SIGPOLL, "IO": syscall.SIGIO,
	}
	if sig, ok := sigs[s]; ok {
		return sig
	}
	return syscall.SIGTERM
}

// SubrequestStart claims requests whose physical path ends with a
// cgi.assign key (case-sensitive, first match in written order) and names
// a regular file (executable by someone, with cgi.execute-x-only).
func (m *Module) SubrequestStart(rc *core.Request) core.Result {
	if rc.Handler != nil {
		return core.GoOn
	}
	c := m.table.Resolve(rc)
	if len(c.assign) == 0 {
		return core.GoOn
	}
	p := rc.Phys.Path
	var interp string
	found := false
	for _, kv := range c.assign {
		if strings.HasSuffix(p, kv.Key) {
			interp, found = kv.Value, true
			break
		}
	}
	if !found {
		return core.GoOn
	}
	e, err := rc.Stat(p)
	if err != nil || !e.IsRegular() {
		return core.GoOn
	}
	if c.xOnly && e.Mode.Perm()&0o111 == 0 {
		return core.GoOn
	}
	rc.SetHandler("mod_cgi", &handler{m: m, conf: c, interp: interp})
	return core.GoOn
}

// InlineHooks marks the module for HTTP/2 requests on the reader
// (core.InlineHooks): its hook only matches (its handler runs off the
// reader).
func (*Module) InlineHooks() {}
