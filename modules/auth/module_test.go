package auth_test

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/coretest"
	"github.com/golighty/golighty/lighttpdconf"
	_ "github.com/golighty/golighty/modules/auth"
	_ "github.com/golighty/golighty/modules/authnfile"
	_ "github.com/golighty/golighty/modules/authnldap"
	_ "github.com/golighty/golighty/modules/staticfile"
)

func compile(t testing.TB, src string) (*core.Snapshot, error) {
	t.Helper()
	dir := t.TempDir()
	src = strings.ReplaceAll(src, "@DIR@", dir)
	conf, err := lighttpdconf.ParseBytes(filepath.Join(dir, "l.conf"), []byte("server.document-root = \""+dir+"\"\n"+src), &lighttpdconf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return core.Compile(conf, core.CompileOptions{}, nil)
}

// TestStartupErrors: configs lighttpd refuses, and the authn modules
// golighty refuses with what to use instead.
func TestStartupErrors(t *testing.T) {
	for _, c := range []struct{ name, conf, want string }{
		{"pam module", `server.modules = ("mod_auth", "mod_authn_pam")`, `mod_authn_pam is not available in golighty: PAM is not supported; keep the users in an htpasswd file`},
		{"sasl module", `server.modules = ("mod_authn_sasl")`, `mod_authn_sasl is not available in golighty: SASL`},
		{"gssapi module", `server.modules = ("mod_auth", "mod_authn_gssapi")`, `Kerberos/GSSAPI is not supported`},
		{"dbi module", `server.modules = ("mod_auth", "mod_authn_dbi")`, `database backends are not supported`},
		{"mysql module", `server.modules = ("mod_auth", "mod_authn_mysql")`, `MySQL is not supported`},
		{"pam backend", `server.modules = ("mod_auth")
auth.backend = "pam"`, `auth.backend not supported: pam (golighty has no mod_authn_pam`},
		{"unknown backend", `server.modules = ("mod_auth", "mod_authn_file")
auth.backend = "nis"`, `auth.backend not supported: nis`},
		{"file backend without its module", `server.compat-module-load = "disable"
server.modules = ("mod_auth")
auth.backend = "htpasswd"`, `auth.backend not supported: htpasswd`},
		{"bad require", `server.modules = ("mod_auth")
auth.require = ("/" => ("method" => "basic", "realm" => "R", "require" => "user"))`, `missing '='`},
		{"not a list", `server.modules = ("mod_auth")
auth.require = ("/" => "basic")`, `auth.require should have been a list of key => list`},
		{"integer option", `server.modules = ("mod_auth")
auth.require = ("/" => ("method" => "basic", "realm" => 1, "require" => "valid-user"))`, `unexpected value for auth.require`},
		{"ldap filter", `server.modules = ("mod_auth", "mod_authn_ldap")
auth.backend.ldap.filter = "(uid=x)"`, `ldap: auth.backend.ldap.filter is missing a replace-operator '?'`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := compile(t, c.conf)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
	for _, refused := range []string{"mod_authn_pam", "mod_authn_sasl", "mod_authn_gssapi", "mod_authn_dbi", "mod_authn_mysql"} {
		for _, m := range core.Registered() {
			if m == refused {
				t.Errorf("%s listed as available", m)
			}
		}
	}
}

// TestCompatLoad: lighttpd loads mod_authn_file for an auth.backend that
// needs it, with its warning, and puts mod_auth first for an authn module.
func TestCompatLoad(t *testing.T) {
	s, err := compile(t, `server.modules = ("mod_auth")
auth.backend = "htdigest"`)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Module("mod_authn_file"); !ok {
		t.Errorf("mod_authn_file not loaded: %v", s.Modules())
	}
	found := false
	for _, w := range s.Warnings {
		found = found || strings.Contains(w.Msg, `please add "mod_authn_file" to server.modules`)
	}
	if !found {
		t.Errorf("no warning: %v", s.Warnings)
	}
	s, err = compile(t, `server.modules = ("mod_authn_file")`)
	if err != nil {
		t.Fatal(err)
	}
	if mods := s.Modules(); mods[0] != "mod_auth" {
		t.Errorf("order %v", mods)
	}
}

// TestCacheSkipsBackend shows auth.cache at work: once a login passed,
// removing the user file does not matter until max-age is over, and a
// wrong password is still refused.
func TestCacheSkipsBackend(t *testing.T) {
	h := coretest.New(t, `server.document-root = "@DIR@/www"
server.modules = ("mod_auth", "mod_authn_file")
server.feature-flags = ("auth.delay-invalid-creds" => "disable")
auth.backend = "plain"
auth.backend.plain.userfile = "@DIR@/users"
auth.cache = ("max-age" => "60")
auth.require = ("/" => ("method" => "basic", "realm" => "R", "require" => "valid-user"))
`)
	h.WriteFile("www/a.txt", "a")
	users := h.WriteFile("users", "u:pw\n")
	get := func(pw string) int {
		resp, _ := h.Do("GET /a.txt HTTP/1.0\r\nAuthorization: Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+pw)) + "\r\n\r\n")
		return resp.StatusCode
	}
	if st := get("pw"); st != 200 {
		t.Fatalf("first login: %d", st)
	}
	os.Remove(users)
	if st := get("pw"); st != 200 {
		t.Errorf("cached login: %d", st)
	}
	if st := get("other"); st != 401 {
		t.Errorf("wrong password with a cached user: %d", st)
	}
}

// FuzzAuthorization sends arbitrary Authorization values through mod_auth
// (Basic and Digest areas): no panic, and only lighttpd's statuses.
func FuzzAuthorization(f *testing.F) {
	for _, s := range []string{
		"Basic dTpwdw==", "Basic !!!", "Basic", "basic   dTpw\x00", "Digest username=\"u\", realm=\"R\", nonce=\"1:2:3\", uri=\"/d/a\", response=\"00\"",
		`Digest username*=UTF-8''%C3%28, realm="R", nonce="0:x", uri="/d/a", response="00"`,
		`Digest qop=auth-int, nc=1, cnonce=x, username="u", realm="R", nonce="ffffffffffffffff:1", uri="/d/a", response="zz"`,
		`Digest foo="bar\`, `Digest ,,,,=`,
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	os.WriteFile(filepath.Join(dir, "users"), []byte("u:pw\n"), 0o600)
	os.MkdirAll(filepath.Join(dir, "b"), 0o755)
	os.MkdirAll(filepath.Join(dir, "d"), 0o755)
	os.WriteFile(filepath.Join(dir, "b", "a"), []byte("b"), 0o644)
	os.WriteFile(filepath.Join(dir, "d", "a"), []byte("d"), 0o644)
	src := fmt.Sprintf(`server.document-root = %q
server.modules = ("mod_auth", "mod_authn_file")
server.feature-flags = ("auth.delay-invalid-creds" => "disable")
auth.backend = "plain"
auth.backend.plain.userfile = "%s/users"
auth.cache = ()
auth.require = ("/b/" => ("method" => "basic", "realm" => "R", "require" => "valid-user"),
                "/d/" => ("method" => "digest", "realm" => "R", "require" => "valid-user", "algorithm" => "MD5|SHA-256"))
`, dir, dir)
	conf, err := lighttpdconf.ParseBytes(filepath.Join(dir, "l.conf"), []byte(src), &lighttpdconf.Options{})
	if err != nil {
		f.Fatal(err)
	}
	snap, err := core.Compile(conf, core.CompileOptions{}, nil)
	if err != nil {
		f.Fatal(err)
	}
	srv := core.NewServer(snap, slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.Fuzz(func(t *testing.T, v string) {
		if strings.ContainsAny(v, "\r\n") {
			return
		}
		for _, p := range []string{"/b/a", "/d/a"} {
			client, server := net.Pipe()
			go func() {
				io.WriteString(client, "GET "+p+" HTTP/1.0\r\nAuthorization: "+v+"\r\n\r\n")
			}()
			go srv.ServeConn(server, ":80")
			resp, err := readStatus(client)
			client.Close()
			if err != nil {
				continue // the header itself was refused by the request parser
			}
			switch resp {
			case 200, 400, 401:
			default:
				t.Fatalf("%q on %s: status %d", v, p, resp)
			}
		}
	})
}

func readStatus(c net.Conn) (int, error) {
	var code int
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return 0, err
	}
	_, err = fmt.Sscanf(line, "HTTP/1.0 %d", &code)
	return code, err
}

// benchLogins measures a keep-alive login to a 1 KiB file: the whole
// request, of which the auth check is the part that varies.
func benchLogins(b *testing.B, backend, userfile, extra string) {
	coretest.KeepAliveBench(b, `server.document-root = "@DIR@"
server.bind = "127.0.0.1"
server.port = @PORT@
server.max-keep-alive-requests = 65535
server.modules = ("mod_auth", "mod_authn_file")
mimetype.assign = (".txt" => "text/plain")
auth.backend = "`+backend+`"
auth.backend.`+backend+`.userfile = "@DIR@/users"
auth.require = ("/" => ("method" => "basic", "realm" => "R", "require" => "valid-user"))
`+extra, map[string]string{"1k.txt": strings.Repeat("x", 1024), "users": userfile},
		"GET /1k.txt HTTP/1.1\r\nHost: bench\r\nAuthorization: Basic "+base64.StdEncoding.EncodeToString([]byte("user:secret"))+"\r\n\r\n")
}

func BenchmarkBasicPlain(b *testing.B) { benchLogins(b, "plain", "user:secret\n", "") }

func BenchmarkBasicPlainCached(b *testing.B) {
	benchLogins(b, "plain", "user:secret\n", `auth.cache = ()`)
}

func BenchmarkBasicBcryptCached(b *testing.B) {
	h, _ := bcrypt.GenerateFromPassword([]byte("secret"), 10)
	benchLogins(b, "htpasswd", "user:"+string(h)+"\n", `auth.cache = ()`)
}

func BenchmarkBasicBcryptUncached(b *testing.B) {
	h, _ := bcrypt.GenerateFromPassword([]byte("secret"), 10)
	benchLogins(b, "htpasswd", "user:"+string(h)+"\n", "")
}
