package core

import (
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listenAndAsk opens a listener for sp, runs ask on its descriptor and
// closes it.
func listenAndAsk(t *testing.T, sp ListenSpec, ask func(fd int) error) {
	t.Helper()
	l, err := openListener(sp)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rc, err := l.Listener.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var aerr error
	if err := rc.Control(func(fd uintptr) { aerr = ask(int(fd)) }); err != nil {
		t.Fatal(err)
	}
	if aerr != nil {
		t.Fatal(aerr)
	}
}

// TestListenerIsPlainTCP: lighttpd's sockets are TCP, not the MPTCP that
// Go's net.Listen chooses by default where the kernel offers it.
func TestListenerIsPlainTCP(t *testing.T) {
	for _, network := range []string{"tcp", "tcp4"} {
		var proto int
		listenAndAsk(t, ListenSpec{Network: network, Address: "127.0.0.1:0", FD: -1}, func(fd int) (err error) {
			proto, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL)
			return err
		})
		if proto != unix.IPPROTO_TCP {
			t.Errorf("%s listener: protocol %d, want IPPROTO_TCP (%d)", network, proto, unix.IPPROTO_TCP)
		}
	}
}

// TestListenBacklog: server.listen-backlog sizes the accept queue, as
// lighttpd's listen(2) does (a listening TCP socket reports its queue's
// size in tcpi_sacked).
func TestListenBacklog(t *testing.T) {
	for _, backlog := range []int{7, 1024} {
		var info *unix.TCPInfo
		listenAndAsk(t, ListenSpec{Network: "tcp4", Address: "127.0.0.1:0", FD: -1, Backlog: backlog}, func(fd int) (err error) {
			info, err = unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
			return err
		})
		if int(info.Sacked) != backlog {
			t.Errorf("server.listen-backlog = %d: the accept queue holds %d", backlog, info.Sacked)
		}
	}
}

// TestListenSpecsSocketKeys: the socket-scope keys apply globally and per
// $SERVER["socket"] block, and IPV6_V6ONLY follows lighttpd's choice:
// server.set-v6only, unless server.v4mapped is set.
func TestListenSpecsSocketKeys(t *testing.T) {
	s := mustCompile(t, `server.document-root = "/srv"
server.bind = "127.0.0.1"
server.port = 8080
server.listen-backlog = 50
server.defer-accept = "enable"
$SERVER["socket"] == "[::]:8081" { server.set-v6only = "disable" }
$SERVER["socket"] == "[::]:8082" { server.v4mapped = "enable" server.listen-backlog = 9 }
$SERVER["socket"] == "[::]:8083" { server.set-v6only = "disable" server.v4mapped = "disable" }
$SERVER["socket"] == "[::]:8084" { server.defer-accept = "disable" }
`)
	specs, err := s.ListenSpecs()
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		v6      v6Mode
		backlog int
		deferOn bool
	}
	wants := map[string]want{
		"127.0.0.1:8080": {v6Only, 50, true},
		"[::]:8081":      {v6System, 50, true},
		"[::]:8082":      {v6Dual, 9, true},
		"[::]:8083":      {v6Only, 50, true},
		"[::]:8084":      {v6Only, 50, false},
	}
	for _, sp := range specs {
		w, ok := wants[sp.Token]
		if !ok {
			t.Errorf("unexpected socket %s", sp.Token)
			continue
		}
		delete(wants, sp.Token)
		if got := (want{sp.v6Mode(), sp.Backlog, sp.DeferAccept}); got != w {
			t.Errorf("%s: %+v, want %+v", sp.Token, got, w)
		}
	}
	for tok := range wants {
		t.Errorf("no socket %s", tok)
	}
	// lighttpd warns for each IPv6 socket with set-v6only disabled.
	n := 0
	for _, w := range s.Warnings {
		if strings.Contains(w.Msg, "server.set-v6only will be removed soon") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d set-v6only warnings, want 2: %v", n, s.Warnings)
	}
	// server.use-ipv6 without an address: lighttpd's warning, and an IPv6
	// socket (IPv6 only, by set-v6only's default).
	s = mustCompile(t, "server.document-root = \"/srv\"\nserver.port = 8080\nserver.use-ipv6 = \"enable\"\n")
	if specs, _ := s.ListenSpecs(); len(specs) != 1 || specs[0].Network != "tcp6" || specs[0].v6Mode() != v6Only {
		t.Errorf("use-ipv6 without server.bind: %+v", specs)
	}
	if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0].Msg, "please use server.use-ipv6 only for hostnames") {
		t.Errorf("use-ipv6 without server.bind: warnings %v", s.Warnings)
	}
}

