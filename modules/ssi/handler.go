package ssi

import (
	"bytes"
	"os"
	"os/exec"
	"os/user"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/httpfile"
	"github.com/golighty/golighty/core/urinorm"
)

// handler processes one request's SSI page.
type handler struct {
	conf conf
}

// state is one request's processing state (lighttpd's handler_ctx and
// the plugin-wide variables it resets per request).
type state struct {
	rc   *core.Request
	conf *conf
	out  []byte

	vars    map[string]string // #set
	cgi     map[string]string // the CGI environment (without Authorization)
	timefmt string
	abbrev  bool // sizefmt=abbrev

	ifLevel, ifFalseLevel int
	ifFalse, ifFalseEndif bool
	depth                 int

	newest int64 // the newest mtime of an included file

	// The document being processed (changes inside a recursive include).
	uriPath, relPath, physPath string
	st                         *syscall.Stat_t
}

// mapEnv collects CGI variables, the later of two with one name winning.
type mapEnv map[string]string

func (m mapEnv) Add(name, value string) { m[name] = value }

// Serve runs the page's directives and answers with the result.
func (h *handler) Serve(rc *core.Request) core.Result {
	s := &state{
		rc: rc, conf: &h.conf, vars: map[string]string{},
		uriPath: rc.URI.Path, relPath: rc.Phys.RelPath, physPath: rc.Phys.Path,
	}
	s.cgiVars()
	var st syscall.Stat_t
	if err := s.processFile(&st); err != nil {
		rc.Logf("open(): %s: %v", rc.Phys.Path, err)
		return rc.Status(500)
	}
	ct := h.conf.contentType
	if ct == "" {
		ct = "text/html"
	}
	rc.Resp.Status = 200
	rc.Resp.Header.Set("Content-Type", ct)
	if h.conf.conditional {
		mtime := st.Mtim.Sec
		if s.newest > mtime {
			mtime = s.newest
		}
		c := &rc.Conf
		etag := string(httpfile.ETag(nil, httpfile.FileID{Ino: st.Ino, Size: st.Size, MtimeSec: mtime, MtimeNsec: st.Mtim.Nsec},
			httpfile.ETagFlagsFromConfig(true, c.ETagInode, c.ETagMtime, c.ETagSize)))
		lm := string(httpfile.AppendHTTPDate(nil, mtime))
		if etag != "" {
			rc.Resp.Header.Set("ETag", etag)
		}
		rc.Resp.Header.Set("Last-Modified", lm)
		req := httpfile.Request{
			Method:          rc.Method,
			IfNoneMatch:     rc.Header.Get("If-None-Match"),
			IfModifiedSince: rc.Header.Get("If-Modified-Since"),
		}
		f := httpfile.File{MtimeSec: mtime, ETag: etag, LastModified: lm, TypeMatched: true}
		if code := httpfile.Conditional(&req, &f, time.Now().Unix()); code != 0 {
			rc.Resp.Status = code
			rc.Resp.SetBody(nil)
			return core.Finished
		}
	}
	rc.Resp.SetBody(s.out)
	return core.Finished
}

// cgiVars is build_ssi_cgi_vars: the request's CGI/1.1 variables, without
// the Authorization header.
func (s *state) cgiVars() {
	m := mapEnv{}
	s.rc.CGIEnv(m, &core.CGIOptions{})
	delete(m, "HTTP_AUTHORIZATION")
	s.cgi = m
}

// lookup finds a variable for echo and expressions: the CGI environment
// first, then #set variables.
func (s *state) lookup(name string) (string, bool) {
	if v, ok := s.cgi[name]; ok {
		return v, true
	}
	v, ok := s.vars[name]
	return v, ok
}

// processFile runs the current document (s.physPath) into s.out.
func (s *state) processFile(st *syscall.Stat_t) error {
	data, err := readFile(s.physPath, st, s.rc.Conf.FollowSymlink)
	if err != nil {
		return err
	}
	saved := s.st
	s.st = st
	s.run(data)
	s.st = saved
	return nil
}

