package testconf

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const ssiConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_alias", "mod_ssi")
index-file.names = ("index.shtml")
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html")
ssi.extension = (".shtml", ".ssi")
alias.url = ("/aliased/" => "@ROOT@/other/")
$HTTP["url"] =^ "/rec/" { ssi.recursion-max = 2 }
$HTTP["url"] =^ "/cond/" { ssi.conditional-requests = "enable" ssi.content-type = "text/x-ssi" }
$HTTP["url"] =^ "/noexec/" { ssi.exec = "disable" }
`

// ssiPage exercises every directive lighttpd's mod_ssi accepts.
const ssiPage = `<html>
name=<!--#echo var="DOCUMENT_NAME" --> uri=<!--#echo var="DOCUMENT_URI" -->
q=<!--#echo var="QUERY_STRING" --> host=<!--#echo var=HTTP_HOST --> none=<!--#echo var="NOPE" -->
script_url=<!--#echo var="SCRIPT_URL" --> script_uri=<!--#echo var="SCRIPT_URI" -->
<!--#set var="who" value="world" -->hello <!--#echo var="who" -->
<!--#set var='q2' value='single quoted' --><!--#echo var="q2" -->
<!--#echo var="who" encoding="none" --><!--#echo -->
<!--#if expr="$who = world" -->if-true<!--#elif expr="1" -->elif<!--#else -->else<!--#endif -->
<!--#if expr="$who != world" -->no<!--#elif expr="${who} = 'world'" -->elif-true<!--#else -->no<!--#endif -->
<!--#if expr="(a && b) || !c" -->paren-true<!--#endif -->
<!--#if expr="'' || ($NOPE)" -->no<!--#else -->empty-false<!--#endif -->
<!--#if expr="b < c && 10 > 9 && aa >= aa && z <= a" -->cmp-no<!--#else -->cmp-else<!--#endif -->
<!--#if expr="a = b" --><!--#if expr="1" -->nested-hidden<!--#endif --><!--#else -->outer-else<!--#endif -->
<!--#if expr="a &| b" -->bad<!--#else -->bad-else<!--#endif -->
<!--#if expr="((((((((((((((((((1))))))))))))))))))" -->deep<!--#else -->too-deep<!--#endif -->
<!--#config sizefmt="bytes" --><!--#fsize file="sized.bin" --> <!--#fsize virtual="/sized.bin" -->
<!--#config sizefmt="abbrev" --><!--#fsize file="sized.bin" --> <!--#fsize file="big.bin" --> <!--#fsize file="tiny.txt" -->
<!--#config sizefmt="weird" -->
<!--#config timefmt="%Y-%m-%d %H:%M:%S %a %b %j %p" --><!--#flastmod file="tiny.txt" --> <!--#echo var="LAST_MODIFIED" -->
<!--#config timefmt="" --><!--#flastmod virtual="tiny.txt" -->
<!--#include file="inc.html" --><!--#include virtual="/inc.html" --><!--#include virtual="sub/part.shtml" -->
<!--#include file="../../etc/hostname" --><!--#include file="missing.txt" --><!--#include virtual="/aliased/o.txt" -->
<!--#include file="x" virtual="y" --><!--#include -->
<!--#exec cmd="echo exec-output; exit 3" -->
<!--#comment ignored -->  <!--#unknowncmd x="1" --> <!--#echo var="a" var="b" var="c" --> <!--#bad! -->
<!--#set var="x" --><!--#set value="y" --><!--#set foo="z" -->
<!--#echo var="quote" extra='it"s' --> <!--#echo var="say \"hi\"" -->
text with <!-- an html comment --> and a lone < sign
<!--#echo var="DOCUMENT_NAME"-->done
`

func ssiTree(t *testing.T, root string) {
	writeTree(t, root, map[string]string{
		"www/index.shtml":        ssiPage,
		"www/page.ssi":           "ext2 <!--#echo var=\"DOCUMENT_URI\" -->\n",
		"www/inc.html":           "[inc <!--#echo var=\"DOCUMENT_NAME\" -->]",
		"www/sub/part.shtml":     "[part <!--#echo var=\"DOCUMENT_URI\" -->]",
		"www/tiny.txt":           "abc",
		"www/sized.bin":          strings.Repeat("s", 5000),
		"www/big.bin":            strings.Repeat("b", 3<<20),
		"www/long.shtml":         "before <!--#echo var=\"" + strings.Repeat("x", 9000) + "\" --> after\n",
		"www/unterminated.shtml": "a <!--#echo var=\"DOCUMENT_NAME\" ",
		"www/printenv.shtml":     "<!--#set var=\"zz\" value=\"<&'>\" --><!--#set var=\"q\" value='\"' --><!--#set var=\"a\" value=\"1\" --><!--#printenv -->",
		"www/noexec/x.shtml":     "[<!--#exec cmd=\"echo ran\" -->]",
		"www/rec/a.shtml":        "A(<!--#include virtual=\"b.shtml\" -->)",
		"www/rec/b.shtml":        "B(<!--#include virtual=\"c.shtml\" -->)",
		"www/rec/c.shtml":        "C(<!--#include virtual=\"a.shtml\" -->)",
		"www/rec/self.shtml":     "S(<!--#include virtual=\"self.shtml\" -->)",
		"www/rec/file.shtml":     "F(<!--#include file=\"b.shtml\" -->)",
		"www/cond/c.shtml":       "cond <!--#include virtual=\"/cond/inc.txt\" -->\n",
		"www/cond/inc.txt":       "included",
		"other/o.txt":            "aliased text",
		"other/al.shtml":         "al <!--#include virtual=\"o.txt\" --> <!--#echo var=\"DOCUMENT_URI\" -->\n",
	})
	// Fixed times: flastmod and LAST_MODIFIED must not depend on when the
	// test ran.
	old := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, f := range []string{"www/tiny.txt", "www/index.shtml", "www/cond/c.shtml"} {
		os.Chtimes(filepath.Join(root, f), old, old)
	}
	newer := old.Add(48 * time.Hour)
	os.Chtimes(filepath.Join(root, "www/cond/inc.txt"), newer, newer)
}

// TestSideBySideSSI: every directive, expression and error case renders
// exactly as with lighttpd's mod_ssi.
func TestSideBySideSSI(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	root := t.TempDir()
	ssiTree(t, root)
	conf := strings.NewReplacer("@ROOT@", root).Replace(ssiConf)
	g := startServer(t, "golighty", golightyBin, root, conf)
	l := startServer(t, "lighttpd", lighttpd, root, conf)
	compareSideBySide(t, g, l, []string{
		"GET /index.shtml?x=1&y HTTP/1.1\r\nHost: ssi.example\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"HEAD /index.shtml HTTP/1.0\r\n\r\n",
		"GET /page.ssi HTTP/1.0\r\n\r\n",
		"GET /long.shtml HTTP/1.0\r\n\r\n",
		"GET /unterminated.shtml HTTP/1.0\r\n\r\n",
		"GET /noexec/x.shtml HTTP/1.0\r\n\r\n",
		"GET /rec/a.shtml HTTP/1.0\r\n\r\n",
		"GET /rec/self.shtml HTTP/1.0\r\n\r\n",
		"GET /rec/file.shtml HTTP/1.0\r\n\r\n",
		"GET /cond/c.shtml HTTP/1.0\r\n\r\n",
		"GET /cond/c.shtml HTTP/1.0\r\nIf-Modified-Since: Sat, 06 Mar 2021 05:06:07 GMT\r\n\r\n",
		"GET /cond/c.shtml HTTP/1.0\r\nIf-Modified-Since: Fri, 05 Mar 2021 05:06:07 GMT\r\n\r\n",
		"GET /aliased/al.shtml HTTP/1.0\r\n\r\n",
		"GET /index.shtml HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\nConnection: close\r\n\r\n",
		"GET /missing.shtml HTTP/1.0\r\n\r\n",
		"POST /page.ssi HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
	}, nil, nil)

	t.Run("printenv", func(t *testing.T) {
		// Ports differ between the two servers.
		mask := regexp.MustCompile(`(?m)^(REMOTE_PORT|SERVER_PORT)=\d+$`)
		req := "GET /printenv.shtml HTTP/1.1\r\nHost: p.example\r\nAuthorization: Basic eDp5\r\nX-Test: <v>\r\nConnection: close\r\n\r\n"
		ge, le := g.raw(t, req, false), l.raw(t, req, false)
		gb, lb := mask.ReplaceAllString(string(ge.body), "$1=N"), mask.ReplaceAllString(string(le.body), "$1=N")
		if gb != lb || !strings.Contains(gb, "zz=&#x3C;&#x26;&#x27;&#x3E;\n") || strings.Contains(gb, "AUTHORIZATION") {
			t.Fatalf("printenv differs:\ngolighty:\n%s\nlighttpd:\n%s", gb, lb)
		}
	})
	t.Run("a newline in an expression does not hang", func(t *testing.T) {
		// lighttpd 1.4.69 loops forever on this page (100% CPU, no
		// answer): golighty reads the newline as a space.
		writeTree(t, root, map[string]string{"www/nl.shtml": "<!--#if expr=\"a\nb = 'a b'\" -->yes<!--#else -->no<!--#endif -->"})
		ex := g.raw(t, "GET /nl.shtml HTTP/1.0\r\n\r\n", false)
		if string(ex.body) != "yes" {
			t.Fatalf("got %q", ex.raw)
		}
	})
	t.Run("dates", func(t *testing.T) {
		writeTree(t, root, map[string]string{"www/date.shtml": `<!--#echo var="DATE_GMT" -->|<!--#config timefmt="%Y" --><!--#echo var="DATE_LOCAL" -->`})
		re := regexp.MustCompile(`^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\|\d{4}$`)
		for _, s := range []*server{g, l} {
			ex := s.raw(t, "GET /date.shtml HTTP/1.0\r\n\r\n", false)
			if !re.Match(ex.body) {
				t.Errorf("%s: %q", s.name, ex.body)
			}
		}
	})
}
