package webdav

import (
	"errors"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/urinorm"
	"golang.org/x/sys/unix"
)

// pathMax is PATH_MAX: longer paths are refused as lighttpd does.
const pathMax = 4096

// copy/move flags (lighttpd's WEBDAV_FLAG_*).
const (
	flagOverwrite = 1 << iota
	flagMoveRename
	flagCopyLink // COPY a file by hard link (PUT replaces files by rename, so links never see a write)
	flagMoveXdev
	flagCopyXdev
)

// target is the source or destination of a COPY or MOVE.
type target struct {
	path string // physical path
	rel  string // URL path: hrefs and database keys
}

// copyMove is the COPY and MOVE methods.
func (r *req) copyMove() core.Result {
	rc := r.rc
	move := rc.Method == "MOVE"
	flags := flagOverwrite
	switch {
	case move:
		flags |= flagMoveRename
	case r.c.opts&optUnsafePartialPut != 0 && r.c.opts&optPartialPutCopy == 0:
		// In-place partial PUTs would write through a hard link.
	default:
		flags |= flagCopyLink
	}
	if h, ok := header(rc, "Overwrite"); ok {
		if len(h) != 1 || (h[0]&0xdf != 'F' && h[0]&0xdf != 'T') {
			return fail(rc, 400)
		}
		if h[0]&0xdf == 'F' {
			flags &^= flagOverwrite
		}
	}
	dst, status := r.destination()
	if status != 0 {
		return fail(rc, status)
	}
	src := target{path: r.path, rel: r.rel}
	// The destination must not be the source or inside it.
	if len(src.path) <= len(dst.path) && dst.path[:len(src.path)] == src.path &&
		(strings.HasSuffix(src.path, "/") || len(dst.path) == len(src.path) || dst.path[len(src.path)] == '/') {
		return fail(rc, 403)
	}
	st, err := lstat(src.path)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fail(rc, 404)
		}
		return fail(rc, 403)
	}
	if !r.preconditions(st) {
		return fail(rc, 412)
	}
	if isDir(st) {
		return r.copyMoveDir(src, dst, flags)
	}
	if strings.HasSuffix(src.path, "/") {
		return fail(rc, 403)
	}
	return r.copyMoveFile(src, dst, flags)
}

// destination maps the Destination header to a physical path the way
// lighttpd does: same scheme and host as the request (else 400 / 502), the
// query dropped, the path decoded and simplified (so it never climbs above
// the root), and the physical path made from the part of the source's
// physical path that corresponds to the common directory of both URLs (so
// a share remapped with mod_alias stays remapped), else from the document
// root. Rewrites and other modules are not run on it.
func (r *req) destination() (target, int) {
	rc := r.rc
	d, ok := header(rc, "Destination")
	if !ok || d == "" {
		return target{}, 400
	}
	p := d
	if d[0] != '/' {
		scheme := rc.URI.Scheme
		if !strings.HasPrefix(d, scheme) || !strings.HasPrefix(d[len(scheme):], "://") {
			return target{}, 400
		}
		rest := d[len(scheme)+3:]
		slash := strings.IndexByte(rest, '/')
		if slash < 0 {
			return target{}, 400
		}
		host := rest[:slash]
		if host != rc.URI.Authority {
			at := strings.IndexByte(host, '@')
			if at < 0 || host[at+1:] != rc.URI.Authority {
				return target{}, 502 // another host
			}
		}
		p = rest[slash:]
	}
	if q := strings.IndexByte(p, '?'); q >= 0 {
		p = p[:q]
	}
	if len(p) >= pathMax {
		return target{}, 403
	}
	b := urinorm.DecodePath(nil, []byte(p))
	if !utf8.Valid(b) {
		return target{}, 400
	}
	b = urinorm.SimplifyPath(b[:0], b)
	if len(b) == 0 || b[0] != '/' {
		return target{}, 400
	}
	rel := string(b)
	if rc.Conf.ForceLowercase {
		rel = strings.ToLower(rel)
	}
	// Common directory of the source's and destination's URL paths.
	src := r.rel
	i := 0
	for i < len(src) && i < len(rel) && src[i] == rel[i] {
		i++
	}
	for i > 0 {
		i--
		if src[i] == '/' {
			break
		}
	}
	remain := len(src) - i
	if len(r.path) <= remain {
		return target{}, 403
	}
	var path string
	if r.path[len(r.path)-remain:] == src[i:] {
		path = joinPath(r.path[:len(r.path)-remain], rel[i:])
	} else {
		path = joinPath(rc.Phys.DocRoot, rel)
	}
	if len(path) >= pathMax {
		return target{}, 403
	}
	return target{path: path, rel: rel}, 0
}

