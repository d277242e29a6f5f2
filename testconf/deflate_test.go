package testconf

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

const deflateConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_deflate", "mod_fastcgi")
mimetype.assign = (".html" => "text/html", ".txt" => "text/plain", ".css" => "text/css",
	".js" => "text/javascript", ".json" => "application/json", ".png" => "image/png",
	".svg" => "image/svg+xml")
deflate.mimetypes = ("text/", "application/json", "image/svg*")
deflate.allowed-encodings = ("br", "gzip", "deflate", "zstd")
$HTTP["url"] =^ "/cached/" { deflate.cache-dir = "@ROOT@/cache-@NAME@/" }
$HTTP["url"] =^ "/off/" { deflate.mimetypes = () }
$HTTP["url"] =^ "/gz/" { deflate.allowed-encodings = ("x-gzip") }
$HTTP["url"] =^ "/all/" { deflate.allowed-encodings = () }
$HTTP["url"] =^ "/min/" { deflate.min-compress-size = 8000 }
$HTTP["url"] =^ "/max/" { deflate.max-compress-size = 2 }
$HTTP["url"] =^ "/lvl/" { deflate.compression-level = 2 }
# lighttpd 1.4.69 crashes in libbrotlienc at level 1 with br (golighty's
# own tests cover it): compare the other encoders there.
$HTTP["url"] =^ "/lvl1/" { deflate.compression-level = 1 deflate.allowed-encodings = ("gzip", "deflate", "zstd") }
$HTTP["url"] =^ "/blank/" { deflate.mimetypes = ("") }
fastcgi.server = ( ".php" => ((
	"bin-path" => "@PHP@",
	"socket" => "@ROOT@/@NAME@.sock",
	"max-procs" => 1,
	"bin-environment" => ( "PHP_FCGI_CHILDREN" => "2", "GOLIGHTY_TEST_MARK" => "@ROOT@/@NAME@" ),
)))
`

// deflateText is compressible text of about n bytes.
func deflateText(n int, seed string) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "<p class=\"row%d\">%s line %d of the test page, with words that repeat.</p>\n", i%7, seed, i)
	}
	return b.String()[:n]
}

// deflateFiles is the docroot of the side-by-side tests.
func deflateFiles() map[string]string {
	page := deflateText(20000, "page")
	small := deflateText(5000, "small")
	php := func(headers, body string) string {
		return "<?php " + headers + " echo str_repeat(\"" + body + "\\n\", 400);"
	}
	return map[string]string{
		"www/page.html":         page,
		"www/tiny.txt":          deflateText(100, "tiny"),
		"www/style.css":         small,
		"www/app.js":            small,
		"www/data.json":         small,
		"www/img.png":           small,
		"www/pic.svg":           small,
		"www/off/page.html":     page,
		"www/gz/page.html":      page,
		"www/all/page.html":     page,
		"www/min/page.html":     small,
		"www/max/page.html":     page,
		"www/lvl/page.html":     page,
		"www/lvl1/page.html":    page,
		"www/cached/page.html":  page,
		"www/cached/style.css":  small,
		"www/page.php":          php(`header("Content-Type: text/html");`, "php page output"),
		"www/json.php":          php(`header("Content-Type: application/json");`, `{\"k\": \"v\"}`),
		"www/vary.php":          php(`header("Vary: Cookie");`, "varies by cookie"),
		"www/vary2.php":         php(`header("Vary: accept-encoding, Cookie");`, "varies already"),
		"www/etag.php":          php(`header("ETag: \"php-1\"");`, "tagged"),
		"www/etagbare.php":      php(`header("ETag: bare");`, "bare tag"),
		"www/cc.php":            php(`header("Cache-Control: private");`, "private"),
		"www/png.php":           php(`header("Content-Type: image/png");`, "not an image"),
		"www/notype.php":        php(`ini_set("default_mimetype", "");`, "no type"),
		"www/blank/notype.php":  php(`ini_set("default_mimetype", "");`, "no type"),
		"www/encoded.php":       `<?php header("Content-Encoding: gzip"); echo gzencode(str_repeat("pre-encoded\n", 400));`,
		"www/status404.php":     php(`header("Status: 404 Not Found");`, "missing page body"),
		"www/small.php":         `<?php echo "short";`,
		"www/p206.php":          `<?php header("Status: 206 Partial Content"); header("Content-Range: bytes 0-4799/9600"); echo str_repeat("partial content\n", 300);`,
		"www/big.php":           `<?php header("Content-Type: text/plain"); $l = str_repeat("a big response line that repeats\n", 2048); for ($i = 0; $i < 48; $i++) echo $l;`,
		"www/endless.php":       `<?php header("Content-Type: text/plain"); $l = str_repeat("endless output that compresses well\n", 2048); for (;;) { echo $l; }`,
		"www/conditional.html":  page,
		"www/range/page.html":   page,
		"www/post/page.html":    page,
		"www/sub/dir/page.html": page,
	}
}