// readFile reads a document and its stat (lighttpd opens with O_NOFOLLOW
// when symlinks are not followed).
func readFile(p string, st *syscall.Stat_t, follow bool) ([]byte, error) {
	flags := os.O_RDONLY
	if !follow {
		flags |= syscall.O_NOFOLLOW
	}
	f, err := os.OpenFile(p, flags, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := syscall.Fstat(int(f.Fd()), st); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if st.Size > 0 && st.Size < 1<<30 {
		b.Grow(int(st.Size))
	}
	_, err = b.ReadFrom(f)
	return b.Bytes(), err
}

// run scans a document: text is copied (unless inside a false #if),
// directives are executed. A directive must end within readBuf bytes of
// its '<'; one that does not is reported (and the rest of it becomes
// text), one cut off by the end of the file is copied as text.
func (s *state) run(data []byte) {
	i, text := 0, 0
	for {
		j := bytes.IndexByte(data[i:], '<')
		if j < 0 {
			break
		}
		p := i + j
		if !bytes.HasPrefix(data[p:], []byte("<!--#")) {
			i = p + 1
			continue
		}
		if !s.ifFalse {
			s.out = append(s.out, data[text:p]...)
		}
		text = p
		window := data[p:min(len(data), p+readBuf)]
		if n := stmtLen(window); n > 0 {
			s.directive(data[p : p+n])
			i = p + n
			text = i
			continue
		}
		if len(window) < readBuf {
			break // cut off by the end of the file: copied as text
		}
		s.out = append(s.out, "<!-- [an error occurred: directive too long] "...)
		switch {
		case window[readBuf-2] == '-' && window[readBuf-1] == '-':
			s.out = append(s.out, "--"...)
		case window[readBuf-1] == '-':
			s.out = append(s.out, '-')
		}
		i = p + readBuf
		text = i
	}
	if !s.ifFalse {
		s.out = append(s.out, data[text:]...)
	}
}

// directive executes one "<!--#...-->".
func (s *state) directive(stmt []byte) {
	d, ok := parseDirective(stmt)
	if !ok {
		if !isComment(stmt) {
			s.out = append(s.out, stmt...) // malformed: copied as is
		}
		return
	}
	switch d.cmd {
	case "echo":
		s.echo(&d)
	case "include", "flastmod", "fsize":
		s.file(&d)
	case "set":
		s.set(&d)
	case "config":
		s.config(&d)
	case "printenv":
		if !s.ifFalse {
			s.printenv()
		}
	case "exec":
		s.exec(&d)
	case "if":
		s.ifDirective(&d)
	case "elif":
		s.elif(&d)
	case "else":
		s.ifLevel--
		if s.ifFalse {
			if s.ifLevel == s.ifFalseLevel && !s.ifFalseEndif {
				s.ifFalse = false
			}
		} else {
			s.ifFalse = true
			s.ifFalseLevel = s.ifLevel
		}
		s.ifLevel++
	case "endif":
		s.ifLevel--
		if s.ifLevel == s.ifFalseLevel {
			s.ifFalse, s.ifFalseEndif = false, false
		}
	case "comment":
	default:
		s.rc.Logf("ssi: unknown ssi-command: %s", d.cmd)
	}
}

func (s *state) unknownAttr(d *directive, name string) {
	s.rc.Logf("ssi: unknown attribute for %s %s", d.cmd, name)
}

func (s *state) echo(d *directive) {
	var v string
	set := false
	for _, a := range d.attrs {
		switch a[0] {
		case "var":
			v, set = a[1], true
		case "encoding": // accepted, not applied (as lighttpd)
		default:
			s.unknownAttr(d, a[0])
		}
	}
	if s.ifFalse {
		return
	}
	if !set {
		s.rc.Logf("ssi: %s var is missing", d.cmd)
		return
	}
	rc := s.rc
	switch v {
	case "DATE_GMT":
		s.out = s.timefmtAppend(s.out, time.Now().Unix(), false)
	case "DATE_LOCAL":
		s.out = s.timefmtAppend(s.out, time.Now().Unix(), true)
	case "LAST_MODIFIED":
		s.out = s.timefmtAppend(s.out, s.st.Mtim.Sec, true)
	case "DOCUMENT_NAME":
		// Of the document being processed (an included one inside it).
		s.out = append(s.out, s.physPath[strings.LastIndexByte(s.physPath, '/')+1:]...)
	case "DOCUMENT_URI":
		s.out = append(s.out, s.uriPath...)
	case "USER_NAME":
		uid := strconv.FormatUint(uint64(s.st.Uid), 10)
		if u, err := user.LookupId(uid); err == nil {
			s.out = append(s.out, u.Username...)
		} else {
			s.out = append(s.out, uid...)
		}
	case "SCRIPT_URI":
		// The target already holds the query; lighttpd adds it again.
		if rc.URI.Scheme != "" && rc.URI.Authority != "" {
			s.out = append(s.out, rc.URI.Scheme...)
			s.out = append(s.out, "://"...)
			s.out = append(s.out, rc.URI.Authority...)
			s.scriptURL()
		}
	case "SCRIPT_URL":
		s.scriptURL()
	default:
		if val, ok := s.lookup(v); ok {
			s.out = append(s.out, val...)
		} else {
			s.out = append(s.out, "(none)"...)
		}
	}
}

func (s *state) scriptURL() {
	s.out = append(s.out, s.rc.URI.Target...)
	if q := s.rc.URI.Query; q != "" {
		s.out = append(s.out, '?')
		s.out = append(s.out, q...)
	}
}

// timefmtAppend formats t with the page's timefmt (default
// "%a, %d %b %Y %T %Z"), in local time or GMT; "(none)" when empty.
func (s *state) timefmtAppend(dst []byte, t int64, local bool) []byte {
	f := s.timefmt
	if f == "" {
		f = "%a, %d %b %Y %T %Z"
	}
	tm := time.Unix(t, 0).UTC()
	zone := "GMT"
	if local {
		tm = time.Unix(t, 0)
		zone, _ = tm.Zone()
	}
	n := len(dst)
	dst = strftime(dst, f, tm, zone)
	if len(dst) == n {
		dst = append(dst, "(none)"...)
	}
	return dst
}

// file is include, flastmod and fsize.
func (s *state) file(d *directive) {
	var filePath, virt string
	var isFile, isVirt bool
	for _, a := range d.attrs {
		switch a[0] {
		case "file":
			filePath, isFile = a[1], true
		case "virtual":
			virt, isVirt = a[1], true
		default:
			s.unknownAttr(d, a[0])
		}
	}
	rc := s.rc
	switch {
	case !isFile && !isVirt:
		rc.Logf("ssi: %s file or virtual is missing", d.cmd)
		return
	case isFile && isVirt:
		rc.Logf("ssi: %s only one of file and virtual is allowed here", d.cmd)
		return
	}
	if s.ifFalse {
		return
	}
	var tb string
	var target string
	if isFile {
		// Relative to the current document's directory, never above it.
		p, ok := s.decodeSimplify(filePath)
		if !ok {
			return
		}
		dir := s.physPath[:strings.LastIndexByte(s.physPath, '/')+1]
		target = joinPath(dir, p)
	} else {
		v := virt
		if !strings.HasPrefix(v, "/") {
			v = s.uriPath[:strings.LastIndexByte(s.uriPath, '/')+1] + v
		}
		p, ok := s.decodeSimplify(v)
		if !ok {
			return
		}
		target, tb = s.virtualPath(p)
	}
	if !rc.Conf.FollowSymlink && containsSymlink(target) {
		return
	}
	var st syscall.Stat_t
	f, err := os.OpenFile(target, os.O_RDONLY|noFollow(rc.Conf.FollowSymlink), 0)
	if err == nil {
		err = syscall.Fstat(int(f.Fd()), &st)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		rc.Logf("ssi: stating %s failed: %v", target, err)
		return
	}
	defer f.Close()
	switch d.cmd {
	case "fsize":
		size := st.Size
		if !s.abbrev {
			s.out = strconv.AppendInt(s.out, size, 10)
			return
		}
		units := [...]string{" B", " kB", " MB", " GB", " TB"}
		j := 0
		for ; size > 1024 && j+1 < len(units); j++ {
			size /= 1024
		}
		s.out = strconv.AppendInt(s.out, size, 10)
		s.out = append(s.out, units[j]...)
	case "flastmod":
		s.out = s.timefmtAppend(s.out, st.Mtim.Sec, true)
	case "include":
		if st.Mtim.Sec > s.newest {
			s.newest = st.Mtim.Sec
		}
		if isFile || s.conf.recursionMax == 0 {
			// Inserted as is: #include file, or no recursion allowed.
			var b bytes.Buffer
			b.ReadFrom(f)
			s.out = append(s.out, b.Bytes()...)
			return
		}
		if s.depth >= s.conf.recursionMax {
			s.out = append(s.out, "(error: include directives recurse deeper than pre-defined ssi.recursion-max)"...)
			return
		}
		if target == s.physPath {
			s.out = append(s.out, "(error: include directives create an infinite loop)"...)
			return
		}
		uri, rel, phys := s.uriPath, s.relPath, s.physPath
		s.uriPath, s.relPath, s.physPath = tb, tb, target
		s.depth++
		var inner syscall.Stat_t
		if err := s.processFile(&inner); err != nil {
			rc.Logf("open(): %s: %v", target, err)
		}
		s.depth--
		s.uriPath, s.relPath, s.physPath = uri, rel, phys
	}
}

// decodeSimplify URL-decodes and simplifies an include path; invalid
// UTF-8 is refused with lighttpd's log line.
func (s *state) decodeSimplify(p string) (string, bool) {
	dec := urinorm.DecodePath(nil, []byte(p))
	if !utf8.Valid(dec) {
		s.rc.Logf("SSI invalid UTF-8 after url-decode: %s", dec)
		return "", false
	}
	return string(urinorm.SimplifyPath(nil, dec)), true
}

// virtualPath maps a virtual include's URL path to a file: below the same
// physical directory as the current document when the paths share the
// part that maps there (so aliased directories work), else below the
// document root. tb is lower-cased here with server.force-lowercase-filenames.
func (s *state) virtualPath(tb string) (string, string) {
	u := s.uriPath
	i := 0
	for i < len(u) && i < len(tb) && u[i] == tb[i] {
		i++
	}
	for i != 0 {
		i--
		if u[i] == '/' {
			break
		}
	}
	lower := s.rc.Conf.ForceLowercase
	if lower {
		tb = strings.ToLower(tb)
	}
	remain := len(u) - i
	pp := s.physPath
	if len(pp) >= remain && len(s.relPath) >= i+remain {
		got, tail := pp[len(pp)-remain:], s.relPath[i:i+remain]
		if got == tail || (lower && strings.EqualFold(got, tail)) {
			return joinPath(pp[:len(pp)-remain], tb[i:]), tb
		}
	}
	return joinPath(s.rc.Phys.DocRoot, tb), tb
}

// joinPath joins with exactly one '/' between dir and rest.
func joinPath(dir, rest string) string {
	switch {
	case strings.HasSuffix(dir, "/") && strings.HasPrefix(rest, "/"):
		return dir + rest[1:]
	case !strings.HasSuffix(dir, "/") && !strings.HasPrefix(rest, "/") && dir != "" && rest != "":
		return dir + "/" + rest
	}
	return dir + rest
}

func noFollow(follow bool) int {
	if follow {
		return 0
	}
	return syscall.O_NOFOLLOW
}

// containsSymlink reports a symlink in any component of p.
func containsSymlink(p string) bool {
	for p != "/" && p != "" {
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			return true
		}
		p = path.Dir(p)
	}
	return false
}