// joinPath is lighttpd's buffer_copy_path_len2: exactly one '/' between.
func joinPath(a, b string) string {
	switch {
	case a != "" && strings.HasSuffix(a, "/") && strings.HasPrefix(b, "/"):
		return a + b[1:]
	case (a == "" || !strings.HasSuffix(a, "/")) && !strings.HasPrefix(b, "/"):
		return a + "/" + b
	}
	return a + b
}

// copyMoveDir copies or moves a collection.
func (r *req) copyMoveDir(src, dst target, flags int) core.Result {
	rc := r.rc
	if !strings.HasSuffix(src.path, "/") {
		return r.redirectDir()
	}
	if !strings.HasSuffix(dst.rel, "/") {
		dst.rel += "/"
		dst.path += "/"
	}
	if !r.hasLock(dst.rel, true) {
		return core.Finished
	}
	move := flags&flagMoveRename != 0
	switch r.depth() {
	case 1:
		return fail(rc, 400)
	case 0:
		if move {
			return fail(rc, 400)
		}
		// Depth 0: the collection alone, with its properties.
		var status int
		st, err := lstat(dst.path)
		switch {
		case err == nil && isDir(st):
			status = 204
		case err == nil && flags&flagOverwrite != 0:
			if status = r.mkdir(dst.path, dst.rel, 1); status == 0 {
				status = 204
			}
		case err == nil:
			status = 412
		case errors.Is(err, unix.ENOENT):
			ow := 0
			if flags&flagOverwrite != 0 {
				ow = 1
			}
			if status = r.mkdir(dst.path, dst.rel, ow); status == 0 {
				status = 201
			}
		default:
			status = 403
		}
		if status >= 300 {
			return fail(rc, status)
		}
		if db := r.c.db; db != nil {
			db.copyProps(src.rel, dst.rel)
		}
		return done(rc, status)
	}
	var errs []byte
	failed := r.copyMoveTree(src, dst, flags, &errs)
	rc.InvalidateStatTree(dst.path)
	if move {
		rc.InvalidateStatTree(src.path)
	}
	if failed == 0 && len(errs) == 0 {
		if move {
			if db := r.c.db; db != nil {
				if err := db.deleteCollectionLocks(src.rel); err != nil {
					rc.Logf("webdav: deleting locks below %s: %v", src.rel, err)
				}
			}
		}
		// lighttpd answers 200 here (not 201 or 204).
		return done(rc, 200)
	}
	// lighttpd answers 200 when only members failed, with their error
	// elements outside any document; golighty reports them in a 207.
	return multistatus(rc, r.c, errs)
}

