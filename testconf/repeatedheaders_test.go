package testconf

import (
	"strings"
	"testing"
)

const repeatedHeadersConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.modules = ("mod_setenv", "mod_fastcgi")
fastcgi.server = ( ".php" => ( "php" => (
	"bin-path" => "@PHP@",
	"socket" => "@ROOT@/@NAME@.sock",
	"max-procs" => 1,
	"bin-environment" => ( "PHP_FCGI_CHILDREN" => "1", "GOLIGHTY_TEST_MARK" => "@ROOT@/@NAME@" ),
)))
$REQUEST_HEADER["X-Multi"] == "a, b" {
	setenv.set-response-header = ( "X-Cond" => "joined" )
}
$HTTP["useragent"] =~ "^first, second$" {
	setenv.set-response-header = ( "X-UA" => "joined" )
}
$HTTP["cookie"] =~ "^a=1; b=2$" {
	setenv.set-response-header = ( "X-Cookie" => "joined" )
}
`

// TestSideBySideRepeatedHeaders: a request header sent twice is one field
// joined with ", " (Cookie with "; ") by the engines, an empty one is
// dropped: conditions and PHP see what they see with lighttpd.
func TestSideBySideRepeatedHeaders(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	php := requirePeer(t, "php-cgi")
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"www/env.php": `<?php foreach (["HTTP_X_MULTI", "HTTP_COOKIE", "HTTP_USER_AGENT", "HTTP_X_EMPTY"] as $k) {
	echo $k, "=", isset($_SERVER[$k]) ? var_export($_SERVER[$k], true) : "unset", "\n"; }`,
	})
	conf := func(name string) string {
		return strings.NewReplacer("@ROOT@", root, "@PHP@", php, "@NAME@", name).Replace(repeatedHeadersConf)
	}
	g := startServer(t, "golighty", golightyBin, root, conf("golighty"))
	t.Cleanup(func() { stopWithChildren(t, g, root+"/golighty") })
	l := startServer(t, "lighttpd", lighttpd, root, conf("lighttpd"))
	for _, tc := range []struct {
		name, headers, want string
		matched             []string // condition blocks that must match
	}{
		{"repeated", "X-Multi: a\r\nX-Multi: b\r\n", "HTTP_X_MULTI='a, b'", []string{"X-Cond"}},
		{"repeated, other case", "X-Multi: a\r\nx-multi: b\r\n", "HTTP_X_MULTI='a, b'", []string{"X-Cond"}},
		{"three times", "X-Multi: a\r\nX-Multi: b\r\nX-Multi: c\r\n", "HTTP_X_MULTI='a, b, c'", nil},
		{"empty first", "X-Multi:\r\nX-Multi: b\r\n", "HTTP_X_MULTI='b'", nil},
		{"empty last", "X-Multi: a\r\nX-Multi: \r\n", "HTTP_X_MULTI='a'", nil},
		{"empty alone", "X-Empty:\r\n", "HTTP_X_EMPTY=unset", nil},
		{"cookies", "Cookie: a=1\r\nCookie: b=2\r\n", "HTTP_COOKIE='a=1; b=2'", []string{"X-Cookie"}},
		{"user agents", "User-Agent: first\r\nUser-Agent: second\r\n", "HTTP_USER_AGENT='first, second'", []string{"X-UA"}},
		{"between others", "X-Multi: a\r\nAccept: */*\r\nX-Multi: b\r\nCookie: a=1\r\nUser-Agent: first\r\nCookie: b=2\r\nUser-Agent: second\r\n", "HTTP_X_MULTI='a, b'", []string{"X-Cookie"}}, // the last matching block's list wins
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := "GET /env.php HTTP/1.0\r\n" + tc.headers + "\r\n"
			ge, le := g.raw(t, req, false), l.raw(t, req, false)
			if ge.resp == nil || le.resp == nil {
				t.Fatalf("no response: golighty %q, lighttpd %q", ge.raw, le.raw)
			}
			if string(ge.body) != string(le.body) {
				t.Errorf("body: golighty\n%s\nlighttpd\n%s", ge.body, le.body)
			}
			if !strings.Contains(string(le.body), tc.want) {
				t.Errorf("lighttpd's body lacks %q:\n%s", tc.want, le.body)
			}
			for _, h := range []string{"X-Cond", "X-UA", "X-Cookie"} {
				if gv, lv := ge.resp.Header.Get(h), le.resp.Header.Get(h); gv != lv {
					t.Errorf("%s: golighty %q, lighttpd %q", h, gv, lv)
				}
			}
			for _, h := range tc.matched {
				if le.resp.Header.Get(h) != "joined" {
					t.Errorf("lighttpd: the block setting %s did not match", h)
				}
			}
			if ge.resp.StatusCode != le.resp.StatusCode {
				t.Errorf("status: golighty %d, lighttpd %d", ge.resp.StatusCode, le.resp.StatusCode)
			}
		})
	}
}
