// Package webdav is lighttpd's mod_webdav (RFC 4918 class 1, and class 2
// with webdav.sqlite-db-name): PROPFIND, PROPPATCH, MKCOL, PUT, DELETE,
// COPY, MOVE, LOCK and UNLOCK on the files below the document root, with
// lighttpd 1.4.69's statuses, XML documents and SQLite schema.
package webdav

import (
	"fmt"
	"io"
	"strings"

	"github.com/golighty/golighty/core"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_webdav", New: func() core.Module { return &Module{} }})
}

// webdav.opts flags.
const (
	optUnsafePartialPut      = 1 << iota // deprecated-unsafe-partial-put
	optUnsafePropfindSymlink             // unsafe-propfind-follow-symlink
	optPropfindInfinity                  // propfind-depth-infinity
	optPartialPutCopy                    // partial-put-copy-modify
)

type conf struct {
	enabled  bool
	readonly bool
	logXML   bool
	opts     uint8
	db       *store // nil without webdav.sqlite-db-name: class 1 only
}

// Module is one loaded mod_webdav.
type Module struct {
	table  *core.Table[conf]
	shared *core.SharedPool
	keys   []string // shared databases to release
}

var (
	_ core.URICleanHook = (*Module)(nil)
	_ core.PhysicalHook = (*Module)(nil)
	_ core.Closer       = (*Module)(nil)
)

// Setup binds the webdav.* keys and opens each database named by
// webdav.sqlite-db-name (shared across reloads; -tt opens nothing).
func (m *Module) Setup(sc *core.SetupContext) error {
	m.shared = sc.Shared()
	boolean := func(set func(*conf, bool)) func(core.Value) (func(*conf), error) {
		return func(v core.Value) (func(*conf), error) {
			b := v.Bool()
			return func(c *conf) { set(c, b) }, nil
		}
	}
	var err error
	m.table, err = core.Bind(sc, conf{}, []core.Key[conf]{
		{Name: "webdav.activate", Type: core.TypeBool, Bind: boolean(func(c *conf, b bool) { c.enabled = b })},
		{Name: "webdav.is-readonly", Type: core.TypeBool, Bind: boolean(func(c *conf, b bool) { c.readonly = b })},
		{Name: "webdav.log-xml", Type: core.TypeBool, Bind: boolean(func(c *conf, b bool) { c.logXML = b })},
		{Name: "webdav.opts", Type: core.TypeKVAny, Bind: func(v core.Value) (func(*conf), error) {
			opts, err := parseOpts(v)
			if err != nil {
				return nil, err
			}
			return func(c *conf) { c.opts = opts }, nil
		}},
		{Name: "webdav.sqlite-db-name", Type: core.TypeString, Bind: func(v core.Value) (func(*conf), error) {
			name := v.String()
			if strings.TrimSpace(name) == "" || sc.Preflight() {
				return func(c *conf) { c.db = nil }, nil
			}
			key := "webdav.sqlite:" + name
			db, err := core.Acquire(m.shared, key, func() (*store, func(), error) {
				s, err := openStore(name)
				if err != nil {
					return nil, nil, err
				}
				return s, s.close, nil
			})
			if err != nil {
				return nil, err
			}
			m.keys = append(m.keys, key)
			return func(c *conf) { c.db = db }, nil
		}},
	})
	if err != nil {
		m.Close()
	}
	return err
}

// parseOpts reads webdav.opts; a known option set to a false value is
// refused like an unknown one, as lighttpd does.
func parseOpts(v core.Value) (uint8, error) {
	var opts uint8
	for _, e := range v.Elements() {
		on, _ := core.ParseBool(e.Value)
		var bit uint8
		switch e.Key {
		case "deprecated-unsafe-partial-put":
			bit = optUnsafePartialPut
		case "propfind-depth-infinity":
			bit = optPropfindInfinity
		case "unsafe-propfind-follow-symlink":
			bit = optUnsafePropfindSymlink
		case "partial-put-copy-modify":
			bit = optPartialPutCopy
		}
		if bit == 0 || !on {
			return 0, fmt.Errorf("unrecognized webdav.opts: %s", e.Key)
		}
		opts |= bit
	}
	return opts, nil
}

// Close releases the databases.
func (m *Module) Close() error {
	for _, k := range m.keys {
		m.shared.Release(k)
	}
	m.keys = nil
	return nil
}

