package statcache

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/golighty/golighty/core/allocsize"
	"github.com/golighty/golighty/core/filefd"
	"github.com/golighty/golighty/core/httpfile"
	"golang.org/x/sys/unix"
)

// fakeClock is a settable Unix second.
type fakeClock struct{ sec atomic.Int64 }

func (c *fakeClock) now() int64 { return c.sec.Load() }
func (c *fakeClock) tick()      { c.sec.Add(1) }

func newFake(t *testing.T, cfg Config) (*Cache, *fakeClock) {
	t.Helper()
	clk := &fakeClock{}
	clk.sec.Store(1_000_000)
	cfg.Now = clk.now
	c := New(cfg)
	t.Cleanup(c.Close)
	return c, clk
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replace writes content to a temp file and renames it over path (new inode).
func replace(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	write(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestParseEngine(t *testing.T) {
	tests := []struct {
		in      string
		want    Engine
		wantErr bool
	}{
		{"simple", EngineSimple, false},
		{"", EngineSimple, false},
		{"inotify", EngineSimple, false},
		{"fam", EngineSimple, false},
		{"kqueue", EngineSimple, false},
		{"disable", EngineDisable, false},
		{"none", EngineDisable, false},
		{"bogus", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseEngine(tc.in)
			if (err != nil) != tc.wantErr || (err == nil && got != tc.want) {
				t.Errorf("ParseEngine(%q) = %v, %v", tc.in, got, err)
			}
		})
	}
}

func TestStatFields(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.txt")
	write(t, p, "hello world")
	c, _ := newFake(t, Config{})
	e, err := c.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	id := httpfile.FileID{Ino: st.Ino, Size: st.Size, MtimeSec: st.Mtim.Sec, MtimeNsec: st.Mtim.Nsec}
	checks := []struct {
		name      string
		got, want any
	}{
		{"size", e.Size, int64(11)},
		{"ino", e.Ino, st.Ino},
		{"dev", e.Dev, st.Dev},
		{"mtime", e.MtimeSec*1e9 + e.MtimeNsec, st.Mtim.Sec*1e9 + st.Mtim.Nsec},
		{"mode", e.Mode, fs.FileMode(0o644)},
		{"regular", e.IsRegular(), true},
		{"etag", e.ETag(httpfile.ETagDefault), string(httpfile.ETag(nil, id, httpfile.ETagDefault))},
		{"etag other flags", e.ETag(httpfile.ETagUseSize), string(httpfile.ETag(nil, id, httpfile.ETagUseSize))},
		{"etag disabled", e.ETag(0), ""},
		{"last-modified", e.LastModified, string(httpfile.AppendHTTPDate(nil, st.Mtim.Sec))},
	}
	for _, ck := range checks {
		t.Run(ck.name, func(t *testing.T) {
			if ck.got != ck.want {
				t.Errorf("got %v, want %v", ck.got, ck.want)
			}
		})
	}
	t.Run("dir", func(t *testing.T) {
		d, err := c.Stat(dir + "/")
		if err != nil || !d.IsDir() || d.ETag(httpfile.ETagDefault) == "" {
			t.Fatalf("dir entry %+v, %v", d, err)
		}
	})
	t.Run("trailing slash on file", func(t *testing.T) {
		if _, err := c.Stat(p + "/"); !errors.Is(err, syscall.ENOTDIR) {
			t.Errorf("err = %v, want ENOTDIR", err)
		}
	})
	t.Run("relative path", func(t *testing.T) {
		if _, err := c.Stat("a.txt"); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("err = %v, want EINVAL", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		if _, err := c.Stat(filepath.Join(dir, "nope")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v", err)
		}
	})
}

// TestFreshnessBound checks the documented bound with a stepped clock:
// changes are invisible within the second the entry was stat()ed in and
// visible at the next second, for in-place edits, rename-replacement and
// deletion, for both stat data (ETag) and served bytes.
func TestFreshnessBound(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, p string)
		gone   bool
		want   string
	}{
		{"modify in place", func(t *testing.T, p string) { write(t, p, "version two!") }, false, "version two!"},
		{"same size rewrite", func(t *testing.T, p string) {
			write(t, p, "VERSION ONE")
			// Force a distinct mtime even on coarse-timestamp filesystems.
			later := time.Now().Add(time.Second)
			os.Chtimes(p, later, later)
		}, false, "VERSION ONE"},
		{"replace by rename", func(t *testing.T, p string) { replace(t, p, "renamed in") }, false, "renamed in"},
		{"delete", func(t *testing.T, p string) { os.Remove(p) }, true, ""},
	}
	for _, small := range []int64{0, -1} {
		for _, tc := range tests {
			name := tc.name + "/memory"
			if small < 0 {
				name = tc.name + "/descriptor"
			}
			t.Run(name, func(t *testing.T) {
				p := filepath.Join(t.TempDir(), "f.txt")
				write(t, p, "version one")
				c, clk := newFake(t, Config{SmallFileMax: small})
				h, err := c.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				oldETag := h.Entry.ETag(httpfile.ETagDefault)
				h.Release()

				tc.change(t, p)
				h, err = c.Open(p)
				if err != nil {
					t.Fatalf("within the second: %v", err)
				}
				if got := h.Entry.ETag(httpfile.ETagDefault); got != oldETag {
					t.Errorf("within the second ETag changed to %s", got)
				}
				h.Release()

				clk.tick()
				h, err = c.Open(p)
				if tc.gone {
					if !errors.Is(err, fs.ErrNotExist) {
						t.Fatalf("after a second: %v, want not-exist", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				defer h.Release()
				if got := h.Entry.ETag(httpfile.ETagDefault); got == oldETag {
					t.Errorf("ETag unchanged after a second")
				}
				buf := make([]byte, h.Entry.Size)
				if _, err := h.ReadAt(buf, 0); err != nil && err != io.EOF {
					t.Fatal(err)
				}
				if string(buf) != tc.want {
					t.Errorf("content %q, want %q", buf, tc.want)
				}
			})
		}
	}
}

// TestFreshnessRealClock: with the real clock, a change is observed no
// later than about one second after it happened.
func TestFreshnessRealClock(t *testing.T) {
	if testing.Short() {
		t.Skip("sleeps")
	}
	p := filepath.Join(t.TempDir(), "f.txt")
	write(t, p, "one")
	c := New(Config{})
	defer c.Close()
	if _, err := c.Stat(p); err != nil {
		t.Fatal(err)
	}
	replace(t, p, "three")
	changed := time.Now()
	for {
		e, err := c.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if e.Size == 5 {
			break
		}
		if time.Since(changed) > 1100*time.Millisecond {
			t.Fatalf("change not seen after %v", time.Since(changed))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCacheHitSkipsStat(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f.txt")
	write(t, p, "x")
	c, _ := newFake(t, Config{})
	e1, _ := c.Stat(p)
	e2, _ := c.Stat(p)
	if e1 != e2 {
		t.Error("second lookup in the same second built a new entry")
	}
	d, _ := newFake(t, Config{Engine: EngineDisable})
	os.Remove(p)
	if _, err := c.Stat(p); err != nil {
		t.Errorf("simple engine re-stat()ed within the second: %v", err)
	}
	if _, err := d.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("disabled engine: %v", err)
	}
}

func TestUnchangedKeepsDescriptor(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f.txt")
	write(t, p, "constant")
	c, clk := newFake(t, Config{SmallFileMax: -1})
	h1, err := c.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer h1.Release()
	clk.tick()
	h2, err := c.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Release()
	if h1.FD() != h2.FD() {
		t.Error("unchanged file was reopened after re-stat")
	}
}

func TestHandleOutlivesEntry(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f.txt")
	write(t, p, "old content")
	c, clk := newFake(t, Config{SmallFileMax: -1})
	h, err := c.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	replace(t, p, "new content!")
	clk.tick()
	h2, err := c.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Release()
	c.Invalidate(p)
	buf := make([]byte, 11)
	if _, err := h.ReadAt(buf, 0); err != nil || string(buf) != "old content" {
		t.Fatalf("old handle read %q, %v", buf, err)
	}
	fd, ino := h.FD(), h.Entry.Ino
	h.Release()
	h.Release() // idempotent
	if err := openOn(fd, ino); err != nil {
		t.Errorf("descriptor still open after last release: %v", err)
	}
}

func TestSmallFileContent(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "s.txt")
	big := filepath.Join(dir, "b.txt")
	empty := filepath.Join(dir, "e.txt")
	write(t, small, "tiny")
	write(t, big, string(bytes.Repeat([]byte("x"), 100)))
	write(t, empty, "")
	c, _ := newFake(t, Config{SmallFileMax: 50})
	tests := []struct {
		name   string
		path   string
		want   string
		cached bool
		hasFD  bool
	}{
		{"small", small, "tiny", true, true},
		{"big", big, "", false, true},
		{"empty", empty, "", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := c.Open(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Release()
			got, ok := h.Content()
			if ok != tc.cached || string(got) != tc.want {
				t.Errorf("Content = %q, %v", got, ok)
			}
			if h.FD().Valid() != tc.hasFD {
				t.Errorf("FD() = %v", h.FD())
			}
		})
	}
	t.Run("directory has no descriptor", func(t *testing.T) {
		h, err := c.Open(dir)
		if err != nil || h.FD().Valid() || !h.Entry.IsDir() {
			t.Fatalf("%+v %v", h, err)
		}
		h.Release()
	})
}

func TestBoundedEntries(t *testing.T) {
	dir := t.TempDir()
	c, _ := newFake(t, Config{MaxEntries: 64})
	for i := 0; i < 600; i++ {
		p := filepath.Join(dir, "f"+string(rune('a'+i%26))+itoa(i))
		write(t, p, "x")
		if _, err := c.Open(p); err != nil {
			t.Fatal(err)
		}
	}
	// An eviction goes down to 15/16 of the bound (60), not further.
	if n := c.Len(); n > 64 || n < 60 {
		t.Errorf("Len = %d, want 60..64", n)
	}
}

// TestFullCacheAdmits fills a cache of 4 entries: a fifth path is served
// from a descriptor of its own, closed at its Release, without pushing out
// the cached ones; a changed cached file still replaces its entry; once the
// sweep has removed the entries idle for more than maxIdle seconds, a new
// path is cached again.
func TestFullCacheAdmits(t *testing.T) {
	dir := t.TempDir()
	c, clk := newFake(t, Config{MaxEntries: 4, SmallFileMax: -1})
	path := func(i int) string { return filepath.Join(dir, "f"+itoa(i)) }
	files := map[int]filefd.FD{}
	for i := 0; i < 4; i++ {
		write(t, path(i), "cached")
		h, err := c.Open(path(i))
		if err != nil {
			t.Fatal(err)
		}
		files[i] = h.FD()
		h.Release()
	}
	write(t, path(4), "not cached")
	h, err := c.Open(path(4))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if n, _ := h.ReadAt(buf, 0); string(buf[:n]) != "not cached" {
		t.Errorf("fifth file read %q", buf[:n])
	}
	fd, ino := h.FD(), h.Entry.Ino
	h.Release()
	if err := openOn(fd, ino); err != nil {
		t.Errorf("the fifth file's descriptor was not closed at Release: %v", err)
	}
	if n := c.Len(); n != 4 {
		t.Errorf("Len = %d after a fifth path, want 4", n)
	}
	for i := 0; i < 4; i++ {
		h, err := c.Open(path(i))
		if err != nil {
			t.Fatal(err)
		}
		if h.FD() != files[i] {
			t.Errorf("cached file %d was reopened: a full cache dropped it", i)
		}
		h.Release()
	}
	clk.tick()
	replace(t, path(0), "changed")
	if e, err := c.Stat(path(0)); err != nil || e.Size != int64(len("changed")) {
		t.Fatalf("changed file: %v, %v", e, err)
	}
	if e, _ := c.m.Load(path(0)); e == nil || e.Size != int64(len("changed")) {
		t.Error("a changed file did not replace its entry in a full cache")
	}
	h1, err := c.Open(path(0))
	if err != nil {
		t.Fatal(err)
	}
	h2, err := c.Open(path(0))
	if err != nil {
		t.Fatal(err)
	}
	if h1.FD() != h2.FD() {
		t.Error("a changed file's new descriptor was not cached in a full cache")
	}
	h1.Release()
	h2.Release()
	for i := 0; i <= maxIdle; i++ {
		clk.tick()
	}
	write(t, path(5), "new")
	if _, err := c.Stat(path(5)); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.m.Load(path(5)); !ok || c.Len() != 1 {
		t.Errorf("after the idle entries' sweep: path cached %v, Len %d, want true, 1", ok, c.Len())
	}
}

// TestMaxEntriesFor checks the default bound against descriptor limits:
// never more than half the descriptors, within [64, DefaultMaxEntries].
func TestMaxEntriesFor(t *testing.T) {
	for _, tc := range []struct {
		nofile uint64
		want   int64
	}{
		{10, 64},
		{1024, 512},
		{20000, 10000},
		{1 << 20, DefaultMaxEntries},
		{math.MaxUint64, DefaultMaxEntries}, // RLIM_INFINITY
	} {
		if got := maxEntriesFor(tc.nofile); got != tc.want {
			t.Errorf("maxEntriesFor(%d) = %d, want %d", tc.nofile, got, tc.want)
		}
	}
}

// TestContentBudget fills a 2 KiB content budget with 1 KiB files: the
// third is sent from its descriptor, and the budget comes back when an
// entry leaves the cache (and all of it once the cache is closed).
func TestContentBudget(t *testing.T) {
	dir := t.TempDir()
	c, _ := newFake(t, Config{ContentBudget: 2 << 10})
	kib := strings.Repeat("k", 1<<10)
	open := func(name string) (cached bool) {
		t.Helper()
		p := filepath.Join(dir, name)
		write(t, p, kib)
		h, err := c.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Release()
		buf := make([]byte, 1<<10)
		if n, err := h.ReadAt(buf, 0); n != len(buf) || string(buf) != kib {
			t.Fatalf("%s: read %d bytes, %v", name, n, err)
		}
		_, cached = h.Content()
		if !cached && !h.FD().Valid() {
			t.Fatalf("%s: neither bytes nor a descriptor", name)
		}
		return cached
	}
	for i, want := range []bool{true, true, false} {
		if got := open("f" + itoa(i)); got != want {
			t.Errorf("file %d cached in memory: %v, want %v", i, got, want)
		}
	}
	if got := c.content.Load(); got != 2<<10 {
		t.Errorf("budget in use %d, want %d", got, 2<<10)
	}
	c.Invalidate(filepath.Join(dir, "f0"))
	if !open("f3") {
		t.Error("a file opened after an entry left was not cached in memory")
	}
	c.Close()
	if got := c.content.Load(); got != 0 {
		t.Errorf("budget in use after Close: %d", got)
	}
}

func itoa(i int) string {
	var b [8]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[n:])
		}
	}
}

func TestContainsSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	os.Mkdir(real, 0o755)
	write(t, filepath.Join(real, "f.txt"), "x")
	if err := os.Symlink(real, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	c, _ := newFake(t, Config{})
	tests := []struct {
		path string
		want bool
	}{
		{filepath.Join(real, "f.txt"), false},
		{filepath.Join(dir, "link", "f.txt"), true},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			e, err := c.Stat(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ { // second call hits the memo
				got, err := e.ContainsSymlink()
				if err != nil || got != tc.want {
					t.Errorf("ContainsSymlink = %v, %v", got, err)
				}
			}
		})
	}
}

// TestEntrySize: a cached file's entry, its ETag included, is what the
// cache holds per file beyond its bytes (10,000 of them in the bench's
// "many" case): one object in the 128-byte size class (144 while the
// small file's bytes were a slice; an entry of 128 and a 16-byte ETag memo
// before that), and making or reading the ETag allocates nothing.
func TestEntrySize(t *testing.T) {
	if n := allocsize.Of(func() any { return new(Entry) }); n > 128 {
		t.Errorf("an Entry (%d bytes) takes %d from the heap, over the 128-byte size class", unsafe.Sizeof(Entry{}), n)
	}
	p := filepath.Join(t.TempDir(), "f.txt")
	write(t, p, "x")
	c, _ := newFake(t, Config{})
	e, _ := c.Stat(p)
	want := string(httpfile.ETag(nil, e.FileID(), httpfile.ETagDefault))
	fresh := make([]*Entry, 0, 5*256)
	for range cap(fresh) {
		fresh = append(fresh, &Entry{Ino: e.Ino, Size: e.Size, MtimeSec: e.MtimeSec, MtimeNsec: e.MtimeNsec, Mode: e.Mode})
	}
	i := 0
	n := allocsize.Of(func() any {
		f := fresh[i]
		i++
		if got := f.ETag(httpfile.ETagDefault); got != want {
			t.Fatalf("ETag = %q, want %q", got, want)
		}
		return nil
	})
	if n != 0 {
		t.Errorf("making an entry's ETag takes %d bytes from the heap, want none", n)
	}
	if a := testing.AllocsPerRun(100, func() { e.ETag(httpfile.ETagDefault) }); a != 0 {
		t.Errorf("a memoised ETag allocates %v times", a)
	}
	// Other flags get their own ETag (the memo stays the first flags'),
	// and the longest ETag fits the memo.
	if got, want := e.ETag(httpfile.ETagUseSize), string(httpfile.ETag(nil, e.FileID(), httpfile.ETagUseSize)); got != want {
		t.Errorf("ETag with other flags = %q, want %q", got, want)
	}
	long := &Entry{Mode: e.Mode}
	for ino := uint64(0); len(long.ETag(httpfile.ETagUseInode)) < maxETag; ino++ {
		long = &Entry{Mode: e.Mode, Ino: ino * 7919}
		if ino > 1<<20 {
			t.Fatal("no 10-digit ETag found")
		}
	}
	if got, want := long.ETag(httpfile.ETagUseInode), string(httpfile.ETag(nil, long.FileID(), httpfile.ETagUseInode)); got != want {
		t.Errorf("longest ETag = %q, want %q", got, want)
	}
	if got := e.ETag(httpfile.ETagDefault); got != want {
		t.Errorf("the first flags' ETag after other flags' = %q, want %q", got, want)
	}

	// Requests making one entry's ETag at once all get it whole (the race
	// detector checks the memo's publication).
	for range 50 {
		f := &Entry{Ino: e.Ino, Size: e.Size, MtimeSec: e.MtimeSec, MtimeNsec: e.MtimeNsec, Mode: e.Mode}
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if got := f.ETag(httpfile.ETagDefault); got != want {
					t.Errorf("concurrent ETag = %q, want %q", got, want)
				}
			}()
		}
		wg.Wait()
	}
}

