package vhostdb

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/coretest"
	"github.com/golighty/golighty/lighttpdconf"
	_ "github.com/golighty/golighty/modules/staticfile"
)

// schema is the table of lighttpd's mod_vhostdb documentation.
const schema = `CREATE TABLE vhosts (hostname varchar(255) NOT NULL, docroot varchar(255) NOT NULL, PRIMARY KEY (hostname))`

// makeDB creates an SQLite database with rows host => docroot.
func makeDB(t *testing.T, path string, rows map[string]any) {
	t.Helper()
	db, err := sql.Open("sqlite", sqliteURI(path, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS v2 (h TEXT, d)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(schema); err != nil {
		t.Fatal(err)
	}
	for h, d := range rows {
		if _, err := db.Exec(`INSERT INTO v2 VALUES (?, ?)`, h, d); err != nil {
			t.Fatal(err)
		}
		if s, ok := d.(string); ok {
			if _, err := db.Exec(`INSERT INTO vhosts VALUES (?, ?)`, h, s); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func setDocroot(t *testing.T, path, host, docroot string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE vhosts SET docroot = ? WHERE hostname = ?`, docroot, host); err != nil {
		t.Fatal(err)
	}
}

const dbiTestConf = `
server.document-root = "@DIR@/default"
server.modules = ("mod_vhostdb_dbi")
mimetype.assign = (".txt" => "text/plain")
vhostdb.backend = "dbi"
vhostdb.dbi = ( "sql" => "SELECT docroot FROM vhosts WHERE hostname='?'", "dbtype" => "sqlite3",
                "dbname" => "vhosts.sqlite", "sqlite3_dbdir" => "@DIR@/db" @OPTS@ )
$HTTP["url"] =^ "/v2/" {
	vhostdb.dbi = ( "SQL" => "SELECT d FROM v2 WHERE h='?'", "DBtype" => "sqlite3", "dbname" => "vhosts.sqlite", "sqlite3_dbdir" => "@DIR@/db" )
}
$HTTP["url"] =^ "/cached/" { vhostdb.cache = ( "max-age" => 600 ) }
`

// newHarness creates the database before the config is compiled (the
// module opens it at start-up).
func newHarness(t *testing.T, opts, extra string, rows func(dir string) map[string]any) *harness {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o755); err != nil {
		t.Fatal(err)
	}
	makeDB(t, filepath.Join(dir, "db", "vhosts.sqlite"), rows(dir))
	conf := strings.NewReplacer("@DIR@", dir, "@OPTS@", opts).Replace(extra + dbiTestConf)
	h := coretest.New(t, conf)
	for _, d := range []string{"default", "a", "b", "quote"} {
		for _, sub := range []string{"", "/v2", "/cached"} {
			writeFile(t, filepath.Join(dir, d+sub, "who.txt"), d)
		}
	}
	writeFile(t, filepath.Join(dir, "file"), "a file")
	return &harness{h, dir}
}

// harness is a compiled test config and the directory its files are in.
type harness struct {
	*coretest.Harness
	dir string
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func standardRows(dir string) map[string]any {
	return map[string]any{
		"a.example":      dir + "/a",
		"b.example:8080": dir + "/b/",
		"x'y.example":    dir + "/quote",
		"nodir.example":  dir + "/missing",
		"file.example":   dir + "/file",
		"rel.example":    "a",
		"empty.example":  "",
		"null.example":   nil,
		"int.example":    int64(5),
		"blob.example":   []byte(dir + "/b"),
	}
}

func TestLookup(t *testing.T) {
	h := newHarness(t, "", "", standardRows)
	tests := []struct {
		name, path, host string
		status           int
		want             string
	}{
		{"found", "/who.txt", "a.example", 200, "a"},
		{"port is part of the key", "/who.txt", "b.example:8080", 200, "b"},
		{"without the port it is another host", "/who.txt", "b.example", 200, "default"},
		{"unknown host", "/who.txt", "c.example", 200, "default"},
		{"no host", "/who.txt", "", 200, "default"},
		{"not a directory", "/who.txt", "nodir.example", 500, ""},
		{"a file", "/who.txt", "file.example", 500, ""},
		{"relative document root", "/who.txt", "rel.example", 500, ""},
		{"empty document root is no vhost", "/who.txt", "empty.example", 200, "default"},
		{"null is no vhost", "/v2/who.txt", "null.example", 200, "default"},
		{"number as text", "/v2/who.txt", "int.example", 500, ""},
		{"blob as text", "/v2/who.txt", "blob.example", 200, "b"},
		{"upper case host is lowered first", "/who.txt", "A.EXAMPLE", 200, "a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := "GET " + tc.path + " HTTP/1.0\r\n"
			if tc.host != "" {
				req += "Host: " + tc.host + "\r\n"
			}
			resp, body := h.Do(req + "\r\n")
			if resp.StatusCode != tc.status || (tc.status == 200 && body != tc.want) {
				t.Fatalf("status %d, served %q; want %d %q", resp.StatusCode, body, tc.status, tc.want)
			}
		})
	}
}

// With host-strict off a quote reaches the query: it must be escaped, not
// end the SQL string.
func TestQuoteInHost(t *testing.T) {
	h2 := newHarness(t, "", `server.http-parseopts = ("host-strict" => "disable", "host-normalize" => "disable")`+"\n", standardRows)
	for _, tc := range []struct {
		host, want string
		status     int
	}{
		{"x'y.example", "quote", 200},
		{"a.example' OR '1'='1", "default", 200},
		{"a.example'--", "default", 200},
		{"'; DROP TABLE vhosts; --", "default", 200},
	} {
		resp, body := h2.Do("GET /who.txt HTTP/1.0\r\nHost: " + tc.host + "\r\n\r\n")
		if resp.StatusCode != tc.status || body != tc.want {
			t.Errorf("host %q: status %d, served %q; want %d %q", tc.host, resp.StatusCode, body, tc.status, tc.want)
		}
	}
	if resp, body := h2.Do("GET /who.txt HTTP/1.0\r\nHost: a.example\r\n\r\n"); body != "a" {
		t.Fatalf("the table is gone? status %d, %q", resp.StatusCode, body)
	}
}

// Without vhostdb.cache a changed row is used by the next request; with it
// the cached document root stays (lighttpd's cleanup decides, see cache
// tests for when).
func TestCacheAndChanges(t *testing.T) {
	h := newHarness(t, "", "", standardRows)
	db := filepath.Join(h.dir, "db", "vhosts.sqlite")
	get := func(path string) string {
		resp, body := h.Do("GET " + path + " HTTP/1.0\r\nHost: a.example\r\n\r\n")
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
		return body
	}
	if a, c := get("/who.txt"), get("/cached/who.txt"); a != "a" || c != "a" {
		t.Fatalf("before the change: %q, %q", a, c)
	}
	setDocroot(t, db, "a.example", h.dir+"/b")
	if a := get("/who.txt"); a != "b" {
		t.Errorf("uncached lookup served %q after the change, want b", a)
	}
	if c := get("/cached/who.txt"); c != "a" {
		t.Errorf("cached lookup served %q after the change, want a (cached)", c)
	}
}

func TestCacheKeepsCopies(t *testing.T) {
	h := newHarness(t, "", "", standardRows)
	h.Sequence(
		"GET /cached/who.txt HTTP/1.1\r\nHost: a.example\r\n\r\n",
		"GET /cached/who.txt HTTP/1.1\r\nHost: b.example:8080\r\n\r\n",
		"GET /cached/who.txt HTTP/1.1\r\nHost: x.example\r\n\r\n",
	)
	vc := onlyCache(t, h)
	vc.mu.RLock()
	defer vc.mu.RUnlock()
	if len(vc.m) != 2 {
		t.Fatalf("cache holds %d hosts, want 2 (unknown hosts are not cached)", len(vc.m))
	}
	for host, e := range vc.m {
		if host != e.f.host || (host != "a.example" && host != "b.example:8080") {
			t.Errorf("cache entry %q for %q", host, e.f.host)
		}
	}
}

// onlyCache returns the one vhostdb.cache of the test config.
func onlyCache(t *testing.T, h *harness) *cache {
	t.Helper()
	m, _ := h.Snap.Module("mod_vhostdb")
	caches := m.(*Module).caches
	if len(caches) != 1 {
		t.Fatalf("%d caches", len(caches))
	}
	return caches[0]
}

func TestBrokenDatabase(t *testing.T) {
	t.Run("corrupt file answers 500", func(t *testing.T) {
		h := newHarness(t, "", "", standardRows)
		garbage := strings.Repeat("not an sqlite database ", 200)
		if err := os.WriteFile(filepath.Join(h.dir, "db", "vhosts.sqlite"), []byte(garbage), 0o644); err != nil {
			t.Fatal(err)
		}
		resp, _ := h.Do("GET /who.txt HTTP/1.0\r\nHost: a.example\r\n\r\n")
		if resp.StatusCode != 500 {
			t.Fatalf("status %d, want 500", resp.StatusCode)
		}
		if resp, body := h.Do("GET /who.txt HTTP/1.0\r\n\r\n"); resp.StatusCode != 200 || body != "default" {
			t.Fatalf("a request without host: %d %q", resp.StatusCode, body)
		}
	})
	t.Run("table missing answers 500", func(t *testing.T) {
		h := newHarness(t, "", "", standardRows)
		db, err := sql.Open("sqlite", filepath.Join(h.dir, "db", "vhosts.sqlite"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`DROP TABLE vhosts`); err != nil {
			t.Fatal(err)
		}
		if resp, _ := h.Do("GET /who.txt HTTP/1.0\r\nHost: a.example\r\n\r\n"); resp.StatusCode != 500 {
			t.Fatalf("status %d, want 500", resp.StatusCode)
		}
	})
	for _, tc := range []struct {
		name, opts     string
		hold, min, max time.Duration
		status         int
	}{
		{"locked answers 500 at once", "", 2 * time.Second, 0, time.Second, 500},
		{"sqlite3_timeout waits for the lock", `, "sqlite3_timeout" => 3000`, 150 * time.Millisecond, 100 * time.Millisecond, 3 * time.Second, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts, "", standardRows)
			db, err := sql.Open("sqlite", filepath.Join(h.dir, "db", "vhosts.sqlite"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			conn, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
				t.Fatal(err)
			}
			release := time.AfterFunc(tc.hold, func() {
				conn.ExecContext(context.Background(), "COMMIT")
				conn.Close()
			})
			defer release.Stop()
			start := time.Now()
			resp, _ := h.Do("GET /who.txt HTTP/1.0\r\nHost: a.example\r\n\r\n")
			took := time.Since(start)
			if resp.StatusCode != tc.status || took < tc.min || took > tc.max {
				t.Fatalf("status %d after %v; want %d within [%v, %v]", resp.StatusCode, took, tc.status, tc.min, tc.max)
			}
		})
	}
}

func compileErr(t *testing.T, conf string) error {
	t.Helper()
	dir := t.TempDir()
	conf = strings.ReplaceAll(conf, "@DIR@", dir)
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o755); err != nil {
		t.Fatal(err)
	}
	makeDB(t, filepath.Join(dir, "db", "vhosts.sqlite"), nil)
	path := filepath.Join(dir, "lighttpd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	parsed, err := lighttpdconf.ParseFile(path, &lighttpdconf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = core.Compile(parsed, core.CompileOptions{Preflight: true}, nil)
	return err
}

func TestStartupErrors(t *testing.T) {
	const head = "server.document-root = \"@DIR@\"\n"
	const dbi = `vhostdb.dbi = ( "sql" => "SELECT docroot FROM vhosts WHERE hostname='?'", "dbtype" => "sqlite3", "dbname" => "vhosts.sqlite", "sqlite3_dbdir" => "@DIR@/db" )` + "\n"
	tests := []struct {
		name, conf, want string
	}{
		{"backend module not loaded", `server.modules = ("mod_vhostdb")` + "\nvhostdb.backend = \"dbi\"\n", "vhostdb.backend not supported: dbi"},
		{"unknown backend", `server.modules = ("mod_vhostdb_dbi")` + "\nvhostdb.backend = \"mysql\"\n" + dbi, "vhostdb.backend not supported: mysql"},
		{"mysql module", `server.modules = ("mod_vhostdb_mysql")`, "mod_vhostdb_mysql is not available in golighty"},
		{"pgsql module", `server.modules = ("mod_vhostdb", "mod_vhostdb_pgsql")`, "mod_vhostdb_pgsql is not available in golighty"},
		{"ldap module", `server.modules = ("mod_vhostdb_ldap")`, "mod_vhostdb_ldap is not available in golighty"},
		{"mysql dbtype", `server.modules = ("mod_vhostdb_dbi")` + "\n" + `vhostdb.dbi = ( "sql" => "SELECT 1", "dbtype" => "mysql", "dbname" => "x" )`, `"dbtype" => "mysql" is not available in golighty`},
		{"no sql", `server.modules = ("mod_vhostdb_dbi")` + "\n" + `vhostdb.dbi = ( "dbtype" => "sqlite3", "dbname" => "vhosts.sqlite", "sqlite3_dbdir" => "@DIR@/db" )`, `needs "sql"`},
		{"empty sql", `server.modules = ("mod_vhostdb_dbi")` + "\n" + `vhostdb.dbi = ( "sql" => "", "dbtype" => "sqlite3", "dbname" => "vhosts.sqlite", "sqlite3_dbdir" => "@DIR@/db" )`, `needs "sql"`},
		{"missing database", `server.modules = ("mod_vhostdb_dbi")` + "\n" + `vhostdb.dbi = ( "sql" => "SELECT 1", "dbtype" => "sqlite3", "dbname" => "nothere.sqlite", "sqlite3_dbdir" => "@DIR@/db" )`, "nothere.sqlite: stat"},
		{"missing directory", `server.modules = ("mod_vhostdb_dbi")` + "\n" + `vhostdb.dbi = ( "sql" => "SELECT 1", "dbtype" => "sqlite3", "dbname" => "vhosts.sqlite", "sqlite3_dbdir" => "@DIR@/nodir" )`, "no such file or directory"},
		{"database is a directory", `server.modules = ("mod_vhostdb_dbi")` + "\n" + `vhostdb.dbi = ( "sql" => "SELECT 1", "dbtype" => "sqlite3", "dbname" => "db", "sqlite3_dbdir" => "@DIR@" )`, "not a regular file"},
		{"default directory", `server.modules = ("mod_vhostdb_dbi")` + "\n" + `vhostdb.dbi = ( "sql" => "SELECT 1", "dbtype" => "sqlite3", "dbname" => "vhosts.sqlite" )`, defaultDBDir + "/vhosts.sqlite"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := compileErr(t, head+tc.conf+"\n")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	t.Run("blank backend is no backend", func(t *testing.T) {
		if err := compileErr(t, head+`server.modules = ("mod_vhostdb")`+"\nvhostdb.backend = \"\"\n"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestModuleOrder(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ modules, want string }{
		{`"mod_vhostdb_dbi"`, "mod_vhostdb mod_vhostdb_dbi mod_staticfile"},
		{`"mod_staticfile", "mod_vhostdb_dbi", "mod_vhostdb"`, "mod_vhostdb mod_staticfile mod_vhostdb_dbi"},
		{`"mod_staticfile", "mod_vhostdb", "mod_vhostdb_dbi"`, "mod_staticfile mod_vhostdb mod_vhostdb_dbi"},
	} {
		path := filepath.Join(dir, "lighttpd.conf")
		conf := "server.document-root = \"" + dir + "\"\nserver.modules = (" + tc.modules + ")\n"
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		parsed, err := lighttpdconf.ParseFile(path, &lighttpdconf.Options{})
		if err != nil {
			t.Fatal(err)
		}
		snap, err := core.Compile(parsed, core.CompileOptions{Preflight: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(snap.Modules(), " "); got != tc.want {
			t.Errorf("server.modules = (%s): loaded %q, want %q", tc.modules, got, tc.want)
		}
	}
}

// The database path goes into an SQLite URI: characters that mean something
// there must reach the file system unchanged.
func TestDatabasePathQuoting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a b#c?d%20e")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	makeDB(t, filepath.Join(dir, "v&x=1.sqlite"), map[string]any{"a.example": "/srv/a"})
	c, err := parseDBI([]lighttpdconf.Element{
		{Key: "sql", HasKey: true, Value: lighttpdconf.Value{Kind: lighttpdconf.KindString, Str: "SELECT docroot FROM vhosts WHERE hostname='?'"}},
		{Key: "dbtype", HasKey: true, Value: lighttpdconf.Value{Kind: lighttpdconf.KindString, Str: "sqlite3"}},
		{Key: "dbname", HasKey: true, Value: lighttpdconf.Value{Kind: lighttpdconf.KindString, Str: "v&x=1.sqlite"}},
		{Key: "sqlite3_dbdir", HasKey: true, Value: lighttpdconf.Value{Kind: lighttpdconf.KindString, Str: dir}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var d DBI
	if err := d.connect(c, false); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	v, err := firstValue(c.db, substitute(c.query, "a.example"))
	if err != nil || v != "/srv/a" {
		t.Fatalf("got %v, %v", v, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "a b")); err == nil {
		t.Fatal("a file was created at the unquoted path")
	}
}