func (s *state) set(d *directive) {
	var key, val string
	var hasKey, hasVal bool
	for _, a := range d.attrs {
		switch a[0] {
		case "var":
			key, hasKey = a[1], true
		case "value":
			val, hasVal = a[1], true
		default:
			s.unknownAttr(d, a[0])
		}
	}
	if s.ifFalse {
		return
	}
	switch {
	case hasKey && hasVal:
		s.vars[key] = val
	case hasKey || hasVal:
		// lighttpd prints the command and the first attribute's name.
		s.rc.Logf("ssi: var and value have to be set in <!--#set %s=%s -->", d.cmd, d.attrs[0][0])
	default:
		s.rc.Logf("ssi: var and value have to be set in <!--#set var=... value=... -->")
	}
}

func (s *state) config(d *directive) {
	if s.ifFalse {
		return
	}
	for _, a := range d.attrs {
		switch a[0] {
		case "timefmt":
			s.timefmt = a[1]
		case "sizefmt":
			switch a[1] {
			case "abbrev":
				s.abbrev = true
			case "bytes":
				s.abbrev = false
			default:
				s.rc.Logf("ssi: unknown value for attribute '%s' for %s %s", a[0], d.cmd, a[1])
			}
		default:
			s.unknownAttr(d, a[0])
		}
	}
}