func TestDisabledEngineOwnsDescriptor(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f.txt")
	write(t, p, "abc")
	c, _ := newFake(t, Config{Engine: EngineDisable})
	h1, _ := c.Open(p)
	h2, _ := c.Open(p)
	if h1.FD() == h2.FD() {
		t.Error("disabled engine shared a descriptor")
	}
	fd, ino := h1.FD(), h1.Entry.Ino
	h1.Release()
	h2.Release()
	if err := openOn(fd, ino); err != nil {
		t.Errorf("not closed: %v", err)
	}
	if c.Len() != 0 {
		t.Errorf("disabled engine cached %d entries", c.Len())
	}
}

// TestSendFileConcurrent sends different ranges of one shared descriptor
// from several goroutines: explicit offsets keep them independent.
func TestSendFileConcurrent(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f.bin")
	data := make([]byte, 256<<10)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := newFake(t, Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type pair struct{ cl, srv net.Conn }
	pairs := make([]pair, 6)
	for i := range pairs {
		cl, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		srv, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		pairs[i] = pair{cl, srv}
	}
	var wg sync.WaitGroup
	for g, pr := range pairs {
		off, n := int64(g*1000+3), int64(len(data)-g*30000-7)
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := c.Open(p)
			if err != nil {
				t.Error(err)
				return
			}
			defer h.Release()
			got := make(chan []byte)
			go func() { b, _ := io.ReadAll(pr.cl); pr.cl.Close(); got <- b }()
			w, err := h.SendFile(pr.srv.(*net.TCPConn), off, n)
			pr.srv.Close()
			b := <-got
			if err != nil || w != n || !bytes.Equal(b, data[off:off+n]) {
				t.Errorf("sent %d of %d (%v), received %d bytes, equal=%v", w, n, err, len(b), bytes.Equal(b, data[off:off+n]))
			}
		}()
	}
	wg.Wait()
	t.Run("conn without descriptor", func(t *testing.T) {
		h, _ := c.Open(p)
		defer h.Release()
		if _, err := h.SendFile(nopConn{}, 0, 1); err == nil {
			t.Error("SendFile to a conn without descriptor succeeded")
		}
	})
}

