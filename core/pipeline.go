package core

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// maxComebacks bounds internal restarts so that a loop no module detects
// ends in a 500 instead of spinning. It stays above mod_rewrite's own limit
// (lighttpd's: a request rewritten 101 times is dropped on its next pass),
// which must decide first: a long url.rewrite-repeat chain that lighttpd
// serves is served here too.
const maxComebacks = 128

// runPhases takes a parsed request through lighttpd's phases (behaviors.md §3)
// up to and including the handler, leaving the response in rc.Resp.
func (rc *Request) runPhases() { rc.continuePhases(rc.phases()) }

// continuePhases goes on from a pass's result: another pass after a
// Comeback, the request's end otherwise (Suspended: later, in ResumeH1).
func (rc *Request) continuePhases(res Result) {
	for ; ; res = rc.phases() {
		if res == Suspended {
			return
		}
		if res == Drop {
			rc.Drop()
			return
		}
		if res != Comeback {
			if res == Error && rc.Resp.Status == 0 {
				rc.Resp.Status = 500
			}
			return
		}
		rc.loops++
		if rc.loops > maxComebacks {
			rc.Logf("too many internal restarts for %s (rewrite loop?) -> 500", rc.Target)
			rc.Resp.reset()
			rc.Resp.Status = 500
			return
		}
	}
}

func (rc *Request) phases() Result {
	rc.closeDeferred() // a backend the last pass used may be needed again
	rc.resetConditions()
	rc.Conf = rc.Snap.Core.Table.Resolve(rc)
	rc.log = rc.Snap.loggerFor(rc.Conf.ErrorLog, rc.srvLog)
	rc.Handler, rc.HandlerName = nil, ""
	if !rc.Conf.ProtocolHTTP11 && rc.Proto == 11 {
		rc.Proto = 10
		rc.KeepAlive = false
	}
	if rc.Conf.MaxRequestSize > 0 && rc.BodyLength > rc.Conf.MaxRequestSize {
		rc.Logf("request-size too long: %d -> 413", rc.BodyLength/1024)
		rc.KeepAlive = false
		return rc.Status(413)
	}
	h := &rc.Snap.hooks
	for _, m := range h.uriRaw {
		if r := m.URIRaw(rc); r != GoOn {
			return r
		}
	}
	for _, m := range h.uriClean {
		if r := m.URIClean(rc); r != GoOn {
			return r
		}
	}
	if rc.Handler == nil {
		if rc.Method == "OPTIONS" && rc.URI.Path == "*" {
			return rc.allow()
		}
		if rc.Method == "CONNECT" {
			rc.KeepAlive = false
			return rc.Status(405)
		}
	}

	rc.Phys.DocRoot = rc.Conf.DocumentRoot
	for _, m := range h.docroot {
		if r := m.Docroot(rc); r != GoOn {
			return r
		}
	}
	rc.Phys.BasePath = rc.Phys.DocRoot
	rc.Phys.RelPath = rc.URI.Path
	if rc.Conf.ForceLowercase {
		rc.Phys.RelPath = strings.ToLower(rc.Phys.RelPath)
	}
	rc.Phys.Path = rc.joinPhys(rc.Phys.DocRoot, rc.Phys.RelPath)
	for _, m := range h.physical {
		if r := m.Physical(rc); r != GoOn {
			return r
		}
	}
	if rc.Handler == nil {
		if r := rc.checkPath(); r != GoOn {
			return r
		}
		for _, m := range h.subrequestStart {
			if r := m.SubrequestStart(rc); r != GoOn {
				return r
			}
			if rc.Handler != nil {
				break
			}
		}
	}
	if rc.Handler == nil {
		switch rc.Method {
		case "OPTIONS":
			return rc.allow()
		case "GET", "HEAD", "QUERY", "POST":
			return rc.Status(403)
		}
		return rc.Status(501)
	}
	if _, ok := rc.Handler.(InlineHandler); !ok {
		rc.leaveReader()
	}
	return rc.Handler.Serve(rc)
}

// Status ends the request with an error or empty status; the error document
// is generated later, after the error handlers had their chance.
func (rc *Request) Status(code int) Result {
	rc.Resp.Status = code
	return Finished
}

// allow answers OPTIONS, after the methods modules announced (mod_webdav).
func (rc *Request) allow() Result {
	rc.Resp.Status = 200
	rc.Resp.Header.Add("Allow", "OPTIONS, GET, HEAD, POST")
	return Finished
}

// Drop abandons the request as lighttpd does on a hook's HANDLER_ERROR: no
// response is written, the connection is closed, and no request-done hook
// runs (lighttpd logs only requests that got a status).
func (rc *Request) Drop() {
	rc.dropped = true
	rc.KeepAlive = false
	rc.Resp.reset()
}

// Dropped reports whether the request was abandoned (see Drop).
func (rc *Request) Dropped() bool { return rc.dropped }

// SetHandler claims the request for h (at most one handler per request).
func (rc *Request) SetHandler(name string, h Handler) {
	rc.Handler, rc.HandlerName = h, name
}

// Rewrite replaces the request target and returns Comeback so the pipeline
// resolves the config again for the new URL (mod_rewrite, error handlers).
func (rc *Request) Rewrite(target string) (Result, error) {
	if err := rc.setTarget(target); err != nil {
		return Error, err
	}
	rc.Phys = Physical{}
	rc.PathInfo = ""
	return Comeback, nil
}

