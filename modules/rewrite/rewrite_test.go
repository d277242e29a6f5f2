package rewrite_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/coretest"
	"github.com/golighty/golighty/lighttpdconf"
	_ "github.com/golighty/golighty/modules/rewrite"
	_ "github.com/golighty/golighty/modules/staticfile"
)

const testConf = `
server.document-root = "@DIR@/www"
server.modules = ("mod_rewrite")
mimetype.assign = (".txt" => "text/plain")
url.rewrite-once = (
	"^/old/([^?]*)" => "/files/$1.txt",
	"^/q\?name=([a-z]+)" => "/files/$1.txt",
	"^/keep$" => "",
	"^/keep(.*)" => "/files/b.txt",
	"^/o1/(.*)" => "/o2/$1",
	"^/rel" => "files/a.txt",
	"^/nul" => "/files/a%%00.txt",
	"^/dots/(.*)" => "/files/x/%%2e%%2e/$1",
	"^/grow/(.*)" => "/files/${esc:1}${esc:1}${esc:1}${esc:1}${esc:1}${esc:1}${esc:1}${esc:1}",
)
url.rewrite-repeat = (
	"^/o2/(.*)" => "/files/$1",
	"^/strip/(x*)x$" => "/strip/$1",
	"^/loop" => "/loop",
	"^/r1/(.*)" => "/r2/$1",
	"^/r2/(.*)" => "/files/$1",
)
url.rewrite-if-not-file = ("^/nf/(.*)" => "/files/nf.txt")

$HTTP["url"] =^ "/blk/" {
	url.rewrite-repeat = ("^/blk/own" => "/files/a.txt")
}
$HTTP["url"] =^ "/none/" {
	url.rewrite-once = ()
}
$HTTP["host"] =~ "^([a-z]+)\.example\.org$" {
	url.rewrite-once = ("^/host/" => "/files/%1.txt")
}
$HTTP["host"] =~ "zero" {
	url.rewrite-once = ("^/host/" => "/files/%0.txt")
}
$HTTP["host"] =~ "^(nest)\.test$" {
	$HTTP["url"] =^ "/inner/" {
		url.rewrite-once = ("^/inner/" => "/files/[%1].txt")
	}
}
`

func newHarness(t *testing.T, conf string) *coretest.Harness {
	t.Helper()
	h := coretest.New(t, conf)
	for name, body := range map[string]string{
		"files/a.txt": "a", "files/b.txt": "b", "files/nf.txt": "nf", "files/x.txt": "x",
		"files/www.txt": "www", "files/zero.txt": "zero", "files/[].txt": "empty-capture",
		"files/abc.txt": "abc", "files/x%00.txt": "never", "strip/index.txt": "",
		"nf/exists.txt": "exists", "nf/dir/x": "", "o2/x": "o2",
	} {
		h.WriteFile(filepath.Join("www", name), body)
	}
	return h
}

