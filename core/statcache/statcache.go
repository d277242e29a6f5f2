// Package statcache is golighty's equivalent of lighttpd's stat cache
// (server.stat-cache-engine): a short-lived, concurrency-safe cache of
// stat(2) results keyed by path, optionally holding an open file and the
// bytes of small files so hot static files are answered from memory.
//
// Freshness bound ("simple" engine, the default, as lighttpd): an entry is
// trusted only during the wall-clock second in which it was last stat()ed
// (lighttpd compares its per-second monotonic clock), so a file that is
// modified, replaced by rename or deleted is seen at the first lookup in
// the next second: served data, size, ETag and Last-Modified are stale for
// at most 1 s. An open file descriptor is kept across seconds only while
// re-stat() shows the same inode, device, size and mtime (seconds and
// nanoseconds), which is lighttpd's rule too. Cached small-file bytes obey
// the same rule; because they are read once, a same-size in-place rewrite
// inside one mtime tick could go unnoticed, which lighttpd (reading through
// its cached descriptor) does not suffer; filesystems with nanosecond mtimes
// make that window a few milliseconds at most.
//
// "inotify", "kqueue" and "fam" are accepted and run as "simple": the 1 s
// bound already matches what lighttpd guarantees for simple, and polling
// needs no watch descriptors (fsnotify would need one per directory and
// could silently miss events when the kernel queue overflows).
// "disable"/"none" stats on every lookup and never shares descriptors.
package statcache

import (
	"fmt"
	"io/fs"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/golighty/golighty/core/filefd"
	"github.com/golighty/golighty/core/httpfile"
	"github.com/golighty/golighty/core/keyedmap"
	"github.com/golighty/golighty/core/monoclock"
	"golang.org/x/sys/unix"
)

// Engine is the server.stat-cache-engine mode.
type Engine uint8

const (
	// EngineSimple trusts an entry for the second it was stat()ed in.
	EngineSimple Engine = iota
	// EngineDisable stats on every lookup.
	EngineDisable
)

// ParseEngine maps a server.stat-cache-engine value to an Engine.
func ParseEngine(s string) (Engine, error) {
	switch s {
	case "", "simple", "inotify", "kqueue", "fam":
		return EngineSimple, nil
	case "disable", "none":
		return EngineDisable, nil
	}
	return 0, fmt.Errorf("server.stat-cache-engine can be one of \"disable\", \"simple\", \"inotify\", \"kqueue\", \"fam\", but not: %s", s)
}

// Defaults.
const (
	// DefaultMaxEntries bounds the cache unless the descriptor limit is
	// lower (see maxEntriesFor): every entry of a file that was sent keeps
	// its descriptor open, as lighttpd's do.
	DefaultMaxEntries   = 16384
	DefaultSmallFileMax = 16 << 10
	// DefaultContentBudget bounds the bytes of small files held in memory
	// all together: without it 16,384 entries of 16 KiB files would hold
	// 256 MiB. Files opened once it is spent are sent from their
	// descriptors, as larger files are (one raw read of the page cache per
	// response). 512 KiB holds a small site's pages, styles and scripts;
	// with 10,000 files asked for at random, 2 MiB kept 1.5 MB more live
	// heap, 2.25 MB more peak under GOGC=50, for no CPU measurably saved.
	DefaultContentBudget = 512 << 10
	// maxIdle: entries not looked up for more than this many seconds are
	// swept (lighttpd: 2 seconds).
	maxIdle = 2
)

// Config configures a Cache.
type Config struct {
	Engine Engine
	// MaxEntries bounds the number of cached paths (0 = DefaultMaxEntries).
	MaxEntries int
	// SmallFileMax: regular files up to this size have their bytes cached
	// by Open (0 = DefaultSmallFileMax, negative = never).
	SmallFileMax int64
	// ContentBudget bounds the cached bytes of all small files together
	// (0 = DefaultContentBudget).
	ContentBudget int64
	// Now returns the current second, on any clock that ticks once a
	// second; nil means a monotonic one. Tests use it to step the clock.
	Now func() int64
}

