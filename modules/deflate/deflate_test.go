package deflate_test

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/coretest"
	"github.com/golighty/golighty/lighttpdconf"
	_ "github.com/golighty/golighty/modules/deflate"
	_ "github.com/golighty/golighty/modules/staticfile"
)

// streamModule answers /stream with a streamed body (a large backend
// reply): 3 MiB of text in chunks, flushed as it goes, with an ETag.
type streamModule struct{}

func (streamModule) Setup(*core.SetupContext) error { return nil }
func (streamModule) URIClean(rc *core.Request) core.Result {
	if rc.URI.Path == "/stream" {
		rc.SetHandler("test", streamModule{})
	}
	return core.GoOn
}
func (streamModule) Serve(rc *core.Request) core.Result {
	rc.Resp.Status = 200
	rc.Resp.Header.Set("Content-Type", "text/plain")
	rc.Resp.Header.Set("ETag", `"s1"`)
	w, err := rc.StartStream(-1)
	if err != nil {
		return core.Finished
	}
	line := []byte(strings.Repeat("streamed line\n", 1000))
	for i := 0; i < 3<<20/len(line); i++ {
		w.Write(line)
		if i%50 == 0 {
			rc.FlushStream()
		}
	}
	return core.Finished
}

func init() {
	core.Register(core.ModuleInfo{Name: "mod_test_stream", New: func() core.Module { return streamModule{} }})
}

const base = `
server.document-root = "@DIR@/www"
mimetype.assign = (".html" => "text/html", ".txt" => "text/plain")
server.modules = ("mod_test_stream", "mod_deflate")
deflate.mimetypes = ("text/")
deflate.allowed-encodings = ("gzip", "br")
`

func harness(t *testing.T, extra string) *coretest.Harness {
	t.Helper()
	h := coretest.New(t, base+extra)
	h.WriteFile("www/page.html", strings.Repeat("<p>some text to compress</p>\n", 400))
	h.WriteFile("www/257.txt", strings.Repeat("x", 257))
	h.WriteFile("www/256.txt", strings.Repeat("x", 256))
	return h
}

func gunzip(t *testing.T, b string) string {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestDecisions(t *testing.T) {
	h := harness(t, "")
	cases := []struct {
		name, req, ce, vary string
	}{
		{"compressed", "GET /page.html HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n", "gzip", "Accept-Encoding"},
		{"HEAD skipped entirely", "HEAD /page.html HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n", "", ""},
		{"one byte over min-compress-size", "GET /257.txt HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n", "gzip", "Accept-Encoding"},
		{"at min-compress-size", "GET /256.txt HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n", "", ""},
		{"no Accept-Encoding", "GET /page.html HTTP/1.0\r\n\r\n", "", ""},
		{"error page compressed too", "GET /nothing.html HTTP/1.0\r\nAccept-Encoding: br\r\n\r\n", "br", "Accept-Encoding"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, _ := h.Do(c.req)
			if ce, v := resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"); ce != c.ce || v != c.vary {
				t.Errorf("Content-Encoding %q, Vary %q; want %q, %q", ce, v, c.ce, c.vary)
			}
		})
	}
}

// TestStreamCompressed: a streamed reply (no length known) is compressed
// as it flows, chunked, its ETag marked, and a client holding that ETag
// gets 304 without the body.
func TestStreamCompressed(t *testing.T) {
	h := harness(t, "")
	resp, body := h.Do("GET /stream HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("ETag") != `"s1-gzip"` || len(resp.TransferEncoding) == 0 {
		t.Fatalf("headers %v", resp.Header)
	}
	if got := gunzip(t, body); len(got) != 3<<20/14000*14000 || !strings.HasPrefix(got, "streamed line\n") {
		t.Errorf("decoded %d bytes", len(got))
	}
	resp, body = h.Do("GET /stream HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nIf-None-Match: \"s1-gzip\"\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != 304 || body != "" || resp.Header.Get("ETag") != `"s1-gzip"` {
		t.Errorf("conditional stream: %d %q %v", resp.StatusCode, body, resp.Header)
	}
}

