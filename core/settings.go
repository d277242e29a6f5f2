package core

import (
	"fmt"
	"strings"

	"github.com/golighty/golighty/core/urinorm"
	"github.com/golighty/golighty/lighttpdconf"
)

// ServerTag is the default server.tag, SERVER_SOFTWARE and -v name.
const ServerTag = "golighty/" + Version

// Version is golighty's release.
const Version = "0.1.0"

// ServerSettings are the global-only (scope G) keys: read once per load.
type ServerSettings struct {
	DocumentRoot          string // global value; required for serving (-tt checks it)
	Port                  int
	PortSet               bool
	Bind                  string
	UseIPv6               bool
	SetV6Only             bool
	V4Mapped              int8 // server.v4mapped: -1 unset, 0 disable, 1 enable
	DeferAccept           bool
	ListenBacklog         int
	SocketPerms           string
	Username, Groupname   string
	Chroot                string
	PIDFile               string
	ErrorLog              string
	ErrorLogUseSyslog     bool
	SyslogFacility        string
	MaxFDs                int
	MaxConnections        int
	MaxRequestFieldSize   int
	CompatModuleLoad      bool
	SystemdSocketActivate bool
	StatCacheEngine       string
	UploadDirs            []string
	FeatureFlags          []KV
	ParseOpts             ParseOpts
	MimeXattrName         string
	LogRequestHeaderOnErr bool
	GracefulShutdownSecs  int
	AbsoluteDirRedirect   bool
	HTTP10Range           bool
	ErrorLogHighPrecision bool
	// server.feature-flags "server.h2proto" (HTTP/2 by ALPN and prior
	// knowledge) and "server.h2c" (Upgrade: h2c, needs h2proto); both on by
	// default in lighttpd 1.4.69 (configfile.c).
	H2Proto, H2C bool
	// AuthDelayInvalidCreds holds a failed login's response until the next
	// full second (feature flag auth.delay-invalid-creds, default on).
	AuthDelayInvalidCreds bool
}

// ParseOpts is server.http-parseopts after lighttpd's rules (config-keys
// §1.1); core/urinorm owns the rules and applies them to request targets.
type ParseOpts = urinorm.Options

// CoreConf are the per-request core settings (scope C), resolved per request
// from the compiled table.
type CoreConf struct {
	DocumentRoot         string
	ServerName           string
	ServerTag            string
	ErrorLog             string
	MaxRequestSize       int64 // bytes; 0 = unlimited
	MaxKeepAliveRequests int
	MaxKeepAliveIdle     int
	MaxReadIdle          int
	MaxWriteIdle         int
	FollowSymlink        bool
	ForceLowercase       bool
	ProtocolHTTP11       bool
	RangeRequests        bool
	StreamRequestBody    int
	StreamResponseBody   int
	KBytesPerSecond      int
	ConnKBytesPerSecond  int
	ErrorHandler         string
	ErrorHandler404      string
	ErrorfilePrefix      string
	ErrorIntercept       bool
	Mime                 *MimeTypes
	MimeUseXattr         bool
	ETagInode            bool
	ETagMtime            bool
	ETagSize             bool
	StaticETags          bool
	LogRequestHandling   bool
	LogFileNotFound      bool
	LogConditionHandling bool
	LogRequestHeader     bool
	LogResponseHeader    bool
	LogTimeouts          bool
	BreakageLog          string
}

// CoreSettings is what the core compiled from the config.
type CoreSettings struct {
	Server ServerSettings
	Table  *Table[CoreConf]
}

func str(set func(*CoreConf, string)) func(Value) (func(*CoreConf), error) {
	return func(v Value) (func(*CoreConf), error) {
		s := v.String()
		return func(c *CoreConf) { set(c, s) }, nil
	}
}