// Cache is a stat cache. The zero value is not usable; call New.
//
// Lookups are lock-free (keyedmap) and a hit writes no shared memory; once
// per second per path a re-stat stores a new stamp. MaxEntries is a soft
// bound: concurrent inserts may overshoot it briefly before eviction.
type Cache struct {
	engine     Engine
	maxEntries int64
	smallMax   int64
	budget     int64
	now        func() int64

	content atomic.Int64 // bytes of small files held by cached entries

	m         *keyedmap.Map[Entry] // by Path
	count     atomic.Int64
	lastSweep atomic.Int64
	sweeping  sync.Mutex
}

// New returns a Cache.
func New(cfg Config) *Cache {
	c := &Cache{engine: cfg.Engine, smallMax: cfg.SmallFileMax, now: cfg.Now, m: keyedmap.New(entryPath)}
	if c.now == nil {
		c.now = monoclock.Seconds // stamps are only compared with each other
	}
	c.maxEntries = int64(cfg.MaxEntries)
	if c.maxEntries <= 0 {
		c.maxEntries = maxEntriesFor(fdLimit())
	}
	if c.smallMax == 0 {
		c.smallMax = DefaultSmallFileMax
	}
	c.budget = cfg.ContentBudget
	if c.budget <= 0 {
		c.budget = DefaultContentBudget
	}
	return c
}

// ContentBudget returns the bytes of small files the cache may hold.
func (c *Cache) ContentBudget() int64 { return c.budget }

// maxEntriesFor is the default bound for a process allowed nofile
// descriptors: DefaultMaxEntries, but at most half of them, so that
// cached descriptors never leave connections without (Go raises the soft
// limit to the hard one at start; 1,024 is a common hard limit).
func maxEntriesFor(nofile uint64) int64 {
	return int64(max(min(nofile/2, DefaultMaxEntries), 64))
}

// fdLimit is the process's descriptor limit (RLIMIT_NOFILE, soft).
func fdLimit() uint64 {
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) != nil {
		return 1024
	}
	return rl.Cur
}

// Entry is one cached stat result. Its fields never change after it is
// published; a changed file gets a new Entry.
type Entry struct {
	Path      string
	Size      int64
	MtimeSec  int64
	MtimeNsec int64
	Ino       uint64
	Dev       uint64
	Mode      fs.FileMode
	symlink   atomic.Int32 // 0 unknown, 1 no, 2 yes (beside Mode: no padding)

	// LastModified is the IMF-fixdate of MtimeSec.
	LastModified string

	stamp atomic.Int64 // second of the last successful stat()
	// fd is the open file, none unless opened; refs counts the cache's
	// and the Handles' references to it, and the last one closes it.
	fd   filefd.FD
	refs atomic.Int32
	// content is the whole file (Size bytes) when small and opened: a
	// pointer, not a slice, whose length and capacity would repeat Size
	// and take the entry past the 128-byte size class.
	content *byte

	// etagState says whether etagB holds the entry's ETag, for which
	// flags and how long (etagFor): the ETag lives in the entry, not in
	// an object of its own, which was one more cache line to fetch per
	// request on a site of many files (2-3% of the user time serving
	// 10,000 at random). etagB never changes once published.
	etagState atomic.Uint32
	etagB     [maxETag]byte
}

// etagState values: 0 none yet; etagBusy while the first maker writes
// etagB; else etagReady | flags<<8 | length.
const (
	etagBusy  = 1 << 30
	etagReady = 1 << 31
)

func etagFor(flags httpfile.ETagFlags, n int) uint32 {
	return etagReady | uint32(flags)<<8 | uint32(n)
}

// maxETag is the longest ETag: a 32-bit hash in decimal, quoted.
const maxETag = len(`"4294967295"`)

func entryPath(e *Entry) string { return e.Path }

