package auth

import "github.com/golighty/golighty/core"

// The authn modules golighty does not provide, refused at start-up with
// what to use instead (serving a protected area without its password is
// never an option).
var refusedModules = map[string]string{
	"mod_authn_pam":    `PAM is not supported; keep the users in an htpasswd file (auth.backend = "htpasswd", mod_authn_file) or a directory (auth.backend = "ldap", mod_authn_ldap)`,
	"mod_authn_sasl":   `SASL is not supported; use auth.backend = "ldap" (mod_authn_ldap) against the directory saslauthd checks, or an htpasswd file (mod_authn_file)`,
	"mod_authn_gssapi": `Kerberos/GSSAPI is not supported; use auth.backend = "ldap" (mod_authn_ldap, e.g. against Active Directory) or an htpasswd file (mod_authn_file)`,
	"mod_authn_dbi":    `database backends are not supported; export the users to an htpasswd file (auth.backend = "htpasswd", mod_authn_file) or use auth.backend = "ldap" (mod_authn_ldap)`,
	"mod_authn_mysql":  `MySQL is not supported; export the users to an htpasswd file (auth.backend = "htpasswd", mod_authn_file) or use auth.backend = "ldap" (mod_authn_ldap)`,
}

// refusedBackends explains auth.backend values of those modules.
var refusedBackends = map[string]string{
	"pam":    "golighty has no mod_authn_pam; use \"htpasswd\" (mod_authn_file) or \"ldap\" (mod_authn_ldap)",
	"sasl":   "golighty has no mod_authn_sasl; use \"ldap\" (mod_authn_ldap) or \"htpasswd\" (mod_authn_file)",
	"gssapi": "golighty has no mod_authn_gssapi; use \"ldap\" (mod_authn_ldap) or \"htpasswd\" (mod_authn_file)",
	"dbi":    "golighty has no mod_authn_dbi; use \"htpasswd\" (mod_authn_file) or \"ldap\" (mod_authn_ldap)",
	"mysql":  "golighty has no mod_authn_mysql; use \"htpasswd\" (mod_authn_file) or \"ldap\" (mod_authn_ldap)",
}

func init() {
	for name, why := range refusedModules {
		core.Register(core.ModuleInfo{Name: name, Refused: why})
	}
}
