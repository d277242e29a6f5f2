package webdav

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/httpfile"
	"golang.org/x/sys/unix"
)

// Live properties, in the order allprop lists them.
const (
	liveContentLength = iota + 1
	liveContentType
	liveETag
	liveLastModified
	liveResourceType
	liveSupportedLock
)

var liveProps = []struct {
	name string
	id   int
}{
	{"getcontentlength", liveContentLength},
	{"getcontenttype", liveContentType},
	{"getetag", liveETag},
	{"getlastmodified", liveLastModified},
	{"resourcetype", liveResourceType},
	{"supportedlock", liveSupportedLock},
}

// protectedProps are the DAV: properties PROPPATCH may not change.
var protectedProps = map[string]bool{
	"creationdate": true, "getcontentlength": true, "getcontenttype": true, "getetag": true,
	"getlastmodified": true, "lockdiscovery": true, "resourcetype": true, "supportedlock": true,
}

func liveID(name string) int {
	for _, p := range liveProps {
		if p.name == name {
			return p.id
		}
	}
	return 0
}

// wantProp is a property a PROPFIND names: a live one (live != 0) or a dead
// one by name and namespace.
type wantProp struct {
	live     int
	name, ns string
}

// maxPropfindProps is lighttpd's limit on named properties.
const maxPropfindProps = 32

// recursionLimit bounds depth-infinity walks (symlink loops, huge trees):
// as in lighttpd, it counts the collections entered by one request.
const recursionLimit = 100

// propfind is the PROPFIND method.
type propfind struct {
	r             *req
	allprop       bool
	propname      bool
	lockdiscovery bool // > 0 in lighttpd: locks from above count
	onlyOwnLocks  bool // lighttpd's negative lockdiscovery: members list their own locks only
	props         []wantProp
	depth         int
	follow        bool // stat(), not lstat(): unsafe-propfind-follow-symlink on a read-only share
	recursed      int
	flags         httpfile.ETagFlags

	deadProps map[string][]prop // by resource, loaded once per request
	locks     []lock            // live locks below the request's URL, and infinity locks above
	out       []byte
}

func (r *req) propfind() core.Result {
	rc := r.rc
	body, err := r.readBody()
	if err != nil {
		return fail(rc, 400)
	}
	if len(body) > 0 && !r.xmlBodyType() {
		return fail(rc, 415)
	}
	pf := &propfind{r: r, depth: r.depth(), flags: r.etagFlags()}
	if pf.depth == -1 && r.c.opts&optPropfindInfinity == 0 {
		return xmlError(rc, r.c, 403, "propfind-finite-depth")
	}
	pf.follow = r.c.opts&optUnsafePropfindSymlink != 0 && r.c.readonly
	st, err := pf.stat(r.path)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fail(rc, 404)
		}
		return fail(rc, 403)
	}
	switch {
	case isDir(st):
		if !strings.HasSuffix(r.path, "/") {
			rc.Resp.Header.Set("Content-Location", rc.DirLocation())
			r.path += "/"
			r.rel += "/"
		}
	case strings.HasSuffix(r.path, "/"):
		return fail(rc, 403)
	default:
		pf.depth = 0
	}
	if len(body) > 0 {
		doc, err := parseXML(body)
		if err != nil {
			return fail(rc, 400)
		}
		if st := pf.parseRequest(doc); st != 0 {
			return fail(rc, st)
		}
	}
	if pf.props == nil && !pf.propname {
		pf.allprop, pf.lockdiscovery = true, true
	}
	if err := pf.load(); err != nil {
		rc.Logf("webdav: reading properties below %s: %v", r.rel, err)
		return fail(rc, 500)
	}
	pf.out = make([]byte, 0, 8192)
	pf.out = append(pf.out, xmlDecl...)
	pf.out = append(pf.out, multiOpenNS...)
	if pf.depth != 0 {
		pf.dir(r.path, r.rel, st)
	} else {
		pf.resource(r.path, r.rel, st)
	}
	pf.out = append(pf.out, multiClose...)
	return xmlBody(rc, r.c, 207, pf.out)
}

