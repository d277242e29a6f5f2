package core

import (
	"fmt"
	"sort"
	"sync"
)

// ModuleInfo registers a lighttpd module implementation under the name used in
// server.modules ("mod_staticfile").
type ModuleInfo struct {
	Name string
	// New returns a fresh instance; every Snapshot gets its own, so a module
	// may keep its compiled settings in plain fields without locks.
	New func() Module
	// Refused, when set, names a lighttpd module golighty deliberately does
	// not provide: loading it fails with this text (what to use instead),
	// and it is not listed among the available modules.
	Refused string
}

// Module is one loaded lighttpd module. Setup binds the module's keys (see
// Bind) and validates them; it runs once per load, also for -tt.
type Module interface {
	Setup(sc *SetupContext) error
}

// Optional hooks, discovered once at compile time. They are lighttpd's plugin
// slots (src/plugin.h) in the order the pipeline calls them.
type (
	// ConnStartHook runs once per connection before its first request
	// (lighttpd's handle_connection_accept); see Request.ReadProxyHeader.
	// false closes the connection without a response.
	ConnStartHook interface{ ConnStart(*Request) bool }
	// URIRawHook runs on the normalized target before it is decoded (mod_rewrite).
	URIRawHook interface{ URIRaw(*Request) Result }
	// URICleanHook runs on the decoded path (mod_access, mod_redirect, ...).
	URICleanHook interface{ URIClean(*Request) Result }
	// DocrootHook may replace the document root (vhost modules).
	DocrootHook interface{ Docroot(*Request) Result }
	// PhysicalHook may change the physical path (mod_alias, mod_secdownload).
	PhysicalHook interface{ Physical(*Request) Result }
	// SubrequestStartHook chooses a handler after the path check (mod_indexfile,
	// mod_fastcgi, mod_staticfile, ...).
	SubrequestStartHook interface{ SubrequestStart(*Request) Result }
	// ResponseStartHook sees the final status and headers before they are written.
	ResponseStartHook interface{ ResponseStart(*Request) Result }
	// RequestDoneHook runs after the response was written (mod_accesslog).
	RequestDoneHook interface{ RequestDone(*Request) }
	// RequestEnvHook adds variables to Request.Env before a backend's
	// CGI/1.1 environment is built (lighttpd's handle_request_env:
	// mod_openssl's SSL_*, mod_maxminddb's GEOIP_*), once per request, so
	// requests that reach no backend pay nothing.
	RequestEnvHook interface{ RequestEnv(*Request) }
	// Closer releases what a module holds when its snapshot retires.
	Closer interface{ Close() error }
	// PostSetupHook runs after every module's Setup, in module order, for a
	// module that depends on modules set up after it (mod_auth resolving its
	// auth.backend names against the authn modules loaded).
	PostSetupHook interface{ PostSetup(*SetupContext) error }
)

// Handler produces the response of a request; at most one per request.
type Handler interface {
	Serve(*Request) Result
}

// HandlerReleaser is a Handler made for one request and reused by its
// module (a pool): ReleaseHandler runs when the request that ended with it
// as its handler is reset, after its response and its request-done hooks,
// or, for a response whose body is a file the engine sends after the
// handler returned (a static file, X-Sendfile), once its head is written,
// before that file is sent and before the request-done hooks. Nothing of
// the request refers to it afterwards. A request that
// panicked keeps its handler (its state is unknown), as does a handler
// replaced before the request ended.
type HandlerReleaser interface {
	Handler
	ReleaseHandler()
}

// An HTTP/2 request may run on its connection's reader goroutine, saving
// the hand-over to a worker (h2.Config.Inline), while it runs through
// hooks and a handler that never wait for the network, a child process or
// a timer, nor compute for long (the local file system is fine: lighttpd
// waits for it in its only thread). A module declares it:
type (
	// InlineHooks is a module whose hooks are all such: a configuration
	// whose modules all are lets HTTP/2 requests start on the reader.
	InlineHooks interface{ InlineHooks() }
	// InlineHandler is a handler that is such (mod_staticfile): before
	// any other the request leaves the reader (h2.ResponseWriter.Detach).
	InlineHandler interface{ InlineHandler() }
)

// Result tells the pipeline how to continue after a hook.
type Result uint8

const (
	GoOn     Result = iota // next hook / phase
	Finished               // response decided (status and body set)
	Comeback               // the URI changed: resolve conditions again and restart
	Error                  // internal error: 500
	// Drop is lighttpd's HANDLER_ERROR from a request hook: the connection
	// is closed without a response and nothing is logged to the access log
	// (mod_rewrite's loop limit, an invalid rewrite result, a failed match).
	Drop
	// Suspended is a handler's answer after a successful Request.Suspend:
	// the request goes on in the handler's Resume.
	Suspended
)

var registry = struct {
	sync.RWMutex
	m map[string]ModuleInfo
}{m: map[string]ModuleInfo{}}

// Register makes a module loadable by name. Call it from the module's init.
func Register(mi ModuleInfo) {
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[mi.Name]; dup {
		panic(fmt.Sprintf("core: module %s registered twice", mi.Name))
	}
	registry.m[mi.Name] = mi
}

// Registered lists the names of every module linked into this binary.
func Registered() []string {
	registry.RLock()
	defer registry.RUnlock()
	names := make([]string, 0, len(registry.m))
	for n, mi := range registry.m {
		if mi.Refused == "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func lookupModule(name string) (ModuleInfo, bool) {
	registry.RLock()
	defer registry.RUnlock()
	mi, ok := registry.m[name]
	return mi, ok
}
