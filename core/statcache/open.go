package statcache

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// sharedFile is a descriptor shared by the cache entry and every Handle
// using it; it is closed when the last reference goes.
type sharedFile struct {
	f    *os.File
	refs atomic.Int32
}

// acquire adds a reference unless the file is already closing.
func (s *sharedFile) acquire() bool {
	for {
		n := s.refs.Load()
		if n <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (s *sharedFile) release() {
	if s.refs.Add(-1) == 0 {
		s.f.Close()
	}
}

// Handle is an opened file ready to send. Its descriptor stays valid until
// Release, even if the cache drops or replaces the entry meanwhile (the
// file then still shows the bytes it had when opened, like lighttpd's
// reference-counted stat cache entries).
//
// The *os.File is shared between concurrent requests: use positional I/O
// only (ReadAt, SendFile here, or sendfile/pread with an explicit offset),
// never Read, Seek, or io.Copy from the file, which move the shared offset.
type Handle struct {
	// Entry is the stat data the descriptor belongs to.
	Entry *Entry
	file  *sharedFile
	done  atomic.Bool
}

// File returns the shared descriptor, nil for empty and non-regular files.
func (h *Handle) File() *os.File {
	if h.file == nil {
		return nil
	}
	return h.file.f
}

// Content returns the whole file when it is small enough to be cached in
// memory (always for empty files). The slice is shared and read-only.
func (h *Handle) Content() ([]byte, bool) {
	if h.Entry.Size == 0 {
		return nil, true
	}
	return h.Entry.content, h.Entry.content != nil
}

// ReadAt reads from the file at off without touching the shared offset.
func (h *Handle) ReadAt(p []byte, off int64) (int, error) {
	if c, ok := h.Content(); ok {
		if off >= int64(len(c)) {
			return 0, io.EOF
		}
		n := copy(p, c[off:])
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	if h.file == nil {
		return 0, io.EOF
	}
	return h.file.f.ReadAt(p, off)
}

// SendFile writes n bytes of the file starting at off to dst with
// sendfile(2), passing the offset explicitly so concurrent senders of the
// same descriptor do not interfere. It waits for writability through dst's
// poller, so write deadlines apply. A file that shrank below off+n ends
// with io.ErrUnexpectedEOF.
func (h *Handle) SendFile(dst syscall.Conn, off, n int64) (int64, error) {
	if h.file == nil {
		return 0, fmt.Errorf("statcache: %s: no descriptor to send from", h.Entry.Path)
	}
	drc, err := dst.SyscallConn()
	if err != nil {
		return 0, err
	}
	src, err := h.file.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var written int64
	var serr error
	cerr := src.Control(func(sfd uintptr) {
		werr := drc.Write(func(dfd uintptr) bool {
			for written < n {
				m, err := unix.Sendfile(int(dfd), int(sfd), &off, int(min(n-written, 1<<30)))
				if m > 0 {
					written += int64(m)
				}
				switch {
				case err == unix.EINTR:
					continue
				case err == unix.EAGAIN:
					return false
				case err != nil:
					serr = &os.SyscallError{Syscall: "sendfile", Err: err}
					return true
				case m == 0:
					serr = io.ErrUnexpectedEOF
					return true
				}
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
	})
	if serr == nil {
		serr = cerr
	}
	return written, serr
}

// handles are pooled: a request opens one per file it sends, and the hot
// path (a cached small file) should not allocate.
var handlePool = sync.Pool{New: func() any { return new(Handle) }}

func newHandle(e *Entry, f *sharedFile) *Handle {
	h := handlePool.Get().(*Handle)
	h.Entry, h.file = e, f
	h.done.Store(false)
	return h
}

// Release gives the descriptor back. The Handle must not be used after it
// (it is recycled); a second Release right away is a no-op.
func (h *Handle) Release() {
	if h.done.Swap(true) {
		return
	}
	if h.file != nil {
		h.file.release()
	}
	h.Entry, h.file = nil, nil
	handlePool.Put(h)
}

// Open returns a Handle for path: the cached entry with its descriptor and,
// for small files, their bytes. Non-regular files (directories, devices)
// and empty files get a Handle without descriptor; the caller decides the
// status (lighttpd answers 403 for non-regular files). Open errors are
// *fs.PathError (errors.Is(err, fs.ErrNotExist), syscall.EACCES...).
// Symlinks are followed; check Entry.ContainsSymlink for
// server.follow-symlink = "disable".
func (c *Cache) Open(path string) (*Handle, error) {
	e, err := c.Stat(path)
	if err != nil {
		return nil, err
	}
	return c.openEntry(e)
}

// OpenStat is Open for a path that the caller's Stat returned e for a
// moment ago (the same request): while e is still fresh (stamped this
// second) it stands for the path, sparing the second lookup, or without a
// cache (stat-cache-engine "disable") the second stat(2). A static request
// stats its path when it checks it and again when it sends it: the second
// lookup was 1.5% of a 1 KiB request's user time.
func (c *Cache) OpenStat(path string, e *Entry) (*Handle, error) {
	if e == nil || e.Path != path || e.stamp.Load() != c.now() {
		return c.Open(path)
	}
	return c.openEntry(e)
}

func (c *Cache) openEntry(e *Entry) (*Handle, error) {
	if !e.IsRegular() || e.Size == 0 {
		return newHandle(e, nil), nil
	}
	if e.file != nil && e.file.acquire() {
		return newHandle(e, e.file), nil
	}
	return c.open(e)
}

// open opens e.Path and builds the entry from fstat(2) of the descriptor,
// so the stat data always describes the bytes being sent.
func (c *Cache) open(stale *Entry) (*Handle, error) {
	f, err := openFile(stale.Path)
	if err != nil {
		return nil, err
	}
	var st syscall.Stat_t
	if err := fstat(f, &st); err != nil {
		f.Close()
		return nil, err
	}
	e := entryFor(stale.Path, &st, stale.stamp.Load(), stale)
	if !e.IsRegular() {
		f.Close()
		return newHandle(e, nil), nil
	}
	sf := &sharedFile{f: f}
	e.file = sf
	if c.engine != EngineSimple || !c.admits(e.Path) {
		sf.refs.Store(1) // the Handle's alone: closed at its Release
		return newHandle(e, sf), nil
	}
	if e.Size > 0 && e.Size <= c.smallMax && c.reserve(e.Size) {
		if e.content = readSmall(f, &st); e.content == nil {
			c.content.Add(-e.Size)
		}
	}
	sf.refs.Store(2) // the cache and the Handle
	if cur, ok := c.m.Load(e.Path); ok {
		if cur != stale && cur.file != nil && cur.sameAs(&st) && cur.file.acquire() {
			// A concurrent Open published the same file first: use it.
			f.Close()
			c.content.Add(-int64(len(e.content)))
			return newHandle(cur, cur.file), nil
		}
	}
	c.store(e.Path, e, e.stamp.Load())
	return newHandle(e, sf), nil
}

// reserve takes n bytes of the content budget; false if they would
// exceed it (the file is then sent from its descriptor).
func (c *Cache) reserve(n int64) bool {
	if c.content.Add(n) <= c.budget {
		return true
	}
	c.content.Add(-n)
	return false
}

// readSmall reads the whole file and keeps the bytes only if the file did
// not change while being read.
func readSmall(f *os.File, st *syscall.Stat_t) []byte {
	buf := make([]byte, st.Size)
	if n, err := f.ReadAt(buf, 0); n != len(buf) || (err != nil && err != io.EOF) {
		return nil
	}
	var after syscall.Stat_t
	if fstat(f, &after) != nil || after.Size != st.Size || after.Mtim != st.Mtim {
		return nil
	}
	return buf
}

// openFile opens path for reading as os.Open would, without os's attempt
// to add the descriptor to the netpoller: on Linux that costs four more
// system calls per open (fcntl to make it non-blocking, an epoll_ctl that
// refuses a regular file, two fcntl to undo it). os.NewFile of a blocking
// descriptor only asks for its flags.
func openFile(path string) (*os.File, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		switch err {
		case nil:
			return os.NewFile(uintptr(fd), path), nil
		case unix.EINTR:
			continue
		}
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
}

func fstat(f *os.File, st *syscall.Stat_t) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fstat(int(fd), st)
			if serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fstat", Path: f.Name(), Err: serr}
	}
	return nil
}