func boolean(set func(*CoreConf, bool)) func(Value) (func(*CoreConf), error) {
	return func(v Value) (func(*CoreConf), error) {
		b := v.Bool()
		return func(c *CoreConf) { set(c, b) }, nil
	}
}

func integer(set func(*CoreConf, int64)) func(Value) (func(*CoreConf), error) {
	return func(v Value) (func(*CoreConf), error) {
		n := v.Int()
		return func(c *CoreConf) { set(c, n) }, nil
	}
}

// ignored accepts a key lighttpd has but golighty has no use for (event
// handler choice, pre-fork workers): it is type-checked and not "unknown".
func ignored[T any](v Value) (func(*T), error) { return nil, nil }

func bindCore(sc *SetupContext) (*CoreSettings, error) {
	cs := &CoreSettings{}
	srv := &cs.Server
	*srv = ServerSettings{
		Port: 80, CompatModuleLoad: true, SetV6Only: true, V4Mapped: -1, ListenBacklog: 1024,
		MaxRequestFieldSize: 8192, StatCacheEngine: "simple", SyslogFacility: "daemon",
		MaxFDs: 4096, ParseOpts: urinorm.DefaultOptions(), MimeXattrName: "Content-Type",
		GracefulShutdownSecs: 8, AuthDelayInvalidCreds: true,
		H2Proto: true, H2C: true,
	}
	type S = ServerSettings
	gs := func(name string, t Type, set func(*S, Value)) Key[S] {
		return Key[S]{Name: name, Type: t, Scope: ScopeGlobal, Bind: func(v Value) (func(*S), error) {
			return func(s *S) { set(s, v) }, nil
		}}
	}
	sock := func(k Key[S]) Key[S] { k.Scope = ScopeSocket; return k }
	serverKeys := []Key[S]{
		gs("server.port", TypeShort, func(s *S, v Value) { s.Port, s.PortSet = int(v.Int()), true }),
		gs("server.bind", TypeString, func(s *S, v Value) { s.Bind = v.String() }),
		gs("server.username", TypeString, func(s *S, v Value) { s.Username = v.String() }),
		gs("server.groupname", TypeString, func(s *S, v Value) { s.Groupname = v.String() }),
		gs("server.chroot", TypeString, func(s *S, v Value) { s.Chroot = v.String() }),
		gs("server.pid-file", TypeString, func(s *S, v Value) { s.PIDFile = v.String() }),
		gs("server.errorlog-use-syslog", TypeBool, func(s *S, v Value) { s.ErrorLogUseSyslog = v.Bool() }),
		gs("server.syslog-facility", TypeString, func(s *S, v Value) { s.SyslogFacility = v.String() }),
		gs("server.max-fds", TypeShort, func(s *S, v Value) { s.MaxFDs = int(v.Int()) }),
		gs("server.max-connections", TypeShort, func(s *S, v Value) { s.MaxConnections = int(v.Int()) }),
		gs("server.max-request-field-size", TypeInt, func(s *S, v Value) { s.MaxRequestFieldSize = int(v.Int()) }),
		gs("server.compat-module-load", TypeBool, func(s *S, v Value) { s.CompatModuleLoad = v.Bool() }),
		gs("server.systemd-socket-activation", TypeBool, func(s *S, v Value) { s.SystemdSocketActivate = v.Bool() }),
		gs("server.stat-cache-engine", TypeString, func(s *S, v Value) { s.StatCacheEngine = v.String() }),
		gs("server.upload-dirs", TypeList, func(s *S, v Value) { s.UploadDirs = v.List() }),
		gs("server.feature-flags", TypeKVAny, func(s *S, v Value) { s.FeatureFlags = featureFlags(v) }),
		gs("mimetype.xattr-name", TypeString, func(s *S, v Value) { s.MimeXattrName = v.String() }),
		gs("debug.log-request-header-on-error", TypeBool, func(s *S, v Value) { s.LogRequestHeaderOnErr = v.Bool() }),
		gs("server.modules", TypeList, func(*S, Value) {}),
		gs("server.event-handler", TypeString, func(*S, Value) {}),
		gs("server.network-backend", TypeString, func(*S, Value) {}),
		gs("server.max-worker", TypeShort, func(*S, Value) {}),
		gs("server.core-files", TypeBool, func(*S, Value) {}),
		gs("server.upload-temp-file-size", TypeInt, func(*S, Value) {}),
		gs("server.chunkqueue-chunk-sz", TypeInt, func(*S, Value) {}),
		gs("server.reject-expect-100-with-417", TypeBool, func(*S, Value) {}),
		gs("server.http-parseopts", TypeKV, func(*S, Value) {}), // checked in parseOpts
		gs("server.http-parseopt-header-strict", TypeBool, func(s *S, v Value) { s.ParseOpts.HeaderStrict = v.Bool() }),
		gs("server.http-parseopt-host-strict", TypeBool, func(s *S, v Value) { s.ParseOpts.HostStrict = v.Bool() }),
		gs("server.http-parseopt-host-normalize", TypeBool, func(s *S, v Value) { s.ParseOpts.HostNormalize = v.Bool() }),
		sock(gs("server.use-ipv6", TypeBool, func(s *S, v Value) { s.UseIPv6 = v.Bool() })),
		sock(gs("server.set-v6only", TypeBool, func(s *S, v Value) { s.SetV6Only = v.Bool() })),
		sock(gs("server.v4mapped", TypeBool, func(s *S, v Value) { s.V4Mapped = int8(boolInt(v.Bool())) })),
		sock(gs("server.listen-backlog", TypeInt, func(s *S, v Value) { s.ListenBacklog = int(v.Int()) })),
		sock(gs("server.socket-perms", TypeString, func(s *S, v Value) { s.SocketPerms = v.String() })),
		sock(gs("server.defer-accept", TypeBool, func(s *S, v Value) { s.DeferAccept = v.Bool() })),
		sock(gs("server.bsd-accept-filter", TypeString, func(*S, Value) {})),
	}
	st, err := Bind(sc, *srv, serverKeys)
	if err != nil {
		return nil, err
	}
	*srv = st.Defaults()
	if err := applyParseOpts(sc, srv); err != nil {
		return nil, err
	}
	applyFeatureFlags(srv)
	if srv.MaxConnections == 0 {
		srv.MaxConnections = srv.MaxFDs / 3
	}
	if e, ok := sc.conf.Global.Get("ssl.engine"); ok {
		if on, _ := boolValue(e.Value); on && !srv.PortSet {
			srv.Port = 443
		}
	}

	type C = CoreConf
	mime := func(v Value) (func(*C), error) {
		m := NewMimeTypes(v.KVs())
		return func(c *C) { c.Mime = m }, nil
	}
	coreKeys := []Key[C]{
		{Name: "server.document-root", Type: TypeString, Bind: str(func(c *C, s string) { c.DocumentRoot = s })},
		{Name: "server.name", Type: TypeString, Bind: str(func(c *C, s string) { c.ServerName = s })},
		{Name: "server.tag", Type: TypeString, Bind: str(func(c *C, s string) { c.ServerTag = strings.TrimSpace(s) })},
		{Name: "server.errorlog", Type: TypeString, Bind: str(func(c *C, s string) { c.ErrorLog = s })},
		{Name: "server.breakagelog", Type: TypeString, Bind: str(func(c *C, s string) { c.BreakageLog = s })},
		{Name: "server.max-request-size", Type: TypeInt, Bind: integer(func(c *C, n int64) { c.MaxRequestSize = n * 1024 })},
		{Name: "server.max-keep-alive-requests", Type: TypeShort, Bind: integer(func(c *C, n int64) { c.MaxKeepAliveRequests = int(n) })},
		{Name: "server.max-keep-alive-idle", Type: TypeShort, Bind: integer(func(c *C, n int64) { c.MaxKeepAliveIdle = int(n) })},
		{Name: "server.max-read-idle", Type: TypeShort, Bind: integer(func(c *C, n int64) { c.MaxReadIdle = int(n) })},
		{Name: "server.max-write-idle", Type: TypeShort, Bind: integer(func(c *C, n int64) { c.MaxWriteIdle = int(n) })},
		{Name: "server.follow-symlink", Type: TypeBool, Bind: boolean(func(c *C, b bool) { c.FollowSymlink = b })},
		{Name: "server.force-lowercase-filenames", Type: TypeBool, Bind: boolean(func(c *C, b bool) { c.ForceLowercase = b })},
		{Name: "server.protocol-http11", Type: TypeBool, Bind: boolean(func(c *C, b bool) { c.ProtocolHTTP11 = b })},
		{Name: "server.range-requests", Type: TypeBool, Bind: boolean(func(c *C, b bool) { c.RangeRequests = b })},
		{Name: "server.stream-request-body", Type: TypeShort, Bind: integer(func(c *C, n int64) { c.StreamRequestBody = int(n) })},
		{Name: "server.stream-response-body", Type: TypeShort, Bind: integer(func(c *C, n int64) { c.StreamResponseBody = int(n) })},
		{Name: "server.kbytes-per-second", Type: TypeShort, Bind: integer(func(c *C, n int64) { c.KBytesPerSecond = int(n) })},
		{Name: "connection.kbytes-per-second", Type: TypeShort, Bind: integer(func(c *C, n int64) { c.ConnKBytesPerSecond = int(n) })},
		{Name: "server.error-handler", Type: TypeString, Bind: str(func(c *C, s string) { c.ErrorHandler = s })},
		{Name: "server.error-handler-404", Type: TypeString, Bind: str(func(c *C, s string) { c.ErrorHandler404 = s })},
		{Name: "server.errorfile-prefix", Type: TypeString, Bind: str(func(c *C, s string) { c.ErrorfilePrefix = s })},
		{Name: "server.error-intercept", Type: TypeBool, Bind: boolean(func(c *C, b bool) { c.ErrorIntercept = b })},
		{Name: "mimetype.assign", Type: TypeKV, Bind: mime},
		{Name: "mimetype.use-xattr", Type: TypeBool, Bind: boolean(func(c *C, b bool) { c.MimeUseXattr = b })},
		{Name: "etag.use-inode", Type: TypeBool, Bind: boolean(func(c *C, b bool) { c.ETagInode = b })},
		{Name: "etag.use-mtime", Type: TypeBool, Bind: boolean(func(c *C, b bool) { c.ETagMtime = b })},
		{Name: "etag.use-size", Type: TypeBool, Bind: boolean(func(c *C, b bool) { c.ETagSize = b })},
		{Name: "static-file.etags", Type: TypeBool, Bind: boolean(func(c *C, b bool) { c.StaticETags = b })},
		{Name: "debug.log-request-handling", Type: TypeBool, Bind: boolean(func(c *C, b bool) { c.LogRequestHandling = b })},
		{Name: "debug.log-file-not-found", Type: TypeBool, Bind: boolean(func(c *C, b bool) { c.LogFileNotFound = b })},
		{Name: "debug.log-condition-handling", Type: TypeBool, Bind: boolean(func(c *C, b bool) { c.LogConditionHandling = b })},
		{Name: "debug.log-request-header", Type: TypeBool, Bind: boolean(func(c *C, b bool) { c.LogRequestHeader = b })},
		{Name: "debug.log-response-header", Type: TypeBool, Bind: boolean(func(c *C, b bool) { c.LogResponseHeader = b })},
		{Name: "debug.log-timeouts", Type: TypeBool, Bind: boolean(func(c *C, b bool) { c.LogTimeouts = b })},
		{Name: "debug.log-state-handling", Type: TypeBool, Bind: ignored[C]},
		{Name: "debug.log-ssl-noise", Type: TypeBool, Bind: ignored[C]},
	}
	def := CoreConf{
		ServerTag: ServerTag, MaxKeepAliveRequests: 1000, MaxKeepAliveIdle: 5,
		MaxReadIdle: 60, MaxWriteIdle: 360, FollowSymlink: true, ProtocolHTTP11: true,
		RangeRequests: true, ETagInode: true, ETagMtime: true, ETagSize: true, StaticETags: true,
		Mime: NewMimeTypes(nil),
	}
	if cs.Table, err = Bind(sc, def, coreKeys); err != nil {
		return nil, err
	}
	srv.DocumentRoot = cs.Table.Defaults().DocumentRoot
	srv.ErrorLog = cs.Table.Defaults().ErrorLog
	return cs, nil
}

