package testconf

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// authLDAPDirectory is the throwaway directory the LDAP tests log in to.
const authLDAPDirectory = `dn: dc=example,dc=org
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: uid=alice,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: A
userPassword: alice-pw

dn: uid=bob,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: B
userPassword: bob-pw

dn: uid=j(doe)*,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: j(doe)*
cn: J
sn: D
userPassword: jd-pw

dn: uid=jörg,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: jörg
cn: Jörg
sn: J
userPassword: joerg-pw

dn: ou=groups,dc=example,dc=org
objectClass: organizationalUnit
ou: groups

dn: cn=admins,ou=groups,dc=example,dc=org
objectClass: posixGroup
cn: admins
gidNumber: 1001
memberUid: alice

dn: cn=staff,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: staff
member: uid=bob,ou=people,dc=example,dc=org
`

// authLDAPStart runs Debian's slapd on a loopback port over a fresh
// database holding authLDAPDirectory and returns host:port.
func authLDAPStart(t *testing.T) string {
	t.Helper()
	slapd := requirePeer(t, "slapd")
	slapadd := requirePeer(t, "slapadd")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile %[1]s/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
suffix "dc=example,dc=org"
rootdn "cn=admin,dc=example,dc=org"
rootpw adminpw
directory %[1]s/db
`, dir)
	confPath := filepath.Join(dir, "slapd.conf")
	ldif := filepath.Join(dir, "data.ldif")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ldif, []byte(authLDAPDirectory), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(slapadd, "-f", confPath, "-l", ldif).CombinedOutput(); err != nil {
		t.Fatalf("slapadd: %v\n%s", err, out)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(slapd, "-f", confPath, "-h", "ldap://"+addr+"/", "-d", "0")
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
	}
	t.Fatalf("slapd did not start: %s", log.String())
	return ""
}

// authLDAPRequireModule checks for lighttpd's mod_authn_ldap
// (lighttpd-modules-ldap), as requirePeer does for programs.
func authLDAPRequireModule(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/lib/lighttpd/mod_authn_ldap.so"); err != nil {
		if os.Getenv("GOLIGHTY_REQUIRE_PEERS") == "1" {
			t.Fatal("lighttpd's mod_authn_ldap (lighttpd-modules-ldap) is required (GOLIGHTY_REQUIRE_PEERS=1)")
		}
		t.Skip("lighttpd-modules-ldap not installed")
	}
}

const authLDAPConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_auth", "mod_authn_ldap")
server.feature-flags = ("auth.delay-invalid-creds" => "disable")
mimetype.assign = (".txt" => "text/plain")
auth.backend = "ldap"
auth.backend.ldap.hostname = "@LDAP@"
auth.backend.ldap.base-dn = "ou=people,dc=example,dc=org"
auth.backend.ldap.filter = "(&(objectClass=inetOrgPerson)(uid=$))"
auth.require = (
	"/v/" => ("method" => "basic", "realm" => "L", "require" => "valid-user"),
	"/u/" => ("method" => "basic", "realm" => "L", "require" => "user=bob"),
	"/d/" => ("method" => "digest", "realm" => "L", "require" => "valid-user"),
	"/g/" => ("method" => "basic", "realm" => "L", "require" => "group=cn=admins,ou=groups,dc=example,dc=org"),
	"/m/" => ("method" => "basic", "realm" => "L", "require" => "group=cn=staff,ou=groups,dc=example,dc=org"),
	"/n/" => ("method" => "basic", "realm" => "L", "require" => "group=cn=nosuch,ou=groups,dc=example,dc=org"),
)
$HTTP["url"] =^ "/m/" { auth.backend.ldap.groupmember = "member" }
$HTTP["url"] =^ "/dn/" {
	auth.backend.ldap.filter = ",ou=people,dc=example,dc=org"
	auth.require = ( "" => ("method" => "basic", "realm" => "L", "require" => "valid-user") )
}
$HTTP["url"] =^ "/bind/" {
	auth.backend.ldap.hostname = "ldap://@LDAP@"
	auth.backend.ldap.bind-dn = "cn=admin,dc=example,dc=org"
	auth.backend.ldap.bind-pw = "adminpw"
	auth.require = ( "" => ("method" => "basic", "realm" => "L", "require" => "valid-user") )
}
$HTTP["url"] =^ "/badbind/" {
	auth.backend.ldap.hostname = "@LDAP@"
	auth.backend.ldap.bind-dn = "cn=admin,dc=example,dc=org"
	auth.backend.ldap.bind-pw = "wrong"
	auth.require = ( "" => ("method" => "basic", "realm" => "L", "require" => "valid-user") )
}
$HTTP["url"] =^ "/empty/" {
	auth.backend.ldap.allow-empty-pw = "enable"
	auth.require = ( "" => ("method" => "basic", "realm" => "L", "require" => "valid-user") )
}
`

// TestSideBySideAuthLDAP logs in against a real slapd through golighty's
// mod_authn_ldap and lighttpd's: search and bind, wrong passwords, unknown
// users, user names that try to change the search filter, a service
// bind-dn, DN templates and group rules.
func TestSideBySideAuthLDAP(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	authLDAPRequireModule(t)
	ldapAddr := authLDAPStart(t)
	root := t.TempDir()
	files := map[string]string{}
	for _, d := range []string{"v", "u", "d", "g", "m", "n", "dn", "bind", "badbind", "empty"} {
		files["www/"+d+"/a.txt"] = d + "\n"
	}
	writeTree(t, root, files)
	conf := strings.NewReplacer("@ROOT@", root, "@LDAP@", ldapAddr).Replace(authLDAPConf)
	g := startServer(t, "golighty", golightyBin, root, conf)
	l := startServer(t, "lighttpd", lighttpd, root, conf)

	reqs := []string{
		authBasicReq("/v/a.txt", "alice", "alice-pw"),
		authBasicReq("/v/a.txt", "alice", "wrong"),
		authBasicReq("/v/a.txt", "alice", ""), // empty password: refused before any bind
		authBasicReq("/v/a.txt", "nobody", "x"),
		authBasicReq("/v/a.txt", "bob", "bob-pw"),
		authBasicReq("/v/a.txt", "j(doe)*", "jd-pw"), // filter characters, escaped
		authBasicReq("/v/a.txt", "jörg", "joerg-pw"), // UTF-8, escaped as \xx
		authBasicReq("/u/a.txt", "bob", "bob-pw"),
		authBasicReq("/u/a.txt", "alice", "alice-pw"),
		authBasicReq("/n/a.txt", "alice", "alice-pw"),
		authBasicReq("/dn/a.txt", "alice", "alice-pw"),
		authBasicReq("/dn/a.txt", "alice", "nope"),
		authBasicReq("/dn/a.txt", "alice,ou=x", "alice-pw"), // escaped into the RDN
		authBasicReq("/bind/a.txt", "bob", "bob-pw"),
		authBasicReq("/bind/a.txt", "bob", "x"),
		authBasicReq("/badbind/a.txt", "bob", "bob-pw"),   // the service bind fails
		authBasicReq("/empty/a.txt", "alice", ""),         // allowed, but slapd refuses unauthenticated binds
		authRawReq("/d/a.txt", `Digest username="alice"`), // ldap has no Digest: 500
		"GET /v/a.txt HTTP/1.0\r\n\r\n",
	}
	// Injection: none of these may match an entry or widen the filter.
	for _, u := range []string{"*", "al*", "alice)(uid=*", "*)(|(uid=*", "alice\\", "*)(objectClass=*", "alice\x00", "(uid=alice)"} {
		reqs = append(reqs, authBasicReq("/v/a.txt", u, "alice-pw"), authBasicReq("/v/a.txt", u, "x"))
	}
	compareSideBySide(t, g, l, reqs, nil, nil)

	// group=: golighty searches below the group's DN for the user, as
	// lighttpd meant to (and does from 1.4.70 on); 1.4.69 passes an unset
	// search base instead, so its group rules never match here.
	for _, c := range []struct {
		path, user, pw string
		want, want169  int
	}{
		{"/g/a.txt", "alice", "alice-pw", 200, 401}, // memberUid
		{"/g/a.txt", "bob", "bob-pw", 401, 401},
		{"/m/a.txt", "bob", "bob-pw", 200, 401}, // member holds the DN
		{"/m/a.txt", "alice", "alice-pw", 401, 401},
		{"/g/a.txt", "alice", "wrong", 401, 401},
	} {
		t.Run("group "+c.path+" "+c.user, func(t *testing.T) {
			req := authBasicReq(c.path, c.user, c.pw)
			if ex := g.raw(t, req, false); ex.resp == nil || ex.resp.StatusCode != c.want {
				t.Errorf("golighty: want %d, got %q", c.want, ex.raw)
			}
			if ex := l.raw(t, req, false); ex.resp == nil || ex.resp.StatusCode != c.want169 {
				t.Errorf("lighttpd 1.4.69: want %d, got %q", c.want169, ex.raw)
			}
		})
	}
}
