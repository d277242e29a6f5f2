// Package spawn starts and supervises backend processes the way lighttpd's
// gw_backend does for a "bin-path" (mod_fastcgi, mod_scgi, mod_proxy):
//
//   - proc k of max-procs listens on SOCKET + "-" + k (unix) or on
//     host:port+k (tcp); the server creates, binds and listens on that
//     socket itself and hands it to the child as fd 0
//     (FCGI_LISTENSOCK_FILENO);
//   - if something already answers on the address, it is used as is and
//     not spawned; a stale unix socket file is removed first (only ever a
//     socket, never another kind of file);
//   - the environment is bin-copy-environment's variables (or, when that
//     list is empty, the whole server environment), then bin-environment,
//     then PHP_FCGI_CHILDREN=1 unless already set;
//   - bin-path is split on spaces and TABs into argv (no quoting), or run
//     as /bin/sh -c "exec BIN-PATH" for SCGI (Spec.ShellExec); the child
//     runs in the directory of argv[0];
//   - a child that exits is restarted, at most once per RestartMin and
//     with exponential backoff while it keeps dying;
//   - Stop sends kill-signal, then SIGKILL after the grace period, and
//     removes the unix socket files it created.
//
// Differences from lighttpd: bin-path's argv[0] is made absolute before the
// chdir (lighttpd would resolve a relative path against the new directory);
// Start waits StartCheck instead of 1ms before declaring a child dead on
// arrival; signals this process ignores stay ignored in the child (os/exec
// cannot reset them as lighttpd's fork does for SIGPIPE, SIGUSR1, SIGTT*);
// fds other than 0-2 are never inherited.
//
// Each child runs in its own process group so that workers a child forked
// (php-cgi with PHP_FCGI_CHILDREN) can be killed with it: a php-cgi master
// killed by SIGKILL leaves workers serving the old socket, which would make
// the respawned master's socket unusable.
package spawn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Spec describes one backend host with bin-path (config-keys.md §9).
type Spec struct {
	// BinPath is the configured command line, split on ' ' and '\t'.
	BinPath string
	// ShellExec runs BinPath via /bin/sh -c "exec BinPath" (mod_scgi).
	ShellExec bool

	// Socket is the unix socket base path; proc k uses Socket+"-"+k.
	Socket string
	// Host and Port give the TCP address; proc k listens on Port+k.
	// Host defaults to 127.0.0.1 and is resolved once, in Start.
	Host string
	Port int

	// MaxProcs is the number of processes; 0 means lighttpd's default, 4.
	MaxProcs int
	// Environment is bin-environment as "NAME=value" entries, in order.
	Environment []string
	// CopyEnvironment is bin-copy-environment: variable names copied from
	// this process's environment. Empty copies the whole environment.
	CopyEnvironment []string
	// ListenBacklog is listen-backlog (default 1024).
	ListenBacklog int
	// KillSignal is kill-signal (default SIGTERM).
	KillSignal syscall.Signal

	// Stdout and Stderr become the child's fd 1 and 2; nil inherits this
	// process's (lighttpd leaves them untouched, so when daemonized the
	// child's stderr is the error log).
	Stdout, Stderr *os.File

	// RestartMin is the least time between a child's exit and its
	// restart (default 1s, lighttpd's limit); RestartMax caps the backoff
	// (default 30s).
	RestartMin, RestartMax time.Duration
	// StopGrace is how long Stop waits after KillSignal before SIGKILL
	// (default 5s; a shorter ctx deadline given to Stop wins).
	StopGrace time.Duration
	// StartCheck is how long Start waits before checking that no child
	// exited at once (default 50ms; lighttpd waits 1ms, too short for a
	// fork+exec to fail visibly on a loaded machine).
	StartCheck time.Duration

	// Notify, if set, is told when a proc goes down or comes back up, so
	// the gateway can stop routing to it. It runs on a supervisor
	// goroutine and must not block.
	Notify func(Event)
}

// Addr is where a proc listens, ready for a dialer (net.Dial(Network, Address)).
type Addr struct {
	Network string // "tcp" or "unix"
	Address string
}

