// Package gw is the gateway logic lighttpd shares between mod_fastcgi,
// mod_scgi and mod_proxy (src/gw_backend.c): parsing the xxx.server option
// tree, the hosts and procs behind each extension or prefix, load counting,
// balancing, disabling a proc after a connect failure, and bin-path
// processes started through the spawn package.
package gw

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"syscall"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/lighttpdconf"
	"github.com/golighty/golighty/modules/internal/gw/spawn"
)

// Mode is a backend's role ("mode" option).
type Mode uint8

const (
	Responder Mode = iota
	Authorizer
)

// Balance is xxx.balance.
type Balance uint8

const (
	LeastConnection Balance = iota // "fair", "least-connection" (default)
	RoundRobin
	Hash
	Sticky
)

// ParseBalance reads an xxx.balance value. Unknown values return
// LeastConnection and an error carrying lighttpd's message, which the caller
// logs as a warning (lighttpd does not fail the load).
func ParseBalance(s string) (Balance, error) {
	switch s {
	case "", "fair", "least-connection":
		return LeastConnection, nil
	case "round-robin":
		return RoundRobin, nil
	case "hash":
		return Hash, nil
	case "sticky":
		return Sticky, nil
	}
	return LeastConnection, fmt.Errorf("xxxxx.balance has to be one of: least-connection, round-robin, hash, sticky, but not: %s", s)
}

// HostConfig is one backend of an xxx.server entry with lighttpd's
// defaults applied (config-keys.md §9).
type HostConfig struct {
	Label   string // "backend-label" (empty for an unlabeled entry)
	Pos     lighttpdconf.Pos
	Host    string // TCP host ("" for unix sockets)
	Port    int
	Socket  string // unix socket path
	BinPath string

	BinEnvironment     []string // "NAME=value"
	BinCopyEnvironment []string

	MaxProcs       int
	MinProcs       int
	MaxLoadPerProc int
	IdleTimeout    int

	CheckLocal           bool
	Mode                 Mode
	DocRoot              string
	BrokenScriptFilename bool
	FixRootScriptname    bool
	StripRequestURI      string // trailing '/' removed

	XSendfile         bool
	XSendfileDocroots []string // each simplified and ending in '/'

	KillSignal      syscall.Signal
	ListenBacklog   int
	DisableTime     int // seconds
	ConnectTimeout  int // seconds, 0 = none
	WriteTimeout    int
	ReadTimeout     int
	TCPFinPropagate bool

	// KeepConn is golighty's "keep-conn" option: reuse backend connections
	// (FCGI_KEEP_CONN), at most this many open per proc; 0 = off, one
	// connection per request as lighttpd does. lighttpd ignores the key.
	KeepConn int
}

// defaultHost is gw_set_defaults_backend's initial host.
func defaultHost() HostConfig {
	return HostConfig{
		CheckLocal:     true,
		MinProcs:       4,
		MaxProcs:       4,
		MaxLoadPerProc: 1,
		IdleTimeout:    60,
		ConnectTimeout: 8,
		DisableTime:    1,
		KillSignal:     syscall.SIGTERM,
		ListenBacklog:  1024,
	}
}

// addrs returns the address of every proc: SOCKET-k or port+k for bin-path
// hosts (as the spawn package listens), the one configured address otherwise.
func (h *HostConfig) addrs() []Addr {
	n := 1
	if h.BinPath != "" {
		n = max(h.MaxProcs, 1)
	}
	out := make([]Addr, n)
	for k := range out {
		switch {
		case h.Socket != "" && h.BinPath != "":
			out[k] = Addr{Network: "unix", Address: h.Socket + "-" + strconv.Itoa(k)}
		case h.Socket != "":
			out[k] = Addr{Network: "unix", Address: h.Socket}
		case h.BinPath != "":
			out[k] = Addr{Network: "tcp", Address: joinHostPort(h.Host, h.Port+k)}
		default:
			out[k] = Addr{Network: "tcp", Address: joinHostPort(h.Host, h.Port)}
		}
	}
	return out
}

