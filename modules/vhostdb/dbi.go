package vhostdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/lighttpdconf"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", pure Go
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_vhostdb_dbi", New: func() core.Module { return &DBI{} }})
}

// defaultDBDir is where Debian's libdbd-sqlite3 looks for a database when
// vhostdb.dbi has no "sqlite3_dbdir" (its compiled-in default).
const defaultDBDir = "/usr/var/lib/libdbi/sqlite3"

// maxConns bounds the connections to one database file.
const maxConns = 4

// dbiConf is one vhostdb.dbi setting: the query and its database.
type dbiConf struct {
	query   string // with '?' where the escaped host goes
	path    string
	timeout int64   // sqlite3_timeout: milliseconds to wait for a lock
	db      *sql.DB // nil under -tt
}

// DBI is one loaded mod_vhostdb_dbi: the "dbi" backend of mod_vhostdb.
// lighttpd reaches any libdbi driver; golighty has SQLite ("dbtype" =>
// "sqlite3") through modernc.org/sqlite, a cgo-free translation of SQLite,
// and refuses the other database types at start-up.
type DBI struct {
	table *core.Table[*dbiConf]
	open  []*sql.DB
}

var (
	_ backend     = (*DBI)(nil)
	_ core.Closer = (*DBI)(nil)
)

// Setup binds vhostdb.dbi, checks each setting and opens its database
// (under -tt it only checks that the file is there).
func (d *DBI) Setup(sc *core.SetupContext) error {
	var err error
	d.table, err = core.Bind(sc, (*dbiConf)(nil), []core.Key[*dbiConf]{
		{Name: "vhostdb.dbi", Type: core.TypeKVAny, Bind: func(v core.Value) (func(**dbiConf), error) {
			if len(v.Elements()) == 0 {
				return nil, nil
			}
			c, err := parseDBI(v.Elements())
			if err != nil {
				return nil, err
			}
			if err := d.connect(c, sc.Preflight()); err != nil {
				return nil, err
			}
			return func(p **dbiConf) { *p = c }, nil
		}},
	})
	if err != nil {
		d.Close() // what earlier blocks opened: the load fails, no Close follows
	}
	return err
}

// parseDBI reads the options lighttpd and libdbi's sqlite3 driver use:
// "sql", "dbtype" and "dbname" (names in any case) are required,
// "sqlite3_dbdir" and "sqlite3_timeout" (milliseconds to wait for a lock)
// are optional; libdbi options of other drivers are ignored.
func parseDBI(elems []lighttpdconf.Element) (*dbiConf, error) {
	var query, dbtype, dbname string
	var haveQuery, haveType, haveName bool
	dir := defaultDBDir
	timeout := int64(0)
	for _, e := range elems {
		v := e.Value
		if v.Kind == lighttpdconf.KindString {
			switch {
			case strings.EqualFold(e.Key, "sql"):
				query, haveQuery = v.Str, true
			case strings.EqualFold(e.Key, "dbtype"):
				dbtype, haveType = v.Str, true
			case strings.EqualFold(e.Key, "dbname"):
				dbname, haveName = v.Str, true
			case e.Key == "sqlite3_dbdir":
				dir = v.Str
			}
		} else if v.Kind == lighttpdconf.KindInteger && e.Key == "sqlite3_timeout" {
			timeout = int64(v.Int)
		}
	}
	if !haveQuery || query == "" || !haveType || !haveName {
		// lighttpd 1.4.69 crashes on such a setting.
		return nil, errors.New(`vhostdb.dbi needs "sql" (not empty), "dbtype" and "dbname"`)
	}
	if dbtype != "sqlite3" {
		return nil, fmt.Errorf(`vhostdb.dbi: "dbtype" => %q is not available in golighty: its libdbi drivers are C libraries, and golighty reads only SQLite ("dbtype" => "sqlite3") through a pure-Go driver; export the host => document root table to SQLite, or use mod_simple_vhost / mod_evhost when the document root follows from the host name`, dbtype)
	}
	return &dbiConf{query: query, path: dir + "/" + dbname, timeout: max(timeout, 0)}, nil
}

// connect opens c's database read-write as libdbi does, but never creates
// it: where lighttpd would make an empty file and answer 500 to every
// request, golighty does not start. Under -tt only the file is checked.
func (d *DBI) connect(c *dbiConf, preflight bool) error {
	fi, err := os.Stat(c.path)
	if err == nil && !fi.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	if err != nil {
		return fmt.Errorf("vhostdb.dbi: sqlite3 database %s: %w", c.path, err)
	}
	if preflight {
		return nil
	}
	db, err := sql.Open("sqlite", sqliteURI(c.path, url.Values{
		"mode":    {"rw"},
		"_pragma": {"busy_timeout(" + strconv.FormatInt(c.timeout, 10) + ")"},
	}))
	if err == nil {
		err = db.Ping()
	}
	if err != nil {
		if db != nil {
			db.Close()
		}
		return fmt.Errorf("vhostdb.dbi: sqlite3 database %s: %w", c.path, err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	c.db = db
	d.open = append(d.open, db)
	return nil
}

// sqliteURI names a database file as an SQLite URI, so that '?', '#' and
// '%' in its path stay part of the name (the driver reads a plain name up
// to '?' only).
func sqliteURI(path string, params url.Values) string {
	u := url.URL{Scheme: "file", Path: path, RawQuery: params.Encode()}
	return u.String()
}

// Close closes the databases of this load.
func (d *DBI) Close() error {
	var errs []error
	for _, db := range d.open {
		errs = append(errs, db.Close())
	}
	return errors.Join(errs...)
}

// query runs the configured SQL for host and returns the first column of
// the first row: "" for no row or NULL, numbers as text (as libdbi).
func (d *DBI) query(rc *core.Request, host string) (string, error) {
	c := d.table.Resolve(rc)
	if c == nil || c.db == nil {
		return "", nil
	}
	q := substitute(c.query, host)
	v, err := firstValue(c.db, q)
	if err != nil { // lighttpd tries a failed query a second time
		v, err = firstValue(c.db, q)
	}
	if err != nil {
		return "", fmt.Errorf("vhostdb.dbi: query on %s for host %s failed: %v", c.path, host, err)
	}
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	}
	return fmt.Sprint(v), nil
}

// firstValue is the first column of the first row of q (nil without rows).
func firstValue(db *sql.DB, q string) (any, error) {
	rows, err := db.QueryContext(context.Background(), q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	cols, err := rows.Columns()
	if err != nil || len(cols) == 0 {
		return nil, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	return vals[0], nil
}

// substitute puts host, with every ' doubled as libdbi's sqlite3 driver
// escapes it, in place of each '?' of the query (lighttpd's queries quote
// it: "... WHERE hostname='?'").
func substitute(query, host string) string {
	esc := strings.ReplaceAll(host, "'", "''")
	return strings.ReplaceAll(query, "?", esc)
}
