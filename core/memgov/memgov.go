// Package memgov keeps golighty's resident memory close to what it needs.
//
// Go returns memory to the system only after a garbage collection has freed
// it, and a collection runs only when the program allocates. A server that
// just went through a burst (a thousand requests waiting on PHP, eight
// thousand connections opening) and then settles into streaming files or
// holding idle connections allocates almost nothing: without help the
// garbage of the burst, and the buffers pooled for it, stay resident
// indefinitely. The governor looks once a second: when no collection ran
// since its last look and the heap holds at least MinReclaim (and an eighth
// of the live heap) that a collection and a scavenge would give back, it
// runs debug.FreeOSMemory, twice in a row so that pooled buffers (kept for
// one extra cycle by sync.Pool) go too, and then drops the executable's
// pages as below: the burst ran code that the quiet server's work (parked
// downloads, idle connections) does not touch. Measured with 1,000 paced
// downloads that PHP handed off: 8.8 MB of the binary resident after the
// burst, 3.4-5.5 MB once trimmed. A busy server collects on its own and is
// left alone.
//
// It also drops the mapping of the executable's code and read-only data
// once the configuration is loaded (and after each reload): parsing the
// config and initialising every module touch most of the binary, and those
// pages would otherwise count in the resident set for the life of the
// process. Then it evicts the binary's unmapped pages from the page cache
// and marks the mappings MADV_RANDOM, so that a page the running server
// needs comes back alone: the kernel's fault-around maps the 64 KiB
// around a faulting address from whatever of the file is cached, and with
// the whole binary cached each first touch brought 16 pages (a single
// static request brought 3.3 MB, 52 faults). Measured with 64 clients:
// 1 KiB keep-alive 11.0 -> 8.1 MB peak, a connection per request 14.8 ->
// 10.7 MB. The price is paid once per page after a start or a reload: the
// first request read 151 pages from disk (10 ms here instead of 1).
//
// MADV_RANDOM holds for the read-only data only on recent kernels: on
// 6.18 a fault in the code mapping still reads ahead around it
// (page_cache_ra_order under filemap_fault in perf, with the mapping's
// "rr" flag set), so code comes back into the cache a readahead window
// per fault and fault-around then maps it 64 KiB at a time: 8 MB of code
// was cached again within a second of the eviction (timers firing), and
// a connection per request peaked at 12.0-13.2 MB instead of 10.7.
package memgov

import (
	"bufio"
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Mode chooses between memory and speed.
type Mode int

const (
	// Lean (the default): the governor returns memory after bursts, the
	// start-up pages are dropped, and the heap may grow to 1.5x what is
	// live between collections (GOGC=50: about 2 MB less under the static
	// loads, 0.5% more CPU with PHP hello, the most allocating case).
	Lean Mode = iota
	// Fast: no governor, no trimming, the collector runs a quarter as
	// often (GOGC=400) and small files keep up to 4 MiB of their bytes in
	// memory (ContentBudget): more memory, less CPU spent collecting and
	// reading.
	Fast
)

// ContentBudget is the bytes of small files the stat cache keeps in memory
// under m (0: the cache's own default, which suits Lean).
func (m Mode) ContentBudget() int64 {
	if m == Fast {
		return 4 << 20
	}
	return 0
}

// ParseMode maps the --memory value.
func ParseMode(s string) (Mode, bool) {
	switch s {
	case "lean":
		return Lean, true
	case "fast":
		return Fast, true
	}
	return 0, false
}

// MinReclaim is the reclaimable memory below which the governor does not
// bother collecting.
const MinReclaim = 1 << 20

// Governor applies a Mode to the process.
type Governor struct {
	mode    Mode
	changed func() any // identifies the configuration in force (trim again when it changes)
	samples []metrics.Sample
	lastGC  uint64
	again   bool // run a second collection next time (pooled buffers)
	lastCfg any
}

// New returns a governor for mode; current returns a value that changes
// when a new configuration is installed (nil: never). Its first look trims
// too: the server's own start (signal handlers, the config watcher, the
// first collection) touches pages after any trim made before it serves.
func New(mode Mode, current func() any) *Governor {
	if os.Getenv("GOGC") == "" { // an explicit GOGC wins
		if mode == Fast {
			debug.SetGCPercent(400)
		} else {
			debug.SetGCPercent(50)
		}
	}
	return &Governor{mode: mode, changed: current, samples: []metrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
	}}
}

// Run governs until ctx ends. In Fast mode it returns at once.
func (g *Governor) Run(ctx context.Context) {
	if g.mode == Fast {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.Tick()
		}
	}
}

// Tick is one look: trim after a configuration change, collect when the
// heap is quiet and holds reclaimable memory. It reports whether it
// collected.
func (g *Governor) Tick() bool {
	if g.changed != nil {
		if cur := g.changed(); cur != g.lastCfg {
			g.lastCfg = cur
			DropExecutable()
		}
	}
	metrics.Read(g.samples)
	cycles := g.samples[0].Value.Uint64()
	live := g.samples[1].Value.Uint64()
	objects := g.samples[2].Value.Uint64()
	free := g.samples[3].Value.Uint64()
	quiet := cycles == g.lastGC
	g.lastGC = cycles
	reclaim := free
	if objects > live {
		reclaim += objects - live
	}
	if !quiet || (!g.again && (reclaim < MinReclaim || reclaim < live/8)) {
		g.again = false
		return false
	}
	debug.FreeOSMemory()
	g.again = !g.again
	if !g.again {
		// The burst ran code the quiet server no longer needs (PHP
		// requests before their downloads, say): drop those pages too,
		// after the collections that read the binary's metadata.
		TrimExecutable()
	}
	metrics.Read(g.samples[:1])
	g.lastGC = g.samples[0].Value.Uint64()
	return true
}

