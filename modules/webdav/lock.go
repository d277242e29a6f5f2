package webdav

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/httpfile"
	"github.com/google/uuid"
	"golang.org/x/sys/unix"
)

// etagFlags are the request's etag.use-* settings; mod_webdav sends and
// compares ETags with them whatever static-file.etags says, as lighttpd.
func (r *req) etagFlags() httpfile.ETagFlags {
	cf := &r.rc.Conf
	return httpfile.ETagFlagsFromConfig(true, cf.ETagInode, cf.ETagMtime, cf.ETagSize)
}

// etag is lighttpd's ETag of a file: the same value the file sender sends
// for it (core/httpfile).
func etag(st *unix.Stat_t, flags httpfile.ETagFlags) string {
	id := httpfile.FileID{Ino: st.Ino, Size: st.Size, MtimeSec: st.Mtim.Sec, MtimeNsec: st.Mtim.Nsec}
	return string(httpfile.ETag(nil, id, flags))
}

func lstat(path string) (*unix.Stat_t, error) {
	var st unix.Stat_t
	for {
		err := unix.Lstat(path, &st)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &st, nil
	}
}

func isDir(st *unix.Stat_t) bool { return st.Mode&unix.S_IFMT == unix.S_IFDIR }
func isReg(st *unix.Stat_t) bool { return st.Mode&unix.S_IFMT == unix.S_IFREG }

// preconditions evaluates If-Match, If-None-Match and If-Unmodified-Since
// against the target (st nil: stat it now) and reports whether the request
// may go on; false means 412.
func (r *req) preconditions(st *unix.Stat_t) bool {
	rc := r.rc
	flags := r.etagFlags()
	im, hasIM := header(rc, "If-Match")
	inm, hasINM := header(rc, "If-None-Match")
	ius, hasIUS := header(rc, "If-Unmodified-Since")
	hasIM = hasIM && flags != 0
	hasINM = hasINM && flags != 0
	if !hasIM && !hasINM && !hasIUS {
		return true
	}
	var statErr error
	if st == nil {
		st, statErr = lstat(r.path)
	}
	tag := ""
	if st != nil && (hasIM || hasINM) {
		tag = etag(st, flags)
	}
	if hasIM && (st == nil || !httpfile.ETagMatches(tag, im, false)) {
		return false
	}
	if hasINM {
		if st == nil {
			if !errors.Is(statErr, unix.ENOENT) && !errors.Is(statErr, unix.ENOTDIR) {
				return false
			}
		} else if httpfile.ETagMatches(tag, inm, true) {
			return false
		}
	}
	if hasIUS {
		if st == nil {
			return false
		}
		t, ok := httpfile.ParseHTTPDate(ius, now())
		if !ok || st.Mtim.Sec > t {
			return false
		}
	}
	return true
}

// hasLock is lighttpd's webdav_has_lock: the request may modify uri when
// every exclusive lock covering it (on uri, or depth-infinity on a
// collection above it) is named by a token of the If header held by the
// lock's owner, and some shared lock is when there are shared locks. When
// it may not, the answer (423, or 412/400 from the If header) is set and
// false returned; with xmlAnswer the 423 names the blocking locks.
func (r *req) hasLock(uri string, xmlAnswer bool) bool {
	rc := r.rc
	h, _ := header(rc, "If")
	conds, tooMany := parseIf(h)
	var tokens []string
	for _, c := range conds {
		switch c.kind {
		case ifToken:
			tokens = append(tokens, c.value)
		case ifNoLock:
			if !c.not {
				fail(rc, 412)
				return false
			}
		case ifETag:
			if c.not {
				continue
			}
			flags := r.etagFlags()
			if flags == 0 {
				continue
			}
			// lighttpd compares with the request's own file, also when
			// checking the Destination of a COPY or MOVE.
			st, err := lstat(r.rc.Phys.Path)
			if err != nil {
				fail(rc, 412)
				return false
			}
			if isDir(st) {
				continue
			}
			if !httpfile.ETagMatches(etag(st, flags), c.value, false) {
				fail(rc, 412)
				return false
			}
		}
	}
	if tooMany {
		fail(rc, 400)
		return false
	}
	if r.c.db == nil {
		return true
	}
	locks, err := r.c.db.locksAffecting(uri, false)
	if err != nil {
		rc.Logf("webdav: reading locks for %s: %v", uri, err)
		fail(rc, 500)
		return false
	}
	user := r.ownerName()
	var hrefs []byte
	shared, sharedMatch := 0, 0
	for i := range locks {
		l := &locks[i]
		if !l.exclusive() {
			shared++
		}
		matched := false
		for _, t := range tokens {
			if t == l.token && (l.owner == "" || l.owner == user) {
				matched = true
				break
			}
		}
		switch {
		case matched && !l.exclusive():
			sharedMatch++
		case !matched && l.exclusive():
			hrefs = appendHref(hrefs, l.root)
		}
	}
	ok := len(hrefs) == 0
	if ok && len(locks) == 0 && len(tokens) > 0 && uri == r.rc.Phys.RelPath {
		// A token submitted for a resource that has no lock.
		fail(rc, 412)
		return false
	}
	if shared > 0 && sharedMatch == 0 {
		ok = false
	}
	switch {
	case ok:
	case xmlAnswer:
		locked(rc, r.c, "lock-token-submitted", hrefs)
	default:
		fail(rc, 423)
	}
	return ok
}