// copyMoveTree is lighttpd's webdav_copymove_dir: rename the whole
// collection when moving within a filesystem, else create the destination
// collection and copy (or move) each member depth first, then (moving)
// delete the source. Directories are merged into an existing destination,
// as cp -r and Windows Explorer do, which lighttpd prefers to RFC 4918's
// replace. It returns 0, 1 after member failures, or a status; errs gets
// the failures as <D:response> elements.
func (r *req) copyMoveTree(src, dst target, flags int, errs *[]byte) int {
	db := r.c.db
	overwrite := flags&flagOverwrite != 0
	makeDst := true
	if flags&flagMoveRename != 0 {
		err := rename(src.path, dst.path, overwrite)
		if err == nil {
			if db != nil {
				if err := db.moveCollectionProps(src.rel, dst.rel); err != nil {
					r.rc.Logf("webdav: moving properties below %s: %v", src.rel, err)
				}
			}
			return 0
		}
		switch err {
		case unix.EEXIST, unix.ENOTEMPTY:
			if !overwrite {
				*errs = appendResponseStatus(*errs, src.rel, 412)
				return 412
			}
			makeDst = false
		case unix.ENOTDIR:
			if !overwrite {
				*errs = appendResponseStatus(*errs, src.rel, 409)
				return 409
			}
			file := strings.TrimSuffix(dst.path, "/")
			if st, err := lstat(file); err == nil {
				if isDir(st) {
					makeDst = false
					break
				}
				if s := r.deleteFile(file, strings.TrimSuffix(dst.rel, "/")); s != 0 {
					*errs = appendResponseStatus(*errs, src.rel, s)
					return s
				}
				if unix.Rename(src.path, dst.path) == nil {
					if db != nil {
						db.moveCollectionProps(src.rel, dst.rel)
					}
					return 0
				}
			}
		case unix.EXDEV:
			flags = flags&^flagMoveRename | flagMoveXdev
		}
	}
	if makeDst {
		ow := 0
		if overwrite {
			ow = 1
		}
		if s := r.mkdir(dst.path, dst.rel, ow); s != 0 {
			*errs = appendResponseStatus(*errs, src.rel, s)
			return s
		}
	}
	if db != nil {
		db.copyProps(src.rel, dst.rel)
	}
	entries, err := readDir(src.path)
	if err != nil {
		*errs = appendResponseStatus(*errs, src.rel, 403)
		return 403
	}
	lower := r.rc.Conf.ForceLowercase
	multi := 0
	for _, e := range entries {
		name := e.name
		if lower {
			name = strings.ToLower(name)
		}
		s, d := target{src.path + name, src.rel + name}, target{dst.path + name, dst.rel + name}
		status := 0
		switch e.mode {
		case unix.S_IFDIR:
			s.path, s.rel, d.path, d.rel = s.path+"/", s.rel+"/", d.path+"/", d.rel+"/"
			if status = r.copyMoveTree(s, d, flags, errs); status != 0 {
				multi = 1
			}
		case unix.S_IFREG:
			if status = r.copyMoveOne(s, d, &flags); status != 0 {
				*errs = appendResponseStatus(*errs, s.rel, status)
			}
		default:
			// Symlinks and special files are not copied: WebDAV has no
			// such resources.
		}
		if status == 507 {
			multi = 507
			break
		}
	}
	if multi == 0 && flags&(flagMoveRename|flagMoveXdev) != 0 {
		var derrs []byte
		if r.deleteDir(src.path, src.rel, &derrs) {
			*errs = append(*errs, derrs...)
			*errs = appendResponseStatus(*errs, src.rel, 1)
			multi = 1
		}
	}
	return multi
}

// copyMoveFile copies or moves a file (the request's own resource).
func (r *req) copyMoveFile(src, dst target, flags int) core.Result {
	rc := r.rc
	if !r.hasLock(dst.rel, true) {
		return core.Finished
	}
	status := 0
	st, err := lstat(dst.path)
	if err == nil && isDir(st) {
		// A file onto a collection goes inside it under its own name.
		base := src.path[strings.LastIndexByte(src.path, '/'):]
		if strings.HasSuffix(dst.path, "/") {
			base = base[1:]
		}
		dst.path += base
		dst.rel += base
		if len(dst.path) >= pathMax {
			return fail(rc, 403)
		}
		st, err = lstat(dst.path)
		status = 204
	}
	switch {
	case err != nil:
		if !errors.Is(err, unix.ENOENT) {
			return fail(rc, 409)
		}
		if status == 0 {
			parent := dst.path[:strings.LastIndexByte(dst.path, '/')]
			if pst, perr := lstat(parent); perr != nil || !isDir(pst) {
				return fail(rc, 409) // no parent collection
			}
			r.parentModified(dst.path)
			status = 201
		}
	case flags&flagOverwrite == 0:
		return fail(rc, 412)
	case isDir(st):
		return fail(rc, 409)
	default:
		status = 204
	}
	if s := r.copyMoveOne(src, dst, &flags); s != 0 {
		return fail(rc, s)
	}
	if flags&(flagMoveRename|flagMoveXdev) != 0 {
		if db := r.c.db; db != nil {
			if err := db.deleteLocks(src.rel); err != nil {
				rc.Logf("webdav: deleting locks of %s: %v", src.rel, err)
			}
		}
	}
	return done(rc, status)
}