// Settle returns the garbage of the start-up to the system, then drops
// the executable's pages (DropExecutable). In that order:
// the collection reads the binary's metadata (type and stack maps) and
// would bring back pages a trim before it dropped. Measured on the 1 KiB
// benchmark config, the trim alone left 7.5 MB of the binary resident
// until the governor's first look a second later, which found 3.7 MB.
func Settle() {
	debug.FreeOSMemory()
	DropExecutable()
}

// DropExecutable drops the executable's pages: TrimExecutable's unmapping,
// then their eviction from the page cache. Pages mapped elsewhere (another
// server running the same binary) and the folios holding a page still
// mapped stay. Read faults then bring back one page each (the mappings are
// MADV_RANDOM: no readahead, and fault-around finds nothing cached to add)
// instead of the 64 KiB around it (in code, on kernels that read ahead
// there regardless, a readahead window each: above). On a file system that
// cannot evict (tmpfs) it only trims.
//
// The read-only data is unmapped and evicted a second time, with nothing
// run in between: the steps since the first trim (reading smaps, opening
// the file, writing a freshly written binary back to disk) map some of it
// again, and those pages stayed cached. Measured on a freshly built
// binary: the test binary's read-only data 96 of 381 pages cached after
// one pass, 14 after two; a connection per request (1 KiB) peaked at
// 10.0-12.4 MB during its first second (until the governor's first look
// dropped those pages) and 9.9-10.7 MB after it, against 9.4-9.5 MB
// throughout with the second pass (three alternating runs).
func DropExecutable() {
	_, data := trimExecutable()
	f, err := os.Open("/proc/self/exe") // the mapped file, even if replaced on disk since
	if err != nil {
		return
	}
	defer f.Close()
	fd := f.Fd()
	// A binary installed moments ago may still be dirty in the cache, and
	// dirty pages are not evicted.
	unix.Fdatasync(int(fd))
	unix.Fadvise(int(fd), 0, 0, unix.FADV_DONTNEED)
	for _, r := range data {
		unix.RawSyscall(unix.SYS_MADVISE, r.lo, r.hi-r.lo, unix.MADV_DONTNEED)
	}
	unix.RawSyscall6(unix.SYS_FADVISE64, fd, 0, 0, unix.FADV_DONTNEED, 0, 0)
}

// TrimExecutable drops the resident pages of the executable's read-only
// mappings (code, read-only data) that hold no private copies, and marks
// those mappings MADV_RANDOM (see DropExecutable); they are mapped again
// from the page cache when used. It reports the bytes that were resident.
func TrimExecutable() int64 {
	n, _ := trimExecutable()
	return n
}

// span is an address range of a mapping.
type span struct{ lo, hi uintptr }

// trimExecutable is TrimExecutable, which also returns the read-only data
// mappings it trimmed (those not executable).
func trimExecutable() (total int64, data []span) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, nil
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, nil
	}
	defer f.Close()
	type region struct {
		span
		ok, exec  bool
		rss, anon int64
	}
	var cur region
	flush := func() {
		if cur.ok && cur.anon == 0 && cur.rss > 0 {
			// The range is not Go memory: pass it as plain numbers.
			if _, _, e := unix.Syscall(unix.SYS_MADVISE, cur.lo, cur.hi-cur.lo, unix.MADV_DONTNEED); e == 0 {
				total += cur.rss
			}
			unix.Syscall(unix.SYS_MADVISE, cur.lo, cur.hi-cur.lo, unix.MADV_RANDOM)
			if !cur.exec {
				data = append(data, cur.span)
			}
		}
		cur = region{}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if k := fields[0]; strings.HasSuffix(k, ":") {
			// "Rss:    123 kB", "Anonymous:  0 kB", ...
			if len(fields) >= 2 && cur.ok {
				v, _ := strconv.ParseInt(fields[1], 10, 64)
				switch k {
				case "Rss:":
					cur.rss = v << 10
				case "Anonymous:":
					cur.anon = v << 10
				}
			}
			continue
		}
		// A mapping line: "lo-hi perms offset dev inode path".
		flush()
		if len(fields) < 6 || fields[5] != exe || len(fields[1]) < 4 || fields[1][1] == 'w' || fields[1][3] != 'p' {
			continue
		}
		lo, hi, found := strings.Cut(fields[0], "-")
		l, err1 := strconv.ParseUint(lo, 16, 64)
		h, err2 := strconv.ParseUint(hi, 16, 64)
		if !found || err1 != nil || err2 != nil {
			continue
		}
		cur = region{span: span{lo: uintptr(l), hi: uintptr(h)}, ok: true, exec: fields[1][2] == 'x'}
	}
	flush()
	return total, data
}
