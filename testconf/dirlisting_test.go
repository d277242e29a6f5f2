package testconf

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const dirlistingConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_access", "mod_setenv", "mod_expire")
index-file.names = ("index.html")
url.access-deny = (".inc")
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html", ".tar.gz" => "application/x-tgz", ".gz" => "application/gzip")
dir-listing.activate = "enable"
$HTTP["url"] =^ "/off/" { dir-listing.activate = "disable" }
$HTTP["url"] =^ "/old/" { server.dir-listing = "disable" }
$HTTP["url"] =^ "/opts/" {
	dir-listing.hide-dotfiles = "disable"
	dir-listing.exclude = ("^skip", "\.bak$")
	dir-listing.show-readme = "enable"
	dir-listing.hide-readme-file = "enable"
	dir-listing.show-header = "HEAD.txt"
	dir-listing.encoding = "utf-8"
	dir-listing.external-css = "/s.css"
	dir-listing.external-js = "/s.js"
	dir-listing.set-footer = "<i>custom</i>"
}
$HTTP["url"] =^ "/raw/" {
	dir-listing.show-readme = "README.txt"
	dir-listing.show-header = "enable"
	dir-listing.encode-readme = "disable"
	dir-listing.encode-header = "disable"
	dir-listing.hide-header-file = "enable"
}
$HTTP["url"] =^ "/bare/" { dir-listing.auto-layout = "disable" }
$HTTP["url"] =^ "/hdr/" {
	setenv.add-response-header = ("X-Test" => "yes")
	expire.url = ("/hdr/" => "access 1 hours")
}
$HTTP["url"] =^ "/emptyrd/" { dir-listing.show-readme = "enable" }
$HTTP["url"] =^ "/nofollow/" {
	server.follow-symlink = "disable"
	dir-listing.show-readme = "enable"
	dir-listing.show-header = "enable"
}
$HTTP["url"] =^ "/links/" { dir-listing.show-readme = "to-file" }
$HTTP["url"] =^ "/abs/" { dir-listing.show-header = "@ROOT@/outside.txt" dir-listing.hide-header-file = "enable" }
`

var dirlistingRequests = []string{
	"GET / HTTP/1.0\r\n\r\n",
	"GET /list/ HTTP/1.0\r\n\r\n",
	"HEAD /list/ HTTP/1.0\r\n\r\n",
	"GET /list/?C=M;O=D HTTP/1.0\r\n\r\n",
	"GET /list HTTP/1.0\r\n\r\n",
	"POST /list/ HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
	"OPTIONS /list/ HTTP/1.0\r\n\r\n",
	"GET /list/sub%20dir/ HTTP/1.0\r\n\r\n",
	"GET /list/%3Cweird%3E/ HTTP/1.0\r\n\r\n",
	"GET /empty/ HTTP/1.0\r\n\r\n",
	"GET /withindex/ HTTP/1.0\r\n\r\n",
	"GET /off/ HTTP/1.0\r\n\r\n",
	"GET /old/ HTTP/1.0\r\n\r\n",
	"GET /opts/ HTTP/1.0\r\n\r\n",
	"GET /raw/ HTTP/1.0\r\n\r\n",
	"GET /bare/ HTTP/1.0\r\n\r\n",
	"GET /hdr/ HTTP/1.0\r\n\r\n",
	"GET /hdr/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"GET /emptyrd/ HTTP/1.0\r\n\r\n",
	"GET /sizes/ HTTP/1.0\r\n\r\n",
	"GET /links/ HTTP/1.0\r\n\r\n",
	"GET /list/x.inc HTTP/1.0\r\n\r\n",
	"GET /nofollow/ HTTP/1.0\r\n\r\n",
	"GET /nofollow/linkdir/ HTTP/1.0\r\n\r\n",
	"GET /abs/ HTTP/1.0\r\n\r\n",
	"GET /many/ HTTP/1.0\r\n\r\n",
}

func TestSideBySideDirlisting(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"www/index.html":               "",
		"www/list/b.txt":               "0123456789",
		"www/list/a b.html":            "x",
		"www/list/Z-upper.txt":         "z",
		"www/list/été.txt":             "utf8",
		"www/list/q\"uote&amp'<>`.txt": "q",
		"www/list/plus+hash#pct%.txt":  "p",
		"www/list/archive.tar.gz":      strings.Repeat("g", 3000),
		"www/list/.hidden":             "h",
		"www/list/x.inc":               "i",
		"www/list/sub dir/f.txt":       "f",
		"www/list/<weird>/f.txt":       "f",
		"www/withindex/index.html":     "<p>index</p>",
		"www/off/a.txt":                "a",
		"www/old/a.txt":                "a",
		"www/opts/.dot":                "d",
		"www/opts/skipme":              "s",
		"www/opts/f.bak":               "b",
		"www/opts/shown":               "s",
		"www/opts/\xffbad.txt":         "not UTF-8, hidden: exclude fails closed",
		"www/list/\xfe\x01ctl.txt":     "not UTF-8, listed escaped",
		"www/opts/README.txt":          "read <me> & \"you\"\n\tline 2\n",
		"www/opts/HEAD.txt":            "<b>head</b>\n",
		"www/raw/README.txt":           "<em>raw readme</em>\n",
		"www/raw/HEADER.txt":           "<em>raw header</em>\n",
		"www/bare/a.txt":               "a",
		"www/hdr/a.txt":                "a",
		"www/emptyrd/README.txt":       "",
		"www/emptyrd/a.txt":            "a",
		"www/links/target.txt":         "t",
		"www/nofollow/HEADER.txt":      "real header",
		"outside.txt":                  "from outside the docroot\n",
		"www/abs/outside.txt":          "same name, not hidden: the setting is a path",
		"www/nofollow/real/f.txt":      "f",
	})
	for _, d := range []string{"www/empty"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Sizes across the units, without writing the bytes (sparse files).
	for name, size := range map[string]int64{"0": 0, "99": 99, "1023": 1023, "1024": 1024, "1m": 1 << 20, "999k": 999 << 10, "1000k": 1000 << 10, "5g": 5 << 30, "2t": 2 << 40} {
		p := filepath.Join(root, "www/sizes", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	links := filepath.Join(root, "www/links")
	for name, target := range map[string]string{"to-file": "target.txt", "to-dir": "..", "dangling": "nowhere"} {
		if err := os.Symlink(target, filepath.Join(links, name)); err != nil {
			t.Fatal(err)
		}
	}
	// More than 256 rows: lighttpd builds such pages in temporary files.
	for i := range 300 {
		writeTree(t, root, map[string]string{filepath.Join("www/many", strings.Repeat("n", i%7+1)+strconv.Itoa(i)+".txt"): strings.Repeat("x", i*37)})
	}
	nf := filepath.Join(root, "www/nofollow")
	for name, target := range map[string]string{"README.txt": "HEADER.txt", "linkdir": "real"} {
		if err := os.Symlink(target, filepath.Join(nf, name)); err != nil {
			t.Fatal(err)
		}
	}
	// Fixed, distinct mtimes (local time is shown) so rows are stable.
	mt := time.Date(2023, 12, 31, 23, 59, 58, 0, time.Local)
	filepath.Walk(filepath.Join(root, "www"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode()&os.ModeSymlink == 0 {
			os.Chtimes(p, mt, mt)
			mt = mt.Add(-37 * time.Hour)
		}
		return nil
	})

	conf := strings.ReplaceAll(dirlistingConf, "@ROOT@", root)
	g := startServer(t, "golighty", golightyBin, root, conf)
	l := startServer(t, "lighttpd", lighttpd, root, conf)
	compareSideBySide(t, g, l, dirlistingRequests, nil, nil)
}

func TestSideBySideDirlistingCache(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	root := t.TempDir()
	writeTree(t, root, map[string]string{"www/c/a.txt": "a", "www/c/b.txt": "b"})
	const conf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
dir-listing.activate = "enable"
dir-listing.cache = ("path" => "@ROOT@/@CACHE@", "max-age" => 60)
$HTTP["url"] =^ "/c/nocache/" { dir-listing.cache = ("max-age" => 0) }
`
	mk := func(cache string) string {
		if err := os.MkdirAll(filepath.Join(root, cache), 0o755); err != nil {
			t.Fatal(err)
		}
		return strings.NewReplacer("@ROOT@", root, "@CACHE@", cache).Replace(conf)
	}
	writeTree(t, root, map[string]string{"www/c/nocache/x.txt": "x"})
	// Each server writes its own cache; the files differ in inode, so
	// ETags are compared for presence and form only.
	g := startServer(t, "golighty", golightyBin, root, mk("gcache"))
	l := startServer(t, "lighttpd", lighttpd, root, mk("lcache"))
	same := func(a, b string) bool {
		if strings.HasPrefix(a, "ETag: \"") && strings.HasPrefix(b, "ETag: \"") {
			return strings.HasSuffix(a, "\"") && strings.HasSuffix(b, "\"")
		}
		return expiryClose(a, b)
	}
	compareSideBySide(t, g, l, []string{
		"GET /c/ HTTP/1.0\r\n\r\n", // generated and stored
		"GET /c/ HTTP/1.0\r\n\r\n", // from the cache
		"HEAD /c/ HTTP/1.0\r\n\r\n",
		"GET /c/nocache/ HTTP/1.0\r\n\r\n",
	}, same, nil)
	for _, cache := range []string{"gcache", "lcache"} {
		p := filepath.Join(root, cache, root, "www/c/dirlist.html")
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", cache, err)
		}
	}
}