func (a Addr) String() string {
	if a.Network == "unix" {
		return "unix:" + a.Address
	}
	return "tcp:" + a.Address
}

// Event reports a proc state change.
type Event struct {
	Proc int  // index 0 … MaxProcs-1
	Addr Addr // the proc's address
	PID  int  // process id (of the exited process when Up is false)
	Up   bool // true: (re)started; false: exited
	Err  error
}

// ProcState is a snapshot of one proc.
type ProcState struct {
	Addr     Addr
	PID      int  // 0 when not running or External
	Running  bool // spawned and not exited
	External bool // address was already served at start; not spawned
	Restarts int
}

// Group is the set of procs of one Spec.
type Group struct {
	spec  Spec
	log   func(string)
	argv  []string
	path  string // absolute argv[0]
	dir   string
	env   []string
	procs []*proc

	mu       sync.Mutex
	stopping bool
	stopCh   chan struct{}
	wg       sync.WaitGroup
}

type proc struct {
	idx      int
	addr     Addr
	sa       unix.Sockaddr
	family   int
	external bool

	// guarded by Group.mu
	cmd      *exec.Cmd
	pid      int
	running  bool
	restarts int
	started  time.Time
	exited   chan struct{} // closed when the current child has been reaped
	owned    bool          // we created the unix socket file
}

const (
	defaultMaxProcs = 4
	defaultBacklog  = 1024
	healthyUptime   = 10 * time.Second // a child that lived this long restarts without backoff
)

// Start spawns the procs of spec and supervises them until Stop. log
// receives lighttpd-style messages, one call at a time (nil discards them). If any child fails
// to start, the others are stopped and the error says which.
func Start(spec Spec, log func(string)) (*Group, error) {
	if log == nil {
		log = func(string) {}
	}
	// Supervisors log concurrently; callers get one call at a time.
	var logMu sync.Mutex
	unsafeLog := log
	log = func(s string) {
		logMu.Lock()
		defer logMu.Unlock()
		unsafeLog(s)
	}
	if err := spec.setDefaults(); err != nil {
		return nil, err
	}
	g := &Group{spec: spec, log: log, stopCh: make(chan struct{})}
	g.argv = parseBinPath(spec.BinPath, spec.ShellExec)
	path, err := filepath.Abs(g.argv[0])
	if err != nil {
		return nil, fmt.Errorf("spawn: bin-path %q: %w", spec.BinPath, err)
	}
	g.path = path
	g.dir = filepath.Dir(path)
	if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		log(fmt.Sprintf("invalid \"bin-path\" => \"%s\" (check that file exists, is regular file, and is executable by lighttpd)", spec.BinPath))
	}
	g.env = buildEnv(spec.CopyEnvironment, spec.Environment)

	if err := g.initAddrs(); err != nil {
		return nil, err
	}
	for _, p := range g.procs {
		if err := g.startProc(p); err != nil {
			g.Stop(context.Background())
			return nil, err
		}
	}
	// A child that exits at once (wrong binary, not FastCGI-capable) fails
	// the start, as in lighttpd.
	timer := time.NewTimer(spec.StartCheck)
	defer timer.Stop()
	<-timer.C
	g.mu.Lock()
	var failed *proc
	for _, p := range g.procs {
		if !p.external && !p.running {
			failed = p
			break
		}
	}
	g.mu.Unlock()
	if failed != nil {
		g.Stop(context.Background())
		log(fmt.Sprintf("gw-backend failed to start: %s", spec.BinPath))
		log("If you're trying to run your app as a FastCGI backend, make sure you're using the FastCGI-enabled version.")
		return nil, fmt.Errorf("spawn: gw-backend failed to start: %s (proc %d on %s exited immediately)", spec.BinPath, failed.idx, failed.addr)
	}
	for _, p := range g.procs {
		g.wg.Add(1)
		go g.supervise(p)
	}
	return g, nil
}

