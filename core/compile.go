package core

import (
	"errors"
	"fmt"
	"strings"

	"github.com/golighty/golighty/lighttpdconf"
)

// CompileOptions selects how much of lighttpd's start-up a compile performs.
type CompileOptions struct {
	// CoreOnly checks the core options only, as `lighttpd -p` and `-t` do:
	// modules are neither loaded nor set up and unknown keys are not reported.
	CoreOnly bool
	// Preflight is `-tt`: modules are set up and validated, but open no
	// logs, spawn no backends and touch nothing outside the process.
	Preflight bool
}

// SetupContext is handed to Module.Setup: the parsed config, the helpers to
// bind keys, and a place for warnings.
type SetupContext struct {
	preflight bool
	conf      *lighttpdconf.Config
	snap      *Snapshot
	module    string
	consumed  map[string]bool
	warnings  *[]Diagnostic
}

// Diagnostic is a non-fatal message of a config load, with its position.
type Diagnostic struct {
	Pos lighttpdconf.Pos
	Msg string
}

func (d Diagnostic) String() string {
	if d.Pos.File == "" {
		return d.Msg
	}
	return d.Pos.String() + ": " + d.Msg
}

// Config returns the parsed configuration.
func (sc *SetupContext) Config() *lighttpdconf.Config { return sc.conf }

// Preflight reports a `-tt` check: validate everything, but open no log
// files or pipes and start no backend processes.
func (sc *SetupContext) Preflight() bool { return sc.preflight }

// Module returns the name of the module being set up.
func (sc *SetupContext) Module() string { return sc.module }

