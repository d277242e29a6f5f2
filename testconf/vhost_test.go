package testconf

import (
	"bufio"
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	_ "modernc.org/sqlite"
)

// vhostEnvPHP prints what a backend learns of the document root decision.
const vhostEnvPHP = `<?php header("Content-Type: text/plain");
foreach (["DOCUMENT_ROOT", "SCRIPT_FILENAME", "SCRIPT_NAME", "PATH_INFO", "PATH_TRANSLATED", "SERVER_NAME", "REQUEST_URI"] as $k)
	echo $k, "=", $_SERVER[$k] ?? "-", "\n";
`

// vhostFastCGI is the fastcgi.server both servers use for .php files.
const vhostFastCGI = `
fastcgi.server = ( ".php" => (( "bin-path" => "@PHP@", "socket" => "@ROOT@/@NAME@.sock", "max-procs" => 1,
	"bin-environment" => ( "PHP_FCGI_CHILDREN" => "1" ) )))
`

// vhostServers starts golighty and lighttpd on conf (with @ROOT@, @PHP@ and
// @NAME@ filled in; @NAME@ is the server's name, for sockets and logs).
func vhostServers(t *testing.T, root, conf string) (g, l *server) {
	t.Helper()
	lighttpd := requirePeer(t, "lighttpd")
	php := requirePeer(t, "php-cgi")
	fill := func(name string) string {
		return strings.NewReplacer("@ROOT@", root, "@PHP@", php, "@NAME@", name).Replace(conf)
	}
	g = startServer(t, "golighty", golightyBin, root, fill("golighty"))
	l = startServer(t, "lighttpd", lighttpd, root, fill("lighttpd"))
	return g, l
}

// vhostHostRequests asks for path under each host (HTTP/1.0, Host header
// sent as is, none when empty).
func vhostHostRequests(path string, hosts []string) []string {
	var reqs []string
	for _, h := range hosts {
		req := "GET " + path + " HTTP/1.0\r\n"
		if h != "" {
			req += "Host: " + h + "\r\n"
		}
		reqs = append(reqs, req+"\r\n")
	}
	return reqs
}

// vhostHostileHosts are Host values a document-root module must survive;
// the parser answers many of them 400 before any module runs.
var vhostHostileHosts = []string{
	"..", ".", "a/b", "a\\b", "../etc", "a..b", ".hidden", "a.example.", "a.example:", "a.example:0x50",
	"a.example:99999", "b\xc3\xbccher.example", "a b", "a%2fb", "[::1", "[::1]x", "[fe80::1%25lo]",
	strings.Repeat("l", 63) + ".example", strings.Repeat("x", 300) + ".example", strings.Repeat("y.", 900) + "example",
	"a\x00b.example", "a.example\x00", "a\rb",
}

// vhostLogPaths are the error-log messages of both servers that name a path
// below prefix (lighttpd's "path: strerror" lines), in order.
func vhostLogPaths(t *testing.T, file, prefix string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		// "2006-01-02 15:04:05: (file.c.123) message"
		_, msg, ok := strings.Cut(sc.Text(), ") ")
		if ok && strings.HasPrefix(msg, prefix) {
			out = append(out, msg)
		}
	}
	return out
}

// vhostCompareLogs requires both servers to have logged the same path
// messages (lighttpd logs every evhost miss, simple_vhost ones with debug).
func vhostCompareLogs(t *testing.T, root, prefix string) {
	t.Helper()
	time.Sleep(100 * time.Millisecond) // let both finish writing
	g := vhostLogPaths(t, filepath.Join(root, "golighty.error.log"), prefix)
	l := vhostLogPaths(t, filepath.Join(root, "lighttpd.error.log"), prefix)
	if strings.Join(g, "\n") != strings.Join(l, "\n") {
		t.Errorf("error-log paths differ:\ngolighty:\n%s\nlighttpd:\n%s", strings.Join(g, "\n"), strings.Join(l, "\n"))
	}
	if len(l) == 0 {
		t.Errorf("no path below %s was logged; the comparison saw nothing", prefix)
	}
}

const simpleVhostConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_simple_vhost", "mod_fastcgi")
server.errorlog = "@ROOT@/@NAME@.error.log"
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html")
index-file.names = ("index.html")
simple-vhost.server-root = "@ROOT@/vhosts"
simple-vhost.document-root = "htdocs"
simple-vhost.default-host = "fallback.example"
simple-vhost.debug = 1
$HTTP["url"] =^ "/nodefault/" { simple-vhost.default-host = "" }
$HTTP["url"] =^ "/off/" { simple-vhost.server-root = "" }
$HTTP["host"] == "pub.example" { simple-vhost.document-root = "/pub/" }
` + vhostFastCGI

// vhostTree is the file tree of the simple_vhost and evhost tests: a
// who.txt naming its directory, and the PHP environment script, in every
// document root.
func vhostTree(t *testing.T, root string, dirs ...string) {
	t.Helper()
	files := map[string]string{}
	for _, d := range dirs {
		for _, sub := range []string{"", "nodefault/", "off/"} {
			files[d+"/"+sub+"who.txt"] = d + "/" + sub + "\n"
		}
		files[d+"/env.php"] = vhostEnvPHP
		files[d+"/dir/index.html"] = "<p>" + d + "</p>\n"
	}
	writeTree(t, root, files)
}

func TestSideBySideSimpleVhost(t *testing.T) {
	root := t.TempDir()
	vhostTree(t, root, "www", "vhosts/a.example/htdocs", "vhosts/fallback.example/htdocs", "vhosts/htdocs",
		"vhosts/[/htdocs", "vhosts/127.0.0.1/htdocs", "vhosts/xn--bcher-kva.example/htdocs", "vhosts/pub.example/pub",
		"vhosts/"+strings.Repeat("l", 63)+".example/htdocs")
	writeTree(t, root, map[string]string{"vhosts/file.example": "a file, not a directory\n"})
	g, l := vhostServers(t, root, simpleVhostConf)

	hosts := []string{"a.example", "A.Example", "a.example:8080", "b.example", "", "file.example", "[::1]",
		"[::1]:8080", "127.0.0.1", "xn--bcher-kva.example", "pub.example", "fallback.example"}
	reqs := vhostHostRequests("/who.txt", append(hosts, vhostHostileHosts...))
	reqs = append(reqs, vhostHostRequests("/env.php", hosts)...)
	reqs = append(reqs, vhostHostRequests("/env.php/extra/info?q=1", []string{"a.example", "b.example", ""})...)
	reqs = append(reqs, vhostHostRequests("/nodefault/who.txt", []string{"a.example", "b.example", ""})...)
	reqs = append(reqs, vhostHostRequests("/off/who.txt", []string{"a.example", "b.example"})...)
	reqs = append(reqs, vhostHostRequests("/dir", []string{"a.example", "b.example", "a.example:8080", ""})...)
	reqs = append(reqs,
		"GET http://a.example/who.txt HTTP/1.1\r\nHost: b.example\r\nConnection: close\r\n\r\n",
		"GET /who.txt HTTP/1.1\r\nHost: a.example\r\n\r\nGET /who.txt HTTP/1.1\r\nHost: b.example\r\n\r\nGET /env.php HTTP/1.1\r\nHost: pub.example\r\nConnection: close\r\n\r\n",
	)
	compareSideBySide(t, g, l, reqs, nil, nil)
	vhostCompareLogs(t, root, root+"/vhosts")
}

// With host-strict disabled lighttpd turns "Host: .." into server-root/../
// and serves what lies above; golighty refuses such a host (and the
// default host answers). Everything else still matches.
func TestSideBySideSimpleVhostLaxHost(t *testing.T) {
	root := t.TempDir()
	vhostTree(t, root, "www", "vhosts/a.example/htdocs", "vhosts/fallback.example/htdocs", "htdocs")
	writeTree(t, root, map[string]string{"htdocs/secret.txt": "above the server root\n",
		"vhosts/fallback.example/htdocs/secret.txt": "fallback\n"})
	conf := simpleVhostConf + `server.http-parseopts = ("host-strict" => "disable", "host-normalize" => "disable")` + "\n"
	g, l := vhostServers(t, root, conf)
	compareSideBySide(t, g, l, vhostHostRequests("/who.txt", []string{"a.example", "A.EXAMPLE", "a_b.example", "a.example:x",
		"b\xc3\xbccher.example", "a b", ".", "a/b", "../x", "a\\b", "a..b"}), nil, nil)

	req := "GET /secret.txt HTTP/1.0\r\nHost: ..\r\n\r\n"
	if le := l.raw(t, req, false); le.resp == nil || string(le.body) != "above the server root\n" {
		t.Errorf("lighttpd no longer serves above the server root for Host: .. (%q): revisit golighty's refusal", le.raw)
	}
	if ge := g.raw(t, req, false); ge.resp == nil || ge.resp.StatusCode != 200 || string(ge.body) != "fallback\n" {
		t.Errorf("golighty for Host: .. = %q, want the default host's file", ge.raw)
	}
}

const evhostConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_evhost", "mod_fastcgi")
server.errorlog = "@ROOT@/@NAME@.error.log"
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html")
index-file.names = ("index.html")
evhost.path-pattern = "@ROOT@/ev/%0/%3/"
$HTTP["url"] =^ "/all/" { evhost.path-pattern = "@ROOT@/all/0=%0/1=%1/2=%2/3=%3/4=%4/5=%5/9=%9/_=%_/pct=%%/b2=%{2}/c21=%{2.1}/c23=%{2.3}/c29=%{2.9}/c20=%{2.0}/c01=%{0.1}/" }
$HTTP["url"] =^ "/blank/" { evhost.path-pattern = "" }
$HTTP["host"] =~ "\.org(:[0-9]+)?$" { evhost.path-pattern = "@ROOT@/org/%{2.1}/%2/" }
` + vhostFastCGI

