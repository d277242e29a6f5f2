package gw

import (
	"cmp"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/lighttpdconf"
)

// parseServer parses `fastcgi.server = VALUE` and returns the Server, the
// parser and its warnings.
func parseServer(t *testing.T, value string) (*Server, *Parser, []string, error) {
	t.Helper()
	src := "fastcgi.server = " + value + "\n"
	conf, err := lighttpdconf.ParseBytes("t.conf", []byte(src), &lighttpdconf.Options{})
	if err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	e, ok := conf.Global.Get("fastcgi.server")
	if !ok {
		t.Fatal("fastcgi.server missing")
	}
	var warns []string
	p := &Parser{Key: "fastcgi.server", Warn: func(pos lighttpdconf.Pos, f string, a ...any) {
		warns = append(warns, fmt.Sprintf(f, a...))
	}}
	srv, err := p.Parse(e.Value)
	return srv, p, warns, err
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ name, value, want string }{
		{"not a kvarray", `( ".php" => "x" )`, `fastcgi.server should have been a list of key => list like`},
		{"host not an array", `( ".php" => ( "host" => "127.0.0.1" ) )`, `unexpected value for gw.server near [host](string); expected ( "ext" => ( "backend-label" => ( "key" => "value" )))`},
		{"host and socket", `( ".php" => (( "host" => "127.0.0.1", "socket" => "/tmp/s" )) )`, `either host/port or socket have to be set in: fastcgi.server = (.php => ((null) ( ...`},
		{"labeled host and socket", `( ".php" => ( "a" => ( "port" => 1, "socket" => "/tmp/s" )) )`, `either host/port or socket have to be set in: fastcgi.server = (.php => (a ( ...`},
		{"nothing to connect", `( ".php" => (( "check-local" => "disable" )) )`, `host or bin-path have to be set in: fastcgi.server = (.php => ((null) ( ...`},
		{"bad port string", `( ".php" => (( "host" => "h", "port" => "x" )) )`, `got a string but expected a short: port x`},
		{"port array", `( ".php" => (( "host" => "h", "port" => ( 1 ) )) )`, `unexpected type for key: port 1 expected a short integer, range 0 ... 65535`},
		{"bad bool", `( ".php" => (( "host" => "h", "check-local" => "maybe" )) )`, `ERROR: unexpected type for key: check-local (string) "(enable|disable)"`},
		{"host integer", `( ".php" => (( "host" => 1 )) )`, `host should have been a string like ... = "..."`},
		{"relative x-sendfile-docroot", `( ".php" => (( "host" => "h", "x-sendfile-docroot" => ( "rel" ) )) )`, `x-sendfile-docroot paths must begin with '/'; invalid: "rel"`},
		{"bin-environment list", `( ".php" => (( "bin-path" => "/x", "socket" => "/tmp/s", "bin-environment" => ( "A" ) )) )`, `bin-environment should have been a list of key => string values`},
		{"duplicate socket", `( ".php" => (( "bin-path" => "/a", "socket" => "/tmp/s" )), ".x" => (( "bin-path" => "/b", "socket" => "/tmp/s" )) )`, `duplicate unixsocket path: /tmp/s`},
		{"socket too long", `( ".php" => (( "socket" => "/` + strings.Repeat("s", 120) + `" )) )`, `unixsocket is too long in: fastcgi.server = (.php => ((null) ( ...`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := parseServer(t, tc.value)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseOptions(t *testing.T) {
	srv, p, warns, err := parseServer(t, `(
  ".php" => ( "php" => (
    "bin-path" => "/usr/bin/php-cgi -c /etc/php.ini", "socket" => "/tmp/php.sock", "max-procs" => 2, "min-procs" => 5,
    "bin-environment" => ( "PHP_FCGI_CHILDREN" => "3" ), "bin-copy-environment" => ( "PATH" ),
    "check-local" => "disable", "broken-scriptfilename" => "enable", "fix-root-scriptname" => "enable",
    "strip-request-uri" => "/app/", "docroot" => "/srv", "allow-x-send-file" => "enable",
    "x-sendfile-docroot" => ( "/a/../b", "/c/" ), "kill-signal" => 9, "listen-backlog" => 7,
    "disable-time" => 3, "connect-timeout" => "4", "write-timeout" => 5, "read-timeout" => 6,
    "tcp-fin-propagate" => "enable", "max-load-per-proc" => 2, "idle-timeout" => 9,
    "balance" => "hash", "some_thing" => 1, "mode" => "nonsense" )),
  "/auth" => (( "host" => "/tmp/auth.sock", "mode" => "authorizer" )),
  ".py" => (( "host" => "::1" )) )`)
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.Resp) != 2 || len(srv.Auth) != 1 {
		t.Fatalf("resp %d auth %d", len(srv.Resp), len(srv.Auth))
	}
	hc := srv.Resp[0].Hosts[0].Conf
	want := HostConfig{
		Label: "php", Pos: hc.Pos, BinPath: "/usr/bin/php-cgi -c /etc/php.ini", Socket: "/tmp/php.sock",
		BinEnvironment: []string{"PHP_FCGI_CHILDREN=3"}, BinCopyEnvironment: []string{"PATH"},
		MaxProcs: 2, MinProcs: 2, MaxLoadPerProc: 2, IdleTimeout: 9, CheckLocal: false, DocRoot: "/srv",
		BrokenScriptFilename: true, FixRootScriptname: true, StripRequestURI: "/app", XSendfile: true,
		XSendfileDocroots: []string{"/b/", "/c/"}, KillSignal: syscall.SIGKILL, ListenBacklog: 7,
		DisableTime: 3, ConnectTimeout: 4, WriteTimeout: 5, ReadTimeout: 6, TCPFinPropagate: true,
	}
	if fmt.Sprint(hc) != fmt.Sprint(want) {
		t.Errorf("host config\n got %+v\nwant %+v", hc, want)
	}
	if a := srv.Auth[0].Hosts[0].Conf; a.Socket != "/tmp/auth.sock" || a.Host != "" || a.Mode != Authorizer {
		t.Errorf("host starting with / is a socket: %+v", a)
	}
	if py := srv.Resp[1].Hosts[0]; py.Conf.Port != 80 || py.Procs[0].Addr.String() != "tcp:[::1]:80" {
		t.Errorf("default port: %+v %v", py.Conf, py.Procs[0].Addr)
	}
	procs := srv.Resp[0].Hosts[0].Procs
	if len(procs) != 2 || procs[1].Addr.String() != "unix:/tmp/php.sock-1" {
		t.Errorf("procs %v", procs)
	}
	wantWarns := []string{
		"incorrect directive contains underscore ('_') instead of dash ('-'): some_thing",
		"WARNING: unknown gw mode: nonsense (ignored, mode set to responder)",
	}
	if strings.Join(warns, "\n") != strings.Join(wantWarns, "\n") {
		t.Errorf("warnings %q", warns)
	}
	if len(p.Hosts()) != 3 {
		t.Errorf("hosts %d", len(p.Hosts()))
	}
}

func TestSharedSocketHost(t *testing.T) {
	srv, p, _, err := parseServer(t, `( ".php" => (( "bin-path" => "/x", "socket" => "/tmp/s" )), ".php5" => (( "bin-path" => "/x", "socket" => "/tmp/s" )) )`)
	if err != nil {
		t.Fatal(err)
	}
	if srv.Resp[0].Hosts[0] != srv.Resp[1].Hosts[0] || len(p.Hosts()) != 1 {
		t.Fatal("same socket and bin-path must be one host")
	}
}

func TestMatch(t *testing.T) {
	srv, _, _, err := parseServer(t, `(
  "/auth/" => (( "host" => "a", "mode" => "authorizer" )),
  ".php" => (( "host" => "b" )),
  "/app" => (( "host" => "c" )) )`)
	if err != nil {
		t.Fatal(err)
	}
	mapExt := []core.KV{{Key: ".php3", Value: ".php"}, {Key: ".inc", Value: ".none"}}
	cases := []struct {
		name, fn, uri string
		skipAuth      bool
		want          string
	}{
		{"suffix", "/srv/x.php", "/x.php", false, ".php"},
		{"authorizer first", "/srv/auth/x.php", "/auth/x.php", false, "/auth/"},
		{"authorizer ran", "/srv/auth/x.php", "/auth/x.php", true, ".php"},
		{"prefix on url path", "/srv/app/x", "/app/x", false, "/app"},
		{"prefix is byte-wise", "/srv/appx", "/appx", false, "/app"},
		{"mapped extension", "/srv/x.php3", "/x.php3", false, ".php"},
		{"mapping to unknown key", "/srv/x.inc", "/x.inc", false, ""},
		{"no match", "/srv/x.txt", "/x.txt", false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if e := srv.Match(mapExt, tc.fn, tc.uri, tc.skipAuth); e != nil {
				got = e.Key
			}
			if got != tc.want {
				t.Errorf("Match = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestMatchSuffixKeys covers Match's first look, which turns away paths by
// their last byte when every key is a suffix: it must never turn away one
// that a key ends (an empty key ends every path).
func TestMatchSuffixKeys(t *testing.T) {
	cases := []struct {
		name, value, fn, want string
	}{
		{"match", `( ".php" => (( "host" => "b" )) )`, "/srv/x.php", ".php"},
		{"same last byte, no match", `( ".php" => (( "host" => "b" )) )`, "/srv/x.asp", "none"},
		{"other last byte", `( ".php" => (( "host" => "b" )) )`, "/srv/1k.txt", "none"},
		{"the key alone", `( ".php" => (( "host" => "b" )) )`, ".php", ".php"},
		{"second key", `( ".php" => (( "host" => "b" )), ".fcgi" => (( "host" => "c" )) )`, "/srv/x.fcgi", ".fcgi"},
		{"high byte", `( ".é" => (( "host" => "b" )) )`, "/srv/x.é", ".é"},
		{"authorizer suffix", `( ".auth" => (( "host" => "a", "mode" => "authorizer" )) )`, "/srv/x.auth", ".auth"},
		{"empty key ends every path", `( "" => (( "host" => "b" )) )`, "/srv/1k.txt", "(empty)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, _, _, err := parseServer(t, tc.value)
			if err != nil {
				t.Fatal(err)
			}
			got := "none"
			if e := srv.Match(nil, tc.fn, "/x", false); e != nil {
				got = cmp.Or(e.Key, "(empty)")
			}
			if got != tc.want {
				t.Errorf("Match(%q) = %q, want %q", tc.fn, got, tc.want)
			}
		})
	}
}

func TestSplitPathInfo(t *testing.T) {
	cases := []struct {
		key, path    string
		fix          bool
		script, info string
	}{
		{"/nl/", "/nl/foo/bar", false, "/nl/foo", "/bar"},
		{"/root", "/rootx/a/b", false, "/rootx", "/a/b"},
		{"/admin.gw", "/admin.gw/foo/bar", false, "/admin.gw", "/foo/bar"},
		{"/nl/", "/nl/foo", false, "/nl/foo", ""},
		{"/", "/cgi-bin/foo/bar", true, "", "/cgi-bin/foo/bar"},
		{"/", "/cgi-bin/foo/bar", false, "/cgi-bin", "/foo/bar"},
	}
	for _, tc := range cases {
		t.Run(tc.key+tc.path, func(t *testing.T) {
			s, i := SplitPathInfo(tc.key, tc.path, tc.fix)
			if s != tc.script || i != tc.info {
				t.Errorf("got %q %q, want %q %q", s, i, tc.script, tc.info)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	srv, _, _, err := parseServer(t, `( ".php" => ( "a" => ( "host" => "10.0.0.1" ), "b" => ( "host" => "10.0.0.2" ), "c" => ( "host" => "10.0.0.3" ) ) )`)
	if err != nil {
		t.Fatal(err)
	}
	ext := srv.Resp[0]
	var logs []string
	si := &SelectInfo{Authority: "example.org", Path: "/x.php", RemoteIP: "192.0.2.1",
		Log: logFunc(func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) })}
	name := func(h *Host) string {
		if h == nil {
			return "-"
		}
		return h.Conf.Label
	}

	t.Run("round-robin", func(t *testing.T) {
		var got []string
		for i := 0; i < 4; i++ {
			got = append(got, name(ext.Select(RoundRobin, si)))
		}
		if strings.Join(got, "") != "abca" {
			t.Errorf("order %v", got)
		}
	})
	t.Run("least-connection", func(t *testing.T) {
		pa := ext.Hosts[0].Acquire(si)
		if h := ext.Select(LeastConnection, si); name(h) != "b" {
			t.Errorf("picked %s with a loaded", name(h))
		}
		ext.Hosts[0].Release(pa, si)
		if h := ext.Select(LeastConnection, si); name(h) != "a" {
			t.Errorf("picked %s when idle", name(h))
		}
	})
	t.Run("hash is stable", func(t *testing.T) {
		first := ext.Select(Hash, si)
		for i := 0; i < 5; i++ {
			if h := ext.Select(Hash, si); h != first {
				t.Fatalf("hash changed %s -> %s", name(first), name(h))
			}
		}
		other := *si
		spread := map[*Host]bool{}
		for i := 0; i < 50; i++ {
			other.Path = fmt.Sprintf("/p%d.php", i)
			spread[ext.Select(Hash, &other)] = true
		}
		if len(spread) < 2 {
			t.Errorf("hash sends every path to one host")
		}
	})
	t.Run("sticky follows the client", func(t *testing.T) {
		first := ext.Select(Sticky, si)
		other := *si
		other.Path = "/different.php"
		if h := ext.Select(Sticky, &other); h != first {
			t.Errorf("sticky changed with the path")
		}
	})
	t.Run("disabled hosts and re-enable", func(t *testing.T) {
		logs = nil
		for _, h := range ext.Hosts {
			h.Conf.DisableTime = 1
			h.Procs[0].ConnectFailed(syscall.ECONNREFUSED, si.logf)
		}
		if h := ext.Select(LeastConnection, si); h != nil {
			t.Fatalf("picked %s while all disabled", name(h))
		}
		ext.Select(LeastConnection, si)
		down := 0
		for _, l := range logs {
			if l == "all handlers for /x.php? on .php are down." {
				down++
			}
		}
		if down != 1 {
			t.Errorf("down note logged %d times: %q", down, logs)
		}
		for _, h := range ext.Hosts {
			h.Procs[0].disabledUntil.Store(time.Now().Add(-time.Millisecond).UnixNano())
		}
		if h := ext.Select(LeastConnection, si); h == nil {
			t.Fatal("no host after the disable time")
		}
		if !strings.Contains(strings.Join(logs, "\n"), "gw-server re-enabled: tcp:10.0.0.1:80 10.0.0.1 80 ") {
			t.Errorf("re-enable not logged: %q", logs)
		}
	})
}

func TestParseBalance(t *testing.T) {
	for in, want := range map[string]Balance{"": LeastConnection, "fair": LeastConnection, "least-connection": LeastConnection,
		"round-robin": RoundRobin, "hash": Hash, "sticky": Sticky} {
		if b, err := ParseBalance(in); b != want || err != nil {
			t.Errorf("%q: %v %v", in, b, err)
		}
	}
	if b, err := ParseBalance("random"); b != LeastConnection || err == nil ||
		err.Error() != "xxxxx.balance has to be one of: least-connection, round-robin, hash, sticky, but not: random" {
		t.Errorf("unknown: %v %v", b, err)
	}
}

// TestParseKeepConn: golighty's "keep-conn" option (lighttpd ignores the
// key): a count, or "enable" taking the count from the PHP_FCGI_CHILDREN
// the spawned php-cgi gets (1 when unset, as the spawner sets it).
func TestParseKeepConn(t *testing.T) {
	t.Setenv("PHP_FCGI_CHILDREN", "7") // copied when bin-copy-environment is empty
	cases := []struct {
		name, opts string
		want       int
		err        string
	}{
		{"absent", `"host" => "h"`, 0, ""},
		{"count", `"host" => "h", "keep-conn" => 8`, 8, ""},
		{"count as string", `"host" => "h", "keep-conn" => "3"`, 3, ""},
		{"disable", `"host" => "h", "keep-conn" => "disable"`, 0, ""},
		{"zero", `"host" => "h", "keep-conn" => 0`, 0, ""},
		{"enable from bin-environment", `"bin-path" => "/x", "socket" => "/tmp/k1", "keep-conn" => "enable", "bin-environment" => ( "PHP_FCGI_CHILDREN" => "4" )`, 4, ""},
		{"enable from the copied environment", `"bin-path" => "/x", "socket" => "/tmp/k2", "keep-conn" => "enable"`, 7, ""},
		{"enable, variable not copied", `"bin-path" => "/x", "socket" => "/tmp/k3", "keep-conn" => "enable", "bin-copy-environment" => ( "PATH" )`, 1, ""},
		{"enable, zero children", `"bin-path" => "/x", "socket" => "/tmp/k4", "keep-conn" => "enable", "bin-environment" => ( "PHP_FCGI_CHILDREN" => "0" )`, 1, ""},
		{"enable without bin-path", `"host" => "h", "keep-conn" => "enable"`, 0, `keep-conn = "enable" takes its limit from the PHP_FCGI_CHILDREN of a bin-path backend`},
		{"bad value", `"host" => "h", "keep-conn" => "lots"`, 0, `keep-conn should be "enable", "disable" or the number of connections to keep per proc`},
		{"array", `"host" => "h", "keep-conn" => ( 1 )`, 0, `keep-conn should be "enable", "disable" or the number`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, _, _, err := parseServer(t, `( ".php" => (( `+tc.opts+` )) )`)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := srv.Resp[0].Hosts[0].Conf.KeepConn; got != tc.want {
				t.Errorf("KeepConn = %d, want %d", got, tc.want)
			}
		})
	}
}

// logFunc makes a function a Logger.
type logFunc func(format string, args ...any)

func (f logFunc) Logf(format string, args ...any) { f(format, args...) }