func (s *Spec) setDefaults() error {
	if strings.TrimSpace(s.BinPath) == "" {
		return errors.New("spawn: bin-path is empty")
	}
	if (s.Socket == "") == (s.Port == 0) {
		return errors.New("spawn: exactly one of socket or port must be set")
	}
	if s.Port < 0 || s.Port > 65535 {
		return fmt.Errorf("spawn: invalid port %d", s.Port)
	}
	if s.MaxProcs <= 0 {
		s.MaxProcs = defaultMaxProcs
	}
	if s.Port != 0 && s.Port+s.MaxProcs-1 > 65535 {
		return fmt.Errorf("spawn: port %d + %d procs exceeds 65535", s.Port, s.MaxProcs)
	}
	if s.Host == "" {
		s.Host = "127.0.0.1"
	}
	if s.ListenBacklog <= 0 {
		s.ListenBacklog = defaultBacklog
	}
	if s.KillSignal == 0 {
		s.KillSignal = syscall.SIGTERM
	}
	if s.Stdout == nil {
		s.Stdout = os.Stdout
	}
	if s.Stderr == nil {
		s.Stderr = os.Stderr
	}
	if s.RestartMin <= 0 {
		s.RestartMin = time.Second
	}
	if s.RestartMax < s.RestartMin {
		s.RestartMax = max(30*time.Second, s.RestartMin)
	}
	if s.StopGrace <= 0 {
		s.StopGrace = 5 * time.Second
	}
	if s.StartCheck <= 0 {
		s.StartCheck = 50 * time.Millisecond
	}
	return nil
}

// parseBinPath splits like lighttpd: every space or TAB ends an argument,
// so doubled separators yield empty arguments. No quoting.
func parseBinPath(bin string, shell bool) []string {
	if shell {
		return []string{"/bin/sh", "-c", "exec " + bin}
	}
	var argv []string
	start := 0
	for i := 0; i < len(bin); i++ {
		if bin[i] == ' ' || bin[i] == '\t' {
			argv = append(argv, bin[start:i])
			start = i + 1
		}
	}
	return append(argv, bin[start:])
}

// buildEnv follows gw_spawn_connection: copied variables (or the whole
// environment), then bin-environment overriding by name in place, then
// PHP_FCGI_CHILDREN=1 when absent.
func buildEnv(copyNames, binEnv []string) []string {
	var env []string
	add := func(kv string) {
		name, _, _ := strings.Cut(kv, "=")
		for i, e := range env {
			if n, _, _ := strings.Cut(e, "="); n == name {
				env[i] = kv
				return
			}
		}
		env = append(env, kv)
	}
	if len(copyNames) > 0 {
		for _, name := range copyNames {
			if v, ok := os.LookupEnv(name); ok {
				add(name + "=" + v)
			}
		}
	} else {
		for _, kv := range os.Environ() {
			if strings.Contains(kv, "=") {
				add(kv)
			}
		}
	}
	for _, kv := range binEnv {
		add(kv)
	}
	for _, e := range env {
		if strings.HasPrefix(e, "PHP_FCGI_CHILDREN=") {
			return env
		}
	}
	return append(env, "PHP_FCGI_CHILDREN=1")
}

// Children is the number of requests a spawned php-cgi proc serves at once:
// PHP_FCGI_CHILDREN of the environment it gets (1 as the default sets it;
// 0 or less means php-cgi serves alone, one at a time).
func Children(copyNames, binEnv []string) int {
	for _, e := range buildEnv(copyNames, binEnv) {
		if v, ok := strings.CutPrefix(e, "PHP_FCGI_CHILDREN="); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
				return n
			}
			return 1
		}
	}
	return 1
}

