package webdav

import (
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	_ "modernc.org/sqlite" // pure-Go SQLite driver ("sqlite")
)

// store keeps dead properties and locks in the SQLite database named by
// webdav.sqlite-db-name, in lighttpd's own schema, so a database written by
// lighttpd's mod_webdav keeps its properties under golighty and back.
//
// Lock timeouts are absolute Unix seconds here. lighttpd 1.4.69 stores
// "CURRENT_TIME + timeout", which SQLite evaluates as the current hour plus
// the timeout, so its locks never really expire; rows written that way read
// as long expired here and are removed.
type store struct {
	db   *sql.DB
	stmt map[string]*sql.Stmt
}

const (
	createProps = "CREATE TABLE IF NOT EXISTS properties (" +
		"  resource TEXT NOT NULL," +
		"  prop TEXT NOT NULL," +
		"  ns TEXT NOT NULL," +
		"  value TEXT NOT NULL," +
		"  PRIMARY KEY(resource, prop, ns))"
	createLocks = "CREATE TABLE IF NOT EXISTS locks (" +
		"  locktoken TEXT NOT NULL," +
		"  resource TEXT NOT NULL," +
		"  lockscope TEXT NOT NULL," +
		"  locktype TEXT NOT NULL," +
		"  owner TEXT NOT NULL," +
		"  ownerinfo TEXT NOT NULL," +
		"  depth INT NOT NULL," +
		"  timeout TIMESTAMP NOT NULL," +
		"  PRIMARY KEY(locktoken))"
	// Databases from mod_webdav before lighttpd 1.4.54 lack ownerinfo.
	ownerinfoTest = `SELECT COUNT(*) FROM locks WHERE ownerinfo = ""`
	ownerinfoAdd  = `ALTER TABLE locks ADD COLUMN ownerinfo TEXT NOT NULL DEFAULT ""`
)

var queries = map[string]string{
	"propnames":  "SELECT prop, ns FROM properties WHERE resource = ?",
	"props":      "SELECT prop, ns, value FROM properties WHERE resource = ?",
	"prop":       "SELECT value FROM properties WHERE resource = ? AND prop = ? AND ns = ?",
	"propsRange": "SELECT resource, prop, ns, value FROM properties WHERE resource >= ? AND resource < ?",
	"setProp":    "REPLACE INTO properties (resource, prop, ns, value) VALUES (?, ?, ?, ?)",
	"delProp":    "DELETE FROM properties WHERE resource = ? AND prop = ? AND ns = ?",
	"delProps":   "DELETE FROM properties WHERE resource = ?",
	"copyProps":  "INSERT INTO properties SELECT ?, prop, ns, value FROM properties WHERE resource = ?",
	"moveProps":  "UPDATE OR REPLACE properties SET resource = ? WHERE resource = ?",
	"moveCol": "UPDATE OR REPLACE properties SET resource = ? || SUBSTR(resource, ?)" +
		" WHERE SUBSTR(resource, 1, ?) = ?",
	"lockAdd": "INSERT INTO locks (locktoken,resource,lockscope,locktype,owner,ownerinfo,depth,timeout)" +
		" VALUES (?,?,?,?,?,?,?,?)",
	"lockRefresh": "UPDATE locks SET timeout = ? WHERE locktoken = ? AND timeout > ?",
	"lockDel":     "DELETE FROM locks WHERE locktoken = ?",
	"lockGet":     "SELECT resource, owner, depth FROM locks WHERE locktoken = ? AND timeout > ?",
	"lockFull": "SELECT locktoken,resource,lockscope,locktype,owner,ownerinfo,depth,timeout" +
		" FROM locks WHERE locktoken = ? AND timeout > ?",
	"locksRange": "SELECT locktoken,resource,lockscope,locktype,owner,ownerinfo,depth,timeout" +
		" FROM locks WHERE resource >= ? AND resource < ? AND timeout > ?",
	"locksAt": "SELECT locktoken,resource,lockscope,locktype,owner,ownerinfo,depth,timeout" +
		" FROM locks WHERE resource = ? AND timeout > ?",
	"locksDelURI":  "DELETE FROM locks WHERE resource = ?",
	"locksDelCol":  "DELETE FROM locks WHERE SUBSTR(resource, 1, ?) = ?",
	"locksExpired": "DELETE FROM locks WHERE timeout <= ?",
}