// IsDir reports whether the entry is a directory.
func (e *Entry) IsDir() bool { return e.Mode.IsDir() }

// IsRegular reports whether the entry is a regular file.
func (e *Entry) IsRegular() bool { return e.Mode.IsRegular() }

// FileID returns the fields the ETag hashes.
func (e *Entry) FileID() httpfile.FileID {
	return httpfile.FileID{Ino: e.Ino, Size: e.Size, MtimeSec: e.MtimeSec, MtimeNsec: e.MtimeNsec}
}

// ETag returns lighttpd's ETag for the entry ("" for flags == 0 and for
// anything but regular files and directories), memoised per entry.
func (e *Entry) ETag(flags httpfile.ETagFlags) string {
	if flags == 0 || !(e.Mode.IsRegular() || e.Mode.IsDir()) {
		return ""
	}
	st := e.etagState.Load()
	if st&etagReady != 0 && httpfile.ETagFlags(st>>8) == flags {
		return unsafe.String(&e.etagB[0], int(st&0xff))
	}
	var b [maxETag]byte
	n := copy(b[:], httpfile.ETag(b[:0], e.FileID(), flags))
	if st == 0 && e.etagState.CompareAndSwap(0, etagBusy) {
		e.etagB = b
		e.etagState.Store(etagFor(flags, n))
		return unsafe.String(&e.etagB[0], n)
	}
	// Another request is writing it, or it was made for other flags (two
	// configurations with different etag.* keys sharing a file).
	return string(b[:n])
}

// ContainsSymlink reports whether the path or any of its parent directories
// is a symbolic link (lstat of each prefix, as lighttpd does for
// server.follow-symlink = "disable"). Memoised for the entry's lifetime.
func (e *Entry) ContainsSymlink() (bool, error) {
	switch e.symlink.Load() {
	case 1:
		return false, nil
	case 2:
		return true, nil
	}
	yes, err := ContainsSymlink(e.Path)
	if err != nil {
		return false, err
	}
	if yes {
		e.symlink.Store(2)
	} else {
		e.symlink.Store(1)
	}
	return yes, nil
}

// ContainsSymlink lstat()s path and each parent directory up to (not
// including) "/" and reports whether any is a symbolic link.
func ContainsSymlink(path string) (bool, error) {
	for p := path; len(p) > 1; {
		fi, err := os.Lstat(p)
		if err != nil {
			return false, fmt.Errorf("statcache: lstat %s: %w", p, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return true, nil
		}
		i := strings.LastIndexByte(p, '/')
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	return false, nil
}

// ErrNotDir is returned for a path with a trailing '/' naming a non-directory.
var ErrNotDir = syscall.ENOTDIR

// key drops one trailing '/' except for "/" itself, like lighttpd.
func key(path string) (string, bool) {
	if len(path) > 1 && path[len(path)-1] == '/' {
		return path[:len(path)-1], true
	}
	return path, path == "/"
}

// Stat returns the (possibly cached) stat result for path, which must be
// absolute. A trailing '/' on a non-directory gives ENOTDIR. Errors are the
// *fs.PathError of stat(2), so errors.Is(err, fs.ErrNotExist) and
// syscall.EACCES checks work.
func (c *Cache) Stat(path string) (*Entry, error) {
	if path == "" || path[0] != '/' {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: syscall.EINVAL}
	}
	k, slash := key(path)
	now := c.now()
	if c.engine == EngineSimple {
		if e, ok := c.m.Load(k); ok && e.stamp.Load() == now {
			if slash && !e.IsDir() {
				return nil, &fs.PathError{Op: "stat", Path: path, Err: ErrNotDir}
			}
			return e, nil
		}
	}
	var st syscall.Stat_t
	if err := statPath(path, &st); err != nil {
		if c.engine == EngineSimple {
			c.remove(k, nil)
		}
		return nil, err
	}
	if slash && st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: ErrNotDir}
	}
	if c.engine != EngineSimple {
		return newEntry(k, &st, now), nil
	}
	return c.refresh(k, &st, now), nil
}

