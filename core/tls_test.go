package core

import (
	"reflect"
	"strings"
	"testing"
)

func init() {
	for _, n := range []string{"mod_openssl", "mod_gnutls"} {
		Register(ModuleInfo{Name: n, New: func() Module { return testModule{} }})
	}
}

func TestModuleOrderAddsOpenSSL(t *testing.T) {
	const warn = `Warning: please add "mod_openssl" to server.modules list`
	for _, tc := range []struct {
		name, conf string
		want       []string
		warn       bool
	}{
		{"ssl key without a TLS module", `server.modules = ("mod_test_a")
$SERVER["socket"] == ":443" { ssl.engine = "enable" }`, []string{"mod_test_a", "mod_staticfile", "mod_openssl"}, true},
		{"any ssl.* key counts", `ssl.verifyclient.depth = 3`, []string{"mod_staticfile", "mod_openssl"}, true},
		{"another TLS module listed", `server.modules = ("mod_gnutls")
ssl.engine = "disable"`, []string{"mod_gnutls", "mod_staticfile"}, false},
		{"listed", `server.modules = ("mod_openssl")
ssl.engine = "disable"`, []string{"mod_openssl", "mod_staticfile"}, false},
		{"no ssl keys", `server.modules = ("mod_test_a")`, []string{"mod_test_a", "mod_staticfile"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustCompile(t, "server.document-root = \"/srv\"\n"+tc.conf)
			if got := s.Modules(); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("modules %q, want %q", got, tc.want)
			}
			warned := false
			for _, w := range s.Warnings {
				warned = warned || strings.Contains(w.Msg, warn)
			}
			if warned != tc.warn {
				t.Fatalf("warned %v, want %v: %v", warned, tc.warn, s.Warnings)
			}
		})
	}
}

func TestResolveConnKnowsOnlyConnectionConditions(t *testing.T) {
	s := mustCompile(t, `server.document-root = "/srv"
server.tag = "global"
$HTTP["scheme"] == "https" { server.tag = "https" }
$SERVER["socket"] == ":8443" {
	server.tag = "socket"
	$HTTP["host"] == "a.test" { server.tag = "sni a" }
}
$HTTP["remoteip"] == "10.0.0.0/8" { server.tag = "net10" }
$HTTP["host"] =~ "^b\." { server.tag = "sni b" }
$HTTP["url"] =^ "/x" { server.tag = "url" }
else $HTTP["host"] == "c.test" { server.tag = "after url" }
$HTTP["useragent"] =~ "x" { server.tag = "agent" } else { server.tag = "agent else" }
`)
	for _, tc := range []struct {
		name string
		f    ConnFacts
		want string
	}{
		{"no SNI: scheme and host unknown", ConnFacts{Socket: ":443", RemoteIP: "192.0.2.1"}, "global"},
		{"socket", ConnFacts{Socket: ":8443", RemoteIP: "192.0.2.1"}, "socket"},
		{"SNI inside the socket", ConnFacts{Socket: ":8443", RemoteIP: "192.0.2.1", SNI: "a.test"}, "sni a"},
		{"SNI makes the scheme https", ConnFacts{Socket: ":443", SNI: "z.test"}, "https"},
		{"remote ip", ConnFacts{Socket: ":443", RemoteIP: "10.1.2.3"}, "net10"},
		{"SNI regex", ConnFacts{Socket: ":443", SNI: "b.test"}, "sni b"},
		// An else branch after a condition not known yet is not taken.
		{"else after an unknown condition", ConnFacts{Socket: ":443", SNI: "c.test"}, "https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ResolveConn(s, s.Core.Table, tc.f).ServerTag; got != tc.want {
				t.Fatalf("server.tag %q, want %q", got, tc.want)
			}
		})
	}
	// The pooled request of ResolveConn does not leak its mask into
	// requests: a normal request sees every condition.
	rc := newRequest(s, "GET", "c.test", "/y")
	if got := s.Core.Table.Resolve(rc).ServerTag; got != "agent else" {
		t.Fatalf("request: server.tag %q", got)
	}
}

func TestListenSpecsTLS(t *testing.T) {
	s := mustCompile(t, `server.document-root = "/srv"
server.bind = "127.0.0.1"
server.port = 8080
ssl.engine = "enable"
$SERVER["socket"] == "127.0.0.1:8081" { }
$SERVER["socket"] == "127.0.0.1:8082" { ssl.engine = "disable" }
$SERVER["socket"] == "127.0.0.1:8080" { ssl.engine = "disable" }
`)
	specs, err := s.ListenSpecs()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, sp := range specs {
		got[sp.Token] = sp.TLS
	}
	want := map[string]bool{"127.0.0.1:8080": false, "127.0.0.1:8081": true, "127.0.0.1:8082": false}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("TLS by socket %v, want %v", got, want)
	}
}
