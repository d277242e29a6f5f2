// Package dirlisting is lighttpd's mod_dirlisting: an HTML index for GET and
// HEAD requests to a directory URL (ending in "/") that no other module
// handled, byte for byte as lighttpd 1.4.69 writes it.
package dirlisting

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/httpfile"
	"github.com/golighty/golighty/lighttpdconf"
	"github.com/golighty/golighty/lighttpdconf/regex"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_dirlisting", New: func() core.Module { return &Module{} }})
}

type conf struct {
	activate     bool
	hideDotfiles bool
	hideReadme   bool
	hideHeader   bool
	encodeReadme bool
	encodeHeader bool
	autoLayout   bool
	excludes     []*regex.Regexp
	externalCSS  string
	externalJS   string
	encoding     string
	showReadme   string // file name, "" when off
	showHeader   string
	setFooter    string // "" means server.tag
	cache        *cacheConf
}

// Module is one loaded mod_dirlisting.
type Module struct {
	table *core.Table[conf]
	// maxBusy and busy are lighttpd's limit on listings in progress (a
	// guard against many large listings at once): server.max-connections
	// >> 4 as configured, at least 1 (so 1 when the key is unset). Only a
	// directory large enough that lighttpd reads it in several event-loop
	// turns (32 entries or more) occupies a slot; while the slots are full,
	// listings are refused with 503.
	maxBusy int32
	busy    atomic.Int32
}

// batch is how many directory entries lighttpd reads per event-loop turn.
const batch = 32

var _ core.SubrequestStartHook = (*Module)(nil)

// Setup binds the dir-listing.* keys (and the historical server.dir-listing).
func (m *Module) Setup(sc *core.SetupContext) error {
	boolean := func(set func(*conf, bool)) func(core.Value) (func(*conf), error) {
		return func(v core.Value) (func(*conf), error) {
			b := v.Bool()
			return func(c *conf) { set(c, b) }, nil
		}
	}
	// str binds a string key whose blank value means unset.
	str := func(set func(*conf, string)) func(core.Value) (func(*conf), error) {
		return func(v core.Value) (func(*conf), error) {
			s := v.String()
			return func(c *conf) { set(c, s) }, nil
		}
	}
	// file binds show-readme / show-header: "enable" names the default file,
	// "disable" (or blank) turns the include off.
	file := func(def string, set func(*conf, string)) func(core.Value) (func(*conf), error) {
		return func(v core.Value) (func(*conf), error) {
			s := v.String()
			switch s {
			case "enable":
				s = def
			case "disable":
				s = ""
			}
			return func(c *conf) { set(c, s) }, nil
		}
	}
	m.maxBusy = max(int32(configuredMaxConns(sc.Config())>>4), 1)
	activate := boolean(func(c *conf, b bool) { c.activate = b })
	var err error
	m.table, err = core.Bind(sc, conf{hideDotfiles: true, encodeReadme: true, encodeHeader: true, autoLayout: true}, []core.Key[conf]{
		{Name: "dir-listing.activate", Type: core.TypeBool, Bind: activate},
		{Name: "server.dir-listing", Type: core.TypeBool, Bind: activate},
		{Name: "dir-listing.exclude", Type: core.TypeList, Bind: func(v core.Value) (func(*conf), error) {
			res, err := compileExcludes(v.List())
			if err != nil {
				return nil, err
			}
			return func(c *conf) { c.excludes = res }, nil
		}},
		{Name: "dir-listing.hide-dotfiles", Type: core.TypeBool, Bind: boolean(func(c *conf, b bool) { c.hideDotfiles = b })},
		{Name: "dir-listing.external-css", Type: core.TypeString, Bind: str(func(c *conf, s string) { c.externalCSS = s })},
		{Name: "dir-listing.external-js", Type: core.TypeString, Bind: str(func(c *conf, s string) { c.externalJS = s })},
		{Name: "dir-listing.encoding", Type: core.TypeString, Bind: str(func(c *conf, s string) { c.encoding = s })},
		{Name: "dir-listing.show-readme", Type: core.TypeString, Bind: file("README.txt", func(c *conf, s string) { c.showReadme = s })},
		{Name: "dir-listing.hide-readme-file", Type: core.TypeBool, Bind: boolean(func(c *conf, b bool) { c.hideReadme = b })},
		{Name: "dir-listing.show-header", Type: core.TypeString, Bind: file("HEADER.txt", func(c *conf, s string) { c.showHeader = s })},
		{Name: "dir-listing.hide-header-file", Type: core.TypeBool, Bind: boolean(func(c *conf, b bool) { c.hideHeader = b })},
		{Name: "dir-listing.set-footer", Type: core.TypeString, Bind: str(func(c *conf, s string) { c.setFooter = s })},
		{Name: "dir-listing.encode-readme", Type: core.TypeBool, Bind: boolean(func(c *conf, b bool) { c.encodeReadme = b })},
		{Name: "dir-listing.encode-header", Type: core.TypeBool, Bind: boolean(func(c *conf, b bool) { c.encodeHeader = b })},
		{Name: "dir-listing.auto-layout", Type: core.TypeBool, Bind: boolean(func(c *conf, b bool) { c.autoLayout = b })},
		{Name: "dir-listing.cache", Type: core.TypeKVAny, Bind: func(v core.Value) (func(*conf), error) {
			cc, err := parseCache(sc, v)
			if err != nil {
				return nil, err
			}
			return func(c *conf) { c.cache = cc }, nil
		}},
	})
	return err
}