func featureFlags(v Value) []KV {
	var out []KV
	for _, e := range v.Elements() {
		val := e.Value.Str
		if e.Value.Kind == lighttpdconf.KindInteger {
			val = fmt.Sprint(e.Value.Int)
		}
		out = append(out, KV{Key: e.Key, Value: val})
	}
	return out
}

func applyFeatureFlags(srv *ServerSettings) {
	for _, kv := range srv.FeatureFlags {
		on := func() bool {
			b, _ := boolValue(lighttpdconf.Value{Kind: lighttpdconf.KindString, Str: kv.Value})
			return b
		}
		switch kv.Key {
		case "server.graceful-shutdown-timeout":
			var n int
			if _, err := fmt.Sscan(kv.Value, &n); err == nil && n >= 0 {
				srv.GracefulShutdownSecs = n
			}
		case "server.absolute-dir-redirect":
			srv.AbsoluteDirRedirect = on()
		case "http10.range":
			srv.HTTP10Range = on()
		case "server.errorlog-high-precision":
			srv.ErrorLogHighPrecision = on()
		case "server.h2proto":
			srv.H2Proto = flag(kv.Value, true)
		case "server.h2c":
			srv.H2C = flag(kv.Value, true)
		case "auth.delay-invalid-creds":
			srv.AuthDelayInvalidCreds = on()
		}
	}
	srv.H2C = srv.H2C && srv.H2Proto
}

