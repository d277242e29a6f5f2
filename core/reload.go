package core

import (
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/golighty/golighty/lighttpdconf"
)

// Loader reads and compiles the config file named on the command line, the
// same way at start-up and on every reload.
type Loader struct {
	Path   string
	Opts   lighttpdconf.Options
	Shared *SharedPool
}

// Load parses and compiles the whole config. Nothing running is touched.
func (l *Loader) Load() (*Snapshot, error) {
	conf, err := lighttpdconf.ParseFile(l.Path, &l.Opts)
	if err != nil {
		return nil, err
	}
	return Compile(conf, CompileOptions{}, l.Shared)
}

// Reloader applies config changes to a running Server: parse, compile,
// swap; a bad config is logged with its location and the running one stays.
type Reloader struct {
	Loader *Loader
	Server *Server
	Log    *slog.Logger

	mu      sync.Mutex
	lastSum [32]byte
}

// Fingerprint hashes the effective configuration (lighttpd's -p rendering
// of it, which includes include_shell output and env.* values), so an event
// that changed nothing that matters (a touch, an editor's backup file, a
// comment, include_shell printing the same) does not reload.
func Fingerprint(conf *lighttpdconf.Config) [32]byte {
	h := sha256.New()
	if err := conf.Print(h); err != nil {
		io.WriteString(h, err.Error())
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// Prime records the fingerprint of the config now running.
func (r *Reloader) Prime(conf *lighttpdconf.Config) {
	r.mu.Lock()
	r.lastSum = Fingerprint(conf)
	r.mu.Unlock()
}

// Reload loads the config again. With force unset, a config whose effective
// content equals the running one is not swapped in (SIGUSR1 forces). It
// returns whether a new snapshot went live.
func (r *Reloader) Reload(reason string, force bool) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	old := r.Server.Runtime().Current()
	next, err := r.Loader.Load()
	if err != nil {
		r.Server.Stats().RecordReload(false)
		r.Log.Error(fmt.Sprintf("config reload (%s) failed, keeping the running config: %v", reason, err))
		return false, err
	}
	sum := Fingerprint(next.Conf)
	if !force && sum == r.lastSum {
		next.close()
		return false, nil
	}
	for _, w := range next.Warnings {
		r.Log.Warn(w.String())
	}
	if msg := restartOnly(old, next); msg != "" {
		r.Log.Warn("config reload: " + msg + " only change on restart; the running values stay")
	}
	if err := r.Server.Reload(next); err != nil {
		next.close()
		r.Server.Stats().RecordReload(false)
		r.Log.Error(fmt.Sprintf("config reload (%s) failed, keeping the running config: %v", reason, err))
		return false, err
	}
	r.lastSum = sum
	r.Server.Stats().RecordReload(true)
	r.Log.Info(fmt.Sprintf("config reloaded (%s) in %s: %s", reason, time.Since(start).Round(10*time.Microsecond), describeChange(old, next)))
	return true, nil
}

// restartOnly names settings that a running process cannot change.
func restartOnly(old, next *Snapshot) string {
	if old == nil {
		return ""
	}
	a, b := &old.Core.Server, &next.Core.Server
	var names []string
	if a.Username != b.Username {
		names = append(names, "server.username")
	}
	if a.Groupname != b.Groupname {
		names = append(names, "server.groupname")
	}
	if a.Chroot != b.Chroot {
		names = append(names, "server.chroot")
	}
	if a.PIDFile != b.PIDFile {
		names = append(names, "server.pid-file")
	}
	if a.MaxFDs != b.MaxFDs {
		names = append(names, "server.max-fds")
	}
	if a.MaxConnections != b.MaxConnections {
		names = append(names, "server.max-connections")
	}
	return strings.Join(names, ", ")
}

// describeChange summarises what a reload changed, for the log line.
func describeChange(old, next *Snapshot) string {
	if old == nil {
		return "initial"
	}
	var parts []string
	if d := diffStrings(old.Conf.Files, next.Conf.Files); d != "" {
		parts = append(parts, "files "+d)
	}
	if d := diffStrings(old.Modules(), next.Modules()); d != "" {
		parts = append(parts, "modules "+d)
	}
	oldSpecs, _ := old.ListenSpecs()
	newSpecs, _ := next.ListenSpecs()
	if d := diffStrings(tokens(oldSpecs), tokens(newSpecs)); d != "" {
		parts = append(parts, "sockets "+d)
	}
	parts = append(parts, fmt.Sprintf("%d blocks", len(next.blocks)))
	return strings.Join(parts, "; ")
}

func tokens(specs []ListenSpec) []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.Token
	}
	return out
}

func diffStrings(a, b []string) string {
	in := func(l []string, s string) bool {
		for _, x := range l {
			if x == s {
				return true
			}
		}
		return false
	}
	var d []string
	for _, s := range b {
		if !in(a, s) {
			d = append(d, "+"+s)
		}
	}
	for _, s := range a {
		if !in(b, s) {
			d = append(d, "-"+s)
		}
	}
	return strings.Join(d, " ")
}
