package memgov

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/golighty/golighty/core/statcache"
)

func TestParseMode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Mode
		ok   bool
	}{
		{"lean", Lean, true},
		{"fast", Fast, true},
		{"", 0, false},
		{"LEAN", 0, false},
		{"turbo", 0, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			m, ok := ParseMode(tc.in)
			if m != tc.want || ok != tc.ok {
				t.Errorf("ParseMode(%q) = %v, %v", tc.in, m, ok)
			}
		})
	}
}

// rssFileKB is the file-backed part of the resident set.
func rssFileKB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Skip("no RssFile")
	return 0
}

func TestTrimExecutable(t *testing.T) {
	before := rssFileKB(t)
	n := TrimExecutable()
	after := rssFileKB(t)
	if n <= 0 {
		t.Fatalf("trimmed %d bytes", n)
	}
	if after >= before {
		t.Errorf("file-backed RSS %d kB before, %d kB after", before, after)
	}
	// The code still runs: the pages come back from the page cache.
	if _, ok := ParseMode("fast"); !ok || strconv.Itoa(42) != "42" {
		t.Fatal("code after the trim misbehaves")
	}
}

// residency is how many pages of the executable's code and read-only data
// mappings are in the page cache (mincore reports the cache for file
// mappings), and how many they have.
type residency struct{ code, codeAll, data, dataAll int }

// cachedPages measures residency, both mappings in one pass: what runs
// between the two measurements would fault pages in.
func cachedPages(t *testing.T) residency {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Skip(err)
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skip(err)
	}
	var r residency
	for _, l := range strings.Split(string(maps), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 || f[5] != exe || (f[1] != "r-xp" && f[1] != "r--p") {
			continue
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		l, _ := strconv.ParseUint(lo, 16, 64)
		h, _ := strconv.ParseUint(hi, 16, 64)
		vec := make([]byte, (h-l)/uint64(os.Getpagesize()))
		if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(l), uintptr(h-l), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
			t.Fatalf("mincore: %v", e)
		}
		cached := 0
		for _, v := range vec {
			cached += int(v & 1)
		}
		if f[1] == "r-xp" {
			r.code, r.codeAll = r.code+cached, r.codeAll+len(vec)
		} else {
			r.data, r.dataAll = r.data+cached, r.dataAll+len(vec)
		}
	}
	if r.codeAll == 0 || r.dataAll == 0 {
		t.Skip("no code or read-only data mapping of the executable in /proc/self/maps")
	}
	return r
}

// TestDropExecutable: after DropExecutable the binary's code and read-only
// data that are no longer used are out of the page cache (so fault-around has
// nothing to map beside a faulting page), and the code still runs. The
// test binary was written moments ago, as a freshly installed server is. A
// folio with a page still mapped (the runtime's, this test's) stays, so a
// small test binary keeps most of its code cached: a quarter must go, when
// all of it was cached before (the start-up's case; after an earlier
// eviction in the same process, the kernel's readahead for code can bring
// it all back before it is measured, -count=5).
func TestDropExecutable(t *testing.T) {
	var fs unix.Statfs_t
	if err := unix.Statfs("/proc/self/exe", &fs); err != nil || fs.Type == unix.TMPFS_MAGIC {
		t.Skip("the test binary is on tmpfs, whose pages cannot be evicted")
	}
	// No collection meanwhile: its workers, on the other processor, would
	// map code and stack maps again while they are dropped (as Settle
	// collects before it drops).
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	b := cachedPages(t)
	DropExecutable()
	a := cachedPages(t)
	t.Logf("cached pages: code %d -> %d of %d, read-only data %d -> %d of %d", b.code, a.code, b.codeAll, b.data, a.data, b.dataAll)
	if b.code == b.codeAll && a.code*4 > b.code*3 {
		t.Errorf("%d of %d code pages cached before, %d after; want a quarter gone", b.code, b.codeAll, a.code)
	}
	// The read-only data, which only the runtime's metadata reads touch,
	// goes almost whole (a single pass, whose own steps map some of it
	// again, left a quarter of the test binary's cached).
	if a.data*8 > b.dataAll {
		t.Errorf("%d of %d read-only data pages cached after the drop (%d before); want at most an eighth", a.data, b.dataAll, b.data)
	}
	if _, ok := ParseMode("fast"); !ok || strconv.Itoa(42) != "42" {
		t.Fatal("code after the eviction misbehaves")
	}
}