// copyMoveOne is lighttpd's webdav_copymove_file: rename (MOVE), hard link
// (COPY), else a copy to a temporary file renamed into place. It returns 0
// or a status.
func (r *req) copyMoveOne(src, dst target, flags *int) int {
	db := r.c.db
	overwrite := *flags&flagOverwrite != 0
	switch {
	case *flags&flagMoveRename != 0:
		err := rename(src.path, dst.path, overwrite)
		if err == nil {
			if overwrite {
				unix.Unlink(src.path) // src and dst were links to one file
			}
			r.rc.InvalidateStat(dst.path)
			r.rc.InvalidateStat(src.path)
			r.parentModified(src.path)
			if db != nil {
				if err := db.moveProps(src.rel, dst.rel); err != nil {
					r.rc.Logf("webdav: moving properties of %s: %v", src.rel, err)
				}
			}
			return 0
		}
		if err == unix.EEXIST {
			return 412
		}
	case *flags&flagCopyLink != 0:
		err := unix.Link(src.path, dst.path)
		if err == nil {
			r.rc.InvalidateStat(dst.path)
			if db != nil {
				db.copyProps(src.rel, dst.rel)
			}
			return 0
		}
		switch err {
		case unix.EEXIST:
			if !overwrite {
				return 412
			}
			if linkRename(src.path, dst.path) == nil {
				r.rc.InvalidateStat(dst.path)
				if db != nil {
					db.copyProps(src.rel, dst.rel)
				}
				return 0
			}
		case unix.EXDEV:
			*flags = *flags&^flagCopyLink | flagCopyXdev
		}
	}
	status := copyRename(src.path, dst.path, overwrite)
	if status == 0 {
		r.rc.InvalidateStat(dst.path)
		if db != nil {
			db.copyProps(src.rel, dst.rel)
		}
		if *flags&(flagMoveRename|flagMoveXdev) != 0 {
			r.deleteFile(src.path, src.rel)
		}
	}
	return status
}

// rename renames src onto dst; without overwrite it fails with EEXIST
// when dst exists (renameat2 RENAME_NOREPLACE: no window between check and
// rename).
func rename(src, dst string, overwrite bool) error {
	var flags uint
	if !overwrite {
		flags = unix.RENAME_NOREPLACE
	}
	err := unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, flags)
	if err == unix.EINVAL && !overwrite {
		// A filesystem without RENAME_NOREPLACE: check, then rename.
		if _, lerr := lstat(dst); lerr == nil || !errors.Is(lerr, unix.ENOENT) {
			return unix.EEXIST
		}
		return unix.Rename(src, dst)
	}
	return err
}

// linkRename replaces dst by a hard link to src: link to a temporary name,
// rename that onto dst.
func linkRename(src, dst string) error {
	tmp := tempName(dst)
	if len(tmp) >= pathMax {
		return unix.ENAMETOOLONG
	}
	if err := unix.Link(src, tmp); err != nil {
		return err
	}
	err := unix.Rename(tmp, dst)
	unix.Unlink(tmp)
	return err
}

// copyRename copies the regular file src (a symlink is refused) into a
// temporary file beside dst and renames it onto dst. It returns 0 or a
// status.
func copyRename(src, dst string, overwrite bool) int {
	tmp := tempName(dst)
	if len(tmp) >= pathMax {
		return 414
	}
	in, err := openFile(src, unix.O_RDONLY)
	if err != nil {
		return 403
	}
	defer in.Close()
	if st, err := fstat(in); err != nil || !isReg(st) {
		return 403
	}
	out, err := openFile(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_TRUNC)
	if err != nil {
		return 403
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		unix.Unlink(tmp)
		if isNoSpace(err) {
			return 507
		}
		return 403
	}
	if err := rename(tmp, dst, overwrite); err != nil {
		unix.Unlink(tmp)
		switch err {
		case unix.ENOENT, unix.ENOTDIR, unix.EISDIR:
			return 409
		case unix.EEXIST:
			return 412
		}
		return 403
	}
	return 0
}
