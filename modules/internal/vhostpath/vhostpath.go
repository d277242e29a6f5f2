// Package vhostpath holds what lighttpd's document-root modules
// (mod_simple_vhost, mod_evhost, mod_vhostdb, mod_userdir) share: lighttpd's
// path joining, the "is it a directory" check through the stat cache, the
// error-log line of a failed check, the host names golighty will not turn into
// a path, and a bounded cache of computed document roots.
package vhostpath

import (
	"errors"
	"strings"
	"syscall"

	"github.com/golighty/golighty/core"
)

// Join appends a to b with exactly one '/' between them, as lighttpd's
// buffer_append_path_len: a leading '/' of a is dropped when b ends in one,
// and one is added when neither has it (also when b is empty).
func Join(b, a string) string {
	bslash := b != "" && b[len(b)-1] == '/'
	aslash := a != "" && a[0] == '/'
	switch {
	case bslash && aslash:
		return b + a[1:]
	case !bslash && !aslash:
		return b + "/" + a
	}
	return b + a
}

// WithSlash appends '/' to a non-empty path that lacks it (buffer_append_slash).
func WithSlash(p string) string {
	if p != "" && p[len(p)-1] != '/' {
		return p + "/"
	}
	return p
}

// IsDir reports whether path names a directory, through the request's stat
// cache as lighttpd's stat_cache_path_isdir. The error says why not.
func IsDir(rc *core.Request, path string) error {
	e, err := rc.Stat(path)
	if err != nil {
		return err
	}
	if !e.IsDir() {
		return syscall.ENOTDIR
	}
	return nil
}

// Perror logs "path: strerror" as lighttpd's log_perror does.
func Perror(rc *core.Request, path string, err error) {
	rc.Logf("%s: %s", path, errnoText(err))
}

func errnoText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error() // strerror's text, lower-cased by Go
		if s != "" {
			return strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return err.Error()
}

// UnsafeHost reports a host (as the request has it, port and all) that
// would add path segments of its own: one holding '/' or NUL. With the
// default server.http-parseopts (host-strict) such a Host header is answered
// 400 before any module runs; with host-strict disabled lighttpd lets '\0'
// and '/' through to no module (it refuses '/' too), golighty keeps the
// document root.
func UnsafeHost(host string) bool {
	return strings.ContainsAny(host, "/\x00")
}
