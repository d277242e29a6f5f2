package core

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/golighty/golighty/core/rawaccept"
	"github.com/golighty/golighty/lighttpdconf"
	"golang.org/x/sys/unix"
)

// ListenSpec is one socket the config asks for: server.bind/server.port, or
// a $SERVER["socket"] == "..." block.
type ListenSpec struct {
	Token   string // as $SERVER["socket"] compares it: ":80", "127.0.0.1:8080", "/run/x.sock"
	Network string // "tcp", "tcp4", "tcp6" or "unix"
	Address string // what to bind
	Backlog int
	Perms   string // chmod for unix sockets
	TLS     bool
	FD      int // inherited descriptor (systemd, /dev/stdin), -1 when none

	// An IPv6 socket's IPV6_V6ONLY comes from server.set-v6only and
	// server.v4mapped (-1: unset), as lighttpd sets it (v6Mode).
	SetV6Only   bool
	V4Mapped    int8
	DeferAccept bool // TCP_DEFER_ACCEPT (server.defer-accept; not on TLS sockets)
}

// v6Mode is how an IPv6 socket's IPV6_V6ONLY is set.
type v6Mode int8

const (
	v6Only   v6Mode = iota // IPv6 only (set-v6only, lighttpd's default)
	v6System               // the system's net.ipv6.bindv6only (set-v6only disabled)
	v6Dual                 // IPv4 too, as mapped addresses (v4mapped enabled)
)

// v6Mode is lighttpd's choice (network_server_init): set-v6only decides,
// unless v4mapped is set.
func (sp ListenSpec) v6Mode() v6Mode {
	switch {
	case sp.V4Mapped == 1:
		return v6Dual
	case sp.V4Mapped == 0 || sp.SetV6Only:
		return v6Only
	}
	return v6System
}

// socketSettings applies the socket-scope keys to sp: the global values,
// over which a $SERVER["socket"] block (b, nil for the main socket) may
// set its own.
func socketSettings(sp *ListenSpec, srv *ServerSettings, b *lighttpdconf.Block) {
	sp.Backlog, sp.Perms, sp.DeferAccept = srv.ListenBacklog, srv.SocketPerms, srv.DeferAccept
	sp.SetV6Only, sp.V4Mapped = srv.SetV6Only, srv.V4Mapped
	if b == nil {
		return
	}
	if e, ok := b.Get("server.listen-backlog"); ok && e.Value.Kind == lighttpdconf.KindInteger {
		sp.Backlog = int(e.Value.Int)
	}
	if e, ok := b.Get("server.socket-perms"); ok {
		sp.Perms = e.Value.Str
	}
	if e, ok := b.Get("server.set-v6only"); ok {
		sp.SetV6Only, _ = boolValue(e.Value)
	}
	if e, ok := b.Get("server.v4mapped"); ok {
		on, _ := boolValue(e.Value)
		sp.V4Mapped = int8(boolInt(on))
	}
	if e, ok := b.Get("server.defer-accept"); ok {
		sp.DeferAccept, _ = boolValue(e.Value)
	}
}

// Key identifies a socket across reloads: same key, same socket kept open.
func (s ListenSpec) Key() string { return s.Network + " " + s.Address }

// ListenSpecs returns the sockets a snapshot listens on, main socket first.
func (s *Snapshot) ListenSpecs() ([]ListenSpec, error) {
	srv := &s.Core.Server
	var specs []ListenSpec
	seen := map[string]int{}
	add := func(sp ListenSpec) {
		if _, dup := seen[sp.Token]; !dup {
			seen[sp.Token] = len(specs)
			specs = append(specs, sp)
		}
	}
	// ssl.engine is a socket key: a $SERVER["socket"] block inherits the
	// global value unless it sets its own (lighttpd's network.c), and a block
	// naming the main socket configures that socket.
	globalTLS := globalBool(s.Conf.Global, "ssl.engine")
	if !srv.SystemdSocketActivate || srv.Bind != "" {
		token := srv.Bind
		if !strings.HasPrefix(token, "/") {
			token += ":" + strconv.Itoa(srv.Port)
		}
		sp, err := parseListenToken(token, srv.UseIPv6)
		if err != nil {
			return nil, err
		}
		socketSettings(&sp, srv, nil)
		sp.TLS = globalTLS
		add(sp)
	}
	for _, b := range s.Conf.Blocks {
		c := b.Cond
		if c == nil || c.Var != "SERVER" || c.Op != lighttpdconf.OpEq || !strings.EqualFold(c.Field, "socket") {
			continue
		}
		tls := globalTLS
		if e, ok := b.Get("ssl.engine"); ok {
			tls, _ = boolValue(e.Value)
		}
		if i, dup := seen[c.Value]; dup {
			specs[i].TLS = tls
			continue
		}
		useV6 := srv.UseIPv6
		if e, ok := b.Get("server.use-ipv6"); ok {
			useV6, _ = boolValue(e.Value)
		}
		sp, err := parseListenToken(c.Value, useV6)
		if err != nil {
			return nil, &ConfigError{Pos: c.Pos, Err: err}
		}
		socketSettings(&sp, srv, b)
		sp.TLS = tls
		add(sp)
	}
	if srv.SystemdSocketActivate {
		specs = activationSpecs(specs)
	}
	return specs, nil
}

