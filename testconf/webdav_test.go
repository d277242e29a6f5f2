package testconf

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// webdavConf serves three shares: /dav with properties and locks in
// SQLite, /ro read-only, /nodb without a database (class 1 only). Each
// server gets its own document root and database.
const webdavConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.errorlog = "@ROOT@/error.log"
server.modules = ("mod_webdav")
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html", ".xml" => "application/xml")
$HTTP["url"] =~ "^/dav($|/)" {
	webdav.activate = "enable"
	webdav.sqlite-db-name = "@ROOT@/webdav.db"
}
$HTTP["url"] =~ "^/ro($|/)" {
	webdav.activate = "enable"
	webdav.is-readonly = "enable"
}
$HTTP["url"] =~ "^/nodb($|/)" {
	webdav.activate = "enable"
}
$HTTP["url"] =~ "^/pp($|/)" {
	webdav.activate = "enable"
	webdav.opts = ("partial-put-copy-modify" => "enable")
}
$HTTP["url"] =~ "^/inf($|/)" {
	webdav.activate = "enable"
	webdav.sqlite-db-name = "@ROOT@/webdav.db"
	webdav.opts = ("propfind-depth-infinity" => "enable")
}
`

// webdavStep is one request of a side-by-side WebDAV session. In req,
// @TOKEN@ stands for the lock token the server gave in the last LOCK.
type webdavStep struct {
	name string
	req  string
}

// webdavBody makes a request with an XML body.
func webdavBody(method, path, headers, body string) string {
	return fmt.Sprintf("%s %s HTTP/1.1\r\nHost: dav.test\r\nConnection: close\r\n%sContent-Type: application/xml\r\nContent-Length: %d\r\n\r\n%s",
		method, path, headers, len(body), body)
}

// webdavReq makes a request without a body.
func webdavReq(method, path, headers string) string {
	return fmt.Sprintf("%s %s HTTP/1.1\r\nHost: dav.test\r\nConnection: close\r\n%s\r\n", method, path, headers)
}

// webdavMask hides what legitimately differs between two servers on two
// document roots: ETags (other inodes), modification times, lock tokens
// and lock timeouts (lighttpd shows the timeout it was given, golighty the
// time left).
var webdavMask = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`<D:getetag>"[0-9]+"</D:getetag>`), `<D:getetag>"E"</D:getetag>`},
	{regexp.MustCompile(`<D:getlastmodified ns0:dt="dateTime.rfc1123">[^<]*</D:getlastmodified>`), `<D:getlastmodified ns0:dt="dateTime.rfc1123">T</D:getlastmodified>`},
	{regexp.MustCompile(`urn:uuid:[0-9a-f-]{36}`), `urn:uuid:U`},
	{regexp.MustCompile(`<D:timeout>Second-[0-9]+</D:timeout>`), `<D:timeout>Second-N</D:timeout>`},
}

func webdavNormalize(raw []byte) (status string, headers []string, body string) {
	status, hs, b := splitResponse(raw)
	body = string(b)
	for _, m := range webdavMask {
		body = m.re.ReplaceAllString(body, m.with)
	}
	masked := body != string(b)
	for _, h := range hs {
		switch {
		case strings.HasPrefix(h, "ETag: "):
			h = "ETag: E"
		case strings.HasPrefix(h, "Last-Modified: "):
			h = "Last-Modified: T"
		case strings.HasPrefix(h, "Lock-Token: "):
			h = "Lock-Token: <urn:uuid:U>"
		case strings.HasPrefix(h, "Content-Length: ") && masked:
			continue
		}
		headers = append(headers, h)
	}
	return status, headers, body
}

var webdavToken = regexp.MustCompile(`Lock-Token: <([^>]*)>`)

// webdavSession runs steps against both servers in order and requires the
// same status line, headers and body from each (after webdavNormalize).
func webdavSession(t *testing.T, g, l *server, steps []webdavStep) {
	t.Helper()
	tokens := map[*server]string{}
	for i, st := range steps {
		t.Run(fmt.Sprintf("%02d_%s", i, st.name), func(t *testing.T) {
			var out [2][]byte
			for j, s := range []*server{g, l} {
				req := strings.ReplaceAll(st.req, "@TOKEN@", tokens[s])
				ex := s.raw(t, req, strings.HasPrefix(req, "HEAD "))
				out[j] = ex.raw
				if m := webdavToken.FindSubmatch(ex.raw); m != nil {
					tokens[s] = string(m[1])
				}
			}
			gs, gh, gb := webdavNormalize(out[0])
			ls, lh, lb := webdavNormalize(out[1])
			if gs != ls {
				t.Fatalf("status: golighty %q, lighttpd %q\ngolighty: %q\nlighttpd: %q", gs, ls, out[0], out[1])
			}
			if strings.Join(gh, "\n") != strings.Join(lh, "\n") {
				t.Errorf("headers differ:\ngolighty:\n%s\nlighttpd:\n%s", strings.Join(gh, "\n"), strings.Join(lh, "\n"))
			}
			if gb != lb {
				t.Errorf("body differs:\ngolighty %q\nlighttpd %q", gb, lb)
			}
		})
	}
}

// webdavStart starts golighty and lighttpd on the same configuration, each
// with its own document root holding files.
func webdavStart(t *testing.T, conf string, files map[string]string) (g, l *server, groot, lroot string) {
	t.Helper()
	lighttpd := requirePeer(t, "lighttpd")
	if _, err := os.Stat("/usr/lib/lighttpd/mod_webdav.so"); err != nil {
		if os.Getenv("GOLIGHTY_REQUIRE_PEERS") == "1" {
			t.Fatal("lighttpd-mod-webdav is required (GOLIGHTY_REQUIRE_PEERS=1) but not installed")
		}
		t.Skip("lighttpd-mod-webdav not installed")
	}
	root := t.TempDir()
	groot, lroot = filepath.Join(root, "g"), filepath.Join(root, "l")
	for _, r := range []string{groot, lroot} {
		writeTree(t, r, files)
	}
	g = startServer(t, "golighty", golightyBin, groot, strings.ReplaceAll(conf, "@ROOT@", groot))
	l = startServer(t, "lighttpd", lighttpd, lroot, strings.ReplaceAll(conf, "@ROOT@", lroot))
	return g, l, groot, lroot
}

const (
	webdavAllprop  = `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`
	webdavPropname = `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>`
	webdavNamed    = `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:z"><D:prop><D:getcontentlength/><D:getcontenttype/><Z:color/><Z:missing/><D:lockdiscovery/><D:resourcetype/></D:prop></D:propfind>`
	webdavSetProps = `<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:color>blue &amp; &lt;green&gt;</Z:color></D:prop></D:set><D:set><D:prop><Z:size>12<Z:inner>x</Z:inner>3</Z:size></D:prop></D:set><D:set><D:prop><Z:uni>é€😀</Z:uni></D:prop></D:set></D:propertyupdate>`
	webdavNoDecl   = `<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:plain>é&#x10000;&#13;</Z:plain></D:prop></D:set></D:propertyupdate>`
	webdavExclLock = `<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>litmus &amp; co</D:owner></D:lockinfo>`
	webdavShrLock  = `<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>http://x/</D:href></D:owner></D:lockinfo>`
)