// flag reads a feature flag as config_plugin_value_tobool does: a value it
// cannot read keeps the default.
func flag(v string, def bool) bool {
	if b, ok := boolValue(lighttpdconf.Value{Kind: lighttpdconf.KindString, Str: v}); ok {
		return b
	}
	return def
}

// applyParseOpts reads server.http-parseopts; the rules and lighttpd's
// messages live in core/urinorm. The separate server.http-parseopt-* keys,
// already bound, take part as if listed first.
func applyParseOpts(sc *SetupContext, srv *ServerSettings) error {
	e, ok := sc.conf.Global.Get("server.http-parseopts")
	if !ok {
		return nil
	}
	entries := []urinorm.ParseOpt{
		{Key: "header-strict", Enable: srv.ParseOpts.HeaderStrict},
		{Key: "host-strict", Enable: srv.ParseOpts.HostStrict},
		{Key: "host-normalize", Enable: srv.ParseOpts.HostNormalize},
	}
	for _, el := range e.Value.Arr {
		on, ok := boolValue(el.Value)
		if !ok {
			return &ConfigError{Pos: e.Pos, Err: fmt.Errorf("unrecognized value for server.http-parseopts: %s => %s (expect \"[enable|disable]\")", el.Key, el.Value.Str)}
		}
		entries = append(entries, urinorm.ParseOpt{Key: el.Key, Enable: on})
	}
	o, err := urinorm.ApplyParseOpts(entries)
	if err != nil {
		return &ConfigError{Pos: e.Pos, Err: err}
	}
	srv.ParseOpts = o
	return nil
}