func compileExcludes(list []string) ([]*regex.Regexp, error) {
	res := make([]*regex.Regexp, 0, len(list))
	for _, p := range list {
		re, err := regex.Compile(p)
		if err != nil {
			// lighttpd names the array key of the element, which a plain
			// list does not have.
			return nil, fmt.Errorf("%w\npcre_compile failed for (null)", err)
		}
		res = append(res, re)
	}
	return res, nil
}

// SubrequestStart answers GET and HEAD for a directory URL when listings
// are enabled for the request.
func (m *Module) SubrequestStart(rc *core.Request) core.Result {
	if rc.Handler != nil || !strings.HasSuffix(rc.URI.Path, "/") {
		return core.GoOn
	}
	if rc.Method != "GET" && rc.Method != "HEAD" {
		return core.GoOn
	}
	c := m.table.Resolve(rc)
	if !c.activate {
		return core.GoOn
	}
	if rc.Conf.LogRequestHandling {
		rc.Logf("-- handling the request as Dir-Listing")
		rc.Logf("URI          : %s", rc.URI.Path)
	}
	if c.cache != nil && serveCached(rc, &c) {
		return core.Finished
	}
	if m.busy.Load() >= m.maxBusy {
		// lighttpd also sets "Retry-After: 2", but the error document
		// that follows clears the response headers.
		return rc.Status(503)
	}
	dirs, files, err := m.readDir(rc.Phys.Path, &c, rc.Conf.FollowSymlink)
	if err != nil {
		rc.Logf("opendir %s: %s", rc.Phys.Path, errnoText(err))
		return rc.Status(403)
	}
	page := render(rc, &c, dirs, files)
	rc.Resp.Status = 200
	rc.Resp.Header.Set("Content-Type", contentType(c.encoding))
	rc.Resp.SetBody(page)
	if c.cache != nil {
		storeCached(rc, &c, page)
	}
	return core.Finished
}

func contentType(encoding string) string {
	if encoding == "" {
		return "text/html"
	}
	return "text/html;charset=" + encoding
}

// entry is one listed name with what its row shows.
type entry struct {
	name  string
	mtime int64
	size  int64
}

