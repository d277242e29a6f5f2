package core

import "github.com/golighty/golighty/core/urinorm"

// Modules that create, replace or remove files (mod_webdav) tell the stat
// cache, so the next request sees the change at once rather than within the
// cache's one-second bound, as lighttpd's mod_webdav updates its cache.

// InvalidateStat makes the stat cache forget path.
func (rc *Request) InvalidateStat(path string) { rc.Snap.stat.Invalidate(path) }

// InvalidateStatTree makes the stat cache forget dir and everything below it.
func (rc *Request) InvalidateStatTree(dir string) { rc.Snap.stat.InvalidateTree(dir) }

// DirLocation is the URL of the request's path as a directory (a '/'
// appended, the query kept): lighttpd's http_response_redirect_to_directory,
// absolute with server.feature-flags "server.absolute-dir-redirect". The
// directory redirect's Location and mod_webdav's Content-Location use it.
func (rc *Request) DirLocation() string {
	loc := make([]byte, 0, len(rc.URI.Path)*3/2+len(rc.URI.Query)+8)
	if rc.Snap.Core.Server.AbsoluteDirRedirect {
		loc = append(loc, rc.URI.Scheme...)
		loc = append(loc, "://"...)
		loc = rc.appendAuthority(loc)
	}
	loc = urinorm.AppendRelURI(loc, rc.URI.Path)
	loc = append(loc, '/')
	if rc.URI.Query != "" {
		loc = append(loc, '?')
		loc = append(loc, rc.URI.Query...)
	}
	return string(loc)
}