type nopConn struct{}

func (nopConn) SyscallConn() (syscall.RawConn, error) { return nil, errors.New("no descriptor") }

// TestConcurrentChurn runs readers against a writer that keeps replacing
// files while the clock advances; every handle must read bytes consistent
// with its own Entry, and no descriptor may leak.
// TestConcurrentChurn opens three files from four goroutines while a fifth
// replaces them: every read shows one version whole, and no descriptor or
// budget byte is left once the cache closes. Run with room for all three
// and with room for two entries and one file's bytes (the paths a full
// cache turns away, the files over the budget).
func TestConcurrentChurn(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"room", Config{SmallFileMax: 8}},
		{"full", Config{SmallFileMax: 8, MaxEntries: 2, ContentBudget: 8}},
	} {
		t.Run(tc.name, func(t *testing.T) { concurrentChurn(t, tc.cfg) })
	}
}

func concurrentChurn(t *testing.T, cfg Config) {
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")}
	for _, p := range paths {
		write(t, p, "iiiiiii")
	}
	fdsBefore := countFDs(t)
	c, clk := newFake(t, cfg)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			content := string(bytes.Repeat([]byte{byte('a' + i%26)}, 1+i%20))
			tmp := paths[i%3] + ".tmp"
			os.WriteFile(tmp, []byte(content), 0o644)
			os.Rename(tmp, paths[i%3])
			clk.tick()
		}
	}()
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				h, err := c.Open(paths[(i+r)%3])
				if err != nil {
					t.Error(err)
					return
				}
				buf := make([]byte, h.Entry.Size)
				n, err := h.ReadAt(buf, 0)
				if (err != nil && err != io.EOF) || int64(n) != h.Entry.Size {
					t.Errorf("read %d of %d: %v", n, h.Entry.Size, err)
				}
				for _, b := range buf[:n] {
					if b != buf[0] {
						t.Errorf("mixed content %q", buf)
						break
					}
				}
				h.Release()
			}
		}(r)
	}
	time.Sleep(10 * time.Millisecond)
	close(stop)
	wg.Wait()
	c.Close()
	if after := countFDs(t); after > fdsBefore {
		t.Errorf("descriptors leaked: %d before, %d after", fdsBefore, after)
	}
	if n := c.content.Load(); n != 0 {
		t.Errorf("budget in use after Close: %d", n)
	}
}

