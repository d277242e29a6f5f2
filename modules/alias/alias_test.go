package alias

import (
	"testing"

	"github.com/golighty/golighty/core"
)

func TestRemap(t *testing.T) {
	aliases := []core.KV{
		{Key: "/al/", Value: "/tmp/aliasd/"},
		{Key: "/icons", Value: "/usr/share/icons/"},
		{Key: "/cgi-bin/", Value: "/usr/lib/cgi-bin/"},
	}
	tests := []struct {
		name             string
		path, base       string
		fold             bool
		wantPath, wantBD string
		wantStatus       int
	}{
		{"prefix with slash", "/srv/www/al/f.txt", "/srv/www", false, "/tmp/aliasd/f.txt", "/tmp/aliasd/", 0},
		{"base with trailing slash", "/srv/www/al/f.txt", "/srv/www/", false, "/tmp/aliasd/f.txt", "/tmp/aliasd/", 0},
		{"no match", "/srv/www/other/f.txt", "/srv/www", false, "", "", 0},
		{"key without slash joins", "/srv/www/icons/a.png", "/srv/www", false, "/usr/share/icons//a.png", "/usr/share/icons/", 0},
		{"traversal dotdot", "/srv/www/icons../etc/passwd", "/srv/www", false, "", "", 403},
		{"traversal dot end", "/srv/www/icons.", "/srv/www", false, "", "", 403},
		{"dotfile name is fine", "/srv/www/icons.x", "/srv/www", false, "/usr/share/icons/.x", "/usr/share/icons/", 0},
		{"case sensitive", "/srv/www/AL/f.txt", "/srv/www", false, "", "", 0},
		{"case folded", "/srv/www/AL/f.txt", "/srv/www", true, "/tmp/aliasd/f.txt", "/tmp/aliasd/", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, bd, st := remap(aliases, tt.path, tt.base, tt.fold)
			if p != tt.wantPath || bd != tt.wantBD || st != tt.wantStatus {
				t.Fatalf("remap(%q) = (%q, %q, %d), want (%q, %q, %d)", tt.path, p, bd, st, tt.wantPath, tt.wantBD, tt.wantStatus)
			}
		})
	}
}

func TestCheckOrder(t *testing.T) {
	if err := checkOrder([]core.KV{{Key: "/a", Value: "/x"}, {Key: "/ab", Value: "/y"}}); err == nil {
		t.Fatal("a later key with an earlier key as prefix must be refused")
	}
	if err := checkOrder([]core.KV{{Key: "/ab", Value: "/y"}, {Key: "/a", Value: "/x"}}); err != nil {
		t.Fatalf("longer key first is fine: %v", err)
	}
}
