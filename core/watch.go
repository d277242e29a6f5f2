package core

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/golighty/golighty/lighttpdconf"
)

// Watch timings. The debounce gathers the bursts editors produce (write temp,
// rename, chmod) into one reload; the poll catches filesystems without
// inotify and include_shell output, which no file event announces.
const (
	watchDebounce = 50 * time.Millisecond
	watchPoll     = 30 * time.Second
)

// Watcher reloads the config when one of its files changes. It watches the
// directories of every file read and of every include glob, never the files
// themselves: a rename-save, `sed -i`, `cp` over, or a Kubernetes ConfigMap
// symlink swap replaces the inode and would silently end a file watch.
type Watcher struct {
	Reloader *Reloader
	Log      *slog.Logger
	// NoWatch keeps only the explicit reloads (ReloadNow), for --no-watch.
	NoWatch bool

	mu      sync.Mutex
	fsw     *fsnotify.Watcher
	dirs    map[string]bool
	names   map[string]bool // tracked file paths (and their symlink targets)
	files   map[string]bool // files modules read (certificates): refresh, not reload
	globs   []string
	trigger chan struct{}
}

// NewWatcher returns a watcher for the config r reloads.
func NewWatcher(r *Reloader, log *slog.Logger, noWatch bool) *Watcher {
	return &Watcher{Reloader: r, Log: log, NoWatch: noWatch, trigger: make(chan struct{}, 1), dirs: map[string]bool{}}
}

// ReloadNow asks the watcher to reload at once, even if no file changed
// (SIGUSR1, lighttpd's graceful restart).
func (w *Watcher) ReloadNow() {
	select {
	case w.trigger <- struct{}{}:
	default:
	}
}

// Prepare starts watching the directories of conf (the config now
// running) before Run's loop does: called before the server reports that
// it is ready, an edit made right after (a config manager's next step) is
// seen even if Run's goroutine has not started yet. The kernel queues the
// events meanwhile.
func (w *Watcher) Prepare(conf *lighttpdconf.Config) error {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	w.fsw = fsw
	w.track(conf)
	return nil
}

// Run watches until ctx ends. conf is the config now running.
func (w *Watcher) Run(ctx context.Context, conf *lighttpdconf.Config) error {
	if w.fsw == nil {
		if err := w.Prepare(conf); err != nil {
			return err
		}
	}
	defer w.fsw.Close()

	var timer *time.Timer
	var timerC <-chan time.Time
	poll := time.NewTicker(watchPoll)
	defer poll.Stop()
	pollC := poll.C
	if w.NoWatch {
		pollC = nil
	}
	reason := ""
	reloadDue, refreshDue := false, false
	schedule := func(why string) {
		reason = why
		if timer == nil {
			timer = time.NewTimer(watchDebounce)
		} else {
			timer.Reset(watchDebounce)
		}
		timerC = timer.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return nil
			}
			switch conf, file := w.relevant(ev.Name); {
			case conf:
				reloadDue = true
				schedule(filepath.Base(ev.Name) + " changed")
			case file:
				refreshDue = true
				schedule(filepath.Base(ev.Name) + " changed")
			}
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return nil
			}
			// An overflow loses events: check everything.
			w.Log.Warn("config watcher: " + err.Error())
			reloadDue, refreshDue = true, true
			schedule("watcher overflow")
		case <-w.trigger:
			w.reload("SIGUSR1", true)
		case <-pollC:
			// Catches filesystems without inotify and include_shell
			// output that changed; an unchanged result is not swapped in.
			w.reload("periodic check", false)
			w.refresh()
		case <-timerC:
			timerC = nil
			if reloadDue {
				w.reload(reason, false)
			}
			if refreshDue {
				w.refresh()
			}
			reloadDue, refreshDue = false, false
		}
	}
}

func (w *Watcher) currentConf() *lighttpdconf.Config {
	if s := w.Reloader.Server.Runtime().Current(); s != nil {
		return s.Conf
	}
	return nil
}

func (w *Watcher) reload(reason string, force bool) {
	if ok, _ := w.Reloader.Reload(reason, force); ok {
		if c := w.currentConf(); c != nil {
			w.track(c)
		}
	}
}

// refresh lets the running snapshot's modules re-read the files they
// asked to be watched (SetupContext.WatchFiles); the config stays.
func (w *Watcher) refresh() {
	if s := w.Reloader.Server.Runtime().Current(); s != nil {
		for _, fw := range s.fileWatches {
			fw.refresh()
		}
	}
}

// track (re)computes the watched set from the files a config read.
func (w *Watcher) track(conf *lighttpdconf.Config) {
	w.mu.Lock()
	defer w.mu.Unlock()
	names := map[string]bool{}
	want := map[string]bool{}
	for _, f := range conf.Files {
		names[f] = true
		want[filepath.Dir(f)] = true
		if t, err := filepath.EvalSymlinks(f); err == nil && t != f {
			names[t] = true
			want[filepath.Dir(t)] = true
		}
	}
	for _, g := range conf.Globs {
		want[globDir(g)] = true
	}
	files := map[string]bool{}
	if s := w.Reloader.Server.Runtime().Current(); s != nil {
		for _, fw := range s.fileWatches {
			for _, f := range fw.paths {
				files[f] = true
				want[filepath.Dir(f)] = true
				if t, err := filepath.EvalSymlinks(f); err == nil && t != f {
					files[t] = true
					want[filepath.Dir(t)] = true
				}
			}
		}
	}
	if w.NoWatch {
		clear(want)
	}
	for d := range want {
		if !w.dirs[d] {
			if err := w.fsw.Add(d); err != nil {
				w.Log.Warn("config watcher: cannot watch " + d + ": " + err.Error())
				continue
			}
			w.dirs[d] = true
		}
	}
	for d := range w.dirs {
		if !want[d] {
			_ = w.fsw.Remove(d)
			delete(w.dirs, d)
		}
	}
	w.names, w.files = names, files
	w.globs = append(w.globs[:0], conf.Globs...)
}

// relevant filters events by name: conf for a tracked config file, a name
// an include glob matches, or a "..data"-style name of a ConfigMap symlink
// swap (which may also have replaced a watched file); file for a file a
// module asked to be watched.
func (w *Watcher) relevant(name string) (conf, file bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	file = w.files[name]
	if w.names[name] {
		return true, file
	}
	if strings.HasPrefix(filepath.Base(name), "..") {
		return true, true
	}
	for _, g := range w.globs {
		if ok, _ := filepath.Match(g, name); ok {
			return true, file
		}
		if strings.ContainsAny(g, "{}") && filepath.Dir(name) == globDir(g) {
			return true, file // brace globs: let the content hash decide
		}
	}
	return false, file
}

// globDir is the longest directory prefix of a glob without wildcards.
func globDir(g string) string {
	d := filepath.Dir(g)
	for strings.ContainsAny(d, "*?[]{}") {
		d = filepath.Dir(d)
	}
	return d
}