// TestCacheDirCreated: the cache-dir and the copies' directories are made
// with mode 0700, and a copy is named as lighttpd names it.
func TestCacheDirCreated(t *testing.T) {
	h := harness(t, "deflate.cache-dir = \"@DIR@/cache/deep/\"\n")
	st, err := os.Stat(filepath.Join(h.Dir, "cache/deep"))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("cache-dir: %v %v", st, err)
	}
	resp, body := h.Do("GET /page.html HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n")
	etag := strings.Trim(resp.Header.Get("ETag"), `"`)
	copyPath := filepath.Join(h.Dir, "cache/deep", h.Dir, "www/page.html-"+etag)
	b, err := os.ReadFile(copyPath)
	if err != nil || string(b) != body {
		t.Fatalf("cache copy %s: %v", copyPath, err)
	}
	if gunzip(t, body) != strings.Repeat("<p>some text to compress</p>\n", 400) {
		t.Error("cache copy does not decode to the file")
	}
}

func compile(t *testing.T, conf string) (*core.Snapshot, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "l.conf")
	os.WriteFile(path, []byte(strings.ReplaceAll(conf, "@DIR@", dir)), 0o644)
	parsed, err := lighttpdconf.ParseFile(path, &lighttpdconf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return core.Compile(parsed, core.CompileOptions{}, nil)
}

func TestConfig(t *testing.T) {
	cases := []struct {
		name, conf string
		err        string
		warnings   []string
		loaded     bool
	}{
		{"level out of range", `deflate.compression-level = 10`, "compression-level must be between 1 and 9: 10", nil, true},
		{"level zero", `deflate.compression-level = 0`, "compression-level must be between 1 and 9: 0", nil, true},
		{"params checked", `deflate.params = ("gzip.level" => "12", "BROTLI_PARAM_QUALITY" => 4, "nope" => 1)`, "",
			[]string{"invalid value for gzip.level", "unrecognized param: nope"}, true},
		{"compress keys map to deflate", `compress.filetype = ("text/html")
compress.max-loadavg = "2"`, "", []string{"DEPRECATED: compress.filetype replaced with deflate.mimetypes",
			"DEPRECATED: compress.max-loadavg replaced with deflate.max-loadavg"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			snap, err := compile(t, "server.document-root = \"/tmp\"\nserver.modules = (\"mod_deflate\")\n"+c.conf+"\n")
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var all []string
			for _, w := range snap.Warnings {
				all = append(all, w.Msg)
			}
			for _, w := range c.warnings {
				if !strings.Contains(strings.Join(all, "\n"), w) {
					t.Errorf("warning %q missing from %q", w, all)
				}
			}
		})
	}
}

// TestCompressModule: mod_compress becomes mod_deflate only with compress.*
// keys, also when server.compat-module-load is off.
func TestCompressModule(t *testing.T) {
	for _, c := range []struct {
		conf string
		want bool
	}{
		{`server.modules = ("mod_compress")` + "\ncompress.filetype = (\"text/\")", true},
		{`server.modules = ("mod_compress")`, false},
		{`server.modules = ("mod_compress")` + "\nserver.compat-module-load = \"disable\"\ncompress.cache-dir = \"@DIR@/c\"", true},
		{`server.modules = ("mod_compress", "mod_deflate")` + "\ncompress.filetype = (\"text/\")", true},
	} {
		snap, err := compile(t, "server.document-root = \"/tmp\"\n"+c.conf+"\n")
		if err != nil {
			t.Fatalf("%s: %v", c.conf, err)
		}
		_, got := snap.Module("mod_deflate")
		if _, compress := snap.Module("mod_compress"); got != c.want || compress {
			t.Errorf("%s: modules %v", c.conf, snap.Modules())
		}
	}
}
