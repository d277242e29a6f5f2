package evhost

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/coretest"
	"github.com/golighty/golighty/lighttpdconf"
	_ "github.com/golighty/golighty/modules/staticfile"
)

const testConf = `
server.document-root = "@DIR@/default"
server.modules = ("mod_evhost")
mimetype.assign = (".txt" => "text/plain")
evhost.path-pattern = "@DIR@/vhosts/%0/%3/"
$HTTP["host"] =~ "\.org$" {
	evhost.path-pattern = "@DIR@/org/%{2.1}/%2/"
}
$HTTP["host"] == "blank.org" {
	evhost.path-pattern = ""
}
`

func newHarness(t *testing.T, extra string) *coretest.Harness {
	h := coretest.New(t, testConf+extra)
	for path, body := range map[string]string{
		"default/who.txt":                          "default",
		"vhosts/example.com/www/who.txt":           "www.example.com",
		"vhosts/example.com/who.txt":               "example.com (no %3)",
		"org/e/example/who.txt":                    "example.org",
		"org/b/blank/who.txt":                      "blank.org by the .org pattern",
		"vhosts/blank.org/who.txt":                 "never: the .org block is true too",
		"vhosts/example.net/a/who.txt":             "a.example.net",
		"vhosts/127.0.0.1/who.txt":                 "never: %0 of 127.0.0.1 is 0.1",
		"vhosts/0.1/0/who.txt":                     "127.0.0.1",
		"vhosts/[::1]/who.txt":                     "[::1]",
		"vhosts/example.com/xn--bcher-kva/who.txt": "idn",
	} {
		h.WriteFile(path, body)
	}
	h.WriteFile("vhosts/example.net/file", "a file")
	return h
}

func TestDocroot(t *testing.T) {
	h := newHarness(t, "")
	tests := []struct {
		name, host, want string
		status           int
	}{
		{"subdomain", "www.example.com", "www.example.com", 200},
		{"port ignored", "www.example.com:8080", "www.example.com", 200},
		{"missing label expands to nothing", "example.com", "example.com (no %3)", 200},
		{"conditional pattern", "www.example.org", "example.org", 200},
		{"blank pattern keeps the outer one", "blank.org", "blank.org by the .org pattern", 200},
		{"no directory keeps document-root", "nothere.example.com", "default", 200},
		{"a file is not a directory", "file.example.net", "default", 200},
		{"ipv4 literal", "127.0.0.1", "127.0.0.1", 200},
		{"ipv6 literal", "[::1]", "[::1]", 200},
		{"ipv6 literal with port", "[::1]:81", "[::1]", 200},
		{"idn in punycode", "xn--bcher-kva.example.com", "idn", 200},
		{"very long label", strings.Repeat("x", 300) + ".example.com", "default", 200},
		{"upper case is lowered by the parser", "WWW.Example.COM", "www.example.com", 200},
		{"dot dot is refused by the parser", "..", "", 400},
		{"slash is refused by the parser", "a/b.example.com", "", 400},
		{"utf-8 is refused by the parser", "b\xc3\xbccher.example.com", "", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := h.Do("GET /who.txt HTTP/1.0\r\nHost: " + tc.host + "\r\n\r\n")
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%q)", resp.StatusCode, tc.status, body)
			}
			if tc.status == 200 && body != tc.want {
				t.Fatalf("served %q, want %q", body, tc.want)
			}
		})
	}
	t.Run("no host keeps document-root", func(t *testing.T) {
		if _, body := h.Do("GET /who.txt HTTP/1.0\r\n\r\n"); body != "default" {
			t.Fatalf("served %q", body)
		}
	})
}

// With host-strict off the parser lets hosts through that can make ".."
// out of "." parts (here "%0%1" of "..."); golighty keeps the document root
// for those. Other odd hosts expand as in lighttpd: ".." has %0 ".", so
// vhosts/./ (the directory itself) is its document root.
func TestDocrootLaxParser(t *testing.T) {
	h := newHarness(t, `server.http-parseopts = ("host-strict" => "disable", "host-normalize" => "disable")
$HTTP["host"] =~ "^\.\.\.$" { evhost.path-pattern = "@DIR@/vhosts/%0%1/leak/" }
`)
	h.WriteFile("leak/who.txt", "leaked")
	for _, tc := range []struct {
		host   string
		status int
		want   string
	}{
		{"...", 200, "default"},
		{"..", 404, ""},
		{".hidden.example.com", 200, "default"},
		{"a..b.example.com", 200, "default"},
		{"a\x00b.example.com", 400, ""},
	} {
		t.Run(tc.host, func(t *testing.T) {
			resp, body := h.Do("GET /who.txt HTTP/1.0\r\nHost: " + tc.host + "\r\n\r\n")
			if resp.StatusCode != tc.status || (tc.status == 200 && body != tc.want) {
				t.Fatalf("status %d, served %q, want %d %q", resp.StatusCode, body, tc.status, tc.want)
			}
		})
	}
}

// The cache of expansions must hold its own copies of the hosts: the
// requests here reuse one read buffer, so a kept view would change under it.
func TestCacheKeepsCopies(t *testing.T) {
	h := newHarness(t, "")
	hosts := []string{"www.example.com", "www.example.org", "aaa.example.com", "a.example.net"}
	var reqs []string
	for _, host := range hosts {
		reqs = append(reqs, "GET /who.txt HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
	}
	for i, resp := range h.Sequence(reqs...) {
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
	}
	m, _ := h.Snap.Module("mod_evhost")
	var got []string
	for _, k := range m.(*Module).paths.Keys() {
		got = append(got, k.host)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(hosts))
	if !slices.Equal(got, want) {
		t.Fatalf("cache keys %q, want %q", got, want)
	}
}

func TestBadPatternIsAConfigError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lighttpd.conf")
	conf := "server.document-root = \"" + dir + "\"\nserver.modules = (\"mod_evhost\")\n" +
		"$HTTP[\"host\"] == \"x\" {\n  evhost.path-pattern = \"/srv/%x/\"\n}\n"
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	parsed, err := lighttpdconf.ParseFile(path, &lighttpdconf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = core.Compile(parsed, core.CompileOptions{Preflight: true}, nil)
	if err == nil || !strings.Contains(err.Error(), "invalid evhost.path-pattern: /srv/%x/") || !strings.Contains(err.Error(), "lighttpd.conf:4:") {
		t.Fatalf("error %v, want lighttpd's message with the file and line", err)
	}
}