func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// TestOpenStat covers OpenStat's choice: a fresh entry of the same path
// stands for it (as the cache's own lookup would within its second); a
// stale one (an earlier second), one of another path or one taken out of
// the cache since (Invalidate) does not, and the path is looked up again.
func TestOpenStat(t *testing.T) {
	cases := []struct {
		name    string
		change  func(t *testing.T, c *Cache, clk *fakeClock, p string)
		other   bool // open another path than the entry's
		want    string
		usesOld bool // the handle is the entry's
	}{
		{"fresh entry", func(*testing.T, *Cache, *fakeClock, string) {}, false, "old content", true},
		{"replaced in the same second", func(t *testing.T, _ *Cache, _ *fakeClock, p string) { replace(t, p, "new content") }, false, "old content", true},
		{"stale entry", func(t *testing.T, _ *Cache, clk *fakeClock, p string) { replace(t, p, "new content"); clk.tick() }, false, "new content", false},
		{"invalidated entry, its descriptor still in use", func(t *testing.T, c *Cache, _ *fakeClock, p string) {
			h, err := c.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(h.Release)
			replace(t, p, "new content")
			c.Invalidate(p)
		}, false, "new content", false},
		{"another path", func(*testing.T, *Cache, *fakeClock, string) {}, true, "the other!!", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p, q := filepath.Join(dir, "f.txt"), filepath.Join(dir, "g.txt")
			write(t, p, "old content")
			write(t, q, "the other!!")
			c, clk := newFake(t, Config{SmallFileMax: -1})
			h0, err := c.Open(p) // the entry holds its descriptor, as a file served before
			if err != nil {
				t.Fatal(err)
			}
			h0.Release()
			e, err := c.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			tc.change(t, c, clk, p)
			path := p
			if tc.other {
				path = q
			}
			h, err := c.OpenStat(path, e)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Release()
			buf := make([]byte, 11)
			if _, err := h.ReadAt(buf, 0); err != nil || string(buf) != tc.want {
				t.Errorf("read %q, %v; want %q", buf, err, tc.want)
			}
			if (h.Entry == e) != tc.usesOld {
				t.Errorf("handle's entry is the given one: %v, want %v", h.Entry == e, tc.usesOld)
			}
		})
	}
}