// printenv lists the #set variables, then the CGI environment, each sorted
// by name length then bytes (lighttpd's array order), values XML-escaped.
func (s *state) printenv() {
	for _, m := range []map[string]string{s.vars, s.cgi} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if len(keys[i]) != len(keys[j]) {
				return len(keys[i]) < len(keys[j])
			}
			return keys[i] < keys[j]
		})
		for _, k := range keys {
			s.out = append(s.out, k...)
			s.out = append(s.out, '=')
			s.out = appendMinimalXML(s.out, m[k])
			s.out = append(s.out, '\n')
		}
	}
}

// appendMinimalXML escapes control bytes, '"', '&', '\”, '<', '>', '`'
// and DEL as &#xNN; (lighttpd's ENCODING_MINIMAL_XML).
func appendMinimalXML(dst []byte, v string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c == '"' || c == '&' || c == '\'' || c == '<' || c == '>' || c == '`' || c == 0x7f {
			dst = append(dst, '&', '#', 'x', hex[c>>4], hex[c&15], ';')
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// exec runs <!--#exec cmd="..." --> through /bin/sh -c with the server's
// environment, synchronously, inserting its output (ssi.exec).
func (s *state) exec(d *directive) {
	if !s.conf.exec {
		return
	}
	var cmd string
	has := false
	for _, a := range d.attrs {
		if a[0] == "cmd" {
			cmd, has = a[1], true
		} else {
			s.unknownAttr(d, a[0])
		}
	}
	if s.ifFalse || !has {
		return
	}
	c := exec.Command("/bin/sh", "-c", cmd)
	if p := s.rc.Conf.BreakageLog; p != "" {
		if f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			defer f.Close()
			c.Stderr = f
		}
	} else {
		c.Stderr = os.Stderr
	}
	out, err := c.Output()
	s.out = append(s.out, out...)
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Exited() {
				return // a non-zero exit is not reported
			}
			s.rc.Logf("process exited abnormally: %s", cmd)
			return
		}
		s.rc.Logf("spawning exec failed: %s: %v", cmd, err)
	}
}

