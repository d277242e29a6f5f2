package userdir

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golighty/golighty/core/coretest"
	_ "github.com/golighty/golighty/modules/staticfile"
)

const baseConf = `
server.document-root = "@DIR@/default"
server.modules = ("mod_userdir")
mimetype.assign = (".txt" => "text/plain")
userdir.path = "public_html"
userdir.basepath = "@DIR@/home/"
userdir.exclude-user = ("root", "Admin")
$HTTP["url"] =^ "/~inc" { userdir.include-user = ("inc1") }
$HTTP["url"] =^ "/~none" { userdir.include-user = () }
$HTTP["url"] =^ "/~off" { userdir.active = "disable" }
$HTTP["host"] == "letters" { userdir.letterhomes = "enable" }
$HTTP["host"] == "flat" { userdir.path = "" }
$HTTP["host"] == "lower" { server.force-lowercase-filenames = "enable" }
`

func newHarness(t *testing.T, conf string) *coretest.Harness {
	h := coretest.New(t, conf)
	for _, u := range []string{"joe", "inc1", "incx", "none1", "off1", "a.b-c_d", "...", "admin", "Admin", "root"} {
		h.WriteFile("home/"+u+"/public_html/who.txt", "home/"+u+"/public_html")
		h.WriteFile("home/"+u+"/who.txt", "home/"+u)
	}
	h.WriteFile("home/j/joe/public_html/who.txt", "home/j/joe/public_html")
	h.WriteFile("home/joe/public_html/sub/who.txt", "home/joe/public_html/sub")
	h.WriteFile("default/who.txt", "default")
	h.WriteFile("default/~joe/who.txt", "default/~joe")
	h.WriteFile("default/~../who.txt", "default/~..")
	return h
}

func TestBasepath(t *testing.T) {
	h := newHarness(t, baseConf)
	tests := []struct {
		name, host, path string
		status           int
		want             string // body, or Location for 301
	}{
		{"user dir", "x", "/~joe/who.txt", 200, "home/joe/public_html"},
		{"below the user dir", "x", "/~joe/sub/who.txt", 200, "home/joe/public_html/sub"},
		{"unknown user is not checked with basepath", "x", "/~nobody-here/who.txt", 404, ""},
		{"no slash redirects", "x", "/~joe", 301, "/~joe/"},
		{"no slash redirects even an excluded user", "x", "/~root", 301, "/~root/"},
		{"no slash keeps the query", "x", "/~joe?a=b", 301, "/~joe/?a=b"},
		{"tilde alone", "x", "/~", 404, ""},
		{"empty user", "x", "/~/who.txt", 404, ""},
		{"excluded user", "x", "/~root/who.txt", 404, ""},
		{"exclude is case-sensitive", "x", "/~admin/who.txt", 200, "home/admin/public_html"},
		{"exclude folds with force-lowercase", "lower", "/~admin/who.txt", 404, ""},
		{"force-lowercase lowers the user", "lower", "/~JOE/who.txt", 200, "home/joe/public_html"},
		{"included user", "x", "/~inc1/who.txt", 200, "home/inc1/public_html"},
		{"not included", "x", "/~incx/who.txt", 404, ""},
		{"empty include list lets nobody in", "x", "/~none1/who.txt", 404, ""},
		{"userdir.active off", "x", "/~off1/who.txt", 404, ""},
		{"letterhomes", "letters", "/~joe/who.txt", 200, "home/j/joe/public_html"},
		{"empty path serves the home", "flat", "/~joe/who.txt", 200, "home/joe"},
		{"dots and dashes are fine", "x", "/~a.b-c_d/who.txt", 200, "home/a.b-c_d/public_html"},
		{"three dots are a name", "x", "/~.../who.txt", 200, "home/.../public_html"},
		{"dot dot is refused", "x", "/~../who.txt", 200, "default/~.."},
		{"encoded dot dot is refused", "x", "/~%2e%2e/who.txt", 200, "default/~.."},
		{"traversal inside the path is removed first", "x", "/~joe/../~joe/who.txt", 200, "home/joe/public_html"},
		{"bad character", "x", "/~jo%2fe/who.txt", 404, ""},
		{"space", "x", "/~jo%20e/who.txt", 404, ""},
		{"nul", "x", "/~jo%00e/who.txt", 400, ""},
		{"user of 255 bytes is looked at", "x", "/~" + strings.Repeat("u", 255) + "/who.txt", 404, ""},
		{"user of 256 bytes is not", "x", "/~" + strings.Repeat("u", 256) + "/who.txt", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := h.Do("GET " + tc.path + " HTTP/1.0\r\nHost: " + tc.host + "\r\n\r\n")
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%q)", resp.StatusCode, tc.status, body)
			}
			switch tc.status {
			case 200:
				if body != tc.want {
					t.Fatalf("served %q, want %q", body, tc.want)
				}
			case 301:
				if loc := resp.Header.Get("Location"); loc != tc.want {
					t.Fatalf("Location %q, want %q", loc, tc.want)
				}
			}
		})
	}
}