// TestOpenDescriptor checks the descriptor the cache opens (openFile, in
// place of os.Open): read-only, close-on-exec, blocking (sendfile(2) and
// pread(2) on it must not see EAGAIN), and a failed open reported as
// os.Open reports it.
func TestOpenDescriptor(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.txt")
	write(t, p, "abc")
	for _, engine := range []Engine{EngineSimple, EngineDisable} {
		c, _ := newFake(t, Config{Engine: engine})
		h, err := c.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		fd := uintptr(h.FD().Int())
		fl, ferr := unix.FcntlInt(fd, unix.F_GETFL, 0)
		fdfl, ferr2 := unix.FcntlInt(fd, unix.F_GETFD, 0)
		if ferr = errors.Join(ferr, ferr2); ferr != nil {
			t.Fatal(ferr)
		}
		if fl&unix.O_ACCMODE != unix.O_RDONLY || fl&unix.O_NONBLOCK != 0 || fdfl&unix.FD_CLOEXEC == 0 {
			t.Errorf("engine %v: flags %#x, descriptor flags %#x: want read-only, blocking, close-on-exec", engine, fl, fdfl)
		}
		buf := make([]byte, 3)
		if n, err := h.FD().ReadAt(buf, 0); n != 3 || string(buf) != "abc" {
			t.Errorf("engine %v: read %q, %v", engine, buf[:n], err)
		}
		h.Release()
	}
	_, err := openFile(filepath.Join(dir, "missing"))
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Op != "open" || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %#v, want *os.PathError open, fs.ErrNotExist", err)
	}
}