// TestListenV6Only: an IPv6 wildcard socket takes IPv4 clients when its
// config asks for them, and only then.
func TestListenV6Only(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sp      ListenSpec
		takesV4 bool
	}{
		{"set-v6only", ListenSpec{SetV6Only: true, V4Mapped: -1}, false},
		{"v4mapped", ListenSpec{SetV6Only: true, V4Mapped: 1}, true},
		{"set-v6only disabled", ListenSpec{SetV6Only: false, V4Mapped: -1}, kernelV6Only() == 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := tc.sp
			sp.Network, sp.Address, sp.FD = "tcp6", "[::]:0", -1
			l, err := openListener(sp)
			if err != nil {
				t.Skipf("no IPv6 here: %v", err)
			}
			defer l.Close()
			port := l.Addr().(*net.TCPAddr).Port
			c, err := net.DialTimeout("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 2*time.Second)
			if c != nil {
				c.Close()
			}
			if takes := err == nil; takes != tc.takesV4 {
				t.Errorf("an IPv4 client connects: %v (%v), want %v", takes, err, tc.takesV4)
			}
		})
	}
}

// TestListenDeferAccept: server.defer-accept sets TCP_DEFER_ACCEPT on a
// plain socket, not on a TLS one (as lighttpd).
func TestListenDeferAccept(t *testing.T) {
	for _, tc := range []struct {
		sp   ListenSpec
		want bool
	}{
		{ListenSpec{DeferAccept: true}, true},
		{ListenSpec{DeferAccept: true, TLS: true}, false},
		{ListenSpec{}, false},
	} {
		sp := tc.sp
		sp.Network, sp.Address, sp.FD = "tcp4", "127.0.0.1:0", -1
		var v int
		listenAndAsk(t, sp, func(fd int) (err error) {
			v, err = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT)
			return err
		})
		if got := v > 0; got != tc.want {
			t.Errorf("defer-accept %v, TLS %v: TCP_DEFER_ACCEPT %d", sp.DeferAccept, sp.TLS, v)
		}
	}
}

// TestParseListenToken: which socket a server.bind/server.port pair or a
// $SERVER["socket"] token opens, as lighttpd decides it.
func TestParseListenToken(t *testing.T) {
	for _, tc := range []struct {
		token            string
		useIPv6          bool
		network, address string
	}{
		{":80", false, "tcp4", "0.0.0.0:80"},
		{":80", true, "tcp6", "[::]:80"},
		{"[::]:80", false, "tcp6", "[::]:80"},
		{"[]:80", false, "tcp6", "[::]:80"},
		{"[::1]:8080", false, "tcp6", "[::1]:8080"},
		{"127.0.0.1:80", false, "tcp", "127.0.0.1:80"},
		{"localhost:80", true, "tcp6", "localhost:80"},
		{"/run/lighttpd.sock", false, "unix", "/run/lighttpd.sock"},
		{"/dev/stdin", false, "fd", "stdin"},
	} {
		sp, err := parseListenToken(tc.token, tc.useIPv6)
		if err != nil {
			t.Errorf("%q: %v", tc.token, err)
			continue
		}
		if sp.Network != tc.network || sp.Address != tc.address {
			t.Errorf("%q (use-ipv6 %v): %s %s, want %s %s", tc.token, tc.useIPv6, sp.Network, sp.Address, tc.network, tc.address)
		}
	}
	for _, bad := range []string{"127.0.0.1", ":http", ":99999"} {
		if _, err := parseListenToken(bad, false); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