// openStore opens (creating if needed) the database at path with lighttpd's
// tables. One connection serves every request, as lighttpd's one worker
// does: SQLite serialises writers anyway, and a single connection makes
// PROPPATCH's transaction exclusive without busy retries.
func openStore(path string) (*store, error) {
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite3_open() '%s': %v", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	for _, q := range []struct{ sql, label string }{{createProps, "properties"}, {createLocks, "locks"}} {
		if _, err := db.Exec(q.sql); err != nil {
			db.Close()
			return nil, fmt.Errorf("sqlite3_open() '%s': create table %s: %v", path, q.label, err)
		}
	}
	if _, err := db.Exec(ownerinfoTest); err != nil {
		if _, err := db.Exec(ownerinfoAdd); err != nil {
			db.Close()
			return nil, fmt.Errorf("alter table locks: %v", err)
		}
	}
	s := &store{db: db, stmt: make(map[string]*sql.Stmt, len(queries))}
	for name, q := range queries {
		st, err := db.Prepare(q)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("sqlite3_prepare_v2(): %v", err)
		}
		s.stmt[name] = st
	}
	return s, nil
}

func (s *store) close() {
	for _, st := range s.stmt {
		st.Close()
	}
	s.db.Close()
}

// prop is one dead property.
type prop struct {
	name, ns, value string
}

// upper returns the first string greater than every string starting with
// prefix, for index range scans instead of SUBSTR table scans.
func upper(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return "\xff\xff\xff\xff\xff\xff\xff\xff" + prefix
}

