package core

import (
	"strings"
	"testing"
)

func TestRemovedModuleError(t *testing.T) {
	for name, r := range removedModules {
		t.Run(name, func(t *testing.T) {
			var err error = &UnavailableModuleError{Name: name}
			for _, want := range []string{name, "removed from lighttpd in " + r.since, "loading plugins finally failed", "its replacement is " + r.replacement} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q lacks %q", err, want)
				}
			}
			if !strings.HasPrefix(r.since, "1.4.") {
				t.Errorf("since %q", r.since)
			}
		})
	}
	for _, name := range []string{"mod_staticfile", "mod_compress", "mod_secdownload", "mod_nonexistent"} {
		if msg := removedModuleText(name); msg != "" {
			t.Errorf("%s: %s", name, msg)
		}
	}
}