func TestRewrite(t *testing.T) {
	h := newHarness(t, testConf)
	tests := []struct {
		name, target, host string
		status             int // 0: the connection is dropped without a response
		body               string
	}{
		{"once with capture", "/old/a", "", 200, "a"},
		{"rule sees the query", "/q?name=abc", "", 200, "abc"},
		{"empty target stops the list", "/keep", "", 404, ""},
		{"rule after the stopper", "/keepx", "", 200, "b"},
		{"once match ends rewriting", "/o1/x", "", 200, "o2"},
		{"repeat chain", "/r1/a.txt", "", 200, "a"},
		// Each pass after the first rewrite counts once per list consulted:
		// 99 rewrites, the last uri_raw pass and the if-not-file check
		// make 100, the limit; one more rewrite is one too many.
		{"99 rewrites pass", "/strip/" + strings.Repeat("x", 99), "", 403, ""},
		{"100 rewrites drop", "/strip/" + strings.Repeat("x", 100), "", 0, ""},
		{"endless loop drops", "/loop", "", 0, ""},
		{"if-not-file keeps a file", "/nf/exists.txt", "", 200, "exists"},
		{"if-not-file rewrites a directory", "/nf/dir/", "", 200, "nf"},
		{"if-not-file rewrites a missing path", "/nf/missing", "", 200, "nf"},
		{"block list replaces the global lists", "/blk/o1/x", "", 404, ""},
		{"block's own rule", "/blk/own", "", 200, "a"},
		{"empty block list", "/none/old/a", "", 404, ""},
		{"%1 of the host condition", "/host/", "www.example.org", 200, "www"},
		{"%0 of a regex without groups", "/host/", "zero", 200, "zero"},
		{"%N is the own block's, not the parent's", "/inner/", "nest.test", 200, "empty-capture"},
		{"result not starting with /", "/rel", "", 0, ""},
		{"result with %00 is a bad request", "/nul", "", 400, ""},
		{"dot segments are resolved in the docroot", "/dots/a.txt", "", 200, "a"},
		{"overlong result", "/grow/" + strings.Repeat("%C3%A9", 1300), "", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := tt.host
			if host == "" {
				host = "example.com"
			}
			raw := h.Raw("GET " + tt.target + " HTTP/1.0\r\nHost: " + host + "\r\n\r\n")
			if tt.status == 0 {
				if len(raw) != 0 {
					t.Fatalf("want no response, got %q", raw)
				}
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
			if err != nil {
				t.Fatalf("%v: %q", err, raw)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || (tt.status == 200 && string(body) != tt.body) {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tt.status, tt.body)
			}
			if tt.status == 400 && !resp.Close {
				t.Fatalf("400 after a rewrite must close the connection")
			}
		})
	}
}

// TestRewriteNormalization: with url-normalize (the default) rule regexes
// are normalized like request targets; without it both stay as written.
func TestRewriteNormalization(t *testing.T) {
	for _, tc := range []struct {
		name, opts string
		want       int
	}{
		{"normalized", "", 404},
		{"url-normalize disabled", `server.http-parseopts = ("url-normalize" => "disable")`, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, `
server.document-root = "@DIR@/www"
server.modules = ("mod_rewrite")
`+tc.opts+`
url.rewrite-once = ("^/x%2fy$" => "/files/a.txt", "^/q\?v=%c3%a9$" => "/files/b.txt")
`)
			if resp, _ := h.Get("/x%2fy"); resp.StatusCode != tc.want {
				t.Errorf("/x%%2fy: %d, want %d", resp.StatusCode, tc.want)
			}
			// The query keeps its escapes: normalized key and target meet.
			if resp, body := h.Get("/q?v=%c3%a9"); resp.StatusCode != 200 || body != "b" {
				t.Errorf("/q?v=%%c3%%a9: %d %q", resp.StatusCode, body)
			}
		})
	}
}

func TestRewriteConfigErrors(t *testing.T) {
	tests := []struct{ name, conf, want string }{
		{"bad regex", `url.rewrite-once = ("(" => "/x")`, "rewrite.conf:3:20: pcre2_compile: missing closing parenthesis"},
		{"too many captures", `url.rewrite-repeat = ("` + strings.Repeat("(a)", 20) + `" => "/x")`, "rewrite.conf:3:22: Too many captures in regex"},
		{"bad regex in a block", "$HTTP[\"url\"] =^ \"/a\" {\n url.rewrite-if-not-file = (\"[\" => \"/x\")\n}", "rewrite.conf:4:28: pcre2_compile:"},
		{"not a list", `url.rewrite = "/x"`, "url.rewrite should have been a list of key => string values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "rewrite.conf")
			src := "server.document-root = \"" + dir + "\"\nserver.modules = (\"mod_rewrite\")\n" + tt.conf + "\n"
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			conf, err := lighttpdconf.ParseFile(path, &lighttpdconf.Options{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = core.Compile(conf, core.CompileOptions{Preflight: true}, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