// deflateDecode undoes a Content-Encoding.
func deflateDecode(enc string, body []byte) ([]byte, error) {
	var r io.Reader
	switch enc {
	case "":
		return body, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		r = zr
	case "deflate":
		zr, err := zlib.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		r = zr
	case "br":
		r = brotli.NewReader(bytes.NewReader(body))
	case "zstd":
		d, err := zstd.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		defer d.Close()
		r = d
	default:
		return nil, fmt.Errorf("unknown encoding %q", enc)
	}
	return io.ReadAll(r)
}

// deflateHeaders are the response headers compared by value.
var deflateHeaders = []string{"Content-Type", "Content-Encoding", "Vary", "ETag", "Last-Modified", "Accept-Ranges", "Content-Range", "Cache-Control"}

// deflateCompare sends req to both servers and requires the same status,
// the same values of deflateHeaders, the same body once decoded, and a
// Content-Length where lighttpd sends one that frames the body (the same
// one for an uncompressed body: golighty's encoders are not zlib's,
// brotli's or zstd's C libraries, so compressed sizes differ). streamed
// marks a response golighty streams (a backend reply over 1 MiB): it is
// compressed as it flows, so it has no Content-Length.
func deflateCompare(t *testing.T, g, l *server, req string, streamed bool) (ge, le exchange) {
	t.Helper()
	head := strings.HasPrefix(req, "HEAD ")
	ge, le = g.raw(t, req, head), l.raw(t, req, head)
	if ge.resp == nil || le.resp == nil {
		t.Fatalf("unparsable response:\ngolighty %q\nlighttpd %q", deflateShort(ge.raw), deflateShort(le.raw))
	}
	if ge.resp.StatusCode != le.resp.StatusCode {
		t.Fatalf("status: golighty %d, lighttpd %d", ge.resp.StatusCode, le.resp.StatusCode)
	}
	for _, h := range deflateHeaders {
		if gv, lv := ge.resp.Header.Values(h), le.resp.Header.Values(h); strings.Join(gv, "\n") != strings.Join(lv, "\n") {
			t.Errorf("%s: golighty %q, lighttpd %q", h, gv, lv)
		}
	}
	enc := le.resp.Header.Get("Content-Encoding")
	gb, err := deflateDecode(ge.resp.Header.Get("Content-Encoding"), ge.body)
	if err != nil {
		t.Fatalf("golighty body does not decode: %v", err)
	}
	lb, err := deflateDecode(enc, le.body)
	if err != nil {
		t.Fatalf("lighttpd body does not decode: %v", err)
	}
	if !bytes.Equal(gb, lb) {
		t.Errorf("decoded bodies differ: golighty %d bytes %q..., lighttpd %d bytes %q...", len(gb), deflateShort(gb), len(lb), deflateShort(lb))
	}
	gcl, lcl := ge.resp.Header.Get("Content-Length"), le.resp.Header.Get("Content-Length")
	switch {
	case streamed:
		if gcl != "" {
			t.Errorf("streamed response has Content-Length %s", gcl)
		}
	case enc == "" && gcl != lcl:
		t.Errorf("Content-Length: golighty %q, lighttpd %q", gcl, lcl)
	case (gcl == "") != (lcl == ""):
		t.Errorf("Content-Length: golighty %q, lighttpd %q", gcl, lcl)
	case gcl != "" && !head && gcl != strconv.Itoa(len(ge.body)):
		t.Errorf("golighty Content-Length %s frames %d bytes", gcl, len(ge.body))
	}
	return ge, le
}