// joinPhys builds the physical path in the request's own buffer: the most
// common string of a request costs no allocation. The result is valid until
// the request ends (the stat cache copies what it keeps).
func (rc *Request) joinPhys(root, rel string) string {
	if strings.HasSuffix(root, "/") && strings.HasPrefix(rel, "/") {
		rel = rel[1:]
	}
	b := append(append(rc.pathBuf[:0], root...), rel...)
	if cap(b) > cap(rc.pathBuf) {
		rc.pathBuf = b[:0]
	}
	return bytesView(b)
}

// checkPath is lighttpd's physical-path check (behaviors.md §4.1): stat, the
// PATH_INFO walk on ENOTDIR, symlink policy and the directory redirect.
func (rc *Request) checkPath() Result {
	fi, err := rc.Stat(rc.Phys.Path)
	if err != nil {
		if errors.Is(err, syscall.ENOTDIR) {
			return rc.splitPathInfo()
		}
		return rc.statError(err)
	}
	if !rc.Conf.FollowSymlink && rc.hasSymlink(rc.Phys.Path) {
		return rc.Status(403)
	}
	if fi.IsDir() && !strings.HasSuffix(rc.URI.Path, "/") {
		return rc.redirectDir()
	}
	return GoOn
}

func (rc *Request) statError(err error) Result {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return rc.Status(403)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENAMETOOLONG):
		if rc.Method == "OPTIONS" && rc.Resp.Header.Has("Allow") {
			// A module announced methods (mod_webdav). lighttpd 1.4.69
			// starts a chunked body here that it never ends, which hangs a
			// keep-alive client; golighty sends an empty body.
			rc.Resp.SetBody(nil)
			return rc.Status(200)
		}
		if rc.Conf.LogFileNotFound {
			rc.Logf("file not found ... or so: %s -> %s", rc.URI.Path, rc.Phys.Path)
		}
		return rc.Status(404)
	}
	rc.Logf("stat %s: %v", rc.Phys.Path, err)
	return rc.Status(500)
}

// splitPathInfo finds the longest existing prefix of the physical path that is
// a regular file; the rest becomes PATH_INFO and is cut from the URL path.
func (rc *Request) splitPathInfo() Result {
	p := rc.Phys.Path
	base := strings.TrimSuffix(rc.Phys.BasePath, "/")
	for {
		i := strings.LastIndexByte(p, '/')
		if i <= len(base) {
			return rc.Status(404)
		}
		p = p[:i]
		fi, err := rc.Stat(p)
		if err != nil {
			if errors.Is(err, syscall.ENOTDIR) {
				continue
			}
			return rc.statError(err)
		}
		if !fi.IsRegular() {
			return rc.Status(404)
		}
		if !rc.Conf.FollowSymlink && rc.hasSymlink(p) {
			return rc.Status(403)
		}
		info := rc.Phys.Path[len(p):]
		rc.PathInfo = info
		rc.Phys.Path = p
		rc.URI.Path = strings.TrimSuffix(rc.URI.Path, info)
		rc.Phys.RelPath = strings.TrimSuffix(rc.Phys.RelPath, info)
		return GoOn
	}
}

// hasSymlink reports whether any component of p below the document root is a
// symlink (server.follow-symlink = disable).
func (rc *Request) hasSymlink(p string) bool {
	root := strings.TrimSuffix(rc.Phys.BasePath, "/")
	for len(p) > len(root) {
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return true
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return false
}

// redirectDir answers a directory without trailing slash with lighttpd's 301.
func (rc *Request) redirectDir() Result {
	rc.Resp.Status = 301
	rc.Resp.Header.Set("Location", rc.DirLocation())
	rc.Resp.SetBody(nil)
	return Finished
}

// appendAuthority is the host[:port] of absolute redirects: the request's
// authority, else the listening address's name (lighttpd's
// http_response_buffer_append_authority).
func (rc *Request) appendAuthority(dst []byte) []byte {
	if rc.URI.Authority != "" {
		return append(dst, rc.URI.Authority...)
	}
	switch {
	case rc.Conn.LocalIP == "127.0.0.1":
		dst = append(dst, loopbackName()...)
	case rc.Conf.ServerName != "":
		dst = append(dst, rc.Conf.ServerName...)
	default:
		dst = append(dst, hostName(rc.Conn.LocalIP)...)
	}
	def := 80
	if rc.URI.Scheme == "https" {
		def = 443
	}
	if rc.Conn.LocalPort != 0 && rc.Conn.LocalPort != def {
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, int64(rc.Conn.LocalPort), 10)
	}
	return dst
}

var loopbackName = sync.OnceValue(func() string { return hostName("127.0.0.1") })

// hostName resolves ip to its first name (/etc/hosts first), else ip.
func hostName(ip string) string {
	if names, err := net.LookupAddr(ip); err == nil && len(names) > 0 {
		return strings.TrimSuffix(names[0], ".")
	}
	if ip == "127.0.0.1" {
		return "localhost"
	}
	if strings.Contains(ip, ":") {
		return "[" + ip + "]"
	}
	return ip
}
