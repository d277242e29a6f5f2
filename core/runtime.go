package core

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/golighty/golighty/core/logsink"
	"github.com/golighty/golighty/core/statcache"
	"github.com/golighty/golighty/lighttpdconf"
)

// Snapshot is one compiled, immutable configuration. Requests hold a
// reference while they run; a reload swaps in a new Snapshot and the old one
// retires (its modules are closed) when its last request releases it.
type Snapshot struct {
	Conf     *lighttpdconf.Config
	Core     *CoreSettings
	Warnings []Diagnostic

	blocks  []block
	modules []loadedModule
	shared  *SharedPool
	hooks   hooks
	stat    *statcache.Cache
	statKey string

	slots int // per-request module slots reserved (Slot)
	// h2Inline: every module is InlineHooks (h2.Config.Inline).
	h2Inline    bool
	fileWatches []fileWatch
	errorLogs   map[string]*slog.Logger // server.errorlog set in conditionals
	errorSinks  []*logsink.Sink

	refs    atomic.Int64 // requests running on it, +1 while it is current
	retired atomic.Bool
	closeMu sync.Once
}

// fileWatch is a set of files a module depends on and how it re-reads them.
type fileWatch struct {
	paths   []string
	refresh func()
}

type loadedModule struct {
	name string
	m    Module
}

type hooks struct {
	connStart       []ConnStartHook
	uriRaw          []URIRawHook
	uriClean        []URICleanHook
	docroot         []DocrootHook
	physical        []PhysicalHook
	subrequestStart []SubrequestStartHook
	responseStart   []ResponseStartHook
	requestDone     []RequestDoneHook
	connAccept      []ConnAcceptHook
	requestEnv      []RequestEnvHook
	tls             TLSHook
}

// Modules lists the loaded modules in hook order.
func (s *Snapshot) Modules() []string {
	out := make([]string, len(s.modules))
	for i, m := range s.modules {
		out[i] = m.name
	}
	return out
}

// H2Inline reports whether HTTP/2 streams may start on their connection's
// reader goroutine: every loaded module is InlineHooks.
func (s *Snapshot) H2Inline() bool { return s.h2Inline }

// Module returns the loaded instance of a module, for tests and for modules
// that cooperate (mod_status reading counters).
func (s *Snapshot) Module(name string) (Module, bool) {
	for _, m := range s.modules {
		if m.name == name {
			return m.m, true
		}
	}
	return nil, false
}

func (s *Snapshot) collectHooks() {
	h := &s.hooks
	s.h2Inline = true
	for _, lm := range s.modules {
		m := lm.m
		if _, ok := m.(InlineHooks); !ok {
			s.h2Inline = false
		}
		if x, ok := m.(ConnStartHook); ok {
			h.connStart = append(h.connStart, x)
		}
		if x, ok := m.(URIRawHook); ok {
			h.uriRaw = append(h.uriRaw, x)
		}
		if x, ok := m.(URICleanHook); ok {
			h.uriClean = append(h.uriClean, x)
		}
		if x, ok := m.(DocrootHook); ok {
			h.docroot = append(h.docroot, x)
		}
		if x, ok := m.(PhysicalHook); ok {
			h.physical = append(h.physical, x)
		}
		if x, ok := m.(SubrequestStartHook); ok {
			h.subrequestStart = append(h.subrequestStart, x)
		}
		if x, ok := m.(ResponseStartHook); ok {
			h.responseStart = append(h.responseStart, x)
		}
		if x, ok := m.(RequestDoneHook); ok {
			h.requestDone = append(h.requestDone, x)
		}
		if x, ok := m.(ConnAcceptHook); ok {
			h.connAccept = append(h.connAccept, x)
		}
		if x, ok := m.(RequestEnvHook); ok {
			h.requestEnv = append(h.requestEnv, x)
		}
		if x, ok := m.(TLSHook); ok && h.tls == nil {
			h.tls = x
		}
	}
}

// Shared returns the pool of resources kept across reloads.
func (s *Snapshot) Shared() *SharedPool { return s.shared }