// Warn records a non-fatal problem, printed by -tt and logged at start-up.
func (sc *SetupContext) Warn(pos lighttpdconf.Pos, format string, args ...any) {
	*sc.warnings = append(*sc.warnings, Diagnostic{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// Consume marks keys as understood without binding them (keys a module reads
// itself from the raw config).
func (sc *SetupContext) Consume(names ...string) {
	for _, n := range names {
		sc.consume(n)
	}
}

// Core returns the core settings already bound for this snapshot (global
// values and the per-request table).
func (sc *SetupContext) Core() *CoreSettings { return sc.snap.Core }

// Loaded returns the modules set up so far in this load, in module order
// (in a PostSetup hook: all of them).
func (sc *SetupContext) Loaded() []Module {
	out := make([]Module, len(sc.snap.modules))
	for i, lm := range sc.snap.modules {
		out[i] = lm.m
	}
	return out
}

// Shared returns the pool of long-lived resources that survive reloads.
func (sc *SetupContext) Shared() *SharedPool { return sc.snap.shared }

// Snapshot returns the snapshot being set up: its conditions are compiled
// and its core settings bound (ResolveConn, ListenSpecs), its modules not.
func (sc *SetupContext) Snapshot() *Snapshot { return sc.snap }

// WatchFiles asks the config watcher to watch files the module read besides
// the config (certificates, keys): their directories are watched as the
// config's are, and a change calls refresh instead of reloading the config
// (also on the watcher's periodic check). refresh runs on the watcher's
// goroutine while requests are served, and should re-read only what
// changed.
func (sc *SetupContext) WatchFiles(refresh func(), paths ...string) {
	sc.snap.fileWatches = append(sc.snap.fileWatches, fileWatch{paths: paths, refresh: refresh})
}

func (sc *SetupContext) consume(name string) { sc.consumed[strings.ToLower(name)] = true }

// scopeAllows reports whether key may be set in block b, warning as lighttpd
// does when it may not (the value is then ignored).
func (sc *SetupContext) scopeAllows(key string, s Scope, b *lighttpdconf.Block) bool {
	switch s {
	case ScopeGlobal:
		sc.Warn(b.Pos, "DEPRECATED: do not set server options in conditionals, variable: %s", key)
		return false
	case ScopeSocket:
		if c := b.Cond; c != nil && c.Var == "SERVER" && c.Op == lighttpdconf.OpEq && b.Parent != nil && b.Parent.Index == 0 {
			return true
		}
		sc.Warn(b.Pos, "WARNING: %s must be in global scope or $SERVER[\"socket\"] with '==', or else is ignored", key)
		return false
	}
	return true
}

// Compile turns a parsed config into an immutable Snapshot: conditions
// compiled, core settings bound, modules ordered as lighttpd orders them and
// set up, unknown keys reported. A failed compile returns an error naming
// file:line:col and leaves nothing running.
func Compile(conf *lighttpdconf.Config, opts CompileOptions, shared *SharedPool) (*Snapshot, error) {
	if shared == nil {
		shared = NewSharedPool()
	}
	s := &Snapshot{Conf: conf, shared: shared}
	sc := &SetupContext{preflight: opts.Preflight, conf: conf, snap: s, module: "core", consumed: map[string]bool{}, warnings: &s.Warnings}

	conds, err := compileConditions(conf)
	if err != nil {
		return nil, err
	}
	s.blocks = conds

	if s.Core, err = bindCore(sc); err != nil {
		return nil, err
	}
	warnIPv6Sockets(sc, s)
	if opts.CoreOnly {
		return s, nil
	}
	if s.Core.Server.DocumentRoot == "" {
		return nil, errors.New("server.document-root is not set")
	}
	if s.stat, s.statKey, err = statCacheFor(shared, s.Core.Server.StatCacheEngine); err != nil {
		return nil, err
	}
	if err := s.openConditionalErrorLogs(opts.Preflight); err != nil {
		s.close()
		return nil, err
	}
	names, err := moduleOrder(sc)
	if err != nil {
		s.close()
		return nil, err
	}
	for _, name := range names {
		mi, ok := lookupModule(name)
		if !ok {
			s.close()
			return nil, &UnavailableModuleError{Name: name}
		}
		if mi.Refused != "" {
			s.close()
			return nil, &UnavailableModuleError{Name: name, Refused: mi.Refused}
		}
		m := mi.New()
		sc.module = name
		if err := m.Setup(sc); err != nil {
			s.close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		s.modules = append(s.modules, loadedModule{name: name, m: m})
	}
	for _, lm := range s.modules {
		if p, ok := lm.m.(PostSetupHook); ok {
			sc.module = lm.name
			if err := p.PostSetup(sc); err != nil {
				s.close()
				return nil, fmt.Errorf("%s: %w", lm.name, err)
			}
		}
	}
	s.collectHooks()
	if err := refuseUnguarded(sc); err != nil {
		s.close()
		return nil, err
	}
	reportUnknownKeys(sc)
	return s, nil
}

// UnavailableModuleError is the failure of a config that loads a module this
// binary does not have (lighttpd's "loading plugins finally failed"), or one
// it refuses on purpose (Refused says why and what to use instead).
type UnavailableModuleError struct{ Name, Refused string }

func (e *UnavailableModuleError) Error() string {
	if e.Refused != "" {
		return fmt.Sprintf("%s is not available in golighty: %s", e.Name, e.Refused)
	}
	if msg := removedModuleText(e.Name); msg != "" {
		return msg
	}
	return fmt.Sprintf("module %s is not available in golighty (loading plugins finally failed); the modules it has are: %s",
		e.Name, strings.Join(Registered(), ", "))
}

// guardKeys protect content: lighttpd ignores them with "unknown
// config-key" when their module is not loaded and serves what they were to
// protect. golighty refuses such a config instead of serving it less safely.
var guardKeys = map[string]string{
	"auth.require":       "mod_auth",
	"url.access-deny":    "mod_access",
	"url.access-allow":   "mod_access",
	"secdownload.secret": "mod_secdownload",
}

// refuseUnguarded fails the load when a guard key is set but no loaded
// module took it.
func refuseUnguarded(sc *SetupContext) error {
	for _, b := range sc.conf.Blocks {
		for _, e := range b.Entries {
			lk := strings.ToLower(e.Key)
			if mod, ok := guardKeys[lk]; ok && !sc.consumed[lk] {
				return &ConfigError{Pos: e.Pos, Err: fmt.Errorf("%s is set but %s is not in server.modules: lighttpd would ignore the key and serve unprotected what it guards; golighty refuses the config (add %s)", e.Key, mod, mod)}
			}
		}
	}
	return nil
}

// reportUnknownKeys warns about keys no loaded module consumed, as lighttpd's
// "WARNING: unknown config-key: KEY (ignored)".
func reportUnknownKeys(sc *SetupContext) {
	for _, b := range sc.conf.Blocks {
		for _, e := range b.Entries {
			lk := strings.ToLower(e.Key)
			if sc.consumed[lk] || strings.HasPrefix(lk, "var.") || strings.HasPrefix(lk, "env.") {
				continue
			}
			if strings.HasPrefix(lk, "dir-listing.") && lk != "dir-listing.activate" {
				continue
			}
			sc.Warn(e.Pos, "WARNING: unknown config-key: %s (ignored)", e.Key)
		}
	}
}

// moduleOrder applies lighttpd's server.compat-module-load rules
// (config-syntax.md §12.1) to the global server.modules list.
func moduleOrder(sc *SetupContext) ([]string, error) {
	var mods []string
	seen := map[string]bool{}
	if e, ok := sc.conf.Global.Get("server.modules"); ok {
		v, err := checkValue(e.Key, e.Value, TypeList)
		if err != nil {
			return nil, &ConfigError{Pos: e.Pos, Err: err}
		}
		for _, m := range v.List() {
			if !seen[m] {
				seen[m] = true
				mods = append(mods, m)
			}
		}
	}
	has := func(name string) bool { return seen[name] }
	remove := func(name string) {
		out := mods[:0]
		for _, m := range mods {
			if m != name {
				out = append(out, m)
			}
		}
		mods = out
		delete(seen, name)
	}
	if !sc.snap.Core.Server.CompatModuleLoad {
		deprecateCompress(sc, mods, has, remove)
		return mods, nil
	}
	var dynName string
	containsAuth, prependAuth := false, false
	containsVhostdb, prependVhostdb := false, false
	for _, m := range mods {
		switch {
		case strings.HasPrefix(m, "mod_auth"):
			if m == "mod_auth" {
				if !containsAuth {
					containsAuth = true
					if dynName != "" {
						sc.Warn(lighttpdconf.Pos{}, "Warning: mod_auth should be listed in server.modules before dynamic backends such as %s", dynName)
					}
				}
			} else if !containsAuth {
				prependAuth = true
			}
		case strings.HasPrefix(m, "mod_vhostdb"):
			// A vhostdb backend listed before (or without) mod_vhostdb
			// gets mod_vhostdb put in front of every module.
			if m == "mod_vhostdb" {
				containsVhostdb = true
			} else if !containsVhostdb {
				prependVhostdb = true
			}
		case hasAnyPrefix(m, "mod_ajp13", "mod_cgi", "mod_fastcgi", "mod_proxy", "mod_scgi", "mod_sockproxy", "mod_wstunnel"):
			if dynName == "" {
				dynName = m
			}
		}
	}
	if !optEnabled(sc.conf, "index-file.names") && !optEnabled(sc.conf, "server.indexfiles") {
		remove("mod_indexfile")
	} else if !has("mod_indexfile") {
		mods = append([]string{"mod_indexfile"}, mods...)
		seen["mod_indexfile"] = true
	}
	if !optEnabled(sc.conf, "dir-listing.activate") && !optEnabled(sc.conf, "server.dir-listing") {
		remove("mod_dirlisting")
	} else if !has("mod_dirlisting") {
		mods = append(mods, "mod_dirlisting")
		seen["mod_dirlisting"] = true
	}
	if !has("mod_staticfile") {
		mods = append(mods, "mod_staticfile")
	}
	if !has("mod_openssl") && !has("mod_gnutls") && !has("mod_mbedtls") && !has("mod_nss") && !has("mod_wolfssl") && anyKeyPrefix(sc.conf, "ssl.") {
		mods = append(mods, "mod_openssl")
		sc.Warn(lighttpdconf.Pos{}, "Warning: please add \"mod_openssl\" to server.modules list in lighttpd.conf.  A future release of lighttpd 1.4.x *will not* automatically load mod_openssl and lighttpd *will not* use SSL/TLS where your lighttpd.conf contains ssl.* directives")
	}
	if containsAuth {
		// The authn backends were split out of mod_auth in 1.4.46; lighttpd
		// still loads the one an auth.backend value names, with a warning.
		authn := func(module string, values ...string) {
			if has(module) {
				return
			}
			for _, v := range values {
				if optHasValue(sc.conf, "auth.backend", v) {
					sc.Warn(lighttpdconf.Pos{}, "Warning: please add \"%s\" to server.modules list in lighttpd.conf.  A future release of lighttpd 1.4.x will not automatically load %s and lighttpd will fail to start up since your lighttpd.conf uses auth.backend = \"%s\".", module, module, v)
					mods = append(mods, module)
					seen[module] = true
					return
				}
			}
		}
		authn("mod_authn_file", "htdigest", "htpasswd", "plain")
		authn("mod_authn_ldap", "ldap")
	}
	if prependAuth {
		mods = append([]string{"mod_auth"}, mods...)
	}
	if prependVhostdb {
		remove("mod_vhostdb")
		mods = append([]string{"mod_vhostdb"}, mods...)
		seen["mod_vhostdb"] = true
	}
	deprecateCompress(sc, mods, has, remove)
	return mods, nil
}

// deprecateCompress is lighttpd's config_deprecate_module_compress, run
// whatever server.compat-module-load says: mod_compress is gone from
// 1.4.69 and its compress.* keys are served by mod_deflate. With such keys
// it warns and becomes mod_deflate in its place, unless mod_deflate is
// listed too; without them, or beside mod_deflate, it is dropped.
func deprecateCompress(sc *SetupContext, mods []string, has func(string) bool, remove func(string)) {
	if !has("mod_compress") {
		return
	}
	keys := anyKeyPrefix(sc.conf, "compress.")
	if keys {
		sc.Warn(lighttpdconf.Pos{}, "Warning: \"mod_compress\" is DEPRECATED and has been replaced with \"mod_deflate\".  A future release of lighttpd 1.4.x will not contain mod_compress and lighttpd may fail to start up")
	}
	if has("mod_deflate") || !keys {
		remove("mod_compress")
		return
	}
	for i, m := range mods {
		if m == "mod_compress" {
			mods[i] = "mod_deflate"
		}
	}
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// optEnabled mirrors lighttpd's config_has_opt_enabled: the key is set in some
// block to a true boolean or a non-empty list.
func optEnabled(conf *lighttpdconf.Config, key string) bool {
	for _, b := range conf.Blocks {
		e, ok := b.Get(key)
		if !ok {
			continue
		}
		switch e.Value.Kind {
		case lighttpdconf.KindArray:
			if len(e.Value.Arr) > 0 {
				return true
			}
		default:
			if on, ok := boolValue(e.Value); ok && on {
				return true
			}
		}
	}
	return false
}

// optHasValue mirrors lighttpd's config_has_opt_and_value: some block sets
// key to the string value.
func optHasValue(conf *lighttpdconf.Config, key, value string) bool {
	for _, b := range conf.Blocks {
		if e, ok := b.Get(key); ok && e.Value.Kind == lighttpdconf.KindString && e.Value.Str == value {
			return true
		}
	}
	return false
}

func anyKeyPrefix(conf *lighttpdconf.Config, prefix string) bool {
	for _, b := range conf.Blocks {
		for _, e := range b.Entries {
			if strings.HasPrefix(strings.ToLower(e.Key), prefix) {
				return true
			}
		}
	}
	return false
}