func joinHostPort(host string, port int) string {
	if strings.IndexByte(host, ':') >= 0 {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}

// Addr is a proc's address.
type Addr struct {
	Network string // "tcp" or "unix"
	Address string
}

// String is lighttpd's connection name ("unix:/tmp/php.sock-0").
func (a Addr) String() string { return a.Network + ":" + a.Address }

// Parser reads xxx.server values. One Parser is used for every block of a
// load so that hosts sharing a unix socket and bin-path are one host, as
// lighttpd's unixsocket_is_dup makes them.
type Parser struct {
	// Key is the config key ("fastcgi.server"), used in messages.
	Key string
	// Warn reports non-fatal problems (lighttpd logs them and goes on).
	Warn func(pos lighttpdconf.Pos, format string, args ...any)
	// NewHost builds the runtime host of a parsed config (spawner wiring
	// for bin-path hosts); nil uses NewHost with no spawner.
	NewHost func(HostConfig) (*Host, error)
	// KeepConnDefault is what "keep-conn" => "enable" means for a host
	// without bin-path (0: the count must be given, as for FastCGI, whose
	// limit is the backend's PHP_FCGI_CHILDREN).
	KeepConnDefault int

	bySocket map[string]*Host
	hosts    []*Host
}

// Hosts lists every distinct host parsed so far.
func (p *Parser) Hosts() []*Host { return p.hosts }

// Parse turns one xxx.server value into a Server. Errors carry lighttpd's
// message; the core adds the key's file:line:col.
func (p *Parser) Parse(v lighttpdconf.Value) (*Server, error) {
	if p.bySocket == nil {
		p.bySocket = map[string]*Host{}
	}
	srv := &Server{}
	if v.Kind != lighttpdconf.KindArray {
		return nil, fmt.Errorf("%s should have been a list like %s = ( \"...\" )", p.Key, p.Key)
	}
	for _, e := range v.Arr {
		if !e.HasKey || e.Value.Kind != lighttpdconf.KindArray {
			return nil, fmt.Errorf("%s should have been a list of key => list like %s = ( \"...\" => ( \"...\" => \"...\" ) )", p.Key, p.Key)
		}
	}
	for _, ext := range v.Arr {
		for _, hv := range ext.Value.Arr {
			label := hv.Key
			if hv.Value.Kind != lighttpdconf.KindArray || !allKeyed(hv.Value.Arr) {
				return nil, fmt.Errorf("unexpected value for gw.server near [%s](string); expected ( \"ext\" => ( \"backend-label\" => ( \"key\" => \"value\" )))", label)
			}
			hc, err := p.parseHost(ext.Key, label, hv.HasKey, hv.Value)
			if err != nil {
				return nil, err
			}
			h, err := p.host(hc)
			if err != nil {
				return nil, err
			}
			srv.insert(ext.Key, h, hc.Mode)
		}
	}
	return srv, nil
}

func allKeyed(a []lighttpdconf.Element) bool {
	for _, e := range a {
		if !e.HasKey {
			return false
		}
	}
	return true
}

// host returns the runtime host for hc, sharing a previously parsed one
// with the same unix socket and bin-path.
func (p *Parser) host(hc HostConfig) (*Host, error) {
	if hc.Socket != "" && hc.BinPath != "" {
		if dup, ok := p.bySocket[hc.Socket]; ok {
			if dup.Conf.BinPath != hc.BinPath {
				return nil, fmt.Errorf("duplicate unixsocket path: %s", hc.Socket)
			}
			return dup, nil
		}
	}
	newHost := p.NewHost
	if newHost == nil {
		newHost = func(hc HostConfig) (*Host, error) { return NewHost(hc, nil), nil }
	}
	h, err := newHost(hc)
	if err != nil {
		return nil, err
	}
	if hc.Socket != "" && hc.BinPath != "" {
		p.bySocket[hc.Socket] = h
	}
	p.hosts = append(p.hosts, h)
	return h, nil
}

// optionKind is the lighttpd type of a per-host option.
type optionKind uint8

const (
	optString optionKind = iota
	optShort
	optInt
	optBool
	optKVString
	optVList
	optKeepConn // "enable"/"disable" or a count
)

var hostOptions = map[string]optionKind{
	"host": optString, "port": optShort, "socket": optString, "listen-backlog": optInt,
	"bin-path": optString, "kill-signal": optShort, "check-local": optBool, "mode": optString,
	"docroot": optString, "min-procs": optShort, "max-procs": optShort,
	"max-load-per-proc": optShort, "idle-timeout": optShort, "disable-time": optShort,
	"bin-environment": optKVString, "bin-copy-environment": optVList,
	"broken-scriptfilename": optBool, "strip-request-uri": optString,
	"fix-root-scriptname": optBool, "allow-x-send-file": optBool, "x-sendfile": optBool,
	"x-sendfile-docroot": optVList, "tcp-fin-propagate": optBool,
	"connect-timeout": optInt, "write-timeout": optInt, "read-timeout": optInt,
	"keep-conn": optKeepConn,
}

// optValue is a type-checked option value.
type optValue struct {
	s    string
	n    int64
	b    bool
	list []string
}

// checkOption applies config_plugin_values_init_block's checks and messages.
func checkOption(key string, k optionKind, v lighttpdconf.Value) (optValue, error) {
	var o optValue
	switch k {
	case optString:
		if v.Kind != lighttpdconf.KindString {
			return o, fmt.Errorf("%s should have been a string like ... = \"...\"", key)
		}
		o.s = v.Str
	case optShort, optInt:
		switch v.Kind {
		case lighttpdconf.KindInteger:
			if k == optShort {
				o.n = int64(uint16(v.Int))
			} else {
				o.n = int64(uint32(v.Int))
			}
		case lighttpdconf.KindString:
			n, err := strconv.ParseInt(v.Str, 10, 64)
			if k == optShort {
				if err != nil || n < 0 || n > 65535 {
					return o, fmt.Errorf("got a string but expected a short: %s %s", key, v.Str)
				}
			} else if err != nil || n < 0 {
				return o, fmt.Errorf("got a string but expected an integer: %s %s", key, v.Str)
			}
			o.n = int64(uint32(n))
		default:
			// lighttpd prints its data_type_t: arrays are 1.
			if k == optShort {
				return o, fmt.Errorf("unexpected type for key: %s 1 expected a short integer, range 0 ... 65535", key)
			}
			return o, fmt.Errorf("unexpected type for key: %s 1 expected an integer, range 0 ... 4294967295", key)
		}
	case optBool:
		b, ok := core.ParseBool(v)
		if !ok {
			return o, fmt.Errorf("ERROR: unexpected type for key: %s (string) \"(enable|disable)\"", key)
		}
		o.b = b
	case optKeepConn:
		switch {
		case v.Kind == lighttpdconf.KindInteger && v.Int >= 0:
			o.n = int64(v.Int)
		case v.Kind == lighttpdconf.KindString:
			if n, err := strconv.ParseUint(v.Str, 10, 31); err == nil {
				o.n = int64(n)
			} else if b, ok := core.ParseBool(v); ok {
				o.b, o.n = b, -1
			} else {
				return o, fmt.Errorf("%s should be \"enable\", \"disable\" or the number of connections to keep per proc", key)
			}
		default:
			return o, fmt.Errorf("%s should be \"enable\", \"disable\" or the number of connections to keep per proc", key)
		}
	case optKVString, optVList:
		if v.Kind != lighttpdconf.KindArray {
			return o, fmt.Errorf("%s should have been a list like %s = ( \"...\" )", key, key)
		}
		for _, e := range v.Arr {
			if e.Value.Kind != lighttpdconf.KindString || e.HasKey != (k == optKVString) {
				if k == optKVString {
					return o, fmt.Errorf("%s should have been a list of key => string values like %s = ( \"...\" => \"...\", \"...\" => \"...\" )", key, key)
				}
				return o, fmt.Errorf("%s should have been a list of string values like %s = ( \"...\", \"...\" )", key, key)
			}
			if k == optKVString {
				o.list = append(o.list, e.Key+"="+e.Value.Str)
			} else {
				o.list = append(o.list, e.Value.Str)
			}
		}
	}
	return o, nil
}

// parseHost is gw_set_defaults_backend for one backend block.
func (p *Parser) parseHost(ext, label string, labeled bool, v lighttpdconf.Value) (HostConfig, error) {
	hc := defaultHost()
	hc.Label, hc.Pos = label, v.Pos
	shown := label
	if !labeled {
		shown = "(null)"
	}
	var hostSet, portSet bool
	// lighttpd looks options up by name: the first occurrence of a key
	// counts, other spellings of unknown keys are ignored silently.
	seen := map[string]bool{}
	for _, e := range v.Arr {
		if strings.IndexByte(e.Key, '_') >= 0 && p.Warn != nil {
			p.Warn(e.Value.Pos, "incorrect directive contains underscore ('_') instead of dash ('-'): %s", e.Key)
		}
		kind, known := hostOptions[e.Key]
		if !known || seen[e.Key] {
			continue
		}
		seen[e.Key] = true
		o, err := checkOption(e.Key, kind, e.Value)
		if err != nil {
			return hc, err
		}
		switch e.Key {
		case "host":
			if strings.TrimSpace(o.s) != "" {
				hc.Host, hostSet = o.s, true
			}
		case "port":
			hc.Port, portSet = int(o.n), o.n != 0
		case "socket":
			if strings.TrimSpace(o.s) != "" {
				hc.Socket = o.s
			}
		case "listen-backlog":
			hc.ListenBacklog = int(o.n)
		case "bin-path":
			if strings.TrimSpace(o.s) != "" {
				hc.BinPath = o.s
			}
		case "kill-signal":
			hc.KillSignal = syscall.Signal(o.n)
		case "check-local":
			hc.CheckLocal = o.b
		case "mode":
			switch o.s {
			case "", "responder":
			case "authorizer":
				hc.Mode = Authorizer
			default:
				if p.Warn != nil {
					p.Warn(e.Value.Pos, "WARNING: unknown gw mode: %s (ignored, mode set to responder)", o.s)
				}
			}
		case "docroot":
			if strings.TrimSpace(o.s) != "" {
				hc.DocRoot = o.s
			}
		case "min-procs":
			hc.MinProcs = int(o.n)
		case "max-procs":
			hc.MaxProcs = int(o.n)
		case "max-load-per-proc":
			hc.MaxLoadPerProc = int(o.n)
		case "idle-timeout":
			hc.IdleTimeout = int(o.n)
		case "disable-time":
			hc.DisableTime = int(o.n)
		case "bin-environment":
			hc.BinEnvironment = o.list
		case "bin-copy-environment":
			hc.BinCopyEnvironment = o.list
		case "broken-scriptfilename":
			hc.BrokenScriptFilename = o.b
		case "strip-request-uri":
			hc.StripRequestURI = strings.TrimSuffix(o.s, "/")
		case "fix-root-scriptname":
			hc.FixRootScriptname = o.b
		case "allow-x-send-file", "x-sendfile":
			hc.XSendfile = o.b
		case "x-sendfile-docroot":
			hc.XSendfileDocroots = nil
			for _, d := range o.list {
				if !strings.HasPrefix(d, "/") {
					return hc, fmt.Errorf("x-sendfile-docroot paths must begin with '/'; invalid: \"%s\"", d)
				}
				d = path.Clean(d)
				if !strings.HasSuffix(d, "/") {
					d += "/"
				}
				hc.XSendfileDocroots = append(hc.XSendfileDocroots, d)
			}
		case "tcp-fin-propagate":
			hc.TCPFinPropagate = o.b
		case "connect-timeout":
			hc.ConnectTimeout = int(o.n)
		case "write-timeout":
			hc.WriteTimeout = int(o.n)
		case "read-timeout":
			hc.ReadTimeout = int(o.n)
		case "keep-conn":
			hc.KeepConn = int(o.n)
			if o.n < 0 && !o.b {
				hc.KeepConn = 0
			}
		}
	}
	if (hostSet || portSet) && hc.Socket != "" {
		return hc, fmt.Errorf("either host/port or socket have to be set in: %s = (%s => (%s ( ...", p.Key, ext, shown)
	}
	if hostSet && strings.HasPrefix(hc.Host, "/") {
		hc.Socket, hc.Host = hc.Host, ""
	}
	if hc.Socket != "" {
		// sockaddr_un.sun_path is 108 bytes; lighttpd keeps 2 spare.
		if len(hc.Socket)+1 > 108-2 {
			return hc, fmt.Errorf("unixsocket is too long in: %s = (%s => (%s ( ...", p.Key, ext, shown)
		}
	} else {
		if !hostSet && hc.BinPath == "" {
			return hc, fmt.Errorf("host or bin-path have to be set in: %s = (%s => (%s ( ...", p.Key, ext, shown)
		}
		if hc.Port == 0 {
			hc.Port = 80
		}
		if !hostSet {
			hc.Host = "127.0.0.1"
		}
	}
	if hc.KeepConn < 0 && hc.BinPath == "" && p.KeepConnDefault > 0 {
		hc.KeepConn = p.KeepConnDefault
	}
	if hc.KeepConn < 0 {
		// "enable": as many connections as php-cgi has children.
		if hc.BinPath == "" {
			return hc, fmt.Errorf("keep-conn = \"enable\" takes its limit from the PHP_FCGI_CHILDREN of a bin-path backend; for this backend give the number of its workers instead (keep-conn => 8) in: %s = (%s => (%s ( ...", p.Key, ext, shown)
		}
		hc.KeepConn = spawn.Children(hc.BinCopyEnvironment, hc.BinEnvironment)
	}
	if hc.BinPath != "" {
		hc.MinProcs = min(hc.MinProcs, hc.MaxProcs)
		if hc.MaxProcs == 0 {
			// lighttpd would start no proc and spawn on demand; one proc
			// is the closest fixed-size equivalent.
			hc.MaxProcs = 1
		}
	}
	return hc, nil
}
