package dirlisting_test

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/coretest"
	"github.com/golighty/golighty/lighttpdconf"
	"github.com/golighty/golighty/modules/dirlisting"
	_ "github.com/golighty/golighty/modules/indexfile"
	_ "github.com/golighty/golighty/modules/staticfile"
)

func TestAppendSize(t *testing.T) {
	tests := []struct {
		size int64
		want string
	}{
		{0, "0.0K"}, {1, "0.1K"}, {3, "0.1K"}, {99, "0.1K"}, {100, "0.1K"}, {999, "0.9K"},
		{1000, "0.9K"}, {1023, "0.9K"}, {1024, "1.0K"}, {2048, "2.0K"}, {5000, "4.9K"},
		{1023 * 1024, "0.9M"}, {1000 * 1024, "0.9M"}, {999 * 1024, "999.0K"},
		{1 << 20, "1.0M"}, {1536 * 1024, "1.5M"}, {1 << 30, "1.0G"}, {1 << 40, "1.0T"},
		{1 << 50, "1.0P"}, {1 << 60, "1.0E"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.size), func(t *testing.T) {
			if got := string(dirlisting.AppendSize(nil, tt.size)); got != tt.want {
				t.Fatalf("AppendSize(%d) = %q, want %q", tt.size, got, tt.want)
			}
		})
	}
}