func (s *store) props(resource string) ([]prop, error) {
	rows, err := s.stmt["props"].Query(resource)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []prop
	for rows.Next() {
		var p prop
		if err := rows.Scan(&p.name, &p.ns, &p.value); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (s *store) propNames(resource string) ([]prop, error) {
	rows, err := s.stmt["propnames"].Query(resource)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []prop
	for rows.Next() {
		var p prop
		if err := rows.Scan(&p.name, &p.ns); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// propsBelow returns the dead properties of collection and everything below
// it, by resource: one query for a whole PROPFIND instead of one per member.
func (s *store) propsBelow(collection string) (map[string][]prop, error) {
	rows, err := s.stmt["propsRange"].Query(collection, upper(collection))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]prop{}
	for rows.Next() {
		var r string
		var p prop
		if err := rows.Scan(&r, &p.name, &p.ns, &p.value); err != nil {
			return nil, err
		}
		out[r] = append(out[r], p)
	}
	return out, rows.Err()
}

// propValue returns the value of one dead property.
func (s *store) propValue(resource, name, ns string) (string, bool, error) {
	var v string
	err := s.stmt["prop"].QueryRow(resource, name, ns).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return v, err == nil, err
}

func (s *store) exec(name string, args ...any) error {
	_, err := s.stmt[name].Exec(args...)
	return err
}

func (s *store) deleteProps(resource string) error { return s.exec("delProps", resource) }

// copyProps copies src's properties to dst. Like lighttpd's plain INSERT,
// it copies nothing when dst already has one of them (the statement fails
// on the duplicate key and that failure is not an error of the COPY).
func (s *store) copyProps(src, dst string) { _ = s.exec("copyProps", dst, src) }

func (s *store) moveProps(src, dst string) error { return s.exec("moveProps", dst, src) }

// moveCollectionProps renames every resource below src (both end in '/').
func (s *store) moveCollectionProps(src, dst string) error {
	return s.exec("moveCol", dst, len(src)+1, len(src), src)
}

// patch is one PROPPATCH instruction.
type patch struct {
	set             bool
	name, ns, value string
}

// applyPatches runs a PROPPATCH's updates in one immediate transaction.
func (s *store) applyPatches(resource string, ps []patch) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.set {
			_, err = tx.Stmt(s.stmt["setProp"]).Exec(resource, p.name, p.ns, p.value)
		} else {
			_, err = tx.Stmt(s.stmt["delProp"]).Exec(resource, p.name, p.ns)
		}
		if err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// lock is one row of the locks table.
type lock struct {
	token, root, scope, typ, owner, ownerinfo string
	depth                                     int // 0 or -1 (infinity)
	expires                                   int64
}

func (l *lock) exclusive() bool { return l.scope == "exclusive" }

// now is the clock of lock expiry (tests step it).
var now = func() int64 { return time.Now().Unix() }

func scanLocks(rows *sql.Rows) ([]lock, error) {
	defer rows.Close()
	var out []lock
	for rows.Next() {
		var l lock
		if err := rows.Scan(&l.token, &l.root, &l.scope, &l.typ, &l.owner, &l.ownerinfo, &l.depth, &l.expires); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// locksAffecting returns the live locks on uri itself and the
// depth-infinity locks on the collections above it; with members, also the
// locks on everything below uri.
func (s *store) locksAffecting(uri string, members bool) ([]lock, error) {
	t := now()
	var out []lock
	for _, a := range ancestors(uri) {
		rows, err := s.stmt["locksAt"].Query(a, t)
		if err != nil {
			return nil, err
		}
		ls, err := scanLocks(rows)
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			if a == uri || l.depth == -1 {
				out = append(out, l)
			}
		}
	}
	if members {
		// Like lighttpd's SUBSTR(resource, 1, len) match, a file's
		// "members" are the resources its name is a prefix of.
		ls, err := s.locksBelow(uri)
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			if l.root != uri {
				out = append(out, l)
			}
		}
	}
	return out, nil
}

// locksBelow returns the live locks on uri and everything below it.
func (s *store) locksBelow(uri string) ([]lock, error) {
	rows, err := s.stmt["locksRange"].Query(uri, upper(uri), now())
	if err != nil {
		return nil, err
	}
	ls, err := scanLocks(rows)
	sort.SliceStable(ls, func(i, j int) bool { return ls[i].root < ls[j].root })
	return ls, err
}

// ancestors lists uri and each collection above it ("/a/b/c" -> "/a/b/c",
// "/a/b/", "/a/", "/"), the resources whose locks can cover uri.
func ancestors(uri string) []string {
	out := []string{uri}
	for i := len(uri) - 2; i >= 0; i-- {
		if uri[i] == '/' {
			out = append(out, uri[:i+1])
		}
	}
	return out
}

func (s *store) addLock(l *lock) error {
	if err := s.exec("locksExpired", now()); err != nil {
		return err
	}
	return s.exec("lockAdd", l.token, l.root, l.scope, l.typ, l.owner, l.ownerinfo, l.depth, l.expires)
}

// refreshLock gives a live lock a new timeout; it reports whether the lock
// exists.
func (s *store) refreshLock(token string, timeout int) (*lock, error) {
	t := now()
	r, err := s.stmt["lockRefresh"].Exec(t+int64(timeout), token, t)
	if err != nil {
		return nil, err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return nil, nil
	}
	rows, err := s.stmt["lockFull"].Query(token, t)
	if err != nil {
		return nil, err
	}
	ls, err := scanLocks(rows)
	if err != nil || len(ls) == 0 {
		return nil, err
	}
	return &ls[0], nil
}

// lockOwner returns the resource, owner and depth of a live lock.
func (s *store) lockOwner(token string) (root, owner string, depth int, ok bool, err error) {
	err = s.stmt["lockGet"].QueryRow(token, now()).Scan(&root, &owner, &depth)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", 0, false, nil
	}
	return root, owner, depth, err == nil, err
}

// releaseLock deletes a lock and reports whether it existed.
func (s *store) releaseLock(token string) (bool, error) {
	r, err := s.stmt["lockDel"].Exec(token)
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	return n > 0, nil
}

func (s *store) deleteLocks(uri string) error { return s.exec("locksDelURI", uri) }

func (s *store) deleteCollectionLocks(uri string) error {
	return s.exec("locksDelCol", len(uri), uri)
}