// readDir lists the directory at path without the names the config hides,
// split into directories and other files, each sorted byte-wise by name.
// Names are stat()ed following symlinks; a name that vanished is skipped.
func (m *Module) readDir(path string, c *conf, followSymlink bool) (dirs, files []entry, err error) {
	flags := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	if !followSymlink {
		flags |= unix.O_NOFOLLOW
	}
	dir := strings.TrimSuffix(path, "/")
	if dir == "" {
		dir = "/"
	}
	fd, err := unix.Open(dir, flags, 0)
	if err != nil {
		return nil, nil, err
	}
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, nil, err
	}
	if len(names)+2 >= batch { // readdir also returns "." and ".."
		m.busy.Add(1)
		defer m.busy.Add(-1)
	}
	// lighttpd skips names that would not fit in PATH_MAX with the directory.
	nameMax := 4096 - len(path) - 1
	for _, name := range names {
		if hidden(name, c) || len(name) > nameMax {
			continue
		}
		var st unix.Stat_t
		if unix.Fstatat(fd, name, &st, 0) != nil {
			continue
		}
		e := entry{name: name, mtime: st.Mtim.Sec, size: st.Size}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			dirs = append(dirs, e)
		} else {
			files = append(files, e)
		}
	}
	byName := func(l []entry) { sort.Slice(l, func(i, j int) bool { return l[i].name < l[j].name }) }
	byName(dirs)
	byName(files)
	return dirs, files, nil
}

// hidden applies dir-listing.hide-dotfiles, hide-readme-file,
// hide-header-file and exclude, in lighttpd's order. A name the exclude
// regexes cannot be matched against (invalid UTF-8) is hidden: lighttpd
// fails closed.
func hidden(name string, c *conf) bool {
	if name[0] == '.' && (c.hideDotfiles || name == "." || name == "..") {
		return true
	}
	if c.hideReadme && c.showReadme != "" && name == c.showReadme {
		return true
	}
	if c.hideHeader && c.showHeader != "" && name == c.showHeader {
		return true
	}
	for _, re := range c.excludes {
		if ok, err := re.MatchStringErr(name); ok || err != nil {
			return true
		}
	}
	return false
}

// Fixed parts of the page.
const (
	tableHead = "</h2>\n<div class=\"list\">\n" +
		"<table summary=\"Directory Listing\" cellpadding=\"0\" cellspacing=\"0\">\n" +
		"<thead><tr><th class=\"n\">Name</th><th class=\"m\">Last Modified</th>" +
		"<th class=\"s\">Size</th><th class=\"t\">Type</th></tr></thead>\n<tbody>\n"
	parentRow = "<tr class=\"d\"><td class=\"n\"><a href=\"../\">..</a>/</td>" +
		"<td class=\"m\">&nbsp;</td><td class=\"s\">- &nbsp;</td><td class=\"t\">Directory</td></tr>\n"
	tableFoot = "</tbody>\n</table>\n</div>\n"
	dateFmt   = "2006-Jan-02 15:04:05" // strftime "%Y-%b-%d %T" in the C locale
)