func globalBool(b *lighttpdconf.Block, key string) bool {
	if e, ok := b.Get(key); ok {
		on, _ := boolValue(e.Value)
		return on
	}
	return false
}

// parseListenToken reads lighttpd's socket notation.
func parseListenToken(token string, useIPv6 bool) (ListenSpec, error) {
	sp := ListenSpec{Token: token, FD: -1, Backlog: 1024}
	if token == "/dev/stdin" || strings.HasPrefix(token, "/dev/stdin:") {
		sp.Network, sp.Address, sp.FD = "fd", "stdin", 0
		return sp, nil
	}
	if strings.HasPrefix(token, "/") {
		sp.Network, sp.Address = "unix", token
		return sp, nil
	}
	host, port, err := net.SplitHostPort(token)
	if err != nil {
		return sp, fmt.Errorf("invalid socket address %q: %v", token, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return sp, fmt.Errorf("invalid port in socket address %q", token)
	}
	switch {
	case host == "" && (useIPv6 || strings.HasPrefix(token, "[")):
		// "[]:80" is lighttpd's IPv6 wildcard too (a host in brackets).
		sp.Network, sp.Address = "tcp6", net.JoinHostPort("::", port)
	case host == "":
		sp.Network, sp.Address = "tcp4", net.JoinHostPort("0.0.0.0", port)
	case strings.Contains(host, ":"):
		sp.Network, sp.Address = "tcp6", net.JoinHostPort(host, port)
	default:
		sp.Network, sp.Address = "tcp", net.JoinHostPort(host, port)
		if useIPv6 {
			sp.Network = "tcp6"
		}
	}
	return sp, nil
}

// Listener is an open socket owned by the ListenerPool.
type Listener struct {
	Spec ListenSpec
	net.Listener
}

// ListenerPool owns the listening sockets. They live outside the config: a
// reload opens the sockets the new config adds and closes the removed ones;
// sockets in both stay open and keep their accept loops.
type ListenerPool struct {
	mu   sync.Mutex
	open map[string]*Listener
}

// NewListenerPool returns an empty pool.
func NewListenerPool() *ListenerPool { return &ListenerPool{open: map[string]*Listener{}} }

// Reconcile makes the open set equal to specs. It opens every new socket
// first; if one fails, the new ones are closed again and nothing changes.
func (p *ListenerPool) Reconcile(specs []ListenSpec) (added, removed []*Listener, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	want := map[string]ListenSpec{}
	for _, sp := range specs {
		want[sp.Key()] = sp
	}
	for _, sp := range specs {
		if l, ok := p.open[sp.Key()]; ok {
			l.Spec.Token = sp.Token // the token may be spelled anew
			continue
		}
		l, err := openListener(sp)
		if err != nil {
			for _, a := range added {
				a.Close()
			}
			return nil, nil, err
		}
		added = append(added, l)
	}
	for k, l := range p.open {
		if _, ok := want[k]; !ok {
			removed = append(removed, l)
			delete(p.open, k)
		}
	}
	for _, l := range added {
		p.open[l.Spec.Key()] = l
	}
	return added, removed, nil
}

// All returns the open listeners.
func (p *ListenerPool) All() []*Listener {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*Listener, 0, len(p.open))
	for _, l := range p.open {
		out = append(out, l)
	}
	return out
}

// CloseAll closes every socket (stop).
func (p *ListenerPool) CloseAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, l := range p.open {
		l.Close()
		delete(p.open, k)
	}
}