// BlockCount is the number of config blocks (global included).
func (s *Snapshot) BlockCount() int { return len(s.blocks) }

func (s *Snapshot) acquire() { s.refs.Add(1) }

func (s *Snapshot) release() {
	if s.refs.Add(-1) == 0 && s.retired.Load() {
		s.close()
	}
}

func (s *Snapshot) close() {
	s.closeMu.Do(func() {
		for i := len(s.modules) - 1; i >= 0; i-- {
			if c, ok := s.modules[i].m.(Closer); ok {
				_ = c.Close()
			}
		}
		if s.statKey != "" {
			s.shared.Release(s.statKey)
		}
		for _, sink := range s.errorSinks {
			s.shared.Logs().Release(sink)
		}
	})
}

// Runtime holds the current Snapshot and swaps it atomically on reload.
type Runtime struct {
	cur atomic.Pointer[Snapshot]
}

// Current returns the snapshot now in force (nil before the first Swap).
func (rt *Runtime) Current() *Snapshot { return rt.cur.Load() }

// Acquire returns the current snapshot with a reference held for a request.
func (rt *Runtime) Acquire() *Snapshot {
	for {
		s := rt.cur.Load()
		if s == nil {
			return nil
		}
		s.acquire()
		// A swap between Load and acquire may have retired s; take the new one.
		if !s.retired.Load() {
			return s
		}
		s.release()
	}
}

// Release drops a reference taken by Acquire.
func (rt *Runtime) Release(s *Snapshot) { s.release() }

// Swap installs next; the previous snapshot retires when its last request ends.
func (rt *Runtime) Swap(next *Snapshot) {
	next.refs.Add(1) // the "current" reference
	old := rt.cur.Swap(next)
	if old != nil {
		old.retired.Store(true)
		old.release()
	}
}

// retire drops the current snapshot at shutdown so that its modules close
// (backend processes stop, logs flush). With now set it closes at once even
// if requests still hold it (an immediate stop).
func (rt *Runtime) retire(now bool) {
	old := rt.cur.Swap(nil)
	if old == nil {
		return
	}
	old.retired.Store(true)
	if now {
		old.close()
		return
	}
	old.release()
}

// SharedPool keeps long-lived resources (log files, backend process groups)
// across reloads: a new snapshot asks for a resource by key and gets the
// running one when its settings did not change.
type SharedPool struct {
	mu    sync.Mutex
	items map[string]*sharedItem
	logs  *logsink.Pool

	contentBudget int64 // for the stat cache (0: its default)
}

type sharedItem struct {
	v    any
	refs int
	stop func()
}

// NewSharedPool returns an empty pool.
func NewSharedPool() *SharedPool { return &SharedPool{items: map[string]*sharedItem{}} }

// SetContentBudget sets the bytes of small files the stat cache may keep
// in memory (0: statcache.DefaultContentBudget). The cache is made by the
// first Compile and outlives reloads: set it before that.
func (p *SharedPool) SetContentBudget(n int64) { p.contentBudget = n }

// ErrSharedType means a key is in the pool with a value of another type.
var ErrSharedType = errors.New("core: shared resource has another type")

// Acquire returns the resource stored under key, creating it with open when
// absent. Each Acquire needs a Release; stop runs when the last one is gone.
func Acquire[T any](p *SharedPool, key string, open func() (T, func(), error)) (T, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if it, ok := p.items[key]; ok {
		v, ok := it.v.(T)
		if !ok {
			var zero T
			return zero, ErrSharedType
		}
		it.refs++
		return v, nil
	}
	v, stop, err := open()
	if err != nil {
		return v, err
	}
	p.items[key] = &sharedItem{v: v, refs: 1, stop: stop}
	return v, nil
}

// Release drops one reference to key and stops the resource with the last.
func (p *SharedPool) Release(key string) {
	p.mu.Lock()
	it, ok := p.items[key]
	if ok {
		it.refs--
		if it.refs > 0 {
			ok = false
		} else {
			delete(p.items, key)
		}
	}
	p.mu.Unlock()
	if ok && it.stop != nil {
		it.stop()
	}
}
