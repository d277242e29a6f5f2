// Package all links every module golighty implements into the binary;
// server.modules then picks them by name, as lighttpd loads its plugins.
package all

import (
	_ "github.com/golighty/golighty/modules/access"
	_ "github.com/golighty/golighty/modules/accesslog"
	_ "github.com/golighty/golighty/modules/alias"
	_ "github.com/golighty/golighty/modules/auth"
	_ "github.com/golighty/golighty/modules/authnfile"
	_ "github.com/golighty/golighty/modules/authnldap"
	_ "github.com/golighty/golighty/modules/dirlisting"
	_ "github.com/golighty/golighty/modules/evhost"
	_ "github.com/golighty/golighty/modules/expire"
	_ "github.com/golighty/golighty/modules/extforward"
	_ "github.com/golighty/golighty/modules/fastcgi"
	_ "github.com/golighty/golighty/modules/indexfile"
	_ "github.com/golighty/golighty/modules/redirect"
	_ "github.com/golighty/golighty/modules/rewrite"
	_ "github.com/golighty/golighty/modules/secdownload"
	_ "github.com/golighty/golighty/modules/setenv"
	_ "github.com/golighty/golighty/modules/simplevhost"
	_ "github.com/golighty/golighty/modules/ssl"
	_ "github.com/golighty/golighty/modules/staticfile"
	_ "github.com/golighty/golighty/modules/userdir"
	_ "github.com/golighty/golighty/modules/vhostdb"
)