// lockTimeout reads the Timeout header loosely as lighttpd: the first
// "Second-N" counts, clamped to 5..600 seconds (600 also for larger values,
// and for "Infinite"), except that values beyond 2^31-1 give 2^31-1.
// lighttpd 1.4.69 never gets past a comma (a header such as "Infinite,
// Second-4100000000" spins its worker forever); here the comma is skipped.
func lockTimeout(h string) int64 {
	timeout := int64(600)
	for p := 0; p < len(h); {
		if len(h)-p >= 7 && strings.EqualFold(h[p:p+7], "second-") {
			switch t := leadingInt(h[p+7:]); {
			case 0 < t && t < timeout:
				timeout = max(t, 5)
			case t > 1<<31-1:
				timeout = 1<<31 - 1
			}
			return timeout
		}
		for p < len(h) && h[p] != ',' {
			p++
		}
		if p < len(h) {
			p++
		}
		for p < len(h) && (h[p] == ' ' || h[p] == '\t') {
			p++
		}
	}
	return timeout
}

// leadingInt is strtol(s, NULL, 10): optional blanks and sign, then digits.
func leadingInt(s string) int64 {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f' || s[i] == '\v') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var n int64
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n > (1<<62)/10 {
			n = 1 << 62
			continue
		}
		n = n*10 + int64(s[i]-'0')
	}
	if neg {
		return -n
	}
	return n
}

// lock is the LOCK method: a new lock (with a lockinfo body) or the refresh
// of one named in the If header (without).
func (r *req) lock() core.Result {
	rc := r.rc
	timeout := int64(600)
	if h, ok := header(rc, "Timeout"); ok {
		timeout = lockTimeout(h)
	}
	if rc.BodyLength == 0 {
		return r.refreshLock(timeout)
	}
	l := lock{root: r.rel, owner: r.ownerName(), depth: r.depth()}
	if l.depth == 1 {
		return fail(rc, 400) // RFC 4918 9.10.3: 0 or infinity only
	}
	body, err := r.readBody()
	if err != nil {
		return fail(rc, 400)
	}
	doc, err := parseXML(body)
	if err != nil {
		return fail(rc, 400)
	}
	if !doc.root.is("lockinfo") {
		return fail(rc, 422)
	}
	l.scope, l.typ, l.ownerinfo = lockInfo(doc)
	if l.scope == "" || l.typ == "" {
		return fail(rc, 422)
	}
	db := r.c.db
	if db != nil {
		// A lock conflicts with any lock on the resource, above it with
		// depth infinity, or (for a depth-infinity lock) below it, unless
		// both are shared.
		others, err := db.locksAffecting(l.root, l.depth != 0)
		if err != nil {
			rc.Logf("webdav: reading locks for %s: %v", l.root, err)
			return fail(rc, 500)
		}
		var hrefs []byte
		for i := range others {
			if others[i].exclusive() || l.exclusive() {
				hrefs = appendHref(hrefs, others[i].root)
			}
		}
		if len(hrefs) > 0 {
			return locked(rc, r.c, "no-conflicting-lock", hrefs)
		}
	}
	created := false
	st, err := lstat(r.path)
	if err != nil {
		// RFC 4918 7.3: locking an unmapped URL creates an empty resource.
		var f *os.File
		if errors.Is(err, unix.ENOENT) && !strings.HasSuffix(r.path, "/") {
			f, err = openFile(r.path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_TRUNC)
		}
		switch {
		case f != nil:
			st, _ = fstat(f)
			f.Close()
			created = true
			r.parentModified(r.path)
		case !errors.Is(err, unix.EEXIST):
			return fail(rc, 403)
		default:
			if st, err = lstat(r.path); err != nil {
				return fail(rc, 403)
			}
		}
		l.depth = 0
	}
	if !created {
		if !r.preconditions(st) {
			return fail(rc, 412)
		}
		switch {
		case isDir(st):
			if !strings.HasSuffix(r.path, "/") {
				return r.redirectDir()
			}
		case strings.HasSuffix(r.path, "/"):
			return fail(rc, 403)
		default:
			l.depth = 0
		}
	}
	l.token = "urn:uuid:" + uuid.NewString()
	l.expires = now() + timeout
	if db == nil {
		return fail(rc, 500) // lighttpd fails the same way without a database
	}
	if err := db.addLock(&l); err != nil {
		rc.Logf("webdav: storing lock on %s: %v", l.root, err)
		return fail(rc, 500)
	}
	rc.Resp.Header.Set("Lock-Token", "<"+l.token+">")
	res := r.lockDiscovery(&l, secondsText(timeout), created)
	if st != nil && !isDir(st) {
		r.sendETag(st)
	}
	return res
}