// TestOpenSharesStrings: the entry an open makes shares its path with the
// stat's entry it replaces, and its
// Last-Modified string with the stat's entry (10,000 cached files held two
// of each); a file whose second changed meanwhile gets its own date.
func TestOpenSharesStrings(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f.txt")
	write(t, p, "hello")
	c := New(Config{})
	defer c.Close()
	st, err := c.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.OpenStat(p, st)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	e := h.Entry
	if e == st {
		t.Fatal("the open kept the stat's entry: nothing to compare")
	}
	same := func(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }
	if !same(e.Path, st.Path) {
		t.Errorf("path copied: entry %p, stat's %p", unsafe.StringData(e.Path), unsafe.StringData(st.Path))
	}
	if !same(e.LastModified, st.LastModified) {
		t.Errorf("Last-Modified made again: %q", e.LastModified)
	}

	// A file changed (to another second) between the stat and the open.
	q := filepath.Join(t.TempDir(), "g.txt")
	write(t, q, "one")
	st2, err := c.Stat(q)
	if err != nil {
		t.Fatal(err)
	}
	later := time.Unix(st2.MtimeSec+7, 0)
	if err := os.Chtimes(q, later, later); err != nil {
		t.Fatal(err)
	}
	h2, err := c.OpenStat(q, st2)
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Release()
	if want := string(httpfile.AppendHTTPDate(nil, later.Unix())); h2.Entry.LastModified != want {
		t.Errorf("changed file: Last-Modified %q, want %q", h2.Entry.LastModified, want)
	}
}

