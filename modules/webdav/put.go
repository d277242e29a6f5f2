package webdav

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/golighty/golighty/core"
	"golang.org/x/sys/unix"
)

// put is the PUT method. The body is streamed into an unnamed temporary
// file in the target's directory and linked into place by rename(2) only
// once it is complete, so a failed or abandoned upload never leaves a
// partial file, and concurrent PUTs to one path each install a whole body
// (the last rename wins).
func (r *req) put() core.Result {
	rc := r.rc
	if strings.HasSuffix(r.path, "/") {
		return fail(rc, 400) // no PUT on a collection
	}
	_, partial := header(rc, "Content-Range")
	if partial && r.c.opts&(optUnsafePartialPut|optPartialPutCopy) == 0 {
		// RFC 7231 4.3.4: a partial body mistaken for a whole one.
		return fail(rc, 400)
	}
	if rc.BodyLength == 0 {
		return r.putEmpty()
	}
	tmp, err := createTemp(r.path)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return fail(rc, 409) // no parent collection
		}
		rc.Logf("webdav: PUT %s: %v", r.path, err)
		return fail(rc, 500)
	}
	defer tmp.close()
	if !r.preconditions(nil) {
		return fail(rc, 412)
	}
	n, err := io.Copy(tmp.f, rc.Body)
	rc.BodyRead = n
	if err != nil {
		// The client went away or sent a broken body: the temporary file
		// goes with its descriptor.
		rc.KeepAlive = false
		if isNoSpace(err) {
			return fail(rc, 507)
		}
		var pe *os.PathError
		if errors.As(err, &pe) {
			return fail(rc, 403)
		}
		return fail(rc, 400)
	}
	if !r.preconditions(nil) {
		return fail(rc, 412)
	}
	if h, ok := header(rc, "Content-Range"); ok {
		return r.putRange(h, tmp)
	}
	st, serr := fstat(tmp.f)
	status, err := tmp.install(r.path)
	if err != nil {
		if errors.Is(err, unix.EISDIR) {
			return fail(rc, 405)
		}
		if status == 0 {
			status = 403
		}
		rc.Logf("webdav: PUT %s: %v", r.path, err)
		return fail(rc, status)
	}
	if status == 201 {
		r.parentModified(r.path)
	}
	if serr == nil {
		r.sendETag(st)
	} else {
		rc.InvalidateStat(r.path)
	}
	return done(rc, status)
}

// putEmpty creates or truncates the target for a PUT without a body.
func (r *req) putEmpty() core.Result {
	rc := r.rc
	if !r.preconditions(nil) {
		return fail(rc, 412)
	}
	f, err := openFile(r.path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_TRUNC)
	if err == nil {
		st, serr := fstat(f)
		f.Close()
		if serr == nil {
			r.sendETag(st)
		}
		r.parentModified(r.path)
		return done(rc, 201)
	}
	if errors.Is(err, unix.EISDIR) {
		return fail(rc, 405)
	}
	if errors.Is(err, unix.ELOOP) {
		r.deleteFile(r.path, r.rel) // a symlink in the way
	}
	if f, err = openFile(r.path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC); err != nil {
		return fail(rc, 500)
	}
	f.Close()
	rc.InvalidateStat(r.path)
	return done(rc, 204)
}

// tempFile is a request body on its way into the target's directory.
type tempFile struct {
	f    *os.File
	name string // named temporary file (when O_TMPFILE is not available)
}

// createTemp opens an unnamed file (O_TMPFILE) in the directory of path,
// or, where the filesystem lacks that, a named one removed again at once.
func createTemp(path string) (*tempFile, error) {
	dir := path[:strings.LastIndexByte(path, '/')+1]
	if dir == "" {
		dir = "."
	}
	fd, err := unix.Open(dir, unix.O_RDWR|unix.O_TMPFILE|unix.O_CLOEXEC, 0o666)
	if err == nil {
		return &tempFile{f: os.NewFile(uintptr(fd), path+"~tmp")}, nil
	}
	if err == unix.ENOENT || err == unix.ENOTDIR {
		return nil, err
	}
	name := path + "-" + randomHex()
	fd, err = unix.Open(name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o666)
	if err != nil {
		return nil, err
	}
	unix.Unlink(name)
	return &tempFile{f: os.NewFile(uintptr(fd), name)}, nil
}

func (t *tempFile) close() {
	t.f.Close()
	if t.name != "" {
		unix.Unlink(t.name)
	}
}