func statPath(path string, st *syscall.Stat_t) error {
	for {
		err := stat(path, st)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "stat", Path: path, Err: err}
		}
		return nil
	}
}

// refresh stores the stat result for k: an unchanged file keeps its entry
// (and descriptor and bytes) with a new stamp; a changed one gets a fresh
// entry; a path new to a full cache gets one that is not stored (admits).
func (c *Cache) refresh(k string, st *syscall.Stat_t, now int64) *Entry {
	c.maybeSweep(now)
	old, cached := c.m.Load(k)
	if cached {
		if old.sameAs(st) {
			old.stamp.Store(now)
			return old
		}
	}
	e := newEntry(k, st, now)
	if cached || c.count.Load() < c.maxEntries {
		c.store(e, now)
	}
	return e
}

// admits reports whether k may be stored: it is cached already (a changed
// file replaces its entry) or the cache has room. A full cache takes no
// new path until the sweep removes idle entries, lighttpd's only removal;
// the request for a path it turns away stats, opens and closes its file
// itself. Evicting entries still in use to make room cost more than it
// saved: with 40,000 files asked for at random and room for 10,000, the
// evictions' scans were 16% of golighty's user time, and each new entry
// soon pushed out another that was asked for again (lighttpd, which keeps
// every file's descriptor, ran out of descriptors and answered half of
// those requests 403).
func (c *Cache) admits(k string) bool {
	if c.count.Load() < c.maxEntries {
		return true
	}
	_, ok := c.m.Load(k)
	return ok
}

// store publishes e under its path. Whoever removes an entry from the map
// drops its descriptor reference, so each entry is dropped exactly once.
func (c *Cache) store(e *Entry, now int64) {
	if prev, loaded := c.m.Swap(e); loaded {
		c.drop(prev)
		return
	}
	if c.count.Add(1) > c.maxEntries {
		c.evict(now)
	}
}

// maybeSweep runs lighttpd's periodic cleanup at most once per second:
// entries not looked up for more than maxIdle seconds go, so descriptors of
// deleted files are not held on to.
func (c *Cache) maybeSweep(now int64) {
	last := c.lastSweep.Load()
	if now <= last || !c.lastSweep.CompareAndSwap(last, now) {
		return
	}
	if !c.sweeping.TryLock() {
		return
	}
	defer c.sweeping.Unlock()
	c.deleteIf(func(e *Entry) bool { return now-e.stamp.Load() > maxIdle })
}

// evict brings an over-full cache (concurrent stores can pass the bound
// that admits checks) down to 15/16 of MaxEntries, preferring idle
// entries, then entries not used in the current second, then any.
func (c *Cache) evict(now int64) {
	if !c.sweeping.TryLock() {
		return // another goroutine is already making room
	}
	defer c.sweeping.Unlock()
	target := c.maxEntries * 15 / 16
	for _, older := range []int64{maxIdle, 0, -1} {
		if c.count.Load() <= target {
			return
		}
		c.deleteIf(func(e *Entry) bool {
			return c.count.Load() > target && now-e.stamp.Load() > older
		})
	}
}

func (c *Cache) deleteIf(pred func(*Entry) bool) {
	c.m.Range(func(e *Entry) bool {
		if pred(e) {
			c.remove(e.Path, e)
		}
		return true
	})
}

// remove deletes k if it still maps to e (any entry when e is nil).
func (c *Cache) remove(k string, e *Entry) {
	if e == nil {
		if v, ok := c.m.Delete(k); ok {
			c.drop(v)
			c.count.Add(-1)
		}
		return
	}
	if c.m.DeleteIf(k, e) {
		c.drop(e)
		c.count.Add(-1)
	}
}

// Invalidate forgets path (e.g. after the server itself wrote the file).
func (c *Cache) Invalidate(path string) {
	k, _ := key(path)
	c.remove(k, nil)
}

// Len returns the number of cached entries.
func (c *Cache) Len() int { return int(c.count.Load()) }