func TestAppendURIPart(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain.txt", "plain.txt"},
		{"two words.html", "two%20words.html"},
		{"a+b&c=d?e#f", "a%2Bb%26c%3Dd%3Fe%23f"},
		{"keep!()*-._~", "keep!()*-._~"},
		{"été", "%C3%A9t%C3%A9"},
		{"100%", "100%25"},
		{"a/b", "a%2Fb"},
		{"\x01\x7f", "%01%7F"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := string(dirlisting.AppendURIPart(nil, tt.in)); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAppendXML(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{`<a href="x">&'`, "&#x3C;a href=&#x22;x&#x22;&#x3E;&#x26;&#x27;"},
		{"tab\there", "tab&#x09;here"},
		{"back`tick", "back&#x60;tick"},
		{"del\x7f", "del&#x7F;"},
		{"été", "été"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := string(dirlisting.AppendXML(nil, tt.in)); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

const conf = `
server.document-root = "@DIR@/www"
server.tag = "tag/1"
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html")
dir-listing.activate = "enable"
$HTTP["url"] =^ "/off/" { dir-listing.activate = "disable" }
$HTTP["url"] =^ "/opts/" {
	dir-listing.hide-dotfiles = "disable"
	dir-listing.exclude = ("^skip", "\.bak$")
	dir-listing.show-readme = "enable"
	dir-listing.hide-readme-file = "enable"
	dir-listing.show-header = "HEAD.txt"
	dir-listing.encode-header = "disable"
	dir-listing.encoding = "utf-8"
	dir-listing.external-css = "/s.css"
	dir-listing.external-js = "/s.js"
	dir-listing.set-footer = "<i>foot</i>"
}
$HTTP["url"] =^ "/bare/" { dir-listing.auto-layout = "disable" }
$HTTP["url"] =^ "/idx/" { index-file.names = ("index.html") }
`

func setup(t testing.TB) *coretest.Harness {
	h := coretest.New(t, conf)
	h.WriteFile("www/list/b.txt", "0123456789")
	h.WriteFile("www/list/a b.html", "x")
	h.WriteFile("www/list/Z.bin", strings.Repeat("z", 2048))
	h.WriteFile("www/list/.hidden", "h")
	h.WriteFile("www/bare/\xffctl\x01.txt", "")
	h.WriteFile("www/list/sub/x", "")
	h.WriteFile("www/list/<dir>/x", "")
	h.WriteFile("www/off/a.txt", "")
	h.WriteFile("www/opts/.dot", "")
	h.WriteFile("www/opts/skipme", "")
	h.WriteFile("www/opts/f.bak", "")
	h.WriteFile("www/opts/shown", "")
	h.WriteFile("www/opts/\xffbad.txt", "") // exclude cannot match invalid UTF-8: hidden
	h.WriteFile("www/opts/README.txt", "read <me>\n")
	h.WriteFile("www/opts/HEAD.txt", "<b>head</b>")
	h.WriteFile("www/bare/a.txt", "")
	h.WriteFile("www/idx/index.html", "index")
	mt := time.Date(2024, 2, 29, 13, 4, 5, 0, time.Local)
	for _, p := range []string{"list/b.txt", "list/a b.html", "list/Z.bin", "list/sub", "list/<dir>", "list"} {
		if err := os.Chtimes(filepath.Join(h.Dir, "www", p), mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func TestListing(t *testing.T) {
	h := setup(t)
	resp, body := h.Get("/list/")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html" || resp.Header.Get("ETag") != "" {
		t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	if resp.Header.Get("Content-Length") != fmt.Sprint(len(body)) {
		t.Fatalf("Content-Length %s for %d bytes", resp.Header.Get("Content-Length"), len(body))
	}
	date := "2024-Feb-29 13:04:05"
	rows := []string{
		`<tr class="d"><td class="n"><a href="../">..</a>/</td><td class="m">&nbsp;</td><td class="s">- &nbsp;</td><td class="t">Directory</td></tr>`,
		`<tr class="d"><td class="n"><a href="%3Cdir%3E/">&#x3C;dir&#x3E;</a>/</td><td class="m">` + date + `</td><td class="s">- &nbsp;</td><td class="t">Directory</td></tr>`,
		`<tr class="d"><td class="n"><a href="sub/">sub</a>/</td><td class="m">` + date + `</td><td class="s">- &nbsp;</td><td class="t">Directory</td></tr>`,
		`<tr><td class="n"><a href="Z.bin">Z.bin</a></td><td class="m">` + date + `</td><td class="s">2.0K</td><td class="t">application/octet-stream</td></tr>`,
		`<tr><td class="n"><a href="a%20b.html">a b.html</a></td><td class="m">` + date + `</td><td class="s">0.1K</td><td class="t">text/html</td></tr>`,
		`<tr><td class="n"><a href="b.txt">b.txt</a></td><td class="m">` + date + `</td><td class="s">0.1K</td><td class="t">text/plain</td></tr>`,
	}
	want := "<tbody>\n" + strings.Join(rows, "\n") + "\n</tbody>"
	if !strings.Contains(body, want) {
		t.Fatalf("rows not as expected; body:\n%s", body)
	}
	for _, s := range []string{
		"<!DOCTYPE html>\n<html>\n<head>\n<title>Index of /list/</title>\n<style type=\"text/css\">\n",
		"</style>\n</head>\n<body>\n<h2>Index of /list/</h2>\n",
		"</tbody>\n</table>\n</div>\n<div class=\"foot\">tag/1</div>\n\n<script type=\"text/javascript\">\n",
	} {
		if !strings.Contains(body, s) {
			t.Errorf("missing %q", s)
		}
	}
	if !strings.HasSuffix(body, "</script>\n\n</body>\n</html>\n") || strings.Contains(body, ".hidden") {
		t.Errorf("bad tail or dotfile shown:\n%s", body[len(body)-200:])
	}
}

func TestListingOptions(t *testing.T) {
	h := setup(t)
	tests := []struct {
		name, path string
		status     int
		ctype      string
		has, not   []string
	}{
		{name: "root has no parent row", path: "/", status: 200, ctype: "text/html",
			has: []string{"<h2>Index of /</h2>"}, not: []string{`href="../"`}},
		{name: "disabled in block", path: "/off/", status: 403},
		{name: "index file wins", path: "/idx/", status: 200, ctype: "text/html", has: []string{"index"}, not: []string{"Index of"}},
		{name: "options", path: "/opts/", status: 200, ctype: "text/html;charset=utf-8",
			has: []string{
				"<meta charset=\"utf-8\">\n<title>Index of /opts/</title>\n",
				"<meta name=\"viewport\" content=\"initial-scale=1\"><link rel=\"stylesheet\" type=\"text/css\" href=\"/s.css\">\n</head>\n<body>\n<b>head</b><h2>",
				`<a href=".dot">.dot</a>`, `<a href="shown">shown</a>`, `<a href="HEAD.txt">HEAD.txt</a>`,
				"</div>\n<pre class=\"readme\">read &#x3C;me&#x3E;&#x0A;</pre><div class=\"foot\"><i>foot</i></div>\n<script type=\"text/javascript\" src=\"/s.js\"></script>\n</body>\n</html>\n",
			},
			not: []string{"skipme", "f.bak", "bad.txt", `href="README.txt"`, "<style"}},
		{name: "no auto layout", path: "/bare/", status: 200, ctype: "text/html",
			has: []string{"<h2>Index of /bare/</h2>\n", `<a href="%FFctl%01.txt">` + "\xff" + `ctl&#x01;.txt</a>`}, not: []string{"<html>", "<script", "foot"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := h.Get(tt.path)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.ctype != "" && resp.Header.Get("Content-Type") != tt.ctype {
				t.Fatalf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tt.ctype)
			}
			for _, s := range tt.has {
				if !strings.Contains(body, s) {
					t.Errorf("missing %q in\n%s", s, body)
				}
			}
			for _, s := range tt.not {
				if strings.Contains(body, s) {
					t.Errorf("unexpected %q in\n%s", s, body)
				}
			}
		})
	}
	t.Run("bare page starts with the heading", func(t *testing.T) {
		_, body := h.Get("/bare/")
		if !strings.HasPrefix(body, "<h2>Index of /bare/</h2>\n<div class=\"list\">") || !strings.HasSuffix(body, "</tbody>\n</table>\n</div>\n") {
			t.Fatalf("body:\n%s", body)
		}
	})
	t.Run("HEAD has the length and no body", func(t *testing.T) {
		_, get := h.Get("/list/")
		raw := string(h.Raw("HEAD /list/ HTTP/1.0\r\n\r\n"))
		if !strings.Contains(raw, fmt.Sprintf("Content-Length: %d\r\n", len(get))) || !strings.HasSuffix(raw, "\r\n\r\n") {
			t.Fatalf("HEAD response %q", raw)
		}
	})
	t.Run("POST is not listed", func(t *testing.T) {
		resp, _ := h.Do("POST /list/ HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
		if resp.StatusCode == 200 {
			t.Fatal("POST got a listing")
		}
	})
}

func TestCache(t *testing.T) {
	h := coretest.New(t, `
server.document-root = "@DIR@/www"
dir-listing.activate = "enable"
dir-listing.cache = ("path" => "@DIR@/cache", "max-age" => 60)
`)
	h.WriteFile("www/d/a.txt", "a")
	if err := os.Mkdir(filepath.Join(h.Dir, "cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	resp, first := h.Get("/d/")
	if resp.Header.Get("Cache-Control") != "max-age=60" || resp.Header.Get("ETag") == "" {
		t.Fatalf("first response headers %v", resp.Header)
	}
	cached := filepath.Join(h.Dir, "cache", h.Dir, "www/d/dirlist.html")
	if b, err := os.ReadFile(cached); err != nil || string(b) != first {
		t.Fatalf("cache file %s: %v", cached, err)
	}
	// A new file is not listed while the cached page is fresh.
	h.WriteFile("www/d/new.txt", "n")
	resp, second := h.Get("/d/")
	if second != first || !strings.HasPrefix(resp.Header.Get("Cache-Control"), "max-age=") {
		t.Fatalf("second response not from cache: %v", resp.Header)
	}
}

func TestCacheConfigErrors(t *testing.T) {
	tests := []struct{ name, value, want string }{
		{"no path", `("max-age" => 10)`, `dir-listing.cache must include "path"`},
		{"path not string", `("path" => 5)`, `dir-listing.cache "path" must have string value`},
		{"path is a file", `("path" => "@FILE@")`, `is not a dir`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "f")
			if err := os.WriteFile(file, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			v := strings.ReplaceAll(tt.value, "@FILE@", file)
			err := compileErr(t, "dir-listing.activate = \"enable\"\ndir-listing.cache = "+v+"\n")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func FuzzEscapes(f *testing.F) {
	for _, s := range []string{"a b", "été", "<&>\"'`", "\x00\x7f\xff", "%41"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u := string(dirlisting.AppendURIPart(nil, s))
		if dec, err := url.PathUnescape(u); err != nil || dec != s {
			t.Fatalf("URI part %q of %q decodes to %q, %v", u, s, dec, err)
		}
		if strings.ContainsAny(u, " \"#&'+,/:;<=>?@[\\]^`{|}") {
			t.Fatalf("URI part %q has a reserved byte", u)
		}
		x := string(dirlisting.AppendXML(nil, s))
		if strings.ContainsAny(x, "<>\"'`") {
			t.Fatalf("XML %q has a special byte", x)
		}
		if dec := unescapeXML(x); dec != s {
			t.Fatalf("XML %q of %q decodes to %q", x, s, dec)
		}
	})
}

// BenchmarkListing200 measures reading, sorting and rendering a
// directory of 200 files (the handler alone, no HTTP).
func BenchmarkListing200(b *testing.B) {
	h := coretest.New(b, `
server.document-root = "@DIR@/www"
mimetype.assign = (".txt" => "text/plain")
dir-listing.activate = "enable"
`)
	for i := range 200 {
		h.WriteFile(fmt.Sprintf("www/big/file-%03d.txt", i), "x")
	}
	mod, ok := h.Snap.Module("mod_dirlisting")
	if !ok {
		b.Fatal("mod_dirlisting not loaded")
	}
	m := mod.(*dirlisting.Module)
	rc := &core.Request{Snap: h.Snap, Method: "GET", Proto: 11}
	rc.Conf = h.Snap.Core.Table.Defaults()
	rc.URI.Path = "/big/"
	rc.Phys.Path = filepath.Join(h.Dir, "www/big") + "/"
	b.ReportAllocs()
	for b.Loop() {
		rc.Resp.Header.Reset()
		if m.SubrequestStart(rc) != core.Finished || rc.Resp.Status != 200 {
			b.Fatal("no listing")
		}
	}
}

// unescapeXML undoes &#xHH; references (the only form AppendXML writes).
func unescapeXML(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '&' && i+6 <= len(s) && s[i+1] == '#' && s[i+2] == 'x' && s[i+5] == ';' {
			var c byte
			if _, err := fmt.Sscanf(s[i+3:i+5], "%02X", &c); err == nil {
				b.WriteByte(c)
				i += 5
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// compileErr compiles conf and returns the error core.Compile reports.
func compileErr(t *testing.T, conf string) error {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "lighttpd.conf")
	if err := os.WriteFile(path, []byte("server.document-root = \""+dir+"\"\n"+conf), 0o644); err != nil {
		t.Fatal(err)
	}
	parsed, err := lighttpdconf.ParseFile(path, &lighttpdconf.Options{})
	if err != nil {
		return err
	}
	_, err = core.Compile(parsed, core.CompileOptions{}, nil)
	return err
}