func TestWebDAVSideBySide(t *testing.T) {
	g, l, _, _ := webdavStart(t, webdavConf, map[string]string{
		"www/dav/a.txt":          "hello\n",
		"www/dav/b.html":         "<p>b</p>\n",
		"www/dav/noext":          "x",
		"www/dav/sub/c.txt":      "c",
		"www/dav/sub/deep/d.txt": "d",
		"www/ro/r.txt":           "r",
		"www/pp/p.txt":           "0123456789",
		"www/nodb/n.txt":         "n",
		"www/inf/x/y/z.txt":      "z",
	})
	steps := []webdavStep{
		{"options dav", webdavReq("OPTIONS", "/dav/", "")},
		{"options ro", webdavReq("OPTIONS", "/ro/", "")},
		{"options outside", webdavReq("OPTIONS", "/a.txt", "")},
		{"propfind file depth0", webdavReq("PROPFIND", "/dav/a.txt", "Depth: 0\r\n")},
		{"propfind dir depth1", webdavReq("PROPFIND", "/dav/sub/", "Depth: 1\r\n")},
		{"propfind dir no slash", webdavReq("PROPFIND", "/dav/sub", "Depth: 0\r\n")},
		{"propfind file slash", webdavReq("PROPFIND", "/dav/a.txt/", "Depth: 0\r\n")},
		{"propfind missing", webdavReq("PROPFIND", "/dav/nope", "Depth: 0\r\n")},
		{"propfind infinity refused", webdavReq("PROPFIND", "/dav/", "Depth: infinity\r\n")},
		{"propfind no depth refused", webdavReq("PROPFIND", "/dav/", "")},
		{"propfind huge depth", webdavReq("PROPFIND", "/dav/", "Depth: 99999999\r\n")},
		{"propfind infinity allowed", webdavReq("PROPFIND", "/inf/", "Depth: infinity\r\n")},
		{"propfind allprop", webdavBody("PROPFIND", "/dav/a.txt", "Depth: 0\r\n", webdavAllprop)},
		{"propfind propname", webdavBody("PROPFIND", "/dav/b.html", "Depth: 0\r\n", webdavPropname)},
		{"propfind named", webdavBody("PROPFIND", "/dav/noext", "Depth: 0\r\n", webdavNamed)},
		{"propfind bad xml", webdavBody("PROPFIND", "/dav/a.txt", "Depth: 0\r\n", "<D:propfind xmlns:D=\"DAV:\"><D:prop>")},
		{"propfind other root", webdavBody("PROPFIND", "/dav/a.txt", "Depth: 0\r\n", "<x/>")},
		{"propfind empty prefix ns", webdavBody("PROPFIND", "/dav/a.txt", "Depth: 0\r\n", `<D:propfind xmlns:D="DAV:"><D:prop><bar:foo xmlns:bar=""/></D:prop></D:propfind>`)},
		{"propfind wrong type", strings.Replace(webdavBody("PROPFIND", "/dav/a.txt", "Depth: 0\r\n", webdavAllprop), "application/xml", "text/plain", 1)},
		{"propfind too many", webdavBody("PROPFIND", "/dav/a.txt", "Depth: 0\r\n", `<D:propfind xmlns:D="DAV:"><D:prop>`+strings.Repeat(`<D:x1/>`, 33)+`</D:prop></D:propfind>`)},
		{"proppatch set", webdavBody("PROPPATCH", "/dav/a.txt", "", webdavSetProps)},
		{"proppatch no decl", webdavBody("PROPPATCH", "/dav/a.txt", "", webdavNoDecl)},
		{"propfind dead", webdavBody("PROPFIND", "/dav/a.txt", "Depth: 0\r\n", webdavAllprop)},
		{"propfind named dead", webdavBody("PROPFIND", "/dav/a.txt", "Depth: 0\r\n", webdavNamed)},
		{"propfind propname dead", webdavBody("PROPFIND", "/dav/a.txt", "Depth: 0\r\n", webdavPropname)},
		{"proppatch protected", webdavBody("PROPPATCH", "/dav/a.txt", "", `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:getetag>x</D:getetag></D:prop></D:set></D:propertyupdate>`)},
		{"proppatch remove", webdavBody("PROPPATCH", "/dav/a.txt", "", `<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:remove><D:prop><Z:size/></D:prop></D:remove></D:propertyupdate>`)},
		{"proppatch dir", webdavBody("PROPPATCH", "/dav/sub", "", `<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:k>v</Z:k></D:prop></D:set></D:propertyupdate>`)},
		{"proppatch wrong root", webdavBody("PROPPATCH", "/dav/a.txt", "", `<D:propfind xmlns:D="DAV:"/>`)},
		{"proppatch empty", webdavReq("PROPPATCH", "/dav/a.txt", "Content-Length: 0\r\n")},
		{"proppatch nodb", webdavBody("PROPPATCH", "/nodb/n.txt", "", webdavSetProps)},
		{"proppatch missing", webdavBody("PROPPATCH", "/dav/nope", "", webdavSetProps)},
		{"mkcol", webdavReq("MKCOL", "/dav/newcol", "")},
		{"mkcol again", webdavReq("MKCOL", "/dav/newcol/", "")},
		{"mkcol on file", webdavReq("MKCOL", "/dav/a.txt", "")},
		{"mkcol no parent", webdavReq("MKCOL", "/dav/x/y/", "")},
		{"mkcol with body", webdavBody("MKCOL", "/dav/withbody/", "", "<x/>")},
		{"mkcol read-only", webdavReq("MKCOL", "/ro/new/", "")},
		{"put new", webdavBody("PUT", "/dav/new.txt", "", "new file")},
		{"get new", webdavReq("GET", "/dav/new.txt", "")},
		{"put replace", webdavBody("PUT", "/dav/new.txt", "", "replaced")},
		{"put empty new", webdavReq("PUT", "/dav/empty.txt", "Content-Length: 0\r\n")},
		{"put empty again", webdavReq("PUT", "/dav/empty.txt", "Content-Length: 0\r\n")},
		{"put on collection", webdavBody("PUT", "/dav/sub/", "", "x")},
		{"put no parent", webdavBody("PUT", "/dav/none/x.txt", "", "x")},
		{"put range", webdavBody("PUT", "/dav/new.txt", "Content-Range: bytes 0-1/*\r\n", "RE")},
		{"put if-match fails", webdavBody("PUT", "/dav/new.txt", "If-Match: \"1\"\r\n", "x")},
		{"put if-none-match star", webdavBody("PUT", "/dav/new.txt", "If-None-Match: *\r\n", "x")},
		{"put read-only", webdavBody("PUT", "/ro/r.txt", "", "x")},
		{"copy file", webdavReq("COPY", "/dav/a.txt", "Destination: http://dav.test/dav/copy.txt\r\n")},
		{"copy overwrite F", webdavReq("COPY", "/dav/a.txt", "Destination: /dav/copy.txt\r\nOverwrite: F\r\n")},
		{"copy overwrite T", webdavReq("COPY", "/dav/b.html", "Destination: /dav/copy.txt\r\nOverwrite: T\r\n")},
		{"copy bad overwrite", webdavReq("COPY", "/dav/a.txt", "Destination: /dav/c2.txt\r\nOverwrite: yes\r\n")},
		{"copy no destination", webdavReq("COPY", "/dav/a.txt", "")},
		{"copy other host", webdavReq("COPY", "/dav/a.txt", "Destination: http://evil.test/dav/c3.txt\r\n")},
		{"copy other scheme", webdavReq("COPY", "/dav/a.txt", "Destination: https://dav.test/dav/c3.txt\r\n")},
		{"copy userinfo", webdavReq("COPY", "/dav/a.txt", "Destination: http://u@dav.test/dav/c4.txt\r\n")},
		{"copy traversal", webdavReq("COPY", "/dav/a.txt", "Destination: /dav/../../../../../tmp/escape.txt\r\n")},
		{"copy traversal encoded", webdavReq("COPY", "/dav/a.txt", "Destination: /dav/%2e%2e/%2e%2e/escape2.txt\r\n")},
		{"copy query dropped", webdavReq("COPY", "/dav/a.txt", "Destination: /dav/q.txt?x=../../y\r\n")},
		{"copy invalid utf8", webdavReq("COPY", "/dav/a.txt", "Destination: /dav/%ff.txt\r\n")},
		{"copy onto itself", webdavReq("COPY", "/dav/sub/", "Destination: /dav/sub/inner/\r\n")},
		{"copy file into dir", webdavReq("COPY", "/dav/noext", "Destination: /dav/newcol/\r\n")},
		{"copy no parent", webdavReq("COPY", "/dav/a.txt", "Destination: /dav/none/a.txt\r\n")},
		{"copy dir", webdavReq("COPY", "/dav/sub/", "Destination: /dav/sub2/\r\n")},
		{"copy dir depth0", webdavReq("COPY", "/dav/sub/", "Destination: /dav/sub3/\r\nDepth: 0\r\n")},
		{"copy dir depth1", webdavReq("COPY", "/dav/sub/", "Destination: /dav/sub4/\r\nDepth: 1\r\n")},
		{"copy dir no slash", webdavReq("COPY", "/dav/sub", "Destination: /dav/sub5/\r\n")},
		{"propfind copied", webdavReq("PROPFIND", "/dav/sub2/", "Depth: 1\r\n")},
		{"move file", webdavReq("MOVE", "/dav/copy.txt", "Destination: /dav/moved.txt\r\n")},
		{"move missing", webdavReq("MOVE", "/dav/copy.txt", "Destination: /dav/moved2.txt\r\n")},
		{"move overwrite F", webdavReq("MOVE", "/dav/moved.txt", "Destination: /dav/a.txt\r\nOverwrite: F\r\n")},
		{"move dir", webdavReq("MOVE", "/dav/sub2/", "Destination: /dav/sub6/\r\n")},
		{"move dir depth0", webdavReq("MOVE", "/dav/sub6/", "Destination: /dav/sub7/\r\nDepth: 0\r\n")},
		{"move with body", webdavBody("MOVE", "/dav/sub6/", "Destination: /dav/sub7/\r\n", "<x/>")},
		{"propfind moved props", webdavBody("PROPFIND", "/dav/moved.txt", "Depth: 0\r\n", webdavAllprop)},
		{"delete fragment", webdavReq("DELETE", "/dav/moved.txt#frag", "")},
		{"delete file", webdavReq("DELETE", "/dav/moved.txt", "")},
		{"delete missing", webdavReq("DELETE", "/dav/moved.txt", "")},
		{"delete dir depth0", webdavReq("DELETE", "/dav/sub6/", "Depth: 0\r\n")},
		{"delete dir", webdavReq("DELETE", "/dav/sub6", "")},
		{"delete read-only", webdavReq("DELETE", "/ro/r.txt", "")},
		{"lock depth1", webdavBody("LOCK", "/dav/a.txt", "Depth: 1\r\n", webdavExclLock)},
		{"lock bad root", webdavBody("LOCK", "/dav/a.txt", "", `<D:propfind xmlns:D="DAV:"/>`)},
		{"lock no scope", webdavBody("LOCK", "/dav/a.txt", "", `<D:lockinfo xmlns:D="DAV:"><D:locktype><D:write/></D:locktype></D:lockinfo>`)},
		{"lock exclusive", webdavBody("LOCK", "/dav/a.txt", "Timeout: Second-100\r\n", webdavExclLock)},
		{"lock conflict", webdavBody("LOCK", "/dav/a.txt", "", webdavShrLock)},
		{"lockdiscovery", webdavBody("PROPFIND", "/dav/a.txt", "Depth: 0\r\n", `<D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>`)},
		{"put without token", webdavBody("PUT", "/dav/a.txt", "", "changed")},
		{"put other token", webdavBody("PUT", "/dav/a.txt", "If: (<urn:uuid:00000000-0000-0000-0000-000000000000>)\r\n", "changed")},
		{"put with token", webdavBody("PUT", "/dav/a.txt", "If: (<@TOKEN@>)\r\n", "changed")},
		{"put token no-lock", webdavBody("PUT", "/dav/a.txt", "If: (<@TOKEN@>) (<DAV:no-lock>)\r\n", "changed")},
		{"put token not no-lock", webdavBody("PUT", "/dav/a.txt", "If: (Not <DAV:no-lock> <@TOKEN@>)\r\n", "changed")},
		{"put token bad etag", webdavBody("PUT", "/dav/a.txt", "If: (<@TOKEN@> [\"123\"])\r\n", "changed")},
		{"delete locked", webdavReq("DELETE", "/dav/a.txt", "")},
		{"move locked", webdavReq("MOVE", "/dav/a.txt", "Destination: /dav/a2.txt\r\n")},
		{"copy onto locked", webdavReq("COPY", "/dav/b.html", "Destination: /dav/a.txt\r\n")},
		{"refresh", webdavReq("LOCK", "/dav/a.txt", "If: (<@TOKEN@>)\r\nTimeout: Second-200\r\n")},
		{"refresh bad if", webdavReq("LOCK", "/dav/a.txt", "If: <@TOKEN@>\r\n")},
		{"unlock bad header", webdavReq("UNLOCK", "/dav/a.txt", "Lock-Token: @TOKEN@\r\n")},
		{"unlock wrong uri", webdavReq("UNLOCK", "/dav/b.html", "Lock-Token: <@TOKEN@>\r\n")},
		{"unlock", webdavReq("UNLOCK", "/dav/a.txt", "Lock-Token: <@TOKEN@>\r\n")},
		{"unlock again", webdavReq("UNLOCK", "/dav/a.txt", "Lock-Token: <@TOKEN@>\r\n")},
		{"put token unlocked", webdavBody("PUT", "/dav/a.txt", "If: (<@TOKEN@>)\r\n", "changed")},
		{"lock unmapped", webdavBody("LOCK", "/dav/unmapped.txt", "", webdavShrLock)},
		{"lock shared again", webdavBody("LOCK", "/dav/unmapped.txt", "", webdavShrLock)},
		{"put shared no token", webdavBody("PUT", "/dav/unmapped.txt", "", "x")},
		{"put shared token", webdavBody("PUT", "/dav/unmapped.txt", "If: (<@TOKEN@>)\r\n", "x")},
		{"lock collection", webdavBody("LOCK", "/dav/newcol/", "", webdavExclLock)},
		{"put in locked collection", webdavBody("PUT", "/dav/newcol/f.txt", "", "x")},
		{"put in locked collection token", webdavBody("PUT", "/dav/newcol/f.txt", "If: </dav/newcol/> (<@TOKEN@>)\r\n", "x")},
		{"lockdiscovery depth1", webdavReq("PROPFIND", "/dav/newcol/", "Depth: 1\r\n")},
		{"lock member conflict", webdavBody("LOCK", "/dav/newcol/f.txt", "", webdavExclLock)},
		{"lock collection no slash", webdavBody("LOCK", "/dav/sub", "", webdavExclLock)},
		{"lock nodb", webdavBody("LOCK", "/nodb/n.txt", "", webdavExclLock)},
		{"put empty token unlocked", webdavBody("PUT", "/dav/b.html", "If: (<>)\r\n", "x")},
		{"lock pretty body", webdavBody("LOCK", "/dav/b.html", "", "<D:lockinfo xmlns:D=\"DAV:\">\n <D:lockscope> <D:exclusive/> </D:lockscope>\n <D:locktype><D:write/></D:locktype>\n</D:lockinfo>")},
		{"lock infinite timeout", webdavBody("LOCK", "/dav/b.html", "Timeout: Infinite\r\n", webdavExclLock)},
		{"propfind latin1 body", "PROPFIND /dav/b.html HTTP/1.1\r\nHost: dav.test\r\nConnection: close\r\nDepth: 0\r\nContent-Type: text/xml; charset=iso-8859-1\r\nContent-Length: 113\r\n\r\n<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><D:propfind xmlns:D=\"DAV:\"><D:prop><D:getetag/></D:prop></D:propfind>"},
		{"partial put", webdavBody("PUT", "/pp/p.txt", "Content-Range: bytes 2-3/10\r\n", "AB")},
		{"partial put result", webdavReq("GET", "/pp/p.txt", "")},
		{"partial put past the end", webdavBody("PUT", "/pp/p.txt", "Content-Range: bytes 12-13/*\r\n", "ZZ")},
		{"partial put past the end result", webdavReq("GET", "/pp/p.txt", "")},
		{"partial put bad unit", webdavBody("PUT", "/pp/p.txt", "Content-Range: items 1-2/*\r\n", "x")},
		{"partial put bad offset", webdavBody("PUT", "/pp/p.txt", "Content-Range: bytes -1-2/*\r\n", "x")},
		{"partial put missing file", webdavBody("PUT", "/pp/none.txt", "Content-Range: bytes 0-1/*\r\n", "xy")},
		{"unknown method", webdavReq("REPORT", "/dav/a.txt", "")},
		{"get dir", webdavReq("GET", "/dav/sub/", "")},
	}
	webdavSession(t, g, l, steps)
}

