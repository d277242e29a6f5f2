package statcache

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/golighty/golighty/core/filefd"
	"golang.org/x/sys/unix"
)

// acquire adds a reference to e's descriptor unless it has none or it is
// closing.
func (e *Entry) acquire() bool {
	for {
		n := e.refs.Load()
		if n <= 0 {
			return false
		}
		if e.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference to e's descriptor, closing it with the last.
func (e *Entry) release() {
	if e.refs.Add(-1) == 0 {
		unix.Close(e.fd.Int())
	}
}

// Handle is an opened file ready to send. Its descriptor stays valid until
// Release, even if the cache drops or replaces the entry meanwhile (the
// file then still shows the bytes it had when opened, like lighttpd's
// reference-counted stat cache entries).
//
// The descriptor is shared between concurrent requests: use positional
// I/O only (ReadAt, SendFile here, or sendfile/pread with an explicit
// offset), never read(2) or lseek(2), which move the shared offset.
type Handle struct {
	// Entry is the stat data the descriptor belongs to.
	Entry *Entry
	fd    filefd.FD // holds a reference to Entry's descriptor when valid
	done  atomic.Bool
}

// FD returns the shared descriptor, none for empty and non-regular files.
// It is valid until Release.
func (h *Handle) FD() filefd.FD { return h.fd }

// Content returns the whole file when it is small enough to be cached in
// memory (always for empty files). The slice is shared and read-only.
func (h *Handle) Content() ([]byte, bool) {
	e := h.Entry
	if e.Size == 0 {
		return nil, true
	}
	if e.content == nil {
		return nil, false
	}
	return unsafe.Slice(e.content, e.Size), true
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
	if !h.fd.Valid() {
		return 0, io.EOF
	}
	return h.fd.ReadAt(p, off)
}

// SendFile writes n bytes of the file starting at off to dst with
// sendfile(2), passing the offset explicitly so concurrent senders of the
// same descriptor do not interfere. It waits for writability through dst's
// poller, so write deadlines apply. A file that shrank below off+n ends
// with io.ErrUnexpectedEOF.
func (h *Handle) SendFile(dst syscall.Conn, off, n int64) (int64, error) {
	if !h.fd.Valid() {
		return 0, fmt.Errorf("statcache: %s: no descriptor to send from", h.Entry.Path)
	}
	drc, err := dst.SyscallConn()
	if err != nil {
		return 0, err
	}
	sfd := h.fd.Int()
	var written int64
	var serr error
	werr := drc.Write(func(dfd uintptr) bool {
		for written < n {
			m, err := unix.Sendfile(int(dfd), sfd, &off, int(min(n-written, 1<<30)))
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
	return written, serr
}

// handles are pooled: a request opens one per file it sends, and the hot
// path (a cached small file) should not allocate.
var handlePool = sync.Pool{New: func() any { return new(Handle) }}

// newHandle returns a Handle of e; with fd valid it takes over a
// reference to e's descriptor the caller acquired.
func newHandle(e *Entry, fd filefd.FD) *Handle {
	h := handlePool.Get().(*Handle)
	h.Entry, h.fd = e, fd
	h.done.Store(false)
	return h
}

// Release gives the descriptor back. The Handle must not be used after it
// (it is recycled); a second Release right away is a no-op.
func (h *Handle) Release() {
	if h.done.Swap(true) {
		return
	}
	if h.fd.Valid() {
		h.Entry.release()
	}
	h.Entry, h.fd = nil, filefd.FD{}
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
		return newHandle(e, filefd.FD{}), nil
	}
	if e.acquire() {
		return newHandle(e, e.fd), nil
	}
	return c.open(e)
}

// open opens e.Path and builds the entry from fstat(2) of the descriptor,
// so the stat data always describes the bytes being sent.
func (c *Cache) open(stale *Entry) (*Handle, error) {
	fd, err := openFile(stale.Path)
	if err != nil {
		return nil, err
	}
	var st syscall.Stat_t
	if err := fstat(fd, stale.Path, &st); err != nil {
		unix.Close(fd)
		return nil, err
	}
	e := entryFor(stale.Path, &st, stale.stamp.Load(), stale)
	if !e.IsRegular() {
		unix.Close(fd)
		return newHandle(e, filefd.FD{}), nil
	}
	e.fd = filefd.New(fd)
	if c.engine != EngineSimple || !c.admits(e.Path) {
		e.refs.Store(1) // the Handle's alone: closed at its Release
		return newHandle(e, e.fd), nil
	}
	if e.Size > 0 && e.Size <= c.smallMax && c.reserve(e.Size) {
		if b := readSmall(e.fd, &st); b != nil {
			e.content = &b[0] // len(b) == e.Size > 0
		} else {
			c.content.Add(-e.Size)
		}
	}
	e.refs.Store(2) // the cache and the Handle
	if cur, ok := c.m.Load(e.Path); ok {
		if cur != stale && cur.sameAs(&st) && cur.acquire() {
			// A concurrent Open published the same file first: use it.
			unix.Close(fd)
			if e.content != nil {
				c.content.Add(-e.Size)
			}
			return newHandle(cur, cur.fd), nil
		}
	}
	c.store(e, e.stamp.Load())
	return newHandle(e, e.fd), nil
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
func readSmall(fd filefd.FD, st *syscall.Stat_t) []byte {
	buf := make([]byte, st.Size)
	if n, err := fd.ReadAt(buf, 0); n != len(buf) || (err != nil && err != io.EOF) {
		return nil
	}
	var after syscall.Stat_t
	if fstat(fd.Int(), "", &after) != nil || after.Size != st.Size || after.Mtim != st.Mtim {
		return nil
	}
	return buf
}

// openFile opens path for reading: a descriptor, not an *os.File (see
// package filefd), blocking (not for the netpoller, which refuses
// regular files anyway).
func openFile(path string) (int, error) {
	for {
		fd, err := openRead(path)
		switch err {
		case nil:
			return fd, nil
		case unix.EINTR:
			continue
		}
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
}

func fstat(fd int, path string, st *syscall.Stat_t) error {
	for {
		err := syscall.Fstat(fd, st)
		switch err {
		case nil:
			return nil
		case syscall.EINTR:
			continue
		}
		return &os.PathError{Op: "fstat", Path: path, Err: err}
	}
}
