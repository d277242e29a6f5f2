package spawn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	nfcgi "net/http/fcgi"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golighty/golighty/modules/internal/fcgi"
	"golang.org/x/sys/unix"
)

const childEnv = "GOLIGHTY_SPAWN_TEST_CHILD"

// TestMain doubles as the spawned backend when childEnv is set: it serves
// FastCGI on the socket inherited as fd 0, reporting its pid, cwd, argv and
// environment.
func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "exit":
		os.Exit(3)
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
	case "die-soon":
		time.AfterFunc(200*time.Millisecond, func() { os.Exit(1) })
	}
	ln, err := net.FileListener(os.NewFile(0, "listen"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: fd 0 is not a listening socket:", err)
		os.Exit(2)
	}
	nfcgi.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cwd, _ := os.Getwd()
		fmt.Fprintf(w, "pid %d\ncwd %s\n", os.Getpid(), cwd)
		for _, a := range os.Args {
			fmt.Fprintf(w, "arg %s\n", a)
		}
		for _, e := range os.Environ() {
			fmt.Fprintf(w, "env %s\n", e)
		}
	}))
}

// childInfo is what the child reports.
type childInfo struct {
	pid  int
	cwd  string
	args []string
	env  []string
}

func query(t *testing.T, a Addr) childInfo {
	t.Helper()
	d := &fcgi.Dialer{Network: a.Network, Address: a.Address, ConnectTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second}
	p := fcgi.NewParams()
	p.Add("REQUEST_METHOD", "GET")
	p.Add("SERVER_PROTOCOL", "HTTP/1.1")
	p.Add("REQUEST_URI", "/")
	resp, err := d.Do(context.Background(), &fcgi.Request{Params: p})
	p.Release()
	if err != nil {
		t.Fatalf("request to %s: %v", a, err)
	}
	defer resp.Close()
	if _, err := resp.ReadHeader(); err != nil {
		t.Fatalf("response from %s: %v", a, err)
	}
	body, err := io.ReadAll(resp)
	if err != nil {
		t.Fatalf("response from %s: %v", a, err)
	}
	var ci childInfo
	for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "pid":
			ci.pid, _ = strconv.Atoi(v)
		case "cwd":
			ci.cwd = v
		case "arg":
			ci.args = append(ci.args, v)
		case "env":
			ci.env = append(ci.env, v)
		}
	}
	return ci
}

// events collects Notify calls.
type events struct {
	mu sync.Mutex
	ev []Event
	ch chan Event
}

func newEvents() *events { return &events{ch: make(chan Event, 64)} }

func (e *events) notify(ev Event) {
	e.mu.Lock()
	e.ev = append(e.ev, ev)
	e.mu.Unlock()
	e.ch <- ev
}

func (e *events) wait(t *testing.T, up bool, proc int) Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-e.ch:
			if ev.Up == up && ev.Proc == proc {
				return ev
			}
		case <-timeout:
			t.Fatalf("no event up=%v for proc %d", up, proc)
		}
	}
}

// gone reports that pid (or, if negative, every member of process group
// -pid) has exited. Zombies count as gone: orphans are reaped by init on
// its own schedule.
func gone(pid int) bool {
	if pid < 0 {
		return len(groupMembers(-pid)) == 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) == 0 || f[0] == "Z"
}

// waitGone polls until gone(pid).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !gone(pid); {
		if time.Now().After(deadline) {
			t.Fatalf("process (group) %d still exists", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testSpec(t *testing.T, mode string) Spec {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "child.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	return Spec{
		BinPath:     exe,
		Environment: []string{childEnv + "=" + mode},
		RestartMin:  50 * time.Millisecond,
		Stdout:      logf,
		Stderr:      logf,
	}
}

// freePorts finds n consecutive free loopback ports.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		ok := base+n-1 <= 65535
		for k := 1; k < n && ok; k++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+k)))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