func openListener(sp ListenSpec) (*Listener, error) {
	switch sp.Network {
	case "inherited":
		l, ok := inheritedListener(sp)
		if !ok {
			return nil, fmt.Errorf("systemd socket %s is gone", sp.Address)
		}
		return rawAccepting(sp, l)
	case "fd":
		f := os.NewFile(uintptr(sp.FD), "stdin")
		ln, err := net.FileListener(f)
		if err != nil {
			return nil, fmt.Errorf("server.bind = \"/dev/stdin\": stdin is not a listening socket: %v", err)
		}
		return rawAccepting(sp, ln)
	case "unix":
		if err := removeStaleSocket(sp.Address); err != nil {
			return nil, err
		}
	}
	// No TCP keepalive on accepted connections: lighttpd sets none (its
	// idle limits close quiet connections), and Go's default would cost
	// four setsockopt(2) calls per connection.
	lc := net.ListenConfig{KeepAlive: -1}
	// Plain TCP, as lighttpd listens: Go (1.24 and later) makes TCP
	// listeners MPTCP sockets where the kernel has MPTCP, and their
	// connections, even those that fell back to TCP, ignore
	// net.ipv4.tcp_notsent_lowat (measured on 6.18: with it at 256 KiB, a
	// client that stopped reading had 3.8 MB of a download queued unsent
	// instead of 270 KB).
	lc.SetMultipathTCP(false)
	lc.Control = func(network, _ string, rc syscall.RawConn) error {
		var err error
		if cerr := rc.Control(func(fd uintptr) { err = socketOptions(int(fd), network, sp) }); cerr != nil {
			return cerr
		}
		return err
	}
	ln, err := lc.Listen(context.Background(), sp.Network, sp.Address)
	if err != nil {
		var se *os.SyscallError
		if errors.As(err, &se) && errors.Is(se.Err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("can't bind to socket: %s: Address already in use", sp.Token)
		}
		return nil, fmt.Errorf("can't bind to socket: %s: %v", sp.Token, err)
	}
	if err := setBacklog(ln, sp.Backlog); err != nil {
		ln.Close()
		return nil, fmt.Errorf("can't listen on socket: %s: %v", sp.Token, err)
	}
	if sp.Network == "unix" && sp.Perms != "" {
		mode, perr := strconv.ParseUint(sp.Perms, 8, 32)
		if perr != nil {
			ln.Close()
			return nil, fmt.Errorf("server.socket-perms %q is not an octal mode", sp.Perms)
		}
		if err := os.Chmod(sp.Address, fs.FileMode(mode)); err != nil {
			ln.Close()
			return nil, fmt.Errorf("chmod %s: %w", sp.Address, err)
		}
	}
	return rawAccepting(sp, ln)
}

// rawAccepting makes the Listener of ln: a TCP socket's connections are
// accepted and served by package rawaccept (no netpoller registration
// unless they wait, no system call per connection beyond lighttpd's);
// unix sockets keep net's.
func rawAccepting(sp ListenSpec, ln net.Listener) (*Listener, error) {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return &Listener{Spec: sp, Listener: ln}, nil
	}
	rl, err := rawaccept.Wrap(tl)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("can't listen on socket: %s: %v", sp.Token, err)
	}
	return &Listener{Spec: sp, Listener: rl}, nil
}

// warnIPv6Sockets gives lighttpd's warnings about IPv6 sockets: one asked
// for by server.use-ipv6 without an address, one whose server.set-v6only
// is disabled (even where server.v4mapped then decides). Sockets handed
// over by systemd are not looked at here.
func warnIPv6Sockets(sc *SetupContext, s *Snapshot) {
	if s.Core.Server.SystemdSocketActivate {
		return
	}
	specs, _ := s.ListenSpecs() // an error shows where the sockets are opened
	for _, sp := range specs {
		if sp.Network != "tcp6" {
			continue
		}
		if strings.HasPrefix(sp.Token, ":") || strings.HasPrefix(sp.Token, "[]") {
			sc.Warn(lighttpdconf.Pos{}, "warning: please use server.use-ipv6 only for hostnames, not without server.bind / empty address; your config will break if the kernel default for IPV6_V6ONLY changes")
		}
		if !sp.SetV6Only {
			sc.Warn(lighttpdconf.Pos{}, "warning: server.set-v6only will be removed soon, update your config to have different sockets for ipv4 and ipv6")
		}
	}
}

// socketOptions sets what lighttpd sets on a listening socket before its
// bind: IPV6_V6ONLY on an IPv6 socket (Go sets it to 1 for "tcp6", which
// refused IPv4 clients on a socket configured for them), and
// TCP_DEFER_ACCEPT (one second, as lighttpd asks) on a plain TCP one.
func socketOptions(fd int, network string, sp ListenSpec) error {
	if mode := sp.v6Mode(); network == "tcp6" && mode != v6Only {
		v := 0
		if mode == v6System {
			v = kernelV6Only()
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v); err != nil {
			return fmt.Errorf("setsockopt(IPV6_V6ONLY): %w", err)
		}
	}
	if sp.DeferAccept && !sp.TLS && strings.HasPrefix(network, "tcp") {
		// lighttpd only logs a failure here.
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 1)
	}
	return nil
}

// kernelV6Only is net.ipv6.bindv6only, what a socket gets when no one sets
// IPV6_V6ONLY (0 where it cannot be read: the kernel's own default).
func kernelV6Only() int {
	b, err := os.ReadFile("/proc/sys/net/ipv6/bindv6only")
	if err == nil && strings.TrimSpace(string(b)) == "1" {
		return 1
	}
	return 0
}

// setBacklog applies server.listen-backlog: net.Listen always asks for the
// system's largest queue (net.core.somaxconn), and listen(2) again on a
// listening socket only resizes its queue. n <= 0 leaves it as it is.
func setBacklog(ln net.Listener, n int) error {
	sc, ok := ln.(syscall.Conn)
	if !ok || n <= 0 {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) { lerr = unix.Listen(int(fd), n) }); err != nil {
		return err
	}
	return lerr
}

// removeStaleSocket deletes a leftover unix socket file, never anything else.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("can't bind to socket: %s: a file that is not a socket is in the way", path)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return fmt.Errorf("can't bind to socket: %s: Address already in use", path)
	}
	return os.Remove(path)
}