// render builds the whole page.
func render(rc *core.Request, c *conf, dirs, files []entry) []byte {
	b := make([]byte, 0, 1024+len(inlineCSS)+len(inlineJS)+200*(len(dirs)+len(files)))
	if c.autoLayout {
		b = append(b, "<!DOCTYPE html>\n<html>\n<head>\n"...)
		if c.encoding != "" {
			b = append(b, "<meta charset=\""...)
			b = append(b, c.encoding...)
			b = append(b, "\">\n"...)
		}
		b = append(b, "<title>Index of "...)
		b = AppendXML(b, rc.URI.Path)
		b = append(b, "</title>\n"...)
		if c.externalCSS != "" {
			b = append(b, "<meta name=\"viewport\" content=\"initial-scale=1\">"+
				"<link rel=\"stylesheet\" type=\"text/css\" href=\""...)
			b = append(b, c.externalCSS...)
			b = append(b, "\">\n"...)
		} else {
			b = append(b, inlineCSS...)
		}
		b = append(b, "</head>\n<body>\n"...)
	}
	if c.showHeader != "" {
		b = appendInclude(b, rc, c.showHeader, c.encodeHeader, "<pre class=\"header\">")
	}
	b = append(b, "<h2>Index of "...)
	b = AppendXML(b, rc.URI.Path)
	b = append(b, tableHead...)
	if rc.URI.Path != "/" {
		b = append(b, parentRow...)
	}
	for _, e := range dirs {
		b = append(b, "<tr class=\"d\"><td class=\"n\"><a href=\""...)
		b = AppendURIPart(b, e.name)
		b = append(b, "/\">"...)
		b = AppendXML(b, e.name)
		b = append(b, "</a>/</td><td class=\"m\">"...)
		b = time.Unix(e.mtime, 0).AppendFormat(b, dateFmt)
		b = append(b, "</td><td class=\"s\">- &nbsp;</td><td class=\"t\">Directory</td></tr>\n"...)
	}
	xattr := ""
	if rc.Conf.MimeUseXattr {
		xattr = rc.Snap.Core.Server.MimeXattrName
	}
	for _, e := range files {
		b = append(b, "<tr><td class=\"n\"><a href=\""...)
		b = AppendURIPart(b, e.name)
		b = append(b, "\">"...)
		b = AppendXML(b, e.name)
		b = append(b, "</a></td><td class=\"m\">"...)
		b = time.Unix(e.mtime, 0).AppendFormat(b, dateFmt)
		b = append(b, "</td><td class=\"s\">"...)
		b = AppendSize(b, e.size)
		b = append(b, "</td><td class=\"t\">"...)
		b = append(b, fileType(rc, xattr, e.name)...)
		b = append(b, "</td></tr>\n"...)
	}
	b = append(b, tableFoot...)
	if c.showReadme != "" {
		b = appendInclude(b, rc, c.showReadme, c.encodeReadme, "<pre class=\"readme\">")
	}
	if c.autoLayout {
		footer := c.setFooter
		if footer == "" {
			footer = rc.Conf.ServerTag
		}
		if footer != "" {
			b = append(b, "<div class=\"foot\">"...)
			b = append(b, footer...)
			b = append(b, "</div>\n"...)
		}
		if c.externalJS != "" {
			b = append(b, "<script type=\"text/javascript\" src=\""...)
			b = append(b, c.externalJS...)
			b = append(b, "\"></script>\n"...)
		} else {
			b = append(b, inlineJS...)
		}
		b = append(b, "</body>\n</html>\n"...)
	}
	return b
}

// fileType is the Type column: the xattr type with mimetype.use-xattr, else
// mimetype.assign by name, else application/octet-stream.
func fileType(rc *core.Request, xattr, name string) string {
	if xattr != "" {
		if t, ok := httpfile.XattrMimeType(joinSlash(rc.Phys.Path, name), xattr); ok {
			return t
		}
	}
	if t, ok := rc.Conf.Mime.Lookup(name); ok {
		return t
	}
	return "application/octet-stream"
}

// appendInclude adds the README/HEADER file: XML-escaped inside open/</pre>
// when encode is set, else verbatim. A relative name is looked up in the
// listed directory. A missing, unreadable or empty file adds nothing.
func appendInclude(b []byte, rc *core.Request, name string, encode bool, open string) []byte {
	path := name
	if name[0] != '/' {
		path = joinSlash(rc.Phys.Path, name)
	}
	flags := unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK
	if !rc.Conf.FollowSymlink {
		flags |= unix.O_NOFOLLOW
	}
	fd, err := unix.Open(path, flags, 0)
	if err != nil {
		return b
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return b
	}
	// A read error (a directory, say) ends the content where it stopped,
	// as lighttpd's read loop does.
	var buf [8192]byte
	if !encode {
		for {
			n, err := f.Read(buf[:])
			b = append(b, buf[:n]...)
			if err != nil || n == 0 {
				return b
			}
		}
	}
	b = append(b, open...)
	for {
		n, err := f.Read(buf[:])
		b = AppendXML(b, string(buf[:n]))
		if err != nil || n == 0 {
			break
		}
	}
	return append(b, "</pre>"...)
}