// TestWebDAVDestinationTraversal checks that no Destination, however
// encoded, writes outside the document root.
func TestWebDAVDestinationTraversal(t *testing.T) {
	g, _, groot, _ := webdavStart(t, webdavConf, map[string]string{"www/dav/a.txt": "a", "www/dav/sub/b.txt": "b"})
	outside := filepath.Join(groot, "outside")
	for _, d := range []string{
		"/dav/../../outside/x1", "/dav/%2e%2e/%2e%2e/outside/x2", "/dav/%2E%2E%2F%2E%2E%2Foutside%2Fx3",
		"/dav/..%2f..%2foutside/x4", "/dav/./../.././outside/x5", "/../outside/x6", "//outside/x7",
		"/dav/sub/../../../outside/x8", "http://dav.test/../outside/x9", "/dav/%00/../../outside/x10",
		"/dav/\\..\\..\\outside\\x11",
	} {
		for _, method := range []string{"COPY", "MOVE"} {
			ex := g.raw(t, webdavReq(method, "/dav/sub/", "Destination: "+d+"\r\n"), false)
			if ex.resp == nil {
				t.Fatalf("%s %s: no response", method, d)
			}
			if _, err := os.Stat(outside); err == nil {
				t.Fatalf("%s to %q created %s (status %d)", method, d, outside, ex.resp.StatusCode)
			}
		}
	}
	// Whatever the Destination mapped to stayed below the document root.
	filepath.Walk(groot, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !strings.HasPrefix(p, filepath.Join(groot, "www")) && p != groot && !strings.HasSuffix(p, ".db") &&
			!strings.HasSuffix(p, ".log") && !strings.HasSuffix(p, ".conf") && !strings.HasSuffix(p, ".db-journal") {
			t.Errorf("unexpected file outside the document root: %s", p)
		}
		return nil
	})
}