// TestFilesShareDates: files whose times fall in the same second share
// one Last-Modified string (a tree copied at once), and a file of another
// second gets its own, right, date.
func TestFilesShareDates(t *testing.T) {
	dir := t.TempDir()
	at := time.Unix(1700000000, 0)
	c := New(Config{})
	defer c.Close()
	var dates []string
	for i, sec := range []int64{0, 0, 5, 5} {
		p := filepath.Join(dir, strconv.Itoa(i))
		write(t, p, "x")
		when := at.Add(time.Duration(sec)*time.Second + time.Duration(i)*time.Millisecond)
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
		e, err := c.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if want := string(httpfile.AppendHTTPDate(nil, when.Unix())); e.LastModified != want {
			t.Fatalf("file %d: Last-Modified %q, want %q", i, e.LastModified, want)
		}
		dates = append(dates, e.LastModified)
	}
	same := func(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }
	if !same(dates[0], dates[1]) || !same(dates[2], dates[3]) {
		t.Error("files of the same second hold copies of their date")
	}
}

// openOn reports, as an error, that fd is still open on the file of inode
// ino (nil when it is closed or names another file since).
func openOn(fd filefd.FD, ino uint64) error {
	var st unix.Stat_t
	if unix.Fstat(fd.Int(), &st) == nil && st.Ino == ino {
		return fmt.Errorf("descriptor %d still open on inode %d", fd.Int(), ino)
	}
	return nil
}