func (s *state) exprAttr(d *directive) (string, bool) {
	var expr string
	has := false
	for _, a := range d.attrs {
		if a[0] == "expr" {
			expr, has = a[1], true
		} else {
			s.unknownAttr(d, a[0])
		}
	}
	if !has {
		s.rc.Logf("ssi: %s expr missing", d.cmd)
	}
	return expr, has
}

func (s *state) ifDirective(d *directive) {
	expr, ok := s.exprAttr(d)
	if !ok {
		return
	}
	if !s.ifFalse && (s.ifFalseLevel == 0 || s.ifLevel < s.ifFalseLevel) {
		if evalExpr(expr, s.lookup, s.rc.Logf) == 1 {
			s.ifFalse = false
		} else {
			s.ifFalse, s.ifFalseLevel = true, s.ifLevel
		}
	}
	s.ifLevel++
}

func (s *state) elif(d *directive) {
	expr, ok := s.exprAttr(d)
	if !ok {
		return
	}
	s.ifLevel--
	if s.ifLevel == s.ifFalseLevel {
		if s.ifFalse && !s.ifFalseEndif {
			if evalExpr(expr, s.lookup, s.rc.Logf) == 1 {
				s.ifFalse = false
			} else {
				s.ifFalse, s.ifFalseLevel = true, s.ifLevel
			}
		} else {
			s.ifFalse, s.ifFalseLevel, s.ifFalseEndif = true, s.ifLevel, true
		}
	}
	s.ifLevel++
}
