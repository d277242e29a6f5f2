package core

import "fmt"

// removedModule is a module older configs load that lighttpd itself no
// longer ships. lighttpd 1.4.69 fails to start on it exactly as on an unknown
// name (dlopen() failed ... loading plugins finally failed); golighty fails
// the same way but says so, and names what replaced the module.
type removedModule struct {
	since       string // the lighttpd release that dropped it
	replacement string // the module that took its place
	how         string // what to do with it
}

// magnetLua is how lighttpd's developers replaced the mini-applications
// they dropped in favour of mod_magnet.
func magnetLua(name string) removedModule {
	return removedModule{replacement: "mod_magnet", how: "a few lines of Lua (lighttpd wiki ModMagnetExamples, lua-" + name + ")"}
}

func since(v string, r removedModule) removedModule { r.since = v; return r }

// removedModules lists the removals of lighttpd 1.4.64 (long-deprecated
// modules) and 1.4.68 (mini-applications replaced by mod_magnet). Not here:
// mod_compress (config_deprecate_module_compress renames or drops it),
// mod_secdownload (golighty keeps it on purpose), mod_authn_mysql (refused by
// golighty's mod_auth, which names its own replacements).
var removedModules = map[string]removedModule{
	"mod_evasive":        since("1.4.68", magnetLua("mod_evasive")),
	"mod_usertrack":      since("1.4.68", magnetLua("mod_usertrack")),
	"mod_uploadprogress": since("1.4.68", magnetLua("mod_uploadprogress")),
	"mod_flv_streaming":  since("1.4.64", magnetLua("mod_flv_streaming")),
	"mod_trigger_b4_dl":  since("1.4.64", magnetLua("mod_trigger_b4_dl")),
	"mod_cml":            {"1.4.64", "mod_magnet", "Lua scripts that do what the CML scripts did"},
	"mod_geoip":          {"1.4.64", "mod_maxminddb", "a GeoIP2 database (maxminddb.db, maxminddb.env)"},
	"mod_mysql_vhost":    {"1.4.64", "mod_vhostdb_dbi", `"dbtype" => "sqlite3" and the vhosts table exported to SQLite (lighttpd's own successor, mod_vhostdb_mysql, needs a C client library golighty does not link), or mod_simple_vhost / mod_evhost when the document root follows from the host name`},
}

// removedModuleText is the start-up error for a removed module, or ""
// when name is not one.
func removedModuleText(name string) string {
	r, ok := removedModules[name]
	if !ok {
		return ""
	}
	have := ""
	if _, ok := lookupModule(r.replacement); !ok {
		have = ", which golighty does not have yet"
	}
	return fmt.Sprintf("module %s was removed from lighttpd in %s, and lighttpd 1.4.69 does not start with it either (loading plugins finally failed): remove it from server.modules; its replacement is %s%s, with %s",
		name, r.since, r.replacement, have, r.how)
}