// lockInfo reads a <lockinfo> body as lighttpd: scope and type are ""
// when absent, or when their element holds anything but one known value
// (whitespace included).
func lockInfo(doc *xmlDoc) (scope, typ, ownerinfo string) {
	for _, li := range doc.root.children {
		switch {
		case li.is("lockscope"):
			for _, v := range li.children {
				switch {
				case v.is("exclusive"):
					scope = "exclusive"
				case v.is("shared"):
					scope = "shared"
				default:
					scope = ""
				}
				if scope == "" {
					break
				}
			}
		case li.is("locktype"):
			for _, v := range li.children {
				if !v.is("write") {
					typ = ""
					break
				}
				typ = "write"
			}
		case li.is("owner"):
			if v, ok := doc.textValue(li); ok {
				ownerinfo = v
			}
		}
	}
	return scope, typ, ownerinfo
}

// lockDiscovery answers a granted or refreshed lock.
func (r *req) lockDiscovery(l *lock, timeout string, created bool) core.Result {
	r.rc.Resp.Header.Set("Timeout", timeout)
	b := append([]byte(xmlDecl), "<D:prop xmlns:D=\"DAV:\">\n<D:lockdiscovery>\n"...)
	b = appendActiveLock(b, l, timeout)
	b = append(b, "</D:lockdiscovery>\n</D:prop>\n"...)
	status := 200
	if created {
		status = 201
	}
	return xmlBody(r.rc, r.c, status, b)
}

// refreshLock renews the lock named in "If: (<token>)".
func (r *req) refreshLock(timeout int64) core.Result {
	rc := r.rc
	h, _ := header(rc, "If")
	if len(h) < 5 || h[1] != '<' || h[len(h)-2] != '>' {
		return fail(rc, 400)
	}
	token := h[2 : len(h)-2]
	if r.c.db == nil {
		return fail(rc, 412)
	}
	l, err := r.c.db.refreshLock(token, int(timeout))
	if err != nil {
		rc.Logf("webdav: refreshing lock %s: %v", token, err)
		return fail(rc, 500)
	}
	if l == nil {
		return fail(rc, 412)
	}
	// lighttpd answers a refresh as an exclusive depth-0 write lock with no
	// owner and the request's URL as root, whatever the lock is.
	shown := lock{token: token, root: r.rel, scope: "exclusive", typ: "write"}
	return r.lockDiscovery(&shown, secondsText(timeout), false)
}

// unlock removes the lock named by Lock-Token when the request's URL is in
// its scope and the requester owns it.
func (r *req) unlock() core.Result {
	rc := r.rc
	h, _ := header(rc, "Lock-Token")
	if len(h) < 3 || h[0] != '<' || h[len(h)-1] != '>' {
		return fail(rc, 400)
	}
	token := h[1 : len(h)-1]
	status := -1
	if db := r.c.db; db != nil {
		root, owner, depth, ok, err := db.lockOwner(token)
		if err != nil {
			rc.Logf("webdav: reading lock %s: %v", token, err)
			return fail(rc, 500)
		}
		switch {
		case !ok:
		case len(root) <= len(r.rel) && r.rel[:len(root)] == root && (len(root) == len(r.rel) || depth == -1):
			if owner == "" || owner == r.ownerName() {
				status = 0
			} else {
				status = -3
			}
		default:
			status = -2
		}
		if status == 0 {
			if released, err := db.releaseLock(token); err == nil && released {
				return done(rc, 204)
			}
		}
	}
	if status == -3 {
		return fail(rc, 403)
	}
	return xmlError(rc, r.c, 409, "lock-token-matches-request-uri")
}

// sendETag sets the ETag of a file the request wrote, and drops the stat
// cache's entry for it so the next GET sees the new file.
func (r *req) sendETag(st *unix.Stat_t) {
	if f := r.etagFlags(); f != 0 {
		r.rc.Resp.Header.Set("ETag", etag(st, f))
	}
	r.rc.InvalidateStat(r.path)
}

// parentModified drops the stat cache entry of path's directory (a member
// was added or removed).
func (r *req) parentModified(path string) {
	p := strings.TrimSuffix(path, "/")
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		r.rc.InvalidateStat("/")
		return
	}
	r.rc.InvalidateStat(p[:i])
}

// redirectDir answers a collection named without its trailing slash with
// lighttpd's 308.
func (r *req) redirectDir() core.Result {
	r.rc.Resp.Header.Set("Location", r.rc.DirLocation())
	return done(r.rc, 308)
}

// openFile opens path without following a symlink in its last component
// (mod_webdav does not support symlinks inside collections); new files get
// mode 0666 less the umask.
func openFile(path string, flags int) (*os.File, error) {
	return os.OpenFile(path, flags|unix.O_NOFOLLOW, 0o666)
}

func fstat(f *os.File) (*unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// statusFor maps a failed file operation to lighttpd's status.
func statusFor(err error) int {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		if errors.Is(err, fs.ErrPermission) {
			return 403
		}
		if errors.Is(err, fs.ErrNotExist) {
			return 404
		}
		return 501
	}
	switch errno {
	case unix.EACCES, unix.EPERM:
		return 403
	case unix.ENOENT:
		return 404
	}
	return 501
}