func deflateShort(b []byte) []byte {
	if len(b) > 120 {
		return b[:120]
	}
	return b
}

func deflateGet(path, ae string, extra ...string) string {
	req := "GET " + path + " HTTP/1.0\r\n"
	if ae != "-" {
		req += "Accept-Encoding: " + ae + "\r\n"
	}
	for _, h := range extra {
		req += h + "\r\n"
	}
	return req + "\r\n"
}

func deflateStart(t *testing.T, conf string) (g, l *server, root string) {
	lighttpd := requirePeer(t, "lighttpd")
	php := requirePeer(t, "php-cgi")
	root = t.TempDir()
	writeTree(t, root, deflateFiles())
	mk := func(name string) string {
		return strings.NewReplacer("@ROOT@", root, "@PHP@", php, "@NAME@", name).Replace(conf)
	}
	g = startServer(t, "golighty", golightyBin, root, mk("golighty"))
	t.Cleanup(func() { stopWithChildren(t, g, root+"/golighty") })
	l = startServer(t, "lighttpd", lighttpd, root, mk("lighttpd"))
	return g, l, root
}

// TestDeflateSideBySide runs the Accept-Encoding × mimetype × config
// matrix through golighty and lighttpd 1.4.69 with mod_deflate, static
// files and PHP responses alike.
func TestDeflateSideBySide(t *testing.T) {
	g, l, _ := deflateStart(t, deflateConf)
	encodings := []string{"-", "", "gzip", "x-gzip", "deflate", "br", "zstd", "gzip;q=0", "br;q=0.5, gzip",
		"gzip, deflate, br, zstd", "identity", "*", "GZIP", "foo;gzip", " ,deflate", "x-gzip, gzip", "zstd,br", "deflate;q=1,identity"}
	paths := []string{"/page.html", "/tiny.txt", "/style.css", "/app.js", "/data.json", "/img.png", "/pic.svg",
		"/off/page.html", "/gz/page.html", "/all/page.html", "/min/page.html", "/max/page.html", "/lvl/page.html", "/lvl1/page.html",
		"/page.php", "/json.php", "/vary.php", "/vary2.php", "/etag.php", "/etagbare.php", "/cc.php", "/png.php",
		"/notype.php", "/blank/notype.php", "/encoded.php", "/status404.php", "/small.php", "/missing.html", "/sub/dir"}
	for _, p := range paths {
		for _, ae := range encodings {
			req := deflateGet(p, ae)
			t.Run(p+" "+ae, func(t *testing.T) { deflateCompare(t, g, l, req, false) })
		}
	}
	others := map[string]string{
		"HEAD static":            "HEAD /page.html HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n",
		"HEAD php":               "HEAD /page.php HTTP/1.0\r\nAccept-Encoding: br\r\n\r\n",
		"POST php":               "POST /page.php HTTP/1.0\r\nAccept-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc",
		"two header lines":       "GET /page.html HTTP/1.0\r\nAccept-Encoding: identity\r\nAccept-Encoding: zstd\r\n\r\n",
		"range no encoding":      deflateGet("/range/page.html", "-", "Range: bytes=0-99"),
		"range with gzip":        deflateGet("/range/page.html", "gzip", "Range: bytes=0-99"),
		"multirange with br":     deflateGet("/range/page.html", "br", "Range: bytes=0-9,20-29"),
		"unsatisfiable with br":  deflateGet("/range/page.html", "br", "Range: bytes=999999-"),
		"unsatisfiable plain":    deflateGet("/range/page.html", "-", "Range: bytes=999999-"),
		"range php gzip":         deflateGet("/page.php", "gzip", "Range: bytes=0-99"),
		"HTTP/1.1 keep-alive br": "GET /page.html HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br\r\nConnection: close\r\n\r\n",
	}
	for name, req := range others {
		t.Run(name, func(t *testing.T) { deflateCompare(t, g, l, req, false) })
	}
	t.Run("big php response", func(t *testing.T) {
		// golighty streams a backend reply over 1 MiB and compresses it as
		// it flows; lighttpd buffers it whole first.
		deflateCompare(t, g, l, "GET /big.php HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n", true)
	})
	t.Run("backend 206 is not compressed", func(t *testing.T) {
		// lighttpd 1.4.69 compresses a backend's partial content; golighty
		// does not (a deliberate difference: the Content-Range would not
		// describe the compressed body).
		req := deflateGet("/p206.php", "gzip")
		ge, le := g.raw(t, req, false), l.raw(t, req, false)
		if ge.resp == nil || le.resp == nil || ge.resp.StatusCode != 206 || le.resp.StatusCode != 206 {
			t.Fatalf("want 206 from both:\n%q\n%q", deflateShort(ge.raw), deflateShort(le.raw))
		}
		if ce := ge.resp.Header.Get("Content-Encoding"); ce != "" {
			t.Errorf("golighty compressed a 206: %s", ce)
		}
		if ce := le.resp.Header.Get("Content-Encoding"); ce != "gzip" {
			t.Logf("lighttpd no longer compresses a 206 (%q): the difference can go", ce)
		}
	})
}

