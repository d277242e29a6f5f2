package simplevhost

import (
	"slices"
	"strings"
	"testing"

	"github.com/golighty/golighty/core/coretest"
	_ "github.com/golighty/golighty/modules/staticfile"
)

func TestBuildPath(t *testing.T) {
	tests := []struct {
		name, root, host, doc, want string
	}{
		{"host and docroot", "/srv/", "a.com", "htdocs/", "/srv/a.com/htdocs/"},
		{"docroot with leading slash", "/srv/", "a.com", "/htdocs/", "/srv/a.com/htdocs/"},
		{"no docroot", "/srv/", "a.com", "", "/srv/a.com/"},
		{"port cut", "/srv/", "a.com:8080", "htdocs/", "/srv/a.com/htdocs/"},
		{"ipv6 cut at its first colon", "/srv/", "[::1]:8080", "htdocs/", "/srv/[/htdocs/"},
		{"no host", "/srv/", "", "htdocs/", "/srv/htdocs/"},
		{"no host, no docroot", "/srv/", "", "", "/srv/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := buildPath(tc.root, tc.host, tc.doc); got != tc.want {
				t.Fatalf("buildPath(%q, %q, %q) = %q, want %q", tc.root, tc.host, tc.doc, got, tc.want)
			}
		})
	}
}

const testConf = `
server.document-root = "@DIR@/default"
server.modules = ("mod_simple_vhost")
mimetype.assign = (".txt" => "text/plain")
simple-vhost.server-root = "@DIR@/vhosts"
simple-vhost.document-root = "htdocs"
simple-vhost.default-host = "fallback.example"
$HTTP["url"] =^ "/nodefault/" {
	simple-vhost.default-host = ""
}
$HTTP["url"] =^ "/off/" {
	simple-vhost.server-root = ""
}
$HTTP["url"] =^ "/other/" {
	simple-vhost.server-root = "@DIR@/other/"
	simple-vhost.document-root = "/pub/"
}
`

func newHarness(t *testing.T, extra string) *coretest.Harness {
	h := coretest.New(t, testConf+extra)
	for _, dir := range []string{"default", "vhosts/a.example/htdocs", "vhosts/fallback.example/htdocs",
		"vhosts/htdocs", "other/a.example/pub", "vhosts/[/htdocs", "vhosts/127.0.0.1/htdocs"} {
		for _, sub := range []string{"", "/nodefault", "/off", "/other"} {
			h.WriteFile(dir+sub+"/who.txt", dir)
		}
	}
	h.WriteFile("vhosts/file.example", "a file")
	return h
}

func TestDocroot(t *testing.T) {
	h := newHarness(t, "")
	tests := []struct {
		name, path, host, want string
	}{
		{"host", "/who.txt", "a.example", "vhosts/a.example/htdocs"},
		{"host with port", "/who.txt", "a.example:8080", "vhosts/a.example/htdocs"},
		{"unknown host takes default-host", "/who.txt", "b.example", "vhosts/fallback.example/htdocs"},
		{"file is not a directory", "/who.txt", "file.example", "vhosts/fallback.example/htdocs"},
		{"no host takes default-host", "/who.txt", "", "vhosts/fallback.example/htdocs"},
		{"without default-host: server-root itself", "/nodefault/who.txt", "b.example", "vhosts/htdocs"},
		{"empty server-root turns it off", "/off/who.txt", "a.example", "default"},
		{"conditional server-root and docroot", "/other/who.txt", "a.example", "other/a.example/pub"},
		{"ipv6 literal maps to [", "/who.txt", "[::1]:8080", "vhosts/[/htdocs"},
		{"ipv4 literal", "/who.txt", "127.0.0.1", "vhosts/127.0.0.1/htdocs"},
		{"long label", "/who.txt", strings.Repeat("y", 300) + ".example", "vhosts/fallback.example/htdocs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := "GET " + tc.path + " HTTP/1.0\r\n"
			if tc.host != "" {
				req += "Host: " + tc.host + "\r\n"
			}
			resp, body := h.Do(req + "\r\n")
			if resp.StatusCode != 200 || body != tc.want {
				t.Fatalf("status %d, served %q, want %q", resp.StatusCode, body, tc.want)
			}
		})
	}
}

// With host-strict off the parser lets "." and ".." through: lighttpd
// serves "." from server-root/./ (harmless) and ".." from server-root/../,
// above the server root; golighty takes the default host for "..".
func TestDocrootLaxParser(t *testing.T) {
	h := newHarness(t, `server.http-parseopts = ("host-strict" => "disable", "host-normalize" => "disable")`)
	h.WriteFile("htdocs/who.txt", "above the server root")
	for _, tc := range []struct{ host, want string }{
		{"..", "vhosts/fallback.example/htdocs"},
		{"..:8080", "vhosts/fallback.example/htdocs"},
		{".", "vhosts/htdocs"},
		{".hidden", "vhosts/fallback.example/htdocs"},
		{"a..b", "vhosts/fallback.example/htdocs"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			resp, body := h.Do("GET /who.txt HTTP/1.0\r\nHost: " + tc.host + "\r\n\r\n")
			if resp.StatusCode != 200 || body != tc.want {
				t.Fatalf("status %d, served %q, want %q", resp.StatusCode, body, tc.want)
			}
		})
	}
}

func TestCacheKeepsCopies(t *testing.T) {
	h := newHarness(t, "")
	hosts := []string{"a.example", "b.example", "c.example:81"}
	var reqs []string
	for _, host := range hosts {
		reqs = append(reqs, "GET /who.txt HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
	}
	h.Sequence(reqs...)
	m, _ := h.Snap.Module("mod_simple_vhost")
	var got []string
	for _, k := range m.(*Module).paths.Keys() {
		got = append(got, k.host)
	}
	slices.Sort(got)
	// b and c fall back to the default host, which is cached too.
	want := []string{"a.example", "b.example", "c.example:81", "fallback.example"}
	if !slices.Equal(got, want) {
		t.Fatalf("cache keys %q, want %q", got, want)
	}
}
