package all

import (
	"testing"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/coretest"
)

// TestH2Inline: HTTP/2 streams start on the reader only while every loaded
// module says its hooks never wait (core.InlineHooks); one that may (an
// auth backend, a Lua script, compression) turns it off for the config.
func TestH2Inline(t *testing.T) {
	for _, tc := range []struct {
		modules string
		inline  bool
	}{
		{``, true}, // lighttpd's defaults: indexfile, dirlisting, staticfile
		{`"mod_access", "mod_alias", "mod_rewrite", "mod_redirect", "mod_setenv", "mod_expire", "mod_accesslog", "mod_fastcgi", "mod_proxy", "mod_scgi", "mod_cgi", "mod_status", "mod_secdownload", "mod_evhost", "mod_extforward", "mod_openssl"`, true},
		{`"mod_fastcgi", "mod_auth", "mod_authn_file"`, false},
		{`"mod_magnet"`, false},
		{`"mod_deflate"`, false},
		{`"mod_webdav"`, false},
		{`"mod_userdir"`, false},
		{`"mod_vhostdb"`, false},
	} {
		conf := "server.document-root = \"@DIR@\"\nserver.modules = (" + tc.modules + ")\n"
		h := coretest.New(t, conf)
		if got := h.Snap.H2Inline(); got != tc.inline {
			t.Errorf("modules (%s): inline %v, want %v (loaded %v)", tc.modules, got, tc.inline, h.Snap.Modules())
		}
	}
	h := coretest.New(t, "server.document-root = \"@DIR@\"\n")
	m, ok := h.Snap.Module("mod_staticfile")
	if _, inline := m.(core.InlineHandler); !ok || !inline {
		t.Error("mod_staticfile's handler does not serve on the reader")
	}
}
