package webdav

import (
	"errors"
	"os"
	"strings"

	"github.com/golighty/golighty/core"
	"golang.org/x/sys/unix"
)

// mkcol is the MKCOL method.
func (r *req) mkcol() core.Result {
	if st := r.mkdir(r.path, r.rel, -1); st != 0 {
		return fail(r.rc, st)
	}
	return done(r.rc, 201)
}

// mkdir creates the collection path (lighttpd's webdav_mkdir). overwrite is
// -1 for MKCOL (an existing entity is 405), 0 to fail on an existing file
// (409) and 1 to replace a file with the collection. It returns 0 or a
// status.
func (r *req) mkdir(path, rel string, overwrite int) int {
	err := unix.Mkdir(path, 0o777)
	if err == nil {
		r.parentModified(path)
		return 0
	}
	switch err {
	case unix.EEXIST, unix.ENOTDIR:
	case unix.ENOENT:
		return 409
	default:
		return 403
	}
	if overwrite < 0 {
		if err != unix.ENOTDIR {
			return 405
		}
		return 409
	}
	file := strings.TrimSuffix(path, "/")
	st, serr := lstat(file)
	if serr != nil || overwrite == 0 {
		return 409
	}
	if isDir(st) {
		return 0
	}
	if s := r.deleteFile(file, strings.TrimSuffix(rel, "/")); s != 0 {
		return s
	}
	r.parentModified(path)
	if unix.Mkdir(path, 0o777) != nil {
		return 409
	}
	return 0
}

// delete is the DELETE method; a collection goes with everything in it.
func (r *req) delete() core.Result {
	rc := r.rc
	if strings.IndexByte(rc.Target, '#') >= 0 {
		// A client that sent a fragment may mean less than it would delete.
		return fail(rc, 403)
	}
	st, err := lstat(r.path)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fail(rc, 404)
		}
		return fail(rc, 403)
	}
	if !r.preconditions(st) {
		return fail(rc, 412)
	}
	switch {
	case isDir(st):
		if !strings.HasSuffix(r.path, "/") {
			r.path += "/"
			r.rel += "/"
		}
		// RFC 4918 9.6.1: a collection is deleted as with Depth: infinity.
		if r.depth() != -1 {
			return fail(rc, 400)
		}
		var errs []byte
		failed := r.deleteDir(r.path, r.rel, &errs)
		rc.InvalidateStatTree(r.path)
		if failed {
			return multistatus(rc, r.c, errs)
		}
		if db := r.c.db; db != nil {
			if err := db.deleteCollectionLocks(r.rel); err != nil {
				rc.Logf("webdav: deleting locks below %s: %v", r.rel, err)
			}
		}
		return done(rc, 204)
	case strings.HasSuffix(r.path, "/"):
		return fail(rc, 403)
	}
	if s := r.deleteFile(r.path, r.rel); s != 0 {
		return fail(rc, s)
	}
	if db := r.c.db; db != nil {
		if err := db.deleteLocks(r.rel); err != nil {
			rc.Logf("webdav: deleting locks of %s: %v", r.rel, err)
		}
	}
	return done(rc, 204)
}

// deleteFile unlinks a file (or symlink) and its properties; it returns 0
// or a status.
func (r *req) deleteFile(path, rel string) int {
	if err := unix.Unlink(path); err != nil {
		return statusFor(err)
	}
	r.rc.InvalidateStat(path)
	r.parentModified(path)
	if db := r.c.db; db != nil {
		if err := db.deleteProps(rel); err != nil {
			r.rc.Logf("webdav: deleting properties of %s: %v", rel, err)
		}
	}
	return 0
}

// deleteDir removes a collection depth first (symlinks are removed, never
// followed). Failures are added to errs as <D:response> elements; it
// reports whether any happened (the collection then stays).
func (r *req) deleteDir(path, rel string, errs *[]byte) bool {
	entries, err := readDir(path)
	if err != nil {
		*errs = appendResponseStatus(*errs, rel, 403)
		return true
	}
	lower := r.rc.Conf.ForceLowercase
	failed := false
	for _, e := range entries {
		name := e.name
		if lower {
			name = strings.ToLower(name)
		}
		if e.dir {
			if r.deleteDir(path+name+"/", rel+name+"/", errs) {
				failed = true
			}
			continue
		}
		if s := r.deleteFile(path+name, rel+name); s != 0 {
			*errs = appendResponseStatus(*errs, rel+name, s)
			failed = true
		}
	}
	if failed {
		return true
	}
	if err := unix.Rmdir(path); err != nil {
		*errs = appendResponseStatus(*errs, rel, statusFor(err))
		return true
	}
	r.parentModified(path)
	if db := r.c.db; db != nil {
		if err := db.deleteProps(rel); err != nil {
			r.rc.Logf("webdav: deleting properties of %s: %v", rel, err)
		}
	}
	return false
}

// dirEntry is a directory member with its type from lstat (a symlink to a
// directory is not a directory here).
type dirEntry struct {
	name string
	mode uint32 // S_IFMT bits
	dir  bool
}

// readDir lists path without following symlinks in the members.
func readDir(path string) ([]dirEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []dirEntry
	for {
		names, err := f.Readdirnames(256)
		for _, n := range names {
			var st unix.Stat_t
			if unix.Fstatat(int(f.Fd()), n, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
				continue // gone meanwhile
			}
			out = append(out, dirEntry{name: n, mode: st.Mode & unix.S_IFMT, dir: isDir(&st)})
		}
		if err != nil {
			return out, nil
		}
	}
}
