package testconf

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// authUsers are the accounts of the side-by-side auth tests: one htpasswd
// line per hash kind, written by Apache's htpasswd (openssl for md5-crypt,
// which htpasswd does not write).
var authUsers = []struct{ user, pw, flag string }{
	{"apr", "apr-pw", "-m"},
	{"bcr", "bcr-pw", "-B"},
	{"sha", "sha-pw", "-s"},
	{"s256", "s256-pw", "-2"},
	{"s512", "s512-pw", "-5"},
	{"des", "des-pw12345", "-d"}, // DES crypt uses 8 characters
	{"txt", "txt-pw", "-p"},      // plain text in htpasswd never matches
	{"md5c", "md5c-pw", "openssl"},
}

// authWriteFiles creates htpasswd, htdigest and plain user files below root.
func authWriteFiles(t *testing.T, root string) {
	t.Helper()
	htpasswd := requirePeer(t, "htpasswd")
	htdigest := requirePeer(t, "htdigest")
	hp := filepath.Join(root, "htpasswd")
	var lines []string
	for _, u := range authUsers {
		var out []byte
		var err error
		if u.flag == "openssl" {
			out, err = exec.Command(requirePeer(t, "openssl"), "passwd", "-1", u.pw).Output()
			out = []byte(u.user + ":" + strings.TrimSpace(string(out)))
		} else {
			args := []string{"-nb", u.flag}
			if u.flag == "-B" {
				args = append(args, "-C", "4")
			}
			out, err = exec.Command(htpasswd, append(args, u.user, u.pw)...).Output()
		}
		if err != nil {
			t.Fatalf("%s: %v", u.flag, err)
		}
		lines = append(lines, strings.TrimSpace(string(out)))
	}
	lines = append(lines, "# a comment", "", "badline-without-colon")
	if err := os.WriteFile(hp, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hd := filepath.Join(root, "htdigest")
	for i, r := range [][3]string{{"dig", "Digest Realm", "dig-pw"}, {"dig", "Basic Realm", "digb-pw"}} {
		args := []string{hd, r[1], r[0]}
		if i == 0 {
			args = []string{"-c", hd, r[1], r[0]}
		}
		cmd := exec.Command(htdigest, args...)
		cmd.Stdin = strings.NewReader(r[2] + "\n" + r[2] + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("htdigest: %v %s", err, out)
		}
	}
	// htdigest writes MD5 only; a SHA-256 line is H(user:realm:password)
	// in 64 hex digits.
	sum := sha256.Sum256([]byte("dig:Digest Realm:dig-pw"))
	f, err := os.OpenFile(hd, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "dig:Digest Realm:%x\n", sum)
	f.Close()
	if err := os.WriteFile(filepath.Join(root, "plain"), []byte("pl:pl-pw\r\nother:other-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

const authConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_auth", "mod_authn_file")
server.feature-flags = ("auth.delay-invalid-creds" => "@DELAY@")
mimetype.assign = (".txt" => "text/plain")
auth.backend = "htpasswd"
auth.backend.htpasswd.userfile = "@ROOT@/htpasswd"
auth.backend.htdigest.userfile = "@ROOT@/htdigest"
auth.backend.plain.userfile = "@ROOT@/plain"
auth.require = (
	"/basic/" => ("method" => "basic", "realm" => "Basic Realm", "require" => "valid-user"),
	"/users/" => ("method" => "basic", "realm" => "Basic Realm", "require" => "user=apr|user=bcr"),
	"/group/" => ("method" => "basic", "realm" => "Basic Realm", "require" => "group=admins|user=nobody"),
	"/host/" => ("method" => "basic", "realm" => "Basic Realm", "require" => "host=127.0.0.1"),
	"/ext/" => ("method" => "extern", "realm" => "E", "require" => "valid-user"),
	"/htpd/" => ("method" => "digest", "realm" => "Digest Realm", "require" => "valid-user"),
)
$HTTP["url"] =^ "/d" {
	auth.backend = "htdigest"
	auth.require = (
		"/dmd5/" => ("method" => "digest", "realm" => "Digest Realm", "require" => "valid-user"),
		"/dsha/" => ("method" => "digest", "realm" => "Digest Realm", "require" => "valid-user", "algorithm" => "SHA-256"),
		"/dboth/" => ("method" => "digest", "realm" => "Digest Realm", "require" => "user=dig", "algorithm" => "MD5|SHA-256"),
		"/dother/" => ("method" => "digest", "realm" => "Digest Realm", "require" => "user=someone"),
		"/dbasic/" => ("method" => "basic", "realm" => "Basic Realm", "require" => "valid-user"),
	)
}
$HTTP["url"] =^ "/p" {
	auth.backend = "plain"
	auth.require = (
		"/pbasic/" => ("method" => "basic", "realm" => "Plain", "require" => "valid-user"),
		"/pdigest/" => ("method" => "digest", "realm" => "Plain", "require" => "valid-user", "algorithm" => "SHA-256|MD5"),
	)
}
$HTTP["url"] =^ "/none/" {
	auth.backend = ""
	auth.require = ( "" => ("method" => "basic", "realm" => "N", "require" => "valid-user") )
}
`

var authDirs = []string{"basic", "users", "group", "host", "ext", "htpd", "dmd5", "dsha", "dboth", "dother", "dbasic", "pbasic", "pdigest", "none"}

// authStart writes the files and starts both servers on authConf.
func authStart(t *testing.T, delay string) (g, l *server, root string) {
	t.Helper()
	lighttpd := requirePeer(t, "lighttpd")
	root = t.TempDir()
	files := map[string]string{"www/pub.txt": "public\n"}
	for _, d := range authDirs {
		files["www/"+d+"/a.txt"] = d + " content\n"
	}
	writeTree(t, root, files)
	authWriteFiles(t, root)
	conf := strings.NewReplacer("@ROOT@", root, "@DELAY@", delay).Replace(authConf)
	g = startServer(t, "golighty", golightyBin, root, conf)
	l = startServer(t, "lighttpd", lighttpd, root, conf)
	return g, l, root
}

func authBasicReq(path, user, pw string) string {
	return authRawReq(path, "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pw)))
}

func authRawReq(path, authorization string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: " + authorization + "\r\nConnection: close\r\n\r\n"
}

// authNonce hides nonce values, which differ per response and per server.
var authNonce = regexp.MustCompile(`nonce="[^"]*"`)

func authSameLine(g, l string) bool {
	return authNonce.ReplaceAllString(g, `nonce="N"`) == authNonce.ReplaceAllString(l, `nonce="N"`)
}

// TestSideBySideAuthBasic sends the same Basic requests to golighty and
// lighttpd: every hash kind of htpasswd, the plain and htdigest backends,
// wrong passwords, unknown users, user/group/host rules and malformed
// Authorization headers, compared byte for byte (Date aside).
func TestSideBySideAuthBasic(t *testing.T) {
	g, l, _ := authStart(t, "disable")
	var reqs []string
	for _, u := range authUsers {
		reqs = append(reqs,
			authBasicReq("/basic/a.txt", u.user, u.pw),
			authBasicReq("/basic/a.txt", u.user, u.pw+"x"))
	}
	reqs = append(reqs,
		authBasicReq("/basic/a.txt", "des", "des-pw12"),    // DES: 8 characters count
		authBasicReq("/basic/a.txt", "nobody", "x"),        // unknown user
		authBasicReq("/basic/a.txt", "txt", "txt-pw"),      // plain text in htpasswd
		authBasicReq("/basic/a.txt", "", ""),               // empty user
		authBasicReq("/users/a.txt", "apr", "apr-pw"),      // listed
		authBasicReq("/users/a.txt", "s256", "s256-pw"),    // not listed
		authBasicReq("/group/a.txt", "apr", "apr-pw"),      // group= never matches with files
		authBasicReq("/host/a.txt", "apr", "apr-pw"),       // host= is not implemented
		authBasicReq("/dbasic/a.txt", "dig", "digb-pw"),    // htdigest answering Basic
		authBasicReq("/dbasic/a.txt", "dig", "dig-pw"),     // the other realm's password
		authBasicReq("/pbasic/a.txt", "pl", "pl-pw"),       // plain (line ends in CR)
		authBasicReq("/pbasic/a.txt", "pl", "pl-pw\r"),     // the CR is not part of it
		authBasicReq("/pbasic/a.txt", "other", "other-pw"), // plain
		authBasicReq("/none/a.txt", "apr", "apr-pw"),       // no backend: 500
		authBasicReq("/htpd/a.txt", "apr", "apr-pw"),       // Basic sent to a Digest area
		"GET /basic/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET /pub.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"HEAD /basic/a.txt HTTP/1.0\r\n\r\n",
		"GET /ext/a.txt HTTP/1.0\r\n\r\n",
		"GET /htpd/a.txt HTTP/1.0\r\n\r\n",
		"GET /basic/%61.txt HTTP/1.0\r\n\r\n",
		"GET /BASIC/a.txt HTTP/1.0\r\n\r\n",
		"GET /basic HTTP/1.0\r\n\r\n",
		// Malformed credentials.
		authRawReq("/basic/a.txt", "Basic !!!!"),
		authRawReq("/basic/a.txt", "Basic "+base64.StdEncoding.EncodeToString([]byte("apr"))),
		authRawReq("/basic/a.txt", "Basic "+strings.Repeat("QUFB", 341)),
		authRawReq("/basic/a.txt", "Basic "+strings.Repeat("QUFB", 340)+"OmE="),
		authRawReq("/basic/a.txt", "Basic"),
		authRawReq("/basic/a.txt", "Basic "),
		authRawReq("/basic/a.txt", "basic "+base64.StdEncoding.EncodeToString([]byte("apr:apr-pw"))),
		authRawReq("/basic/a.txt", "BASIC  "+base64.StdEncoding.EncodeToString([]byte("apr:apr-pw"))),
		authRawReq("/basic/a.txt", "Basic "+base64.StdEncoding.EncodeToString([]byte("apr:apr-pw"))+"!trailing"),
		authRawReq("/basic/a.txt", "Basic YXBy OmFw\tci1wdw=="),
		authRawReq("/basic/a.txt", "Basic YXByOmFwci1wd"),
		authRawReq("/basic/a.txt", "Basic YQ"),
		authRawReq("/basic/a.txt", "Basic Og=="),
		authRawReq("/basic/a.txt", "Bearer abc"),
		authRawReq("/basic/a.txt", "Digest username=\"apr\""),
		authRawReq("/basic/a.txt", "Basicx"),
		// Keep-alive: a failed login closes the connection.
		"GET /basic/a.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YXByOmFwci1wdw==\r\n\r\n"+
			"GET /basic/a.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YXByOng=\r\n\r\n"+
			"GET /pub.txt HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /basic/a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /pub.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	)
	compareSideBySide(t, g, l, reqs, authSameLine, nil)
}

// authChallenge fetches a 401 from s and returns realm and nonce of the
// WWW-Authenticate line for algo.
func authChallenge(t *testing.T, s *server, path, algo string) (realm, nonce string) {
	t.Helper()
	ex := s.raw(t, "GET "+path+" HTTP/1.0\r\n\r\n", false)
	if ex.resp == nil || ex.resp.StatusCode != 401 {
		t.Fatalf("%s: no 401 challenge for %s: %q", s.name, path, ex.raw)
	}
	for _, h := range ex.resp.Header.Values("WWW-Authenticate") {
		if strings.Contains(h, "algorithm="+algo+",") {
			realm = regexp.MustCompile(`realm="([^"]*)"`).FindStringSubmatch(h)[1]
			nonce = regexp.MustCompile(`nonce="([^"]*)"`).FindStringSubmatch(h)[1]
			return realm, nonce
		}
	}
	t.Fatalf("%s: no %s challenge: %q", s.name, algo, ex.raw)
	return "", ""
}

// authDigest is a client's view of one Digest attempt.
type authDigest struct {
	path, user, pw, algo string // algo as in the challenge: "MD5", "SHA-256"
	sess                 bool   // send algo-sess
	noQop                bool   // RFC 2069 style: no qop, nc, cnonce
	uri, realm, qop      string // overrides
	nonce                string // a nonce of the client's making
	response             string // override
	drop                 string // a parameter left out
}

// authDigestHeader computes the Authorization header for d against the
// nonce s issued (or d.nonce).
func authDigestHeader(t *testing.T, s *server, d authDigest) string {
	realm, nonce := authChallenge(t, s, d.path, d.algo)
	if d.nonce != "" {
		nonce = d.nonce
	}
	if d.realm != "" {
		realm = d.realm
	}
	var newHash func() hash.Hash = md5.New
	if d.algo == "SHA-256" {
		newHash = sha256.New
	}
	h := func(s string) string {
		x := newHash()
		x.Write([]byte(s))
		return hex.EncodeToString(x.Sum(nil))
	}
	uri := d.path
	if d.uri != "" {
		uri = d.uri
	}
	qop, nc, cnonce := "auth", "00000001", "0a4f113b"
	if d.qop != "" {
		qop = d.qop
	}
	ha1 := h(d.user + ":" + realm + ":" + d.pw)
	algo := d.algo
	if d.sess {
		ha1 = h(ha1 + ":" + nonce + ":" + cnonce)
		algo += "-sess"
	}
	ha2 := h("GET:" + uri)
	resp := h(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":" + qop + ":" + ha2)
	if d.noQop {
		resp = h(ha1 + ":" + nonce + ":" + ha2)
	}
	if d.response != "" {
		resp = d.response
	}
	params := [][2]string{{"username", `"` + d.user + `"`}, {"realm", `"` + realm + `"`}, {"nonce", `"` + nonce + `"`},
		{"uri", `"` + uri + `"`}, {"algorithm", algo}, {"response", `"` + resp + `"`}}
	if !d.noQop {
		params = append(params, [2]string{"qop", qop}, [2]string{"nc", nc}, [2]string{"cnonce", `"` + cnonce + `"`})
	}
	var parts []string
	for _, p := range params {
		if p[0] != d.drop {
			parts = append(parts, p[0]+"="+p[1])
		}
	}
	return "Digest " + strings.Join(parts, ", ")
}

// TestSideBySideAuthDigest computes Digest responses with our own client
// (MD5, SHA-256, -sess, without qop) against each server's nonces and
// compares what the servers answer, then does the same with curl --digest.
func TestSideBySideAuthDigest(t *testing.T) {
	g, l, _ := authStart(t, "disable")
	cases := []struct {
		name string
		d    authDigest
	}{
		{"md5", authDigest{path: "/dmd5/a.txt", user: "dig", pw: "dig-pw", algo: "MD5"}},
		{"md5 wrong password", authDigest{path: "/dmd5/a.txt", user: "dig", pw: "nope", algo: "MD5"}},
		{"md5 unknown user", authDigest{path: "/dmd5/a.txt", user: "ghost", pw: "dig-pw", algo: "MD5"}},
		{"md5-sess", authDigest{path: "/dmd5/a.txt", user: "dig", pw: "dig-pw", algo: "MD5", sess: true}},
		{"md5 no qop", authDigest{path: "/dmd5/a.txt", user: "dig", pw: "dig-pw", algo: "MD5", noQop: true}},
		{"sha-256", authDigest{path: "/dsha/a.txt", user: "dig", pw: "dig-pw", algo: "SHA-256"}},
		{"sha-256-sess", authDigest{path: "/dsha/a.txt", user: "dig", pw: "dig-pw", algo: "SHA-256", sess: true}},
		{"sha-256 wrong password", authDigest{path: "/dsha/a.txt", user: "dig", pw: "x", algo: "SHA-256"}},
		{"both, sha-256", authDigest{path: "/dboth/a.txt", user: "dig", pw: "dig-pw", algo: "SHA-256"}},
		{"both, md5", authDigest{path: "/dboth/a.txt", user: "dig", pw: "dig-pw", algo: "MD5"}},
		{"user rule not met", authDigest{path: "/dother/a.txt", user: "dig", pw: "dig-pw", algo: "MD5"}},
		{"plain backend sha-256", authDigest{path: "/pdigest/a.txt", user: "pl", pw: "pl-pw", algo: "SHA-256"}},
		{"plain backend md5", authDigest{path: "/pdigest/a.txt", user: "other", pw: "other-pw", algo: "MD5"}},
		{"uri mismatch", authDigest{path: "/dmd5/a.txt", user: "dig", pw: "dig-pw", algo: "MD5", uri: "/dmd5/b.txt"}},
		{"realm mismatch", authDigest{path: "/dmd5/a.txt", user: "dig", pw: "dig-pw", algo: "MD5", realm: "Other"}},
		{"auth-int", authDigest{path: "/dmd5/a.txt", user: "dig", pw: "dig-pw", algo: "MD5", qop: "auth-int"}},
		{"missing response", authDigest{path: "/dmd5/a.txt", user: "dig", pw: "dig-pw", algo: "MD5", drop: "response"}},
		{"missing nonce", authDigest{path: "/dmd5/a.txt", user: "dig", pw: "dig-pw", algo: "MD5", drop: "nonce"}},
		{"missing cnonce for sess", authDigest{path: "/dmd5/a.txt", user: "dig", pw: "dig-pw", algo: "MD5", sess: true, noQop: true}},
		{"response not hex", authDigest{path: "/dmd5/a.txt", user: "dig", pw: "dig-pw", algo: "MD5", response: strings.Repeat("z", 32)}},
		{"response too short", authDigest{path: "/dmd5/a.txt", user: "dig", pw: "dig-pw", algo: "MD5", response: "abcd"}},
		{"stale nonce", authDigest{path: "/dmd5/a.txt", user: "dig", pw: "dig-pw", algo: "MD5", nonce: "3e8:00000000000000000000000000000000"}},
		{"nonce from the future", authDigest{path: "/dmd5/a.txt", user: "dig", pw: "dig-pw", algo: "MD5", nonce: fmt.Sprintf("%x:0", time.Now().Unix()+3600)}},
		{"nonce without time", authDigest{path: "/dmd5/a.txt", user: "dig", pw: "dig-pw", algo: "MD5", nonce: "xyz"}},
		{"digest over htpasswd", authDigest{path: "/htpd/a.txt", user: "apr", pw: "apr-pw", algo: "MD5"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var reqs [2]string
			for i, s := range []*server{g, l} {
				if tc.d.path == "/htpd/a.txt" {
					reqs[i] = authRawReq(tc.d.path, `Digest username="apr"`)
					continue
				}
				reqs[i] = authRawReq(tc.d.path, authDigestHeader(t, s, tc.d))
			}
			authCompareOne(t, g, l, reqs[0], reqs[1])
		})
	}
	for _, h := range []string{
		`Digest username="dig", realm="Digest Realm"`,
		`Digest ,,, username = "dig" ,realm="Digest Realm", nonce="1:2", uri="/dmd5/a.txt", response="00", qop=auth`,
		`Digest username="dig", realm="Digest Realm", nonce="1", uri="/dmd5/a.txt", response="00", algorithm=SHA-1`,
		`Digest username*=UTF-8''d%C3%AFg, realm="Digest Realm", nonce="1:x", uri="/dmd5/a.txt", response="00"`,
		`Digest username*=bogus, realm="Digest Realm", nonce="1:x", uri="/dmd5/a.txt", response="00"`,
		`Digest username="a", username*=UTF-8''b, realm="Digest Realm", nonce="1:x", uri="/dmd5/a.txt", response="00"`,
		`Digest foo="username=evil", realm="Digest Realm", nonce="1:x", uri="/dmd5/a.txt", response="00"`,
		`Digest username="unterminated`,
		`digest`,
		`Digest`,
	} {
		t.Run(h, func(t *testing.T) {
			r := authRawReq("/dmd5/a.txt", h)
			authCompareOne(t, g, l, r, r)
		})
	}

	// A nonce of the client's making with the current time: lighttpd
	// (without nonce-secret) checks only the time and lets the client in;
	// golighty signs its nonces and refuses it (a deliberate difference).
	t.Run("forged nonce", func(t *testing.T) {
		d := authDigest{path: "/dmd5/a.txt", user: "dig", pw: "dig-pw", algo: "MD5",
			// A few seconds back: lighttpd's clock ticks once a second and
			// refuses a nonce from its future.
			nonce: fmt.Sprintf("%x:%032x", time.Now().Unix()-3, 12345)}
		le := l.raw(t, authRawReq(d.path, authDigestHeader(t, l, d)), false)
		ge := g.raw(t, authRawReq(d.path, authDigestHeader(t, g, d)), false)
		if le.resp == nil || le.resp.StatusCode != 200 {
			t.Errorf("lighttpd was expected to accept the forged nonce: %q", le.raw)
		}
		if ge.resp == nil || ge.resp.StatusCode != 401 || !strings.Contains(ge.resp.Header.Get("WWW-Authenticate"), "stale=true") {
			t.Errorf("golighty accepted a nonce it did not issue: %q", ge.raw)
		}
	})

	// curl's own Digest implementation, MD5 and SHA-256.
	curl := requirePeer(t, "curl")
	for _, c := range []struct{ path, user, pw, want string }{
		{"/dmd5/a.txt", "dig", "dig-pw", "200"},
		{"/dmd5/a.txt?q=1", "dig", "dig-pw", "200"},
		{"/dsha/a.txt", "dig", "dig-pw", "200"},
		{"/pdigest/a.txt", "pl", "pl-pw", "200"},
		{"/dmd5/a.txt", "dig", "wrong", "401"},
	} {
		t.Run("curl "+c.path+" "+c.pw, func(t *testing.T) {
			var got [2]string
			for i, s := range []*server{g, l} {
				out, err := exec.Command(curl, "-s", "--digest", "-u", c.user+":"+c.pw, "-w", "|%{http_code}", "http://"+s.addr+c.path).Output()
				if err != nil {
					t.Fatalf("curl: %v", err)
				}
				got[i] = string(out)
			}
			if got[0] != got[1] || !strings.HasSuffix(got[0], "|"+c.want) {
				t.Errorf("golighty %q, lighttpd %q, want status %s", got[0], got[1], c.want)
			}
		})
	}
}

// authCompareOne sends gReq to golighty and lReq to lighttpd and compares
// the answers as compareSideBySide does, with nonces hidden.
func authCompareOne(t *testing.T, g, l *server, gReq, lReq string) {
	t.Helper()
	ge, le := g.raw(t, gReq, false), l.raw(t, lReq, false)
	gs, gh, gb := splitResponse(ge.raw)
	ls, lh, lb := splitResponse(le.raw)
	if gs != ls || len(gh) != len(lh) || string(gb) != string(lb) {
		t.Fatalf("differ:\ngolighty %q\nlighttpd %q", ge.raw, le.raw)
	}
	for i := range gh {
		if gh[i] != lh[i] && !authSameLine(gh[i], lh[i]) {
			t.Errorf("header %d: golighty %q, lighttpd %q", i, gh[i], lh[i])
		}
	}
}

// TestSideBySideAuthDelay checks the default auth.delay-invalid-creds: a
// wrong password is answered at the server's next once-a-second tick, and
// the connection closes; a right one is answered at once. golighty ticks on
// the wall clock's seconds; lighttpd's tick has its own phase, so for it the
// test only requires that some of a few failures waited.
func TestSideBySideAuthDelay(t *testing.T) {
	g, l, _ := authStart(t, "enable")
	bad := "GET /basic/a.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YXByOng=\r\n\r\n"
	for _, s := range []*server{g, l} {
		t.Run(s.name, func(t *testing.T) {
			var longest time.Duration
			for i := 0; i < 3 && longest < 100*time.Millisecond; i++ {
				if s == g {
					// Start just after a second boundary: golighty's answer
					// is then about a second away.
					time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
				}
				start := time.Now()
				ex := s.raw(t, bad, false)
				took := time.Since(start)
				if ex.resp == nil || ex.resp.StatusCode != 401 || !ex.closed {
					t.Fatalf("want 401 and a closed connection: %q closed=%v", ex.raw, ex.closed)
				}
				if took > 1200*time.Millisecond {
					t.Errorf("answered after %v: more than a tick", took)
				}
				if s == g && took < 800*time.Millisecond {
					t.Errorf("answered after %v: not delayed to the next second", took)
				}
				longest = max(longest, took)
			}
			if longest < 100*time.Millisecond {
				t.Errorf("no failed login waited (longest %v)", longest)
			}
			start := time.Now()
			ex := s.raw(t, authBasicReq("/basic/a.txt", "apr", "apr-pw"), false)
			if ex.resp == nil || ex.resp.StatusCode != 200 || time.Since(start) > 800*time.Millisecond {
				t.Errorf("good login: %q after %v", ex.raw, time.Since(start))
			}
		})
	}
}

// TestSideBySideAuthFileChange edits the user file while both servers run:
// the next login sees the change, as lighttpd reads the file per login.
func TestSideBySideAuthFileChange(t *testing.T) {
	g, l, root := authStart(t, "disable")
	req := authBasicReq("/pbasic/a.txt", "newbie", "n-pw")
	for _, s := range []*server{g, l} {
		if ex := s.raw(t, req, false); ex.resp == nil || ex.resp.StatusCode != 401 {
			t.Fatalf("%s: before the edit: %q", s.name, ex.raw)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "plain"), []byte("newbie:n-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*server{g, l} {
		if ex := s.raw(t, req, false); ex.resp == nil || ex.resp.StatusCode != 200 {
			t.Errorf("%s: after the edit: %q", s.name, ex.raw)
		}
		if ex := s.raw(t, authBasicReq("/pbasic/a.txt", "pl", "pl-pw"), false); ex.resp == nil || ex.resp.StatusCode != 401 {
			t.Errorf("%s: removed user still accepted: %q", s.name, ex.raw)
		}
	}
	os.Remove(filepath.Join(root, "plain"))
	for _, s := range []*server{g, l} {
		if ex := s.raw(t, req, false); ex.resp == nil || ex.resp.StatusCode != 401 {
			t.Errorf("%s: missing file: %q", s.name, ex.raw)
		}
	}
}

const authPHPConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_auth", "mod_authn_file", "mod_fastcgi")
mimetype.assign = (".txt" => "text/plain")
auth.backend = "htdigest"
auth.backend.htdigest.userfile = "@ROOT@/htdigest"
auth.require = (
	"/b/" => ("method" => "basic", "realm" => "Basic Realm", "require" => "valid-user"),
	"/d/" => ("method" => "digest", "realm" => "Digest Realm", "require" => "user=dig"),
)
fastcgi.server = ( ".php" => ( "php" => (
	"bin-path" => "@PHP@",
	"socket" => "@ROOT@/@NAME@.sock",
	"max-procs" => 1,
	"bin-environment" => ( "PHP_FCGI_CHILDREN" => "1" ),
)))
`

// TestSideBySideAuthPHP checks what a PHP script learns about the login:
// REMOTE_USER and AUTH_TYPE for Basic and Digest, as lighttpd passes them.
func TestSideBySideAuthPHP(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	php := requirePeer(t, "php-cgi")
	root := t.TempDir()
	script := `<?php header("Content-Type: text/plain"); foreach (["REMOTE_USER", "AUTH_TYPE", "PHP_AUTH_USER", "PHP_AUTH_PW"] as $k) echo $k, "=", $_SERVER[$k] ?? "-", "\n";`
	writeTree(t, root, map[string]string{"www/b/env.php": script, "www/d/env.php": script, "www/env.php": script})
	authWriteFiles(t, root)
	conf := func(name string) string {
		return strings.NewReplacer("@ROOT@", root, "@PHP@", php, "@NAME@", name).Replace(authPHPConf)
	}
	g := startServer(t, "golighty", golightyBin, root, conf("golighty"))
	l := startServer(t, "lighttpd", lighttpd, root, conf("lighttpd"))
	basic := authBasicReq("/b/env.php", "dig", "digb-pw")
	authCompareOne(t, g, l, basic, basic)
	if ex := g.raw(t, basic, false); !strings.Contains(string(ex.body), "REMOTE_USER=dig\nAUTH_TYPE=Basic\n") {
		t.Errorf("golighty: %q", ex.body)
	}
	plain := "GET /env.php HTTP/1.0\r\n\r\n"
	authCompareOne(t, g, l, plain, plain)
	d := authDigest{path: "/d/env.php", user: "dig", pw: "dig-pw", algo: "MD5"}
	authCompareOne(t, g, l, authRawReq(d.path, authDigestHeader(t, g, d)), authRawReq(d.path, authDigestHeader(t, l, d)))
	if ex := g.raw(t, authRawReq(d.path, authDigestHeader(t, g, d)), false); !strings.Contains(string(ex.body), "REMOTE_USER=dig\nAUTH_TYPE=Digest\n") {
		t.Errorf("golighty: %q", ex.body)
	}
}