func TestSpawnSuperviseStop(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			spec := testSpec(t, "serve")
			dir := t.TempDir()
			if network == "unix" {
				spec.Socket = filepath.Join(dir, "app.sock")
			} else {
				spec.Port = freePorts(t, 2)
			}
			spec.MaxProcs = 2
			g0 := runtime.NumGoroutine()
			t.Setenv("GOLIGHTY_SPAWN_COPIED", "yes")
			t.Setenv("GOLIGHTY_SPAWN_NOT_COPIED", "no")
			spec.CopyEnvironment = []string{"GOLIGHTY_SPAWN_COPIED", "GOLIGHTY_SPAWN_ABSENT"}
			spec.Environment = append(spec.Environment, "X=1")
			ev := newEvents()
			spec.Notify = ev.notify
			g, err := Start(spec, func(s string) { t.Log(s) })
			if err != nil {
				t.Fatal(err)
			}
			defer g.Stop(context.Background())

			addrs := g.Addresses()
			if len(addrs) != 2 {
				t.Fatalf("addresses %v", addrs)
			}
			for k, a := range addrs {
				want := spec.Socket + "-" + strconv.Itoa(k)
				if network == "tcp" {
					want = "127.0.0.1:" + strconv.Itoa(spec.Port+k)
				}
				if a.Network != network || a.Address != want {
					t.Errorf("proc %d address %v, want %s %s", k, a, network, want)
				}
			}
			exe, _ := os.Executable()
			info := query(t, addrs[0])
			wantEnv := []string{"GOLIGHTY_SPAWN_COPIED=yes", childEnv + "=serve", "X=1", "PHP_FCGI_CHILDREN=1"}
			if fmt.Sprint(info.env) != fmt.Sprint(wantEnv) {
				t.Errorf("child environment %q, want %q", info.env, wantEnv)
			}
			if info.cwd != filepath.Dir(exe) {
				t.Errorf("child cwd %q, want %q", info.cwd, filepath.Dir(exe))
			}
			procs := g.Procs()
			if info.pid != procs[0].PID || !procs[0].Running || procs[0].External {
				t.Errorf("child pid %d, Procs %+v", info.pid, procs[0])
			}
			other := query(t, addrs[1]).pid
			if other == info.pid {
				t.Error("both procs answered from one process")
			}

			// Kill proc 0: the gateway is told, and it comes back.
			syscall.Kill(info.pid, syscall.SIGKILL)
			down := ev.wait(t, false, 0)
			if down.PID != info.pid || down.Err == nil {
				t.Errorf("down event %+v", down)
			}
			up := ev.wait(t, true, 0)
			again := query(t, addrs[0])
			if again.pid == info.pid || again.pid != up.PID {
				t.Errorf("after respawn pid %d (old %d, event %d)", again.pid, info.pid, up.PID)
			}
			if r := g.Procs()[0].Restarts; r != 1 {
				t.Errorf("restarts = %d, want 1", r)
			}

			if err := g.Stop(context.Background()); err != nil {
				t.Errorf("Stop: %v", err)
			}
			for deadline := time.Now().Add(2 * time.Second); runtime.NumGoroutine() > g0; {
				if time.Now().After(deadline) {
					buf := make([]byte, 1<<16)
					t.Errorf("goroutines %d -> %d after Stop:\n%s", g0, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			for _, pid := range []int{again.pid, other} {
				waitGone(t, pid)
			}
			if network == "unix" {
				left, _ := filepath.Glob(filepath.Join(dir, "*"))
				if len(left) != 0 {
					t.Errorf("files left after Stop: %v", left)
				}
			} else if c, err := net.Dial("tcp", addrs[0].Address); err == nil {
				c.Close()
				t.Error("tcp address still served after Stop")
			}
		})
	}
}

func TestEnvironmentInheritedWithoutCopyList(t *testing.T) {
	spec := testSpec(t, "serve")
	spec.Socket = filepath.Join(t.TempDir(), "s")
	spec.MaxProcs = 1
	t.Setenv("GOLIGHTY_SPAWN_INHERITED", "inh")
	t.Setenv("GOLIGHTY_SPAWN_OVERRIDE", "old")
	spec.Environment = append(spec.Environment, "GOLIGHTY_SPAWN_OVERRIDE=new", "PHP_FCGI_CHILDREN=7")
	g, err := Start(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop(context.Background())
	env := strings.Join(query(t, g.Addresses()[0]).env, "\n") + "\n"
	for _, want := range []string{"GOLIGHTY_SPAWN_INHERITED=inh\n", "GOLIGHTY_SPAWN_OVERRIDE=new\n", "PHP_FCGI_CHILDREN=7\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("child environment lacks %q", want)
		}
	}
	if strings.Contains(env, "OVERRIDE=old") || strings.Count(env, "PHP_FCGI_CHILDREN=") != 1 {
		t.Errorf("override not applied in place:\n%s", env)
	}
}