// TestSettle: the garbage of a start-up goes back to the system, and the
// executable's pages are dropped after the collection that reads them.
func TestSettle(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // no collection but Settle's
	var keep [][]byte
	for range 64 {
		keep = append(keep, make([]byte, 256<<10))
	}
	runtime.KeepAlive(keep)
	keep = nil
	runtime.GC() // reads the binary's metadata, as Settle's collection will
	var st runtime.MemStats
	runtime.ReadMemStats(&st)
	cycles, released := st.NumGC, st.HeapReleased
	before := rssFileKB(t)
	Settle()
	after := rssFileKB(t)
	runtime.ReadMemStats(&st)
	if st.NumGC <= cycles || st.HeapReleased < released+8<<20 {
		t.Errorf("%d collections, %d MiB more released; want 16 MiB of garbage back", st.NumGC-cycles, (st.HeapReleased-released)>>20)
	}
	if after >= before {
		t.Errorf("file-backed RSS %d kB before, %d kB after", before, after)
	}
}

func TestGovernorCollects(t *testing.T) {
	t.Setenv("GOGC", "100") // New leaves the collector alone then
	g := New(Lean, nil)
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // no collection but ours
	g.Tick()                                         // learn the cycle count
	var keep [][]byte
	for range 64 {
		keep = append(keep, make([]byte, 256<<10))
	}
	runtime.KeepAlive(keep)
	keep = nil
	var st runtime.MemStats
	runtime.ReadMemStats(&st)
	cycles := st.NumGC
	if !g.Tick() {
		t.Fatal("16 MiB of garbage on a quiet heap not collected")
	}
	before := rssFileKB(t) // with the pages the first collection read
	if !g.Tick() {
		t.Error("no second collection for pooled buffers")
	}
	if after := rssFileKB(t); after >= before {
		t.Errorf("file-backed RSS %d kB before the second collection, %d kB after: the burst's pages were not dropped", before, after)
	}
	if g.Tick() {
		t.Error("collected again with nothing to reclaim")
	}
	runtime.ReadMemStats(&st)
	if st.NumGC < cycles+2 {
		t.Errorf("%d collections, want 2", st.NumGC-cycles)
	}

	// A heap the collector is working on by itself is left alone.
	for range 64 {
		keep = append(keep, make([]byte, 256<<10))
	}
	runtime.KeepAlive(keep)
	keep = nil
	runtime.GC()
	if g.Tick() {
		t.Error("collected although a collection had just run")
	}
}

func TestLeanModeGOGC(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	t.Setenv("GOGC", "")
	New(Lean, nil)
	if p := debug.SetGCPercent(100); p != 50 {
		t.Errorf("GOGC %d in lean mode, want 50", p)
	}
	t.Setenv("GOGC", "80")
	New(Lean, nil)
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("an explicit GOGC was overridden (now %d)", p)
	}
}

func TestFastModeDoesNothing(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	t.Setenv("GOGC", "")
	g := New(Fast, nil)
	if p := debug.SetGCPercent(100); p != 400 {
		t.Errorf("GOGC %d in fast mode, want 400", p)
	}
	done := make(chan struct{})
	go func() { g.Run(t.Context()); close(done) }()
	<-done // returns at once
}

// TestModeContentBudget: fast keeps more small files in memory; lean
// leaves the stat cache's (lean) default.
func TestModeContentBudget(t *testing.T) {
	if got := Lean.ContentBudget(); got != 0 {
		t.Errorf("lean: %d, want 0 (the cache's default)", got)
	}
	if got := Fast.ContentBudget(); got <= statcache.DefaultContentBudget {
		t.Errorf("fast: %d, not above the default %d", got, statcache.DefaultContentBudget)
	}
}