// install gives the temporary file the name path: 201 when that name was
// free, 204 when it replaced a file.
func (t *tempFile) install(path string) (int, error) {
	t.name = tempName(path)
	proc := "/proc/self/fd/" + strconv.Itoa(int(t.f.Fd()))
	if err := unix.Linkat(unix.AT_FDCWD, proc, unix.AT_FDCWD, t.name, unix.AT_SYMLINK_FOLLOW); err != nil {
		// No /proc: copy into a named file instead.
		if err := t.copyToNamed(); err != nil {
			t.name = ""
			return 500, err
		}
	}
	defer func() { t.name = "" }()
	if err := unix.Renameat2(unix.AT_FDCWD, t.name, unix.AT_FDCWD, path, unix.RENAME_NOREPLACE); err == nil {
		return 201, nil
	}
	if err := unix.Rename(t.name, path); err != nil {
		unix.Unlink(t.name)
		return 0, err
	}
	return 204, nil
}

// copyToNamed writes the body into the named file t.name.
func (t *tempFile) copyToNamed() error {
	out, err := openFile(t.name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_TRUNC)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, io.NewSectionReader(t.f, 0, 1<<62))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		unix.Unlink(t.name)
	}
	return err
}

// tempName is a name beside path for a file about to be renamed onto it;
// unique per call, so concurrent requests never share one.
func tempName(path string) string {
	return path + "." + strconv.Itoa(os.Getpid()) + "." + randomHex() + "~"
}

func randomHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func isNoSpace(err error) bool { return errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) }

// putRange writes a partial PUT's body (Content-Range: bytes N-...) into the
// target at offset N: with "partial-put-copy-modify" into a copy renamed
// into place afterwards, with "deprecated-unsafe-partial-put" alone in
// place. The body is complete in the temporary file before the target is
// touched.
func (r *req) putRange(h string, body *tempFile) core.Result {
	rc := r.rc
	if !strings.HasPrefix(h, "bytes ") {
		return fail(rc, 501)
	}
	offset, rest, ok := strtoll(h[len("bytes "):])
	if !ok || !strings.HasPrefix(rest, "-") || offset < 0 {
		return fail(rc, 501)
	}
	target, err := openFile(r.path, unix.O_WRONLY)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fail(rc, 404)
		}
		return fail(rc, 403)
	}
	out, tmpName := target, ""
	if r.c.opts&optPartialPutCopy != 0 {
		st, err := fstat(target)
		inPlaceSafe := r.c.opts&optUnsafePartialPut != 0 && err == nil && st.Size == offset && st.Nlink <= 1
		if !inPlaceSafe {
			var status int
			if out, tmpName, status = copyToTemp(r.path); status != 0 {
				target.Close()
				return fail(rc, status)
			}
			target.Close()
		}
	}
	status := 0
	if _, err := io.Copy(io.NewOffsetWriter(out, offset), io.NewSectionReader(body.f, 0, 1<<62)); err != nil {
		status = 403
		if isNoSpace(err) {
			status = 507
		}
	}
	if tmpName != "" {
		if status == 0 {
			if err := unix.Rename(tmpName, r.path); err != nil {
				switch err {
				case unix.ENOENT, unix.ENOTDIR, unix.EISDIR:
					status = 409
				default:
					status = 403
				}
			}
		}
		if status != 0 {
			unix.Unlink(tmpName)
		}
	}
	st, serr := fstat(out)
	if err := out.Close(); err != nil && status == 0 {
		status = 403
		if isNoSpace(err) {
			status = 507
		}
	}
	rc.InvalidateStat(r.path)
	if status != 0 {
		return fail(rc, status)
	}
	if serr == nil {
		r.sendETag(st)
	}
	return done(rc, 204)
}

// copyToTemp copies the regular file at path into a new file beside it
// (copy_file_range: a reflink where the filesystem can) and returns that
// file open for writing, with its name, or a status.
func copyToTemp(path string) (*os.File, string, int) {
	in, err := openFile(path, unix.O_RDONLY)
	if err != nil {
		return nil, "", 403
	}
	defer in.Close()
	if st, err := fstat(in); err != nil || !isReg(st) {
		return nil, "", 403
	}
	name := tempName(path)
	out, err := openFile(name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_TRUNC)
	if err != nil {
		return nil, "", 403
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		unix.Unlink(name)
		if isNoSpace(err) {
			return nil, "", 507
		}
		return nil, "", 403
	}
	return out, name, 0
}

// strtoll is C's strtoll(s, &end, 10): leading blanks, a sign, digits.
func strtoll(s string) (int64, string, bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f' || s[i] == '\v') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var n int64
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n > (1<<63-1-9)/10 {
			n = 1<<63 - 1
			continue
		}
		n = n*10 + int64(s[i]-'0')
	}
	if i == start {
		return 0, s, false
	}
	if neg {
		n = -n
	}
	return n, s[i:], true
}