func TestShellExec(t *testing.T) {
	spec := testSpec(t, "serve")
	spec.BinPath += " -test.v=false  extra"
	spec.ShellExec = true
	spec.Socket = filepath.Join(t.TempDir(), "s")
	spec.MaxProcs = 1
	g, err := Start(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop(context.Background())
	info := query(t, g.Addresses()[0])
	exe, _ := os.Executable()
	// sh's exec replaces the shell; the shell's own word splitting applies.
	if want := []string{exe, "-test.v=false", "extra"}; fmt.Sprint(info.args) != fmt.Sprint(want) {
		t.Errorf("argv %q, want %q", info.args, want)
	}
	// /bin may be a symlink (merged /usr); the child reports the real path.
	if bin, _ := filepath.EvalSymlinks("/bin"); info.cwd != bin {
		t.Errorf("cwd %q, want %s (directory of /bin/sh)", info.cwd, bin)
	}
}

func TestStartFailures(t *testing.T) {
	t.Run("child exits at once", func(t *testing.T) {
		spec := testSpec(t, "exit")
		dir := t.TempDir()
		spec.Socket = filepath.Join(dir, "s")
		spec.MaxProcs = 2
		spec.StartCheck = 2 * time.Second // a -race test binary starts slowly
		var logs []string
		g, err := Start(spec, func(s string) { logs = append(logs, s) })
		if err == nil || !strings.Contains(err.Error(), "failed to start") {
			if g != nil {
				g.Stop(context.Background())
			}
			t.Fatalf("err = %v", err)
		}
		if !strings.Contains(strings.Join(logs, "\n"), "gw-backend failed to start: "+spec.BinPath) {
			t.Errorf("logs %q", logs)
		}
		if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
			t.Errorf("files left: %v", left)
		}
	})
	t.Run("missing binary", func(t *testing.T) {
		var logs []string
		_, err := Start(Spec{BinPath: "/nonexistent/php-cgi -x", Socket: filepath.Join(t.TempDir(), "s"), MaxProcs: 1}, func(s string) { logs = append(logs, s) })
		if err == nil {
			t.Fatal("Start succeeded")
		}
		if len(logs) == 0 || !strings.Contains(logs[0], `invalid "bin-path" => "/nonexistent/php-cgi -x"`) {
			t.Errorf("logs %q", logs)
		}
	})
	t.Run("regular file at socket path is kept", func(t *testing.T) {
		spec := testSpec(t, "serve")
		dir := t.TempDir()
		spec.Socket = filepath.Join(dir, "s")
		spec.MaxProcs = 1
		if err := os.WriteFile(spec.Socket+"-0", []byte("precious"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Start(spec, nil)
		if err == nil || !strings.Contains(err.Error(), "not a socket") {
			t.Fatalf("err = %v", err)
		}
		if b, err := os.ReadFile(spec.Socket + "-0"); err != nil || string(b) != "precious" {
			t.Errorf("regular file damaged: %q %v", b, err)
		}
	})
	t.Run("bad spec", func(t *testing.T) {
		for _, s := range []Spec{{}, {BinPath: "/bin/true"}, {BinPath: "/bin/true", Socket: "/tmp/x", Port: 9000}, {BinPath: "/bin/true", Port: 65535, MaxProcs: 2}} {
			if _, err := Start(s, nil); err == nil {
				t.Errorf("Start(%+v) succeeded", s)
			}
		}
	})
}

func TestStaleSocketReplaced(t *testing.T) {
	spec := testSpec(t, "serve")
	dir := t.TempDir()
	spec.Socket = filepath.Join(dir, "s")
	spec.MaxProcs = 1
	// A socket file nobody listens on, as a crashed server leaves behind.
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: spec.Socket + "-0"}); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	g, err := Start(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop(context.Background())
	if info := query(t, g.Addresses()[0]); info.pid == 0 {
		t.Error("no answer on the re-created socket")
	}
}

func TestExternalBackendNotSpawned(t *testing.T) {
	spec := testSpec(t, "serve")
	dir := t.TempDir()
	spec.Socket = filepath.Join(dir, "s")
	spec.MaxProcs = 2
	ln, err := net.Listen("unix", spec.Socket+"-0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	g, err := Start(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	procs := g.Procs()
	if !procs[0].External || procs[0].Running || procs[1].External || !procs[1].Running {
		t.Errorf("procs %+v", procs)
	}
	if err := g.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(spec.Socket + "-0"); err != nil {
		t.Errorf("external socket removed: %v", err)
	}
	if _, err := os.Lstat(spec.Socket + "-1"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("own socket left: %v", err)
	}
}

func TestStopEscalatesToSIGKILL(t *testing.T) {
	for _, viaCtx := range []bool{true, false} {
		t.Run(fmt.Sprintf("ctx deadline=%v", viaCtx), func(t *testing.T) {
			spec := testSpec(t, "ignore-term")
			spec.Socket = filepath.Join(t.TempDir(), "s")
			spec.MaxProcs = 1
			if !viaCtx {
				spec.StopGrace = 300 * time.Millisecond
			}
			g, err := Start(spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			pid := query(t, g.Addresses()[0]).pid
			ctx := context.Background()
			if viaCtx {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
				defer cancel()
			}
			start := time.Now()
			err = g.Stop(ctx)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Stop err = %v, want deadline (SIGKILL needed)", err)
			}
			if el := time.Since(start); el < 250*time.Millisecond || el > 5*time.Second {
				t.Errorf("Stop took %v", el)
			}
			waitGone(t, pid)
		})
	}
}

func TestParseBinPath(t *testing.T) {
	tests := []struct {
		in    string
		shell bool
		want  []string
	}{
		{"/usr/bin/php-cgi", false, []string{"/usr/bin/php-cgi"}},
		{"/usr/bin/php-cgi -c /etc/php.ini", false, []string{"/usr/bin/php-cgi", "-c", "/etc/php.ini"}},
		{"/bin/app\t-x", false, []string{"/bin/app", "-x"}},
		{"/bin/app  -x", false, []string{"/bin/app", "", "-x"}}, // lighttpd keeps the empty word
		{"/bin/app -x 'a b'", true, []string{"/bin/sh", "-c", "exec /bin/app -x 'a b'"}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := parseBinPath(tc.in, tc.shell); fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRestartBackoff: a child that keeps dying is restarted with growing
// delays (RestartMin, doubling up to RestartMax), and every death is
// reported so the gateway can mark the proc down.
func TestRestartBackoff(t *testing.T) {
	spec := testSpec(t, "die-soon")
	spec.Socket = filepath.Join(t.TempDir(), "s")
	spec.MaxProcs = 1
	spec.StartCheck = 10 * time.Millisecond
	spec.RestartMin, spec.RestartMax = 50*time.Millisecond, 200*time.Millisecond
	type stamp struct {
		up bool
		at time.Time
	}
	stamps := make(chan stamp, 32)
	spec.Notify = func(e Event) { stamps <- stamp{e.Up, time.Now()} }
	g, err := Start(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop(context.Background())
	want := []time.Duration{50, 100, 200, 200} // milliseconds
	for i, w := range want {
		down, up := <-stamps, <-stamps
		if down.up || !up.up {
			t.Fatalf("restart %d: events out of order (%v, %v)", i, down.up, up.up)
		}
		if gap := up.at.Sub(down.at); gap < w*time.Millisecond {
			t.Errorf("restart %d came %v after the exit, want at least %v", i, gap, w*time.Millisecond)
		}
	}
	if r := g.Procs()[0].Restarts; r < len(want) {
		t.Errorf("restarts = %d, want >= %d", r, len(want))
	}
	// Stop during a backoff wait returns promptly.
	start := time.Now()
	if err := g.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Stop took %v", el)
	}
}
