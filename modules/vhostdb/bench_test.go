package vhostdb

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golighty/golighty/core/coretest"
)

// BenchmarkKeepAlive1KiB is a 1 KiB file on a kept connection, without
// mod_vhostdb, with it and vhostdb.cache, and asking SQLite every time.
func BenchmarkKeepAlive1KiB(b *testing.B) {
	base := `server.document-root = "@DIR@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.max-keep-alive-requests = 65535
mimetype.assign = (".txt" => "text/plain")
`
	dbi := `server.modules = ("mod_vhostdb_dbi")
vhostdb.backend = "dbi"
vhostdb.dbi = ( "sql" => "SELECT docroot FROM vhosts WHERE hostname='?'", "dbtype" => "sqlite3", "dbname" => "v.sqlite", "sqlite3_dbdir" => "@DIR@" )
`
	prepare := func(dir string) {
		body := strings.Repeat("x", 1024)
		for _, d := range []string{"www", "vh"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, d, "1k.txt"), []byte(body), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		db, err := sql.Open("sqlite", filepath.Join(dir, "v.sqlite"))
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		for _, q := range []string{schema, `INSERT INTO vhosts VALUES ('www.example.com', '` + dir + `/vh')`} {
			if _, err := db.Exec(q); err != nil {
				b.Fatal(err)
			}
		}
	}
	req := "GET /1k.txt HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n"
	b.Run("plain", func(b *testing.B) { coretest.KeepAliveBenchDir(b, base, prepare, req) })
	b.Run("cached", func(b *testing.B) { coretest.KeepAliveBenchDir(b, base+dbi+"vhostdb.cache = ()\n", prepare, req) })
	b.Run("query", func(b *testing.B) { coretest.KeepAliveBenchDir(b, base+dbi, prepare, req) })
}
