package dirlisting

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/httpfile"
	"github.com/golighty/golighty/lighttpdconf"
)

// cacheConf is dir-listing.cache: generated pages are kept as
// PATH/<physical dir>/dirlist.html and served while younger than maxAge.
type cacheConf struct {
	path   string
	maxAge int64
}

// parseCache checks dir-listing.cache as lighttpd does. "max-age" defaults
// to 15 seconds; 0 turns the cache off (also to override an enclosing
// block). A missing "path" directory is only a warning: it may appear later.
func parseCache(sc *core.SetupContext, v core.Value) (*cacheConf, error) {
	maxAge := int32(15)
	if mv, ok := element(v, "max-age"); ok {
		maxAge = core.Int32Value(mv, 15)
	}
	pv, ok := element(v, "path")
	if !ok {
		if maxAge != 0 {
			return nil, errors.New(`dir-listing.cache must include "path"`)
		}
		return nil, nil
	}
	if pv.Kind != lighttpdconf.KindString {
		return nil, errors.New(`dir-listing.cache "path" must have string value`)
	}
	fi, err := os.Stat(pv.Str)
	switch {
	case err == nil && !fi.IsDir(), errors.Is(err, syscall.ENOTDIR):
		return nil, fmt.Errorf("dir-listing.cache \"path\" => \"%s\" is not a dir", pv.Str)
	case errors.Is(err, fs.ErrNotExist):
		sc.Warn(v.Pos, "dir-listing.cache \"path\" => \"%s\" does not exist", pv.Str)
	}
	if maxAge == 0 {
		return nil, nil
	}
	return &cacheConf{path: pv.Str, maxAge: int64(maxAge)}, nil
}

// cacheDir is the directory that holds the cached page of the request's
// directory.
func cacheDir(c *conf, rc *core.Request) string {
	return joinSlash(c.cache.path, rc.Phys.Path)
}

// serveCached answers from the cache file if it is fresh enough.
func serveCached(rc *core.Request, c *conf) bool {
	name := cacheDir(c, rc) + "dirlist.html"
	f, err := os.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil || st.Size == 0 {
		return false
	}
	maxAge := st.Mtim.Sec + c.cache.maxAge - time.Now().Unix()
	if maxAge < 0 {
		return false
	}
	body := make([]byte, st.Size)
	if n, err := f.ReadAt(body, 0); err != nil && n != len(body) {
		return false
	}
	rc.Resp.Status = 200
	rc.Resp.Header.Set("Content-Type", contentType(c.encoding))
	setCacheHeaders(rc, maxAge, &st)
	rc.Resp.SetBody(body)
	return true
}

// storeCached writes page to the cache (a temporary file renamed into
// place, so readers never see half a page) and, once it is there, adds the
// Cache-Control and ETag headers lighttpd adds.
func storeCached(rc *core.Request, c *conf, page []byte) {
	dir := cacheDir(c, rc)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		if mkdirFrom(dir, len(strings.TrimSuffix(c.cache.path, "/"))) != nil {
			return
		}
	}
	final := dir + "dirlist.html"
	if len(final)+7 >= 4096 {
		return
	}
	tmp, err := os.CreateTemp(dir, "dirlist.html.")
	if err != nil {
		return
	}
	defer tmp.Close()
	if _, err := tmp.Write(page); err != nil || os.Rename(tmp.Name(), final) != nil {
		os.Remove(tmp.Name())
		return
	}
	var st unix.Stat_t
	if unix.Fstat(int(tmp.Fd()), &st) != nil {
		return
	}
	setCacheHeaders(rc, c.cache.maxAge, &st)
}

func setCacheHeaders(rc *core.Request, maxAge int64, st *unix.Stat_t) {
	if !rc.Resp.Header.Has("Cache-Control") {
		rc.Resp.Header.Set("Cache-Control", "max-age="+strconv.FormatInt(maxAge, 10))
	}
	flags := httpfile.ETagFlagsFromConfig(true, rc.Conf.ETagInode, rc.Conf.ETagMtime, rc.Conf.ETagSize)
	if flags == 0 {
		return
	}
	id := httpfile.FileID{Ino: st.Ino, Size: st.Size, MtimeSec: st.Mtim.Sec, MtimeNsec: st.Mtim.Nsec}
	rc.Resp.Header.Set("ETag", string(httpfile.ETag(nil, id, flags)))
}

// mkdirFrom creates dir's components from byte offset off on (the cache
// root's own name first), mode 0700, as lighttpd's mkdir_recursive does.
func mkdirFrom(dir string, off int) error {
	for i := off; i < len(dir); i++ {
		if dir[i] != '/' || i == 0 {
			continue
		}
		if err := os.Mkdir(dir[:i], 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}