// TestDeflateConditional checks the compressed variants' ETags: a client
// that holds one gets 304 (412 for other methods), by lighttpd's loose
// prefix match against the first If-None-Match element.
func TestDeflateConditional(t *testing.T) {
	g, l, _ := deflateStart(t, deflateConf)
	first := l.raw(t, deflateGet("/conditional.html", "gzip"), false)
	if first.resp == nil || !strings.HasSuffix(first.resp.Header.Get("ETag"), "-gzip\"") {
		t.Fatalf("no compressed ETag from lighttpd: %q", deflateShort(first.raw))
	}
	etag := first.resp.Header.Get("ETag")
	plain := strings.TrimSuffix(etag, "-gzip\"") + "\""
	phpTag := `"php-1-gzip"`
	cases := map[string]string{
		"same encoding":        deflateGet("/conditional.html", "gzip", "If-None-Match: "+etag),
		"other encoding":       deflateGet("/conditional.html", "br", "If-None-Match: "+etag),
		"plain etag":           deflateGet("/conditional.html", "gzip", "If-None-Match: "+plain),
		"plain etag identity":  deflateGet("/conditional.html", "-", "If-None-Match: "+plain),
		"compressed identity":  deflateGet("/conditional.html", "-", "If-None-Match: "+etag),
		"second in list":       deflateGet("/conditional.html", "gzip", `If-None-Match: "x", `+etag),
		"weak":                 deflateGet("/conditional.html", "gzip", "If-None-Match: W/"+etag),
		"suffix ignored":       deflateGet("/conditional.html", "gzip", "If-None-Match: "+strings.TrimSuffix(etag, "\"")+"zz\""),
		"star":                 deflateGet("/conditional.html", "gzip", "If-None-Match: *"),
		"php etag":             deflateGet("/etag.php", "gzip", "If-None-Match: "+phpTag),
		"php etag other label": deflateGet("/etag.php", "zstd", "If-None-Match: "+phpTag),
		"php POST":             "POST /etag.php HTTP/1.0\r\nAccept-Encoding: gzip\r\nIf-None-Match: " + phpTag + "\r\nContent-Length: 0\r\n\r\n",
		"static POST":          "POST /conditional.html HTTP/1.0\r\nAccept-Encoding: gzip\r\nIf-None-Match: " + etag + "\r\nContent-Length: 0\r\n\r\n",
		"php bare etag":        deflateGet("/etagbare.php", "gzip", `If-None-Match: "bar-gzip"`),
	}
	for name, req := range cases {
		t.Run(name, func(t *testing.T) { deflateCompare(t, g, l, req, false) })
	}
}