var evhostHosts = []string{
	"www.example.com", "example.com", "WWW.Example.com:8080", "a.b.c.d.e.f.g.h.i.j.k.example.com", "www.example.org",
	"www.example.org:81", "nothere.example.com", "127.0.0.1", "[::1]", "[::1]:8080", "[2001:db8::1]", "localhost",
	"localhost:81", "xn--bcher-kva.example.com", "x.example.com.", "",
}

func TestSideBySideEvhost(t *testing.T) {
	root := t.TempDir()
	vhostTree(t, root, "www", "ev/example.com/www", "ev/example.com", "org/e/example", "ev/0.1/0",
		"ev/[::1]", "ev/localhost", "ev/example.com/xn--bcher-kva", "ev/example.com/k")
	for _, d := range []string{"ev/example.com/www", "ev/example.com"} {
		writeTree(t, root, map[string]string{d + "/all/who.txt": "all under " + d + "\n", d + "/blank/who.txt": "blank under " + d + "\n"})
	}
	g, l := vhostServers(t, root, evhostConf)
	reqs := vhostHostRequests("/who.txt", append(evhostHosts, vhostHostileHosts...))
	reqs = append(reqs, vhostHostRequests("/all/who.txt", evhostHosts)...)
	reqs = append(reqs, vhostHostRequests("/blank/who.txt", []string{"www.example.com", "www.example.org"})...)
	reqs = append(reqs, vhostHostRequests("/env.php", evhostHosts)...)
	reqs = append(reqs, vhostHostRequests("/env.php/p/i?x=y", []string{"www.example.com", "nothere.example.com"})...)
	reqs = append(reqs, vhostHostRequests("/dir", []string{"www.example.com", "[::1]:8080"})...)
	compareSideBySide(t, g, l, reqs, nil, nil)
	// Every miss logs its expansion: the /all/ pattern shows each
	// placeholder of each host as lighttpd expands it.
	vhostCompareLogs(t, root, root+"/")
}

// Hosts the strict parser would refuse reach mod_evhost with host-strict
// disabled; their expansions (logged on every miss) must match lighttpd's,
// except where golighty refuses a host that would add a ".." segment.
func TestSideBySideEvhostLaxHost(t *testing.T) {
	root := t.TempDir()
	vhostTree(t, root, "www", "ev/example.com/www", "all")
	writeTree(t, root, map[string]string{"up/secret.txt": "above\n", "www/up/secret.txt": "www/up\n"})
	conf := evhostConf + `server.http-parseopts = ("host-strict" => "disable", "host-normalize" => "disable")
$HTTP["url"] =^ "/up/" { evhost.path-pattern = "@ROOT@/ev/%0%1/" }
`
	g, l := vhostServers(t, root, conf)
	lax := []string{"a_b.example.com", "a..b.example.com", "x.example.com.", "..x", "a.b:c:d", "[::1]:x", "[::1", ":80",
		"a..", "b\xc3\xbccher.example.com", "a b.c", "UPPER.Example.COM"}
	reqs := vhostHostRequests("/who.txt", lax)
	reqs = append(reqs, vhostHostRequests("/all/who.txt", lax)...)
	compareSideBySide(t, g, l, reqs, nil, nil)
	vhostCompareLogs(t, root, root+"/")

	// "%0%1" of "Host: ..." is "..": lighttpd serves from above the
	// pattern's directory, golighty keeps the document root.
	req := "GET /up/secret.txt HTTP/1.0\r\nHost: ...\r\n\r\n"
	if le := l.raw(t, req, false); string(le.body) != "above\n" {
		t.Errorf("lighttpd no longer serves above the pattern's directory (%q): revisit golighty's refusal", le.raw)
	}
	if ge := g.raw(t, req, false); ge.resp == nil || ge.resp.StatusCode != 200 || string(ge.body) != "www/up\n" {
		t.Errorf("golighty for Host: ... = %q, want the document root's file", ge.raw)
	}
}