// TestOpenHeapPerFile: what a file new to the cache leaves on the heap
// once opened is its entry and its path: the descriptor is a number in the
// entry (with an *os.File and its reference count: 285 bytes and 5 objects
// per file, 1 MB of 10,000 cached files, and two more cache misses per
// request to reach the number).
func TestOpenHeapPerFile(t *testing.T) {
	dir := t.TempDir()
	const files = 2000
	paths := make([]string, files)
	for i := range paths {
		paths[i] = filepath.Join(dir, "file-number-"+itoa(i)+".txt")
		write(t, paths[i], "x")
	}
	c, _ := newFake(t, Config{SmallFileMax: -1, MaxEntries: 2 * files})
	// A warm-up file: pools and the date memo.
	if h, err := c.Open(paths[0]); err == nil {
		h.Release()
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, p := range paths[1:] {
		h, err := c.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if !h.FD().Valid() {
			t.Fatalf("%s: no descriptor", p)
		}
		h.Release()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if c.Len() != files {
		t.Fatalf("%d entries cached, want %d", c.Len(), files)
	}
	perFile := float64(after.HeapAlloc-before.HeapAlloc) / (files - 1)
	objects := float64(after.HeapObjects-before.HeapObjects) / (files - 1)
	t.Logf("%.0f bytes, %.1f objects per cached file", perFile, objects)
	// The entry (128) and its path (48 here); the map's slots are
	// allocated in blocks.
	if perFile > 200 || objects > 2.5 {
		t.Errorf("%.0f bytes and %.1f objects per cached file, want at most 200 and 2.5", perFile, objects)
	}
}

// TestRestatAllocatesNothing: the once-a-second stat(2) of a cached path
// copies the path to the stack, not the heap (serving 10,000 files at
// random, package syscall's copies were most of the server's garbage);
// paths too long for the stack buffer and paths holding a NUL still get
// stat(2)'s answers.
func TestRestatAllocatesNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.txt")
	write(t, p, "x")
	c, clk := newFake(t, Config{})
	if _, err := c.Stat(p); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		clk.tick()
		if _, err := c.Stat(p); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("a re-stat allocates %.1f objects, want 0", allocs)
	}
	h, err := c.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	h.Release()

	long := dir
	for len(long) < 2*shortPath {
		long = filepath.Join(long, strings.Repeat("d", 60))
	}
	if err := os.MkdirAll(long, 0o755); err != nil {
		t.Fatal(err)
	}
	lp := filepath.Join(long, "f.txt")
	write(t, lp, "long")
	if e, err := c.Stat(lp); err != nil || e.Size != 4 {
		t.Errorf("long path: %v, %v", e, err)
	}
	if h, err := c.Open(lp); err != nil || !h.FD().Valid() {
		t.Errorf("long path open: %v", err)
	} else {
		h.Release()
	}
	if _, err := c.Stat(lp + "-missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing long path: %v", err)
	}
	if _, err := c.Stat(p + "\x00.php"); err == nil {
		t.Error("a path holding a NUL was stat()ed (as the path before it)")
	}
	if _, err := c.Stat(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing path: %v", err)
	}
}