func (pf *propfind) stat(path string) (*unix.Stat_t, error) {
	if !pf.follow {
		return lstat(path)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// parseRequest reads a <propfind> body; it returns a status to fail with,
// or 0. A body with another root element is an allprop request.
func (pf *propfind) parseRequest(doc *xmlDoc) int {
	if !doc.root.is("propfind") {
		return 0
	}
	for _, cmd := range doc.root.children {
		switch {
		case cmd.is("allprop"):
			pf.allprop, pf.lockdiscovery = true, true
		case cmd.is("propname"):
			pf.propname = true
		case cmd.is("prop"), cmd.is("include"):
		default:
			continue
		}
		include := cmd.is("include")
		for _, p := range cmd.children {
			if p.kind != elementNode {
				continue
			}
			if pf.props == nil {
				pf.props = make([]wantProp, 0, 8)
			}
			if len(pf.props) == maxPropfindProps {
				pf.r.rc.Logf("too many properties in request (> 32)")
				return 400
			}
			if p.hasNS && p.ns == "DAV:" {
				if p.name == "lockdiscovery" {
					pf.lockdiscovery = true
					continue
				}
				if id := liveID(p.name); id != 0 {
					if !include {
						pf.props = append(pf.props, wantProp{live: id})
					}
					continue
				}
				if include {
					continue // dead properties are all in allprop already
				}
			}
			pf.props = append(pf.props, wantProp{name: p.name, ns: p.ns})
		}
	}
	return 0
}

// load reads the dead properties and locks the response needs in two
// queries for the whole collection, where lighttpd asks per member.
func (pf *propfind) load() error {
	db := pf.r.c.db
	if db == nil {
		return nil
	}
	rel := pf.r.rel
	var err error
	needProps := pf.allprop || pf.propname
	for _, p := range pf.props {
		needProps = needProps || p.live == 0
	}
	if needProps {
		if pf.depth == 0 {
			var ps []prop
			if pf.propname {
				ps, err = db.propNames(rel)
			} else {
				ps, err = db.props(rel)
			}
			pf.deadProps = map[string][]prop{rel: ps}
		} else {
			pf.deadProps, err = db.propsBelow(rel)
		}
		if err != nil {
			return err
		}
	}
	if pf.lockdiscovery && !pf.propname {
		above, err := db.locksAffecting(rel, false)
		if err != nil {
			return err
		}
		for _, l := range above {
			if l.root != rel {
				pf.locks = append(pf.locks, l)
			}
		}
		below, err := db.locksBelow(rel)
		if err != nil {
			return err
		}
		pf.locks = append(pf.locks, below...)
	}
	return nil
}

// dir lists a collection and its members (and, with depth infinity, theirs).
func (pf *propfind) dir(path, rel string, st *unix.Stat_t) {
	pf.recursed++
	if pf.recursed > recursionLimit {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			pf.out = append(pf.out, "<D:response>\n"...)
			pf.out = appendHref(pf.out, rel)
			pf.out = append(pf.out, "<D:propstat>\n"...)
			pf.out = appendStatus(pf.out, 403)
			pf.out = append(pf.out, "</D:propstat>\n</D:response>\n"...)
		}
		return
	}
	defer f.Close()
	pf.resource(path, rel, st)
	if pf.lockdiscovery {
		pf.onlyOwnLocks = true
	}
	lower := pf.r.rc.Conf.ForceLowercase
	for {
		names, err := f.Readdirnames(256)
		for _, name := range names {
			var mst unix.Stat_t
			flags := unix.AT_SYMLINK_NOFOLLOW
			if pf.follow {
				flags = 0
			}
			if unix.Fstatat(int(f.Fd()), name, &mst, flags) != nil {
				continue // gone meanwhile
			}
			if lower {
				name = strings.ToLower(name)
			}
			p, u := path+name, rel+name
			if isDir(&mst) {
				p, u = p+"/", u+"/"
			}
			if isDir(&mst) && pf.depth == -1 {
				pf.dir(p, u, &mst)
			} else {
				pf.resource(p, u, &mst)
			}
		}
		if err != nil {
			return
		}
	}
}

// resource writes one <D:response>.
func (pf *propfind) resource(path, rel string, st *unix.Stat_t) {
	var ok, missing []byte
	if pf.propname {
		ok = append(ok, "<getcontentlength/>\n<getcontenttype/>\n<getetag/>\n<getlastmodified/>\n<resourcetype/>\n<supportedlock/>\n<lockdiscovery/>\n"...)
		for _, p := range pf.deadProps[rel] {
			ok = appendProp(ok, p.name, p.ns, "")
		}
	} else {
		for _, w := range pf.props {
			if w.live != 0 {
				var found bool
				if ok, found = pf.live(ok, path, st, w.live); !found {
					missing = appendProp(missing, liveProps[w.live-1].name, "", "")
				}
				continue
			}
			if v, found := pf.dead(rel, w.name, w.ns); found {
				ok = appendProp(ok, w.name, w.ns, v)
			} else {
				missing = appendProp(missing, w.name, w.ns, "")
			}
		}
		if pf.allprop {
			for _, p := range liveProps {
				ok, _ = pf.live(ok, path, st, p.id)
			}
			for _, p := range pf.deadProps[rel] {
				ok = appendProp(ok, p.name, p.ns, p.value)
			}
		}
		if pf.lockdiscovery {
			ok = append(ok, "<D:lockdiscovery>"...)
			ok = pf.appendLocks(ok, rel)
			ok = append(ok, "</D:lockdiscovery>"...)
		}
	}
	pf.out = append(pf.out, "<D:response>\n"...)
	pf.out = appendHref(pf.out, rel)
	if len(ok) > 0 {
		pf.out = appendPropstat(pf.out, ok, 200)
	}
	if len(missing) > 0 {
		pf.out = appendPropstat(pf.out, missing, 404)
	}
	pf.out = append(pf.out, "</D:response>\n"...)
}

func (pf *propfind) dead(rel, name, ns string) (string, bool) {
	for _, p := range pf.deadProps[rel] {
		if p.name == name && p.ns == ns {
			return p.value, true
		}
	}
	return "", false
}

// appendLocks lists the locks that apply to rel: its own, and (for the
// request's own resource) the depth-infinity ones of collections above.
// lighttpd lists only a member's own locks once it descends into a
// collection; the client knows the collection's locks cover its members.
func (pf *propfind) appendLocks(b []byte, rel string) []byte {
	t := now()
	for i := range pf.locks {
		l := &pf.locks[i]
		own := l.root == rel
		if !own && (pf.onlyOwnLocks || l.depth != -1 || !strings.HasPrefix(rel, l.root)) {
			continue
		}
		b = appendActiveLock(b, l, secondsText(l.expires-t))
	}
	return b
}

// live appends one live property; found is false where lighttpd reports it
// missing (no type for the name, no ETag configured).
func (pf *propfind) live(b []byte, path string, st *unix.Stat_t, id int) ([]byte, bool) {
	switch id {
	case liveContentLength:
		b = append(b, "<D:getcontentlength>"...)
		b = strconv.AppendInt(b, st.Size, 10)
		b = append(b, "</D:getcontentlength>"...)
	case liveContentType:
		if isDir(st) {
			b = append(b, "<D:getcontenttype>httpd/unix-directory</D:getcontenttype>"...)
			break
		}
		ct, ok := pf.r.rc.Conf.Mime.Lookup(path)
		if !ok {
			return b, false
		}
		b = append(b, "<D:getcontenttype>"...)
		b = append(b, ct...)
		b = append(b, "</D:getcontenttype>"...)
	case liveETag:
		if pf.flags == 0 {
			return b, false
		}
		b = append(b, "<D:getetag>"...)
		b = append(b, etag(st, pf.flags)...)
		b = append(b, "</D:getetag>"...)
	case liveLastModified:
		b = append(b, "<D:getlastmodified ns0:dt=\"dateTime.rfc1123\">"...)
		b = httpfile.AppendHTTPDate(b, st.Mtim.Sec)
		b = append(b, "</D:getlastmodified>"...)
	case liveResourceType:
		if isDir(st) {
			b = append(b, "<D:resourcetype><D:collection/></D:resourcetype>"...)
		} else {
			b = append(b, "<D:resourcetype/>"...)
		}
	case liveSupportedLock:
		b = append(b, "<D:supportedlock><D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry><D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry></D:supportedlock>"...)
	}
	return b, true
}