// vhostdbSchema is the table of lighttpd's mod_vhostdb documentation.
const vhostdbSchema = `CREATE TABLE vhosts (hostname varchar(255) NOT NULL, docroot varchar(255) NOT NULL, PRIMARY KEY (hostname))`

// vhostdbExec runs statements on the SQLite database at path.
func vhostdbExec(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// requireVhostdbDBI fails (under GOLIGHTY_REQUIRE_PEERS=1) or skips when
// Debian's mod_vhostdb_dbi or libdbi's SQLite driver is missing.
func requireVhostdbDBI(t *testing.T) {
	t.Helper()
	for _, f := range []string{"/usr/lib/lighttpd/mod_vhostdb_dbi.so", "/usr/lib/x86_64-linux-gnu/dbd/libdbdsqlite3.so"} {
		if _, err := os.Stat(f); err != nil {
			if os.Getenv("GOLIGHTY_REQUIRE_PEERS") == "1" {
				t.Fatalf("%s is required (lighttpd-modules-dbi, libdbd-sqlite3)", f)
			}
			t.Skipf("%s missing (install lighttpd-modules-dbi libdbd-sqlite3)", f)
		}
	}
}

const vhostdbConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_vhostdb_dbi", "mod_fastcgi")
server.errorlog = "@ROOT@/@NAME@.error.log"
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html")
index-file.names = ("index.html")
vhostdb.backend = "dbi"
vhostdb.dbi = ( "sql" => "SELECT docroot FROM vhosts WHERE hostname='?'", "dbtype" => "sqlite3",
                "dbname" => "vhosts.sqlite", "sqlite3_dbdir" => "@ROOT@/db" )
$HTTP["url"] =^ "/cached/" { vhostdb.cache = ( "max-age" => 0 ) }
$HTTP["url"] =^ "/v2/" {
	vhostdb.dbi = ( "SQL" => "SELECT d FROM v2 WHERE h='?'", "DBtype" => "sqlite3", "dbname" => "vhosts.sqlite", "sqlite3_dbdir" => "@ROOT@/db" )
}
` + vhostFastCGI

func vhostdbSite(t *testing.T) string {
	t.Helper()
	requireVhostdbDBI(t)
	root := t.TempDir()
	vhostTree(t, root, "www", "a", "b", "quote", "port")
	for _, d := range []string{"www", "a", "b"} {
		writeTree(t, root, map[string]string{d + "/cached/who.txt": d + "/cached/\n", d + "/v2/who.txt": d + "/v2/\n"})
	}
	writeTree(t, root, map[string]string{"file": "a file\n"})
	if err := os.MkdirAll(filepath.Join(root, "db"), 0o755); err != nil {
		t.Fatal(err)
	}
	vhostdbExec(t, filepath.Join(root, "db", "vhosts.sqlite"), vhostdbSchema,
		`CREATE TABLE v2 (h TEXT, d)`,
		`INSERT INTO vhosts VALUES ('a.example', '`+root+`/a'), ('b.example', '`+root+`/b/'),
			('x''y.example', '`+root+`/quote'), ('port.example:8080', '`+root+`/port'),
			('nodir.example', '`+root+`/missing'), ('file.example', '`+root+`/file'),
			('rel.example', 'a'), ('empty.example', '')`,
		`INSERT INTO v2 VALUES ('a.example', NULL), ('b.example', 42), ('c.example', CAST('`+root+`/b' AS BLOB)),
			('two.example', '`+root+`/a'), ('two.example', '`+root+`/b')`)
	return root
}

func TestSideBySideVhostdb(t *testing.T) {
	root := vhostdbSite(t)
	g, l := vhostServers(t, root, vhostdbConf)
	hosts := []string{"a.example", "A.EXAMPLE", "b.example", "port.example:8080", "port.example", "nodir.example",
		"file.example", "rel.example", "empty.example", "unknown.example", "", "[::1]", "127.0.0.1"}
	reqs := vhostHostRequests("/who.txt", append(hosts, vhostHostileHosts...))
	reqs = append(reqs, vhostHostRequests("/env.php", hosts)...)
	reqs = append(reqs, vhostHostRequests("/env.php/more?q=1", []string{"a.example"})...)
	reqs = append(reqs, vhostHostRequests("/v2/who.txt", []string{"a.example", "b.example", "c.example", "two.example"})...)
	reqs = append(reqs, vhostHostRequests("/dir", []string{"a.example", "b.example"})...)
	reqs = append(reqs, "GET /who.txt HTTP/1.1\r\nHost: a.example\r\n\r\nGET /who.txt HTTP/1.1\r\nHost: b.example\r\n\r\nGET /env.php HTTP/1.1\r\nHost: unknown.example\r\nConnection: close\r\n\r\n")
	compareSideBySide(t, g, l, reqs, nil, nil)
	vhostCompareLogs(t, root, root+"/")

	t.Run("corrupt database", func(t *testing.T) {
		root := vhostdbSite(t)
		g, l := vhostServers(t, root, vhostdbConf)
		garbage := strings.Repeat("this is no SQLite database\n", 300)
		if err := os.WriteFile(filepath.Join(root, "db", "vhosts.sqlite"), []byte(garbage), 0o644); err != nil {
			t.Fatal(err)
		}
		compareSideBySide(t, g, l, vhostHostRequests("/who.txt", []string{"a.example", "unknown.example", ""}), nil, nil)
	})
	t.Run("locked database", func(t *testing.T) {
		root := vhostdbSite(t)
		g, l := vhostServers(t, root, vhostdbConf)
		db, err := sql.Open("sqlite", filepath.Join(root, "db", "vhosts.sqlite"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		conn, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
			t.Fatal(err)
		}
		compareSideBySide(t, g, l, vhostHostRequests("/who.txt", []string{"a.example", "unknown.example", ""}), nil, nil)
		if _, err := conn.ExecContext(context.Background(), "COMMIT"); err != nil {
			t.Fatal(err)
		}
		compareSideBySide(t, g, l, vhostHostRequests("/who.txt", []string{"a.example"}), nil, nil)
	})
	t.Run("lax host reaches the query escaped", func(t *testing.T) {
		root := vhostdbSite(t)
		conf := vhostdbConf + `server.http-parseopts = ("host-strict" => "disable", "host-normalize" => "disable")` + "\n"
		g, l := vhostServers(t, root, conf)
		compareSideBySide(t, g, l, vhostHostRequests("/who.txt", []string{"x'y.example", "a.example' OR '1'='1",
			"'; DROP TABLE vhosts; --", "a.example'--", `a\b`}), nil, nil)
		compareSideBySide(t, g, l, vhostHostRequests("/who.txt", []string{"a.example"}), nil, nil)
	})
}

// vhostdb's cache as lighttpd keeps it: without vhostdb.cache a changed
// row is used at once; with it the old document root stays until the
// cleanup that lighttpd runs when its clock leaves a second that is a
// multiple of 8 (here max-age 0: the first such cleanup). Both servers read
// the same clock (CLOCK_MONOTONIC), so they let go within a second of each
// other. The entry is cached away from a tick second, where lighttpd's
// clock may lag its requests by a second.
func TestSideBySideVhostdbCache(t *testing.T) {
	root := vhostdbSite(t)
	g, l := vhostServers(t, root, vhostdbConf)
	db := filepath.Join(root, "db", "vhosts.sqlite")
	get := func(s *server, path string) string {
		return string(s.raw(t, "GET "+path+" HTTP/1.0\r\nHost: a.example\r\n\r\n", false).body)
	}
	both := func(path, want string) {
		t.Helper()
		if gb, lb := get(g, path), get(l, path); gb != want || lb != want {
			t.Fatalf("%s: golighty %q, lighttpd %q, want %q", path, gb, lb, want)
		}
	}
	for vhostMonotonic()%8 == 0 || vhostMonotonic()%8 == 7 {
		time.Sleep(100 * time.Millisecond)
	}
	cached := vhostMonotonic()
	both("/cached/who.txt", "a/cached/\n")
	both("/who.txt", "a/\n")
	vhostdbExec(t, db, `UPDATE vhosts SET docroot = '`+root+`/b' WHERE hostname = 'a.example'`)
	both("/who.txt", "b/\n") // no cache: the change shows at once
	if vhostMonotonic() < cached+2 {
		both("/cached/who.txt", "a/cached/\n")
	}
	// The tick after the caching second (max-age 0), left at the next second.
	tick := (cached/8 + 1) * 8
	// When a request saw the switch: between the seconds read before and
	// after it (a loaded machine can stretch a request over a tick).
	type span struct{ from, to int64 }
	switched := map[*server]span{}
	deadline := time.Now().Add(12 * time.Second)
	for len(switched) < 2 && time.Now().Before(deadline) {
		for _, s := range []*server{g, l} {
			if _, ok := switched[s]; ok {
				continue
			}
			before := vhostMonotonic()
			switch body := get(s, "/cached/who.txt"); body {
			case "b/cached/\n":
				switched[s] = span{before, vhostMonotonic()}
			case "a/cached/\n":
			default:
				t.Fatalf("%s served %q", s.name, body)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, s := range []*server{g, l} {
		at, ok := switched[s]
		if !ok {
			t.Fatalf("%s still served the cached root 12 s after the change", s.name)
		}
		if at.to < tick+1 || at.from > tick+2 {
			t.Errorf("%s dropped the entry cached at second %d at second %d-%d, want %d (or within the next second)", s.name, cached, at.from, at.to, tick+1)
		}
	}
}

// vhostMonotonic is CLOCK_MONOTONIC in seconds, the clock of lighttpd's
// cache cleanup.
func vhostMonotonic() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err)
	}
	return ts.Sec
}

// Modules lighttpd 1.4.69 no longer has: both servers refuse to start;
// golighty says what replaced each.
func TestRemovedModules(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	root := t.TempDir()
	for _, tc := range []struct{ module, golighty string }{
		{"mod_evasive", "removed from lighttpd in 1.4.68"},
		{"mod_usertrack", "removed from lighttpd in 1.4.68"},
		{"mod_uploadprogress", "removed from lighttpd in 1.4.68"},
		{"mod_flv_streaming", "removed from lighttpd in 1.4.64"},
		{"mod_trigger_b4_dl", "removed from lighttpd in 1.4.64"},
		{"mod_cml", "removed from lighttpd in 1.4.64"},
		{"mod_geoip", "mod_maxminddb"},
		{"mod_mysql_vhost", "mod_vhostdb_dbi"},
		{"mod_vhostdb_mysql", "mod_vhostdb_mysql is not available in golighty"},
		{"mod_vhostdb_pgsql", "mod_vhostdb_pgsql is not available in golighty"},
		{"mod_no_such_thing", "module mod_no_such_thing is not available in golighty"},
	} {
		t.Run(tc.module, func(t *testing.T) {
			conf := filepath.Join(root, tc.module+".conf")
			text := "server.document-root = \"" + root + "\"\nserver.modules = (\"" + tc.module + "\")\n"
			if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			lout, lerr := exec.Command(lighttpd, "-tt", "-f", conf).CombinedOutput()
			if lerr == nil {
				t.Fatalf("lighttpd -tt accepted %s: %s", tc.module, lout)
			}
			gout, gerr := exec.Command(golightyBin, "-tt", "-f", conf).CombinedOutput()
			if gerr == nil || !strings.Contains(string(gout), tc.golighty) {
				t.Fatalf("golighty -tt: %v\n%s\nwant %q", gerr, gout, tc.golighty)
			}
			if le, ge := lerr.(*exec.ExitError), gerr.(*exec.ExitError); le.ExitCode() != ge.ExitCode() {
				t.Errorf("exit code: golighty %d, lighttpd %d", ge.ExitCode(), le.ExitCode())
			}
		})
	}
}