// deflateCacheFiles lists the files below dir, relative to it.
func deflateCacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// TestDeflateCacheDir checks deflate.cache-dir: the same file names as
// lighttpd's, copies reused (a copy changed on disk is what is served),
// and a new copy once the source changes.
func TestDeflateCacheDir(t *testing.T) {
	g, l, root := deflateStart(t, deflateConf)
	gdir, ldir := root+"/cache-golighty", root+"/cache-lighttpd"
	for _, ae := range []string{"gzip", "br", "zstd", "deflate"} {
		deflateCompare(t, g, l, deflateGet("/cached/page.html", ae), false)
		deflateCompare(t, g, l, deflateGet("/cached/style.css", ae), false)
	}
	gf, lf := deflateCacheFiles(t, gdir), deflateCacheFiles(t, ldir)
	if strings.Join(gf, "\n") != strings.Join(lf, "\n") || len(gf) != 8 {
		t.Fatalf("cache files differ:\ngolighty %q\nlighttpd %q", gf, lf)
	}
	for _, f := range gf {
		// cache-dir + physical path + "-" + ETag + "-" + encoding
		i := strings.LastIndexByte(f, '-')
		enc, rest := f[i+1:], f[:i]
		src, _ := os.ReadFile("/" + rest[:strings.LastIndexByte(rest, '-')])
		b, _ := os.ReadFile(filepath.Join(gdir, f))
		if got, err := deflateDecode(enc, b); err != nil || !bytes.Equal(got, src) || len(src) == 0 {
			t.Errorf("cache file %s does not decode to its source (%v)", f, err)
		}
	}

	t.Run("reused", func(t *testing.T) {
		// Replace each server's gzip copy of page.html: what comes back
		// is the copy on disk, not a fresh compression.
		var marker bytes.Buffer
		zw := gzip.NewWriter(&marker)
		io.WriteString(zw, "served from the cache\n")
		zw.Close()
		for _, dir := range []string{gdir, ldir} {
			for _, f := range deflateCacheFiles(t, dir) {
				if strings.Contains(f, "page.html-") && strings.HasSuffix(f, "-gzip") {
					p := filepath.Join(dir, f)
					if err := os.WriteFile(p+".new", marker.Bytes(), 0o600); err != nil {
						t.Fatal(err)
					}
					os.Rename(p+".new", p)
				}
			}
		}
		time.Sleep(1100 * time.Millisecond) // both stat caches look again after a second
		ge, _ := deflateCompare(t, g, l, deflateGet("/cached/page.html", "gzip"), false)
		if got, _ := deflateDecode("gzip", ge.body); string(got) != "served from the cache\n" {
			t.Errorf("golighty did not serve the cached copy: %q", deflateShort(got))
		}
	})

	t.Run("revalidated", func(t *testing.T) {
		src := filepath.Join(root, "www/cached/page.html")
		if err := os.WriteFile(src, []byte(deflateText(30000, "edited")), 0o644); err != nil {
			t.Fatal(err)
		}
		later := time.Now().Add(5 * time.Second)
		os.Chtimes(src, later, later)
		time.Sleep(1100 * time.Millisecond)
		ge, _ := deflateCompare(t, g, l, deflateGet("/cached/page.html", "gzip"), false)
		if got, _ := deflateDecode("gzip", ge.body); !strings.Contains(string(got), "edited line 0") {
			t.Errorf("golighty served a stale copy: %q", deflateShort(got))
		}
		gf, lf := deflateCacheFiles(t, gdir), deflateCacheFiles(t, ldir)
		if strings.Join(gf, "\n") != strings.Join(lf, "\n") || len(gf) != 9 {
			t.Errorf("cache files after the edit:\ngolighty %q\nlighttpd %q", gf, lf)
		}
	})
}