// URIClean announces the DAV compliance classes and the methods to OPTIONS;
// the core answers the OPTIONS request itself.
func (m *Module) URIClean(rc *core.Request) core.Result {
	if rc.Method != "OPTIONS" {
		return core.GoOn
	}
	c := m.table.Resolve(rc)
	if !c.enabled {
		return core.GoOn
	}
	h := &rc.Resp.Header
	if c.db != nil {
		h.Set("DAV", "1,2,3")
	} else {
		h.Set("DAV", "1,3")
	}
	h.Set("MS-Author-Via", "DAV")
	switch {
	case c.readonly:
		h.Add("Allow", "PROPFIND")
	case c.db != nil:
		h.Add("Allow", "PROPFIND, DELETE, MKCOL, PUT, MOVE, COPY, PROPPATCH, LOCK, UNLOCK")
	default:
		h.Add("Allow", "PROPFIND, DELETE, MKCOL, PUT, MOVE, COPY")
	}
	return core.GoOn
}

// Physical takes the WebDAV methods once the physical path is known (after
// mod_alias), before the core looks at the file: the methods create,
// replace and remove what the path names.
func (m *Module) Physical(rc *core.Request) core.Result {
	var checkReadonly, checkLock, noBody bool
	switch rc.Method {
	case "PROPFIND", "LOCK":
	case "UNLOCK":
		noBody = true
	case "DELETE", "MOVE":
		noBody, checkReadonly, checkLock = true, true, true
	case "PROPPATCH", "PUT":
		checkReadonly, checkLock = true, true
	case "COPY", "MKCOL":
		checkReadonly, noBody = true, true
	default:
		return core.GoOn
	}
	c := m.table.Resolve(rc)
	if !c.enabled {
		return core.GoOn
	}
	if checkReadonly && c.readonly {
		return fail(rc, 403)
	}
	if noBody && rc.BodyLength != 0 {
		// RFC 4918 8.4: a body the method would ignore is refused.
		return fail(rc, 415)
	}
	r := &req{rc: rc, c: &c, path: rc.Phys.Path, rel: rc.Phys.RelPath}
	// lighttpd checks the request's own resource before it takes the
	// request, so its error document replaces the 423's XML there.
	if checkLock && !r.hasLock(r.rel, false) {
		return core.Finished
	}
	switch rc.Method {
	case "PROPFIND":
		return r.propfind()
	case "MKCOL":
		return r.mkcol()
	case "DELETE":
		return r.delete()
	case "PUT":
		return r.put()
	case "COPY", "MOVE":
		return r.copyMove()
	case "PROPPATCH":
		return r.proppatch()
	case "LOCK":
		return r.lock()
	case "UNLOCK":
		return r.unlock()
	}
	return fail(rc, 501)
}

// req is one WebDAV request: the request, its settings, and its physical
// and URL paths (copies that the methods may extend with a '/').
type req struct {
	rc   *core.Request
	c    *conf
	path string // physical path
	rel  string // URL path as mapped (physical.rel_path): hrefs and database keys
}

// readBody reads the whole request body (XML documents).
func (r *req) readBody() ([]byte, error) {
	rc := r.rc
	if rc.Body == nil || rc.BodyLength == 0 {
		return nil, nil
	}
	var b []byte
	var err error
	if rc.BodyLength > 0 {
		b = make([]byte, rc.BodyLength)
		_, err = io.ReadFull(rc.Body, b)
	} else {
		b, err = io.ReadAll(rc.Body)
	}
	rc.BodyRead = int64(len(b))
	if err != nil {
		rc.KeepAlive = false
		return nil, err
	}
	if r.c.logXML {
		rc.Logf("XML-request-body: %s", b)
	}
	return b, nil
}

// xmlBodyType reports an XML request Content-Type (application/xml or
// text/xml, parameters aside).
func (r *req) xmlBodyType() bool {
	ct := r.rc.Header.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return ct == "application/xml" || ct == "text/xml"
}

// depth is the Depth header: 0, 1, or -1 for infinity (also when absent);
// only the first character counts, as in lighttpd.
func (r *req) depth() int {
	h, ok := header(r.rc, "Depth")
	if !ok {
		return -1
	}
	if h != "" {
		switch h[0] {
		case '0':
			return 0
		case '1':
			return 1
		}
	}
	return -1
}

// header returns a request header and whether it is present.
func header(rc *core.Request, name string) (string, bool) {
	for i := 0; i < rc.Header.Len(); i++ {
		if h := rc.Header.At(i); strings.EqualFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

// ownerName is the authenticated user who owns the locks a request takes.
func (r *req) ownerName() string { return r.rc.RemoteUser }