// TestWebDAVSymlinks checks lighttpd's treatment of symlinks inside a
// share: PROPFIND does not descend into them, COPY refuses to copy them,
// DELETE removes the link and never what it points to, MOVE moves the link.
func TestWebDAVSymlinks(t *testing.T) {
	g, l, groot, lroot := webdavStart(t, webdavConf, map[string]string{"www/dav/a.txt": "a", "secret/s.txt": "secret"})
	for _, root := range []string{groot, lroot} {
		for _, ln := range []struct{ target, name string }{
			{filepath.Join(root, "secret"), "www/dav/dirlink"},
			{filepath.Join(root, "secret/s.txt"), "www/dav/filelink"},
			{"/etc", "www/dav/coll/etc"},
		} {
			os.MkdirAll(filepath.Join(root, filepath.Dir(ln.name)), 0o755)
			if err := os.Symlink(ln.target, filepath.Join(root, ln.name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	webdavSession(t, g, l, []webdavStep{
		{"propfind lists links", webdavReq("PROPFIND", "/dav/", "Depth: 1\r\n")},
		{"propfind dir link", webdavReq("PROPFIND", "/dav/dirlink", "Depth: 1\r\n")},
		{"copy file link", webdavReq("COPY", "/dav/filelink", "Destination: /dav/copied\r\n")},
		{"copy collection with link", webdavReq("COPY", "/dav/coll/", "Destination: /dav/coll2/\r\n")},
		{"propfind copied collection", webdavReq("PROPFIND", "/dav/coll2/", "Depth: 1\r\n")},
		{"move file link", webdavReq("MOVE", "/dav/filelink", "Destination: /dav/moved-link\r\n")},
		{"put over link", webdavBody("PUT", "/dav/moved-link", "", "replaced")},
		{"delete collection with link", webdavReq("DELETE", "/dav/coll/", "")},
		{"delete dir link", webdavReq("DELETE", "/dav/dirlink", "")},
	})
	for _, root := range []string{groot, lroot} {
		if b, err := os.ReadFile(filepath.Join(root, "secret/s.txt")); err != nil || string(b) != "secret" {
			t.Errorf("%s: the link target was changed: %q, %v", root, b, err)
		}
		if _, err := os.Stat("/etc/passwd"); err != nil {
			t.Fatal("/etc/passwd is gone")
		}
	}
}

// webdavFilesEqual reports whether two trees hold the same names and
// contents (what lighttpd and golighty left behind).
func webdavFilesEqual(t *testing.T, a, b string) {
	t.Helper()
	list := func(root string) map[string]string {
		m := map[string]string{}
		filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err != nil || p == root {
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			switch {
			case fi.Mode()&os.ModeSymlink != 0:
				dst, _ := os.Readlink(p)
				m[rel] = "link:" + strings.TrimPrefix(dst, root)
			case fi.IsDir():
				m[rel] = "dir"
			default:
				c, _ := os.ReadFile(p)
				m[rel] = string(c)
			}
			return nil
		})
		return m
	}
	ma, mb := list(a), list(b)
	if fmt.Sprint(ma) != fmt.Sprint(mb) {
		t.Errorf("trees differ:\ngolighty %v\nlighttpd %v", ma, mb)
	}
}

// TestWebDAVPUTDisconnect cuts a PUT off in the middle of its body over a
// real socket, on both servers: neither leaves the partial upload (nor a
// temporary file) in the share, and an older file keeps its content.
func TestWebDAVPUTDisconnect(t *testing.T) {
	g, l, groot, lroot := webdavStart(t, webdavConf, map[string]string{"www/dav/old.txt": "old"})
	for _, s := range []struct {
		srv  *server
		root string
	}{{g, groot}, {l, lroot}} {
		for _, path := range []string{"/dav/new.bin", "/dav/old.txt"} {
			c, err := net.Dial("tcp", s.srv.addr)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(c, "PUT %s HTTP/1.1\r\nHost: dav.test\r\nContent-Length: %d\r\n\r\n", path, 8<<20)
			c.Write(bytes.Repeat([]byte("p"), 1<<20))
			time.Sleep(100 * time.Millisecond) // the server is writing the body
			c.Close()
		}
		// A request on a new connection is answered once the server is
		// past the abandoned ones.
		deadline := time.Now().Add(5 * time.Second)
		for {
			ents, _ := os.ReadDir(filepath.Join(s.root, "www/dav"))
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			got := strings.Join(names, ",")
			old, _ := os.ReadFile(filepath.Join(s.root, "www/dav/old.txt"))
			if got == "old.txt" && string(old) == "old" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: share holds %q, old.txt %d bytes", s.srv.name, got, len(old))
			}
			time.Sleep(50 * time.Millisecond)
		}
		if ex := s.srv.raw(t, webdavReq("GET", "/dav/old.txt", ""), false); ex.resp == nil || string(ex.body) != "old" {
			t.Fatalf("%s: GET old.txt after the abandoned PUT = %q", s.srv.name, ex.raw)
		}
	}
}
