package testconf

import (
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

const userdirConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_userdir", "mod_fastcgi")
server.errorlog = "@ROOT@/@NAME@.error.log"
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html")
index-file.names = ("index.html")
userdir.path = "@UPATH@"
@BASEPATH@
userdir.exclude-user = ("root", "Admin")
$HTTP["url"] =^ "/~inc" { userdir.include-user = ("inc1") }
$HTTP["url"] =^ "/~none" { userdir.include-user = () }
$HTTP["url"] =^ "/~off" { userdir.active = "disable" }
$HTTP["host"] == "letters" { userdir.letterhomes = "enable" }
$HTTP["host"] == "flat" { userdir.path = "" }
$HTTP["host"] == "lower" { server.force-lowercase-filenames = "enable" }
` + vhostFastCGI

// userdirUsers get a home below @ROOT@/home (and a letterhomes twin for joe).
var userdirUsers = []string{"joe", "inc1", "incx", "none1", "off1", "a.b-c_d", "...", "admin", "Admin", "root"}

func userdirTree(t *testing.T, root string) {
	t.Helper()
	files := map[string]string{
		"www/who.txt":                    "www\n",
		"www/~zed/who.txt":               "www/~zed\n",
		"www/~../who.txt":                "www/~..\n",
		"www/env.php":                    vhostEnvPHP,
		"home/j/joe/public_html/who.txt": "home/j/joe/public_html\n",
	}
	for _, u := range userdirUsers {
		files["home/"+u+"/public_html/who.txt"] = "home/" + u + "/public_html\n"
		files["home/"+u+"/public_html/env.php"] = vhostEnvPHP
		files["home/"+u+"/public_html/sub/index.html"] = "<p>" + u + " sub</p>\n"
		files["home/"+u+"/who.txt"] = "home/" + u + "\n"
		files["home/"+u+"/env.php"] = vhostEnvPHP
	}
	writeTree(t, root, files)
}

var userdirRequests = []string{
	"/~joe/who.txt", "/~joe/", "/~joe/sub", "/~joe/sub/", "/~joe/env.php", "/~joe/env.php/p/i?q=1", "/~joe",
	"/~joe?a=b", "/~root", "/~", "/~/who.txt", "/~root/who.txt", "/~admin/who.txt", "/~Admin/who.txt",
	"/~ADMIN/who.txt", "/~JOE/who.txt", "/~inc1/who.txt", "/~incx/who.txt", "/~none1/who.txt", "/~off1/who.txt",
	"/~a.b-c_d/who.txt", "/~.../who.txt", "/~../who.txt", "/~%2e%2e/who.txt", "/~joe/../~joe/who.txt",
	"/~jo%2fe/who.txt", "/~jo%20e/who.txt", "/~jo%00e/who.txt", "/~zed/who.txt", "/~nosuchuser/who.txt",
	"/~" + strings.Repeat("u", 255) + "/who.txt", "/~" + strings.Repeat("u", 256) + "/who.txt",
	"/~joe/%2e%2e/%2e%2e/who.txt", "/~joe/.%2e/who.txt", "/~joe/who.txt%00", "/env.php", "/who.txt",
}

func userdirReqs(hosts ...string) []string {
	var reqs []string
	for _, h := range hosts {
		for _, p := range userdirRequests {
			reqs = append(reqs, "GET "+p+" HTTP/1.0\r\nHost: "+h+"\r\n\r\n")
		}
	}
	return append(reqs,
		"GET /~joe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET /~joe/who.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /~admin/who.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /~joe/env.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	)
}

// userdir.basepath: the password database is never asked.
func TestSideBySideUserdir(t *testing.T) {
	root := t.TempDir()
	userdirTree(t, root)
	conf := strings.NewReplacer("@UPATH@", "public_html", "@BASEPATH@", `userdir.basepath = "@ROOT@/home/"`).Replace(userdirConf)
	g, l := vhostServers(t, root, conf)
	compareSideBySide(t, g, l, userdirReqs("x", "letters", "flat", "lower"), nil, nil)
}

// Without basepath lighttpd asks getpwnam(). daemon's home (/usr/sbin on
// Debian) is a directory anyone may enter; userdir.path climbs from there
// into the test's directory, so the test writes nothing outside it and
// needs no account of its own.
func TestSideBySideUserdirPasswd(t *testing.T) {
	u, err := user.Lookup("daemon")
	if err != nil {
		t.Skipf("no user daemon: %v", err)
	}
	if fi, err := os.Stat(u.HomeDir); err != nil || !fi.IsDir() {
		t.Skipf("daemon's home %s is no directory", u.HomeDir)
	}
	root := t.TempDir()
	userdirTree(t, root)
	pub := filepath.Join(root, "pub")
	writeTree(t, pub, map[string]string{"who.txt": "daemon's pub\n", "env.php": vhostEnvPHP, "sub/index.html": "<p>sub</p>\n"})
	rel, err := filepath.Rel(u.HomeDir, pub)
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("@UPATH@", rel, "@BASEPATH@", "").Replace(userdirConf)
	g, l := vhostServers(t, root, conf)
	var reqs []string
	for _, p := range []string{"/~daemon/who.txt", "/~daemon/env.php", "/~daemon/env.php/x?y", "/~daemon/sub", "/~daemon",
		"/~daemon/", "/~nobody/who.txt", "/~root/who.txt", "/~nosuchuser/who.txt", "/~../who.txt", "/~DAEMON/who.txt",
		"/~daemon/../../who.txt", "/~" + strings.Repeat("d", 300) + "/who.txt"} {
		reqs = append(reqs, "GET "+p+" HTTP/1.0\r\nHost: x\r\n\r\n", "GET "+p+" HTTP/1.0\r\nHost: flat\r\n\r\n")
	}
	compareSideBySide(t, g, l, reqs, nil, nil)
}