// TestDeflateCompressConfig runs configs of the old mod_compress: with
// compress.* keys it becomes mod_deflate (DEPRECATED lines), without them
// it is dropped, beside mod_deflate it goes too.
func TestDeflateCompressConfig(t *testing.T) {
	base := `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
mimetype.assign = (".html" => "text/html", ".txt" => "text/plain")
`
	cases := []struct{ name, conf, want string }{
		{"compress keys", `server.modules = ("mod_compress")
compress.filetype = ("text/html")
compress.allowed-encodings = ("gzip", "deflate")
compress.cache-dir = "@ROOT@/cache-@NAME@"
compress.max-filesize = 1024
`, "gzip"},
		{"no keys", `server.modules = ("mod_compress")
deflate.mimetypes = ("text/html")
deflate.allowed-encodings = ("gzip")
`, ""},
		{"beside mod_deflate", `server.modules = ("mod_compress", "mod_deflate")
compress.filetype = ("text/html")
deflate.allowed-encodings = ("br")
`, "br"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, l, _ := deflateStart(t, base+tc.conf)
			ge, _ := deflateCompare(t, g, l, deflateGet("/page.html", "gzip, br"), false)
			if ce := ge.resp.Header.Get("Content-Encoding"); ce != tc.want {
				t.Errorf("Content-Encoding %q, want %q", ce, tc.want)
			}
			for _, s := range []*server{g, l} {
				deprecated := strings.Count(s.log.String(), "DEPRECATED")
				if want := strings.Count(tc.conf, "compress."); deprecated < min(want, 1) {
					t.Errorf("%s logged %d DEPRECATED lines:\n%s", s.name, deprecated, s.log.String())
				}
			}
		})
	}
}

// deflateRSS is a process's resident set in KiB.
func deflateRSS(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return 0
}

// TestDeflateBoundedMemory: a 128 MiB file of zeros (compressed as a
// whole, to one small body) and an endless PHP response (compressed as it
// streams) must not grow golighty's memory with their size.
func TestDeflateBoundedMemory(t *testing.T) {
	g, l, root := deflateStart(t, deflateConf+"\ndeflate.max-compress-size = 0\n")
	zeros := filepath.Join(root, "www/zeros.txt")
	f, err := os.Create(zeros)
	if err != nil {
		t.Fatal(err)
	}
	const size = 128 << 20
	f.Truncate(size) // sparse: reads as zeros, costs no disk
	f.Close()
	pid := g.cmd.Process.Pid
	warm := g.raw(t, deflateGet("/page.html", "gzip"), false)
	if warm.resp == nil {
		t.Fatal("no answer")
	}
	before := deflateRSS(t, pid)

	t.Run("file of zeros", func(t *testing.T) {
		want := sha256.Sum256(make([]byte, size))
		for _, s := range []*server{g, l} {
			ex := s.raw(t, deflateGet("/zeros.txt", "gzip"), false)
			if ex.resp == nil || ex.resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("%s: not compressed: %q", s.name, deflateShort(ex.raw))
			}
			body, err := deflateDecode("gzip", ex.body)
			if err != nil || len(body) != size || sha256.Sum256(body) != want {
				t.Fatalf("%s: %d bytes decoded (%v)", s.name, len(body), err)
			}
		}
		grew := deflateRSS(t, pid) - before
		t.Logf("golighty's resident memory grew by %d KiB compressing %d MiB", grew, size>>20)
		if grew > 48<<10 {
			t.Errorf("golighty grew by %d KiB compressing %d MiB", grew, size>>20)
		}
	})

	t.Run("endless backend", func(t *testing.T) {
		c, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /endless.php HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Content-Length") != "" {
			t.Fatalf("headers: %v", resp.Header)
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		const want = 128 << 20
		n, err := io.CopyN(io.Discard, zr, want)
		if n != want {
			t.Fatalf("read %d bytes of the endless body: %v", n, err)
		}
		grew := deflateRSS(t, pid) - before
		t.Logf("golighty's resident memory grew by %d KiB streaming %d MiB", grew, want>>20)
		if grew > 48<<10 {
			t.Errorf("golighty grew by %d KiB streaming %d MiB", grew, want>>20)
		}
	})
}