// initAddrs computes every proc's address and socket address.
func (g *Group) initAddrs() error {
	s := &g.spec
	var ip net.IP
	if s.Socket == "" {
		ipa, err := net.ResolveIPAddr("ip", s.Host)
		if err != nil {
			return fmt.Errorf("spawn: resolving host %q: %w", s.Host, err)
		}
		ip = ipa.IP
	}
	for k := 0; k < s.MaxProcs; k++ {
		p := &proc{idx: k}
		if s.Socket != "" {
			path := s.Socket + "-" + strconv.Itoa(k)
			p.addr = Addr{Network: "unix", Address: path}
			p.sa, p.family = &unix.SockaddrUnix{Name: path}, unix.AF_UNIX
		} else {
			port := s.Port + k
			p.addr = Addr{Network: "tcp", Address: net.JoinHostPort(ip.String(), strconv.Itoa(port))}
			if ip4 := ip.To4(); ip4 != nil {
				sa := &unix.SockaddrInet4{Port: port}
				copy(sa.Addr[:], ip4)
				p.sa, p.family = sa, unix.AF_INET
			} else {
				sa := &unix.SockaddrInet6{Port: port}
				copy(sa.Addr[:], ip.To16())
				p.sa, p.family = sa, unix.AF_INET6
			}
		}
		g.procs = append(g.procs, p)
	}
	return nil
}

// startProc is gw_spawn_connection: use a live listener as is, else clear a
// stale socket file, listen, and fork the child on that socket.
func (g *Group) startProc(p *proc) error {
	c, err := net.DialTimeout(p.addr.Network, p.addr.Address, 2*time.Second)
	if err == nil {
		c.Close()
		g.mu.Lock()
		first := p.restarts == 0 && !p.owned
		g.mu.Unlock()
		if first {
			p.external = true
			g.log(fmt.Sprintf("socket is already used; won't spawn: %s", p.addr))
			return nil
		}
		// A respawn found the address served by someone else (a worker
		// that escaped the group kill): do not start a second server.
		return fmt.Errorf("spawn: %s is served by another process", p.addr)
	}
	if p.family == unix.AF_UNIX && !errors.Is(err, syscall.ENOENT) {
		if err := removeStaleSocket(p.addr.Address); err != nil {
			return err
		}
	}
	f, err := listenSocket(p, g.spec.ListenBacklog)
	if err != nil {
		return err
	}
	defer f.Close() // the child holds its own copy as fd 0
	cmd := &exec.Cmd{
		Path:        g.path,
		Args:        g.argv,
		Env:         g.env,
		Dir:         g.dir,
		Stdin:       f,
		Stdout:      g.spec.Stdout,
		Stderr:      g.spec.Stderr,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if err := cmd.Start(); err != nil {
		g.log(fmt.Sprintf("gw-backend failed to start: %s", g.spec.BinPath))
		return fmt.Errorf("spawn: starting %q for %s: %w", g.spec.BinPath, p.addr, err)
	}
	exited := make(chan struct{})
	g.mu.Lock()
	p.cmd, p.pid, p.running, p.started, p.exited = cmd, cmd.Process.Pid, true, time.Now(), exited
	p.owned = p.family == unix.AF_UNIX
	if g.stopping {
		// Stop signalled the procs while this one was being forked.
		unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
	}
	g.mu.Unlock()
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		err := cmd.Wait()
		// Take the rest of the process group with it: workers a master
		// forked must not keep serving a socket nobody supervises.
		unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
		g.mu.Lock()
		p.running = false
		g.mu.Unlock()
		g.exitErr(p, cmd.Process.Pid, err)
		close(exited)
	}()
	return nil
}

// exitErr logs an exit that Stop did not cause.
func (g *Group) exitErr(p *proc, pid int, err error) {
	g.mu.Lock()
	stopping := g.stopping
	g.mu.Unlock()
	if stopping {
		return
	}
	status := "exited with status 0"
	if err != nil {
		status = err.Error()
	}
	g.log(fmt.Sprintf("child exited: pid %d socket %s: %s", pid, p.addr, status))
	if g.spec.Notify != nil {
		g.spec.Notify(Event{Proc: p.idx, Addr: p.addr, PID: pid, Up: false, Err: err})
	}
}