// Close drops every entry; descriptors close once the last Handle using
// them is released. The Cache stays usable.
func (c *Cache) Close() {
	c.m.Range(func(e *Entry) bool {
		c.remove(e.Path, nil)
		return true
	})
}

// newEntry builds the entry of path k, copied: callers may pass a view of
// a reused buffer.
func newEntry(k string, st *syscall.Stat_t, now int64) *Entry {
	return entryFor(strings.Clone(k), st, now, nil)
}

// entryFor builds an entry for path, kept as it is (an entry's own, which
// never changes). Its Last-Modified string is prev's where the second
// matches: an open after a stat shares both with the stat's entry, where
// each of 10,000 cached files held two copies of its path (one in its
// *os.File's name) and two dates.
func entryFor(path string, st *syscall.Stat_t, now int64, prev *Entry) *Entry {
	e := &Entry{
		Path:      path,
		Size:      st.Size,
		MtimeSec:  st.Mtim.Sec,
		MtimeNsec: st.Mtim.Nsec,
		Ino:       st.Ino,
		Dev:       st.Dev,
		Mode:      modeOf(st.Mode),
	}
	if prev != nil && prev.MtimeSec == st.Mtim.Sec {
		e.LastModified = prev.LastModified
	} else {
		e.LastModified = lastModified(st.Mtim.Sec)
	}
	e.stamp.Store(now)
	return e
}

// lastDate is the Last-Modified string made last, shared by the next
// entries of the same second: a tree copied, unpacked or checked out at
// once has most of its files' times in a few seconds, and each of them
// held a 32-byte copy of the same date.
var lastDate atomic.Pointer[dateMemo]

type dateMemo struct {
	sec int64
	s   string
}

// lastModified is the IMF-fixdate of sec.
func lastModified(sec int64) string {
	if m := lastDate.Load(); m != nil && m.sec == sec {
		return m.s
	}
	s := string(httpfile.AppendHTTPDate(make([]byte, 0, httpfile.HTTPDateLen), sec))
	lastDate.Store(&dateMemo{sec: sec, s: s})
	return s
}

func (e *Entry) sameAs(st *syscall.Stat_t) bool {
	return e.MtimeNsec == st.Mtim.Nsec && e.MtimeSec == st.Mtim.Sec &&
		e.Size == st.Size && e.Ino == st.Ino && e.Dev == st.Dev &&
		e.Mode == modeOf(st.Mode)
}

// drop takes e out of the cache's accounts: its small file's bytes leave
// the budget, its descriptor loses the cache's reference.
func (c *Cache) drop(e *Entry) {
	if e.content != nil {
		c.content.Add(-e.Size)
	}
	e.drop()
}

// drop releases the cache's reference to the entry's descriptor.
func (e *Entry) drop() {
	e.stamp.Store(droppedStamp) // no longer fresh for OpenStat
	if e.fd.Valid() {
		e.release()
	}
}

// droppedStamp marks an entry taken out of the cache: older than any second.
const droppedStamp = math.MinInt64

func modeOf(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & syscall.S_IFMT {
	case syscall.S_IFDIR:
		mode |= fs.ModeDir
	case syscall.S_IFLNK:
		mode |= fs.ModeSymlink
	case syscall.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		mode |= fs.ModeSocket
	case syscall.S_IFBLK:
		mode |= fs.ModeDevice
	case syscall.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	}
	if m&syscall.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&syscall.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&syscall.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// InvalidateTree forgets dir and every cached path below it (a directory
// the server itself moved or deleted). It walks the cache: use it for
// such rare changes, not per request.
func (c *Cache) InvalidateTree(dir string) {
	k, _ := key(dir)
	c.remove(k, nil)
	prefix := k + "/"
	if k == "/" {
		prefix = k
	}
	c.m.Range(func(e *Entry) bool {
		if strings.HasPrefix(e.Path, prefix) {
			c.remove(e.Path, e)
		}
		return true
	})
}
