package vhostdb

import (
	"database/sql"
	"strings"
	"testing"
)

// FuzzSubstitute runs the escaped query on a real SQLite database: whatever
// the host, the query parses, and it finds a row exactly when that row's
// name is the host (no injection, no error).
func FuzzSubstitute(f *testing.F) {
	db, err := sql.Open("sqlite", "file::memory:")
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one in-memory database
	if _, err := db.Exec(schema); err != nil {
		f.Fatal(err)
	}
	rows := []string{"a.example", "x'y", "'", "''", `a\b`, "é.example"}
	for _, h := range rows {
		if _, err := db.Exec(`INSERT INTO vhosts VALUES (?, ?)`, h, "/srv/"+h); err != nil {
			f.Fatal(err)
		}
	}
	for _, h := range append(rows, "a.example' OR '1'='1", "'; DROP TABLE vhosts; --", "?", "a'?'b") {
		f.Add(h)
	}
	const query = "SELECT docroot FROM vhosts WHERE hostname='?'"
	f.Fuzz(func(t *testing.T, host string) {
		if host == "" || strings.ContainsRune(host, 0) {
			return // the request parser never lets these through
		}
		var got string
		err := db.QueryRow(substitute(query, host)).Scan(&got)
		known := false
		for _, h := range rows {
			known = known || h == host
		}
		switch {
		case err == sql.ErrNoRows && !known:
		case err == nil && known && got == "/srv/"+host:
		default:
			t.Fatalf("host %q (known %v): %q, %v", host, known, got, err)
		}
	})
}