// joinSlash joins dir and name with exactly one slash.
func joinSlash(dir, name string) string {
	return strings.TrimSuffix(dir, "/") + "/" + strings.TrimPrefix(name, "/")
}

// AppendSize formats a file size as lighttpd's listing does: whole units and
// one digit of tenths (the remainder's hundreds, at most 9), a unit letter of
// KMGTPE. Sizes from 1 to 99 bytes get 99 added first so they show as 0.1K.
func AppendSize(b []byte, size int64) []byte {
	if size > 0 && size < 100 {
		size += 99
	}
	u := -1
	var remain int64
	for {
		remain = size & 1023
		size >>= 10
		u++
		if size&^1023 == 0 {
			break
		}
	}
	remain /= 100
	if remain > 9 {
		remain = 9
	}
	if size > 999 {
		size, remain = 0, 9
		u++
	}
	b = strconv.AppendInt(b, size, 10)
	return append(b, '.', byte('0'+remain), "KMGTPE"[u])
}

const hexUpper = "0123456789ABCDEF"

// AppendURIPart percent-encodes s for a relative link: everything except
// A-Z a-z 0-9 and ! ( ) * - . _ ~ (lighttpd's ENCODING_REL_URI_PART).
func AppendURIPart(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '!', c == '(', c == ')', c == '*', c == '-', c == '.', c == '_', c == '~':
			b = append(b, c)
		default:
			b = append(b, '%', hexUpper[c>>4], hexUpper[c&15])
		}
	}
	return b
}

// AppendXML escapes control characters, " & ' < > ` and DEL as &#xHH;
// (lighttpd's ENCODING_MINIMAL_XML); other bytes, UTF-8 included, pass.
func AppendXML(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20, c == '"', c == '&', c == '\'', c == '<', c == '>', c == '`', c == 0x7f:
			b = append(b, '&', '#', 'x', hexUpper[c>>4], hexUpper[c&15], ';')
		default:
			b = append(b, c)
		}
	}
	return b
}

// errnoText is the strerror text of err, as log_perror prints it.
func errnoText(err error) string {
	var errno unix.Errno
	if errors.As(err, &errno) && errno.Error() != "" {
		// Go's texts are strerror's, lower-cased.
		return strings.ToUpper(errno.Error()[:1]) + errno.Error()[1:]
	}
	return err.Error()
}

// configuredMaxConns is server.max-connections as written in the global
// block (0 when unset): lighttpd computes its listing limit before the
// server fills in the default.
func configuredMaxConns(cfg *lighttpdconf.Config) uint16 {
	var n uint16
	for _, b := range cfg.Blocks {
		if b.Index != 0 {
			continue
		}
		for _, e := range b.Entries {
			if !strings.EqualFold(e.Key, "server.max-connections") {
				continue
			}
			switch e.Value.Kind {
			case lighttpdconf.KindInteger:
				n = uint16(e.Value.Int)
			case lighttpdconf.KindString:
				if v, err := strconv.ParseInt(strings.TrimSpace(e.Value.Str), 10, 64); err == nil {
					n = uint16(v)
				}
			}
		}
	}
	return n
}

// element returns the value of key in a keyed config array
// (keys are caseless, as lighttpd's arrays).
func element(v core.Value, key string) (lighttpdconf.Value, bool) {
	for _, e := range v.Elements() {
		if e.HasKey && strings.EqualFold(e.Key, key) {
			return e.Value, true
		}
	}
	return lighttpdconf.Value{}, false
}

// InlineHooks marks the module for HTTP/2 requests on the reader
// (core.InlineHooks): its hook only claims directories (its handler reads
// them off the reader).
func (*Module) InlineHooks() {}