// Without userdir.path the module does nothing, whatever else is set.
func TestOffWithoutPath(t *testing.T) {
	h := newHarness(t, strings.Replace(baseConf, `userdir.path = "public_html"`, "", 1))
	resp, body := h.Get("/~joe/who.txt")
	if resp.StatusCode != 200 || body != "default/~joe" {
		t.Fatalf("status %d, served %q", resp.StatusCode, body)
	}
	if resp, _ := h.Get("/~zed"); resp.StatusCode != 404 {
		t.Fatalf("/~zed: status %d, want 404 (no redirect)", resp.StatusCode)
	}
}

// The password database path, with a real user whose home directory every
// Debian system has and anyone may enter: daemon (/usr/sbin). The userdir
// path climbs from there into the test's directory, so nothing is written
// outside it.
func TestPasswd(t *testing.T) {
	u, err := user.Lookup("daemon")
	if err != nil {
		t.Skipf("no user daemon: %v", err)
	}
	if fi, err := os.Stat(u.HomeDir); err != nil || !fi.IsDir() {
		t.Skipf("daemon's home %s is no directory", u.HomeDir)
	}
	dir := t.TempDir()
	rel, err := filepath.Rel(u.HomeDir, filepath.Join(dir, "pub"))
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer(`userdir.path = "public_html"`, `userdir.path = "`+rel+`"`,
		`userdir.basepath = "@DIR@/home/"`, "").Replace(baseConf)
	h := newHarness(t, conf)
	if err := os.MkdirAll(filepath.Join(dir, "pub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pub", "who.txt"), []byte("daemon's pub"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		status     int
		want       string
	}{
		{"known user", "/~daemon/who.txt", 200, "daemon's pub"},
		{"unknown user", "/~no-such-user-here/who.txt", 404, ""},
		{"traversal name is no user", "/~../who.txt", 200, "default/~.."},
		{"user without the directory", "/~nobody/who.txt", 404, ""},
		{"excluded", "/~root/who.txt", 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := h.Get(tc.path)
			if resp.StatusCode != tc.status || (tc.status == 200 && body != tc.want) {
				t.Fatalf("status %d, served %q; want %d %q", resp.StatusCode, body, tc.status, tc.want)
			}
		})
	}
}

func TestHomeCache(t *testing.T) {
	lookups := 0
	homes := map[string]string{"joe": "/home/joe", "ann": "/home/ann"}
	c := newHomeCache(func(name string) (string, bool) {
		lookups++
		h, ok := homes[name]
		return h, ok
	})
	now := time.Unix(1000, 0)
	c.now = func() time.Time { return now }
	dirs := map[string]bool{"/home/joe/public_html": true}
	isDir := func(p string) error {
		if dirs[p] {
			return nil
		}
		return errors.New("no directory")
	}
	steps := []struct {
		name, user, path string
		advance          time.Duration
		want             string
		ok               bool
		lookups          int
	}{
		{"first lookup", "joe", "public_html", 0, "/home/joe/public_html", true, 1},
		{"cached", "joe", "public_html", 30 * time.Second, "/home/joe/public_html", true, 1},
		{"cached home with another path is not checked", "joe", "www", 0, "/home/joe/www", true, 1},
		{"expired after a minute", "joe", "public_html", 31 * time.Second, "/home/joe/public_html", true, 2},
		{"missing directory is not cached", "ann", "public_html", 0, "", false, 3},
		{"asked again", "ann", "public_html", 0, "", false, 4},
		{"unknown user", "zed", "public_html", 0, "", false, 5},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		got, ok := c.dir(s.user, s.path, isDir)
		if got != s.want || ok != s.ok || lookups != s.lookups {
			t.Fatalf("%s: dir = %q, %v after %d lookups; want %q, %v after %d", s.name, got, ok, lookups, s.want, s.ok, s.lookups)
		}
	}
}

func TestHomeCacheBounded(t *testing.T) {
	c := newHomeCache(func(name string) (string, bool) { return "/home/" + name, true })
	for i := 0; i < 3*maxHomes; i++ {
		c.dir(strings.Repeat("u", i+1), "p", func(string) error { return nil })
	}
	if len(c.m) > maxHomes {
		t.Fatalf("cache grew to %d entries (max %d)", len(c.m), maxHomes)
	}
}

func TestListed(t *testing.T) {
	l := []string{"root", "Admin", "k"}
	for _, tc := range []struct {
		user       string
		fold, want bool
	}{
		{"root", false, true}, {"Root", false, false}, {"Root", true, true}, {"ADMIN", true, true},
		{"admin", false, false}, {"\u212a", true, false}, {"K", true, true}, {"roo", true, false},
	} {
		if got := listed(l, tc.user, tc.fold); got != tc.want {
			t.Errorf("listed(%q, fold %v) = %v, want %v", tc.user, tc.fold, got, tc.want)
		}
	}
}

func TestValidUser(t *testing.T) {
	for _, tc := range []struct {
		u  string
		ok bool
	}{
		{"joe", true}, {"a.b-c_D9", true}, {"...", true},
		{".", false}, {"..", false}, {"jo e", false}, {"jo/e", false}, {"jö", false}, {"jo\x00e", false}, {"~joe", false},
	} {
		if got := validUser(tc.u); got != tc.ok {
			t.Errorf("validUser(%q) = %v, want %v", tc.u, got, tc.ok)
		}
	}
}