// supervise restarts p each time its child exits, until Stop.
func (g *Group) supervise(p *proc) {
	defer g.wg.Done()
	if p.external {
		return
	}
	delay := g.spec.RestartMin
	for {
		g.mu.Lock()
		exited, started := p.exited, p.started
		g.mu.Unlock()
		select {
		case <-exited:
		case <-g.stopCh:
			return
		}
		if time.Since(started) >= healthyUptime {
			delay = g.spec.RestartMin
		}
		for {
			select {
			case <-time.After(delay):
			case <-g.stopCh:
				return
			}
			delay = min(2*delay, g.spec.RestartMax)
			g.mu.Lock()
			if g.stopping {
				g.mu.Unlock()
				return
			}
			p.restarts++
			g.mu.Unlock()
			err := g.startProc(p)
			if err == nil {
				g.mu.Lock()
				pid := p.pid
				g.mu.Unlock()
				g.log(fmt.Sprintf("restarted proc %d on %s: pid %d", p.idx, p.addr, pid))
				if g.spec.Notify != nil {
					g.spec.Notify(Event{Proc: p.idx, Addr: p.addr, PID: pid, Up: true})
				}
				break
			}
			g.log(fmt.Sprintf("restarting proc %d on %s failed: %v", p.idx, p.addr, err))
		}
	}
}

// listenSocket creates the listening socket lighttpd would: SO_REUSEADDR,
// bind, listen(listen-backlog). Go's net.Listen cannot set the backlog.
func listenSocket(p *proc, backlog int) (*os.File, error) {
	fd, err := unix.Socket(p.family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("spawn: socket for %s: %w", p.addr, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("spawn: setsockopt for %s: %w", p.addr, err)
	}
	if err := unix.Bind(fd, p.sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("spawn: bind failed for: %s: %w", p.addr, err)
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("spawn: listen on %s: %w", p.addr, err)
	}
	return os.NewFile(uintptr(fd), p.addr.String()), nil
}

// removeStaleSocket unlinks path if it is a socket. Anything else is left
// alone: a typo in "socket" must not delete a regular file.
func removeStaleSocket(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("spawn: %w", err)
	}
	if st.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("spawn: refusing to remove %s: not a socket (%s)", path, st.Mode().Type())
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spawn: removing stale socket: %w", err)
	}
	return nil
}

// Addresses returns every proc's address in proc order, spawned or not.
func (g *Group) Addresses() []Addr {
	out := make([]Addr, len(g.procs))
	for i, p := range g.procs {
		out[i] = p.addr
	}
	return out
}

// Procs returns a snapshot of every proc's state.
func (g *Group) Procs() []ProcState {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]ProcState, len(g.procs))
	for i, p := range g.procs {
		out[i] = ProcState{Addr: p.addr, Running: p.running, External: p.external, Restarts: p.restarts}
		if p.running {
			out[i].PID = p.pid
		}
	}
	return out
}

// Stop ends supervision, sends KillSignal to every child, and SIGKILLs the
// process groups of those still alive after StopGrace or when ctx is done. It then removes the
// unix socket files it created and returns once every child is reaped. It
// returns ctx's error if SIGKILL was needed. Calling Stop twice is safe.
func (g *Group) Stop(ctx context.Context) error {
	g.mu.Lock()
	if g.stopping {
		g.mu.Unlock()
		g.wg.Wait()
		return nil
	}
	g.stopping = true
	close(g.stopCh)
	ctx, cancel := context.WithTimeout(ctx, g.spec.StopGrace)
	defer cancel()
	type child struct {
		pid    int
		exited chan struct{}
	}
	var pending []child
	for _, p := range g.procs {
		if p.running {
			unix.Kill(p.pid, g.spec.KillSignal)
			pending = append(pending, child{p.pid, p.exited})
		}
	}
	g.mu.Unlock()

	var forced error
	for _, c := range pending {
		select {
		case <-c.exited:
		case <-ctx.Done():
			if forced == nil {
				forced = fmt.Errorf("spawn: children did not exit after signal %d: killed: %w", g.spec.KillSignal, ctx.Err())
				for _, q := range pending {
					unix.Kill(-q.pid, unix.SIGKILL) // ESRCH for those already gone
				}
			}
			<-c.exited
		}
	}
	g.wg.Wait()
	for _, p := range g.procs {
		if p.owned {
			if err := removeStaleSocket(p.addr.Address); err != nil {
				g.log(err.Error())
			}
		}
	}
	if forced != nil {
		g.log(forced.Error())
	}
	return forced
}
