package gw

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/modules/internal/gw/spawn"
)

// Spawner runs the processes of a bin-path host. It is created at config
// load without starting anything and starts the processes on the first
// request: the core does not tell modules whether a load is only a check
// (-tt), and a check must not leave backends running. It lives in the
// core's SharedPool, so a reload with unchanged settings keeps the running
// processes, and it stops them when the last snapshot using it retires.
type Spawner struct {
	spec spawn.Spec

	mu       sync.Mutex
	g        *spawn.Group
	err      error
	failedAt time.Time
	stopped  bool

	down []atomic.Bool  // proc reported exited, not yet restarted
	pids []atomic.Int64 // current pid per proc
}

// retryStart is the least time between two attempts to start a group that
// failed, so a broken bin-path does not fork on every request.
const retryStart = time.Second

// spawnSpec maps a host's options onto the spawn package.
func spawnSpec(hc *HostConfig, shellExec bool) spawn.Spec {
	s := spawn.Spec{
		BinPath:         hc.BinPath,
		ShellExec:       shellExec,
		Socket:          hc.Socket,
		MaxProcs:        hc.MaxProcs,
		Environment:     hc.BinEnvironment,
		CopyEnvironment: hc.BinCopyEnvironment,
		ListenBacklog:   hc.ListenBacklog,
		KillSignal:      hc.KillSignal,
	}
	if hc.Socket == "" {
		s.Host, s.Port = hc.Host, hc.Port
	}
	return s
}

// spawnKey identifies a process group by every setting that shapes it.
func spawnKey(s *spawn.Spec) string {
	var b strings.Builder
	b.WriteString("gw-spawn\x00")
	for _, f := range []string{s.BinPath, strconv.FormatBool(s.ShellExec), s.Socket, s.Host,
		strconv.Itoa(s.Port), strconv.Itoa(s.MaxProcs), strconv.Itoa(s.ListenBacklog),
		strconv.Itoa(int(s.KillSignal))} {
		b.WriteString(f)
		b.WriteByte(0)
	}
	for _, list := range [][]string{s.Environment, s.CopyEnvironment} {
		b.WriteString(strconv.Itoa(len(list)))
		b.WriteByte(0)
		for _, e := range list {
			b.WriteString(e)
			b.WriteByte(0)
		}
	}
	return b.String()
}

// AcquireSpawner returns the shared Spawner for hc (creating it without
// starting processes) and the pool key the caller must Release when its
// snapshot closes.
//
// A reload that changes a backend's settings starts new processes while
// the old ones still serve the old snapshot's requests. Both cannot listen
// on one unix socket path, so the new generation gets its own
// ("php.sock.2-0" instead of "php.sock-0") and hc.Socket is updated to it.
func AcquireSpawner(pool *core.SharedPool, hc *HostConfig, shellExec bool) (*Spawner, string, error) {
	spec := spawnSpec(hc, shellExec)
	key := spawnKey(&spec)
	sp, err := core.Acquire(pool, key, func() (*Spawner, func(), error) {
		base := spec.Socket
		if base != "" {
			spec.Socket = socketOwners.claim(base)
		}
		s := newSpawner(spec)
		return s, func() {
			s.stop()
			if base != "" {
				socketOwners.free(base, s.spec.Socket)
			}
		}, nil
	})
	if err == nil && hc.Socket != "" {
		hc.Socket = sp.spec.Socket
	}
	return sp, key, err
}

// socketOwners tracks which generations of spawned backends hold which
// socket paths, per configured base path.
var socketOwners = owners{m: map[string]map[string]bool{}}

type owners struct {
	mu sync.Mutex
	m  map[string]map[string]bool // base path -> paths in use
}

// claim returns base itself when free, else base+".N" for the first free N.
func (o *owners) claim(base string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	used := o.m[base]
	if used == nil {
		used = map[string]bool{}
		o.m[base] = used
	}
	p := base
	for n := 2; used[p]; n++ {
		p = base + "." + strconv.Itoa(n)
	}
	used[p] = true
	return p
}

func (o *owners) free(base, p string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.m[base], p)
	if len(o.m[base]) == 0 {
		delete(o.m, base)
	}
}

func newSpawner(spec spawn.Spec) *Spawner {
	n := spec.MaxProcs
	if n <= 0 {
		n = 4
	}
	s := &Spawner{spec: spec, down: make([]atomic.Bool, n), pids: make([]atomic.Int64, n)}
	s.spec.Notify = s.notify
	return s
}

func (s *Spawner) notify(ev spawn.Event) {
	if ev.Proc < 0 || ev.Proc >= len(s.down) {
		return
	}
	s.pids[ev.Proc].Store(int64(ev.PID))
	s.down[ev.Proc].Store(!ev.Up)
}

// Ensure starts the processes if they are not running yet. It returns the
// start error (also for calls within retryStart of a failure).
func (s *Spawner) Ensure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.g != nil {
		return nil
	}
	if s.stopped {
		return fmt.Errorf("gw: backend %s stopped", s.spec.BinPath)
	}
	if s.err != nil && time.Since(s.failedAt) < retryStart {
		return s.err
	}
	g, err := spawn.Start(s.spec, func(msg string) { slog.Default().Error(msg) })
	if err != nil {
		s.err, s.failedAt = err, time.Now()
		return err
	}
	s.g, s.err = g, nil
	for i, st := range g.Procs() {
		if i < len(s.pids) {
			s.pids[i].Store(int64(st.PID))
			s.down[i].Store(false)
		}
	}
	return nil
}

// Up reports whether proc i may be used: not started yet (Ensure will
// start it) or running.
func (s *Spawner) Up(i int) bool { return i >= len(s.down) || !s.down[i].Load() }

// PID is the process id of proc i (0 when not started).
func (s *Spawner) PID(i int) int {
	if i >= len(s.pids) {
		return 0
	}
	return int(s.pids[i].Load())
}

// Procs reports the state of the spawned procs (nil before the start).
func (s *Spawner) Procs() []spawn.ProcState {
	s.mu.Lock()
	g := s.g
	s.mu.Unlock()
	if g == nil {
		return nil
	}
	return g.Procs()
}

func (s *Spawner) stop() {
	s.mu.Lock()
	g := s.g
	s.g, s.stopped = nil, true
	s.mu.Unlock()
	if g != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Stop(ctx); err != nil {
			slog.Default().Error(err.Error())
		}
	}
}

// CheckBinPath returns lighttpd's warning when argv[0] of a bin-path is not
// an executable regular file, else "" (lighttpd warns and goes on; the
// start then fails).
func CheckBinPath(binPath string) string {
	argv0 := binPath
	if i := strings.IndexAny(binPath, " \t"); i >= 0 {
		argv0 = binPath[:i]
	}
	st, err := os.Stat(argv0)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Sprintf("invalid \"bin-path\" => \"%s\" (check that file exists, is regular file, and is executable by lighttpd)", binPath)
	}
	return ""
}
