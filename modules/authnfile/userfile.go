package authnfile

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// maxFileSize is lighttpd's limit for a user file (64 MB).
const maxFileSize = 64 << 20

// userFiles keeps each user file parsed, and re-reads one when its stat
// (size, mtime, ctime, inode) changes: an edit takes effect with the next
// request, as in lighttpd (which reads the file on every login), without a
// restart and without reading it on every request.
type userFiles struct {
	mu    sync.Mutex
	files map[string]*userFile
}

type userFile struct {
	mu    sync.Mutex
	stamp fileStamp
	lines []line // in file order
	err   error  // the last read failed
}

type fileStamp struct {
	size, ino, dev uint64
	mtime, ctime   int64
}

// line is one "user:rest" line. For htdigest files rest is split further.
type line struct {
	user string
	rest string // the password or hash (htpasswd, plain); "realm:hash[:userhash]" (htdigest)
}

func newUserFiles() *userFiles { return &userFiles{files: map[string]*userFile{}} }

// get returns the current lines of path, re-reading it if it changed. A
// file that cannot be read is logged through logf (lighttpd's message) on
// every call, and yields no lines.
func (u *userFiles) get(path string, digest bool, logf func(string, ...any)) []line {
	u.mu.Lock()
	f := u.files[path]
	if f == nil {
		f = &userFile{}
		u.files[path] = f
	}
	u.mu.Unlock()

	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := stat(path)
	if err != nil {
		f.lines, f.err, f.stamp = nil, err, fileStamp{}
		logf("fdevent_load_file() %s: %s", path, strerror(err))
		return nil
	}
	if f.err == nil && f.lines != nil && st == f.stamp {
		return f.lines
	}
	data, err := readFile(path)
	if err != nil {
		f.lines, f.err, f.stamp = nil, err, fileStamp{}
		logf("fdevent_load_file() %s: %s", path, strerror(err))
		return nil
	}
	f.lines, f.err, f.stamp = parse(data, path, digest, logf), nil, st
	if f.lines == nil {
		f.lines = []line{} // read, and empty
	}
	return f.lines
}

func stat(path string) (fileStamp, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return fileStamp{}, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	return fileStamp{
		size: uint64(st.Size), ino: st.Ino, dev: st.Dev,
		mtime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec).UnixNano(),
		ctime: time.Unix(st.Ctim.Sec, st.Ctim.Nsec).UnixNano(),
	}, nil
}

func readFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if fi.Size() >= maxFileSize {
		return "", &fs.PathError{Op: "read", Path: path, Err: syscall.EOVERFLOW}
	}
	b := make([]byte, fi.Size())
	n, err := f.ReadAt(b, 0)
	if n != len(b) {
		if err == nil {
			err = syscall.EIO
		}
		return "", err
	}
	return string(b), nil
}

// strerror is the C library's text for the error ("No such file or
// directory"), as lighttpd's log lines have it.
func strerror(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return err.Error()
}

// parse splits a user file as lighttpd's mod_authn_file does: lines up to
// the first NUL byte; blank lines, comments ('#') and lines over 1024 bytes
// are skipped; one trailing CR is dropped; a line without ':' is logged and
// skipped (htdigest lines need two).
func parse(data, path string, digest bool, logf func(string, ...any)) []line {
	if i := strings.IndexByte(data, 0); i >= 0 {
		data = data[:i]
	}
	var out []line
	bad := 0
	for len(data) > 0 {
		l, rest, _ := strings.Cut(data, "\n")
		data = rest
		if l == "" || l[0] == '\r' || l[0] == '#' || len(l) > 1024 {
			continue
		}
		user, val, ok := strings.Cut(l, ":")
		if ok && digest {
			ok = strings.IndexByte(val, ':') >= 0
		}
		if !ok {
			bad++
			continue
		}
		val = strings.TrimSuffix(val, "\r")
		out = append(out, line{user: user, rest: val})
	}
	switch {
	case bad > 0 && digest:
		logf("parse error in %s expected 'username:realm:digest[:userhash]' (%d lines skipped)", path, bad)
	case bad > 0:
		logf("parsed error in %s expected 'username:password' (%d lines skipped)", path, bad)
	}
	return out
}

// lookup returns the value of user's first line (htpasswd, plain).
func lookup(lines []line, user string) (string, bool) {
	for i := range lines {
		if lines[i].user == user {
			return lines[i].rest, true
		}
	}
	return "", false
}
