package core

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// spoolMem is how much of a backend response body stays in memory before
// it moves to temporary files: lighttpd's chunkqueue switches to files once
// more than 64 KiB are queued (http_chunk_uses_tempfile).
const spoolMem = 64 << 10

// tempDirs returns server.upload-dirs, or lighttpd's default when unset:
// $TMPDIR, else /var/tmp.
func (s *ServerSettings) tempDirs() []string {
	if len(s.UploadDirs) > 0 {
		return s.UploadDirs
	}
	if d := os.Getenv("TMPDIR"); d != "" {
		return []string{d}
	}
	return []string{"/var/tmp"}
}

// tempSeg is one temporary file of a spool: bytes [done, n) are still to
// be sent (done stays 0 for a spool that is sent whole), the bytes before
// punched are given back to the file system.
type tempSeg struct {
	f                *os.File
	n, done, punched int64
}

// tempFiles writes bytes into unnamed temporary files in the upload
// directories, as lighttpd's chunkqueue does with its lighttpd-upload-XXXXXX
// files: one file, and a directory that fails (cannot create, disk full)
// hands over to the next one, which starts another file. The files have no
// name (O_TMPFILE, or unlinked at once), so nothing is left behind whatever
// happens to the process, and a response holds one descriptor whatever its
// size (lighttpd's files of server.upload-temp-file-size are about
// reopening by name, which unnamed files need not do).
type tempFiles struct {
	dirs      []string
	idx       int // directory in use
	segs      []tempSeg
	unchecked int64 // bytes written since the free space was last checked
}

// errNoRoom stops a spool that would leave its file system with less than
// the reserve free (see hasRoom).
var errNoRoom = errors.New("the upload directory is nearly full")

// roomCheckEvery is how much is spooled between two free-space checks (a
// variable for tests).
var roomCheckEvery int64 = 16 << 20

// hasRoom reports whether the file system of f keeps more than
// max(1 GiB, 5% of its size) free: below that a spool stops growing
// (buffering turns into streaming), where lighttpd fills the disk until a
// write fails. A variable, so tests can simulate a full disk.
var hasRoom = func(f *os.File) bool {
	var st unix.Statfs_t
	if unix.Fstatfs(int(f.Fd()), &st) != nil {
		return true
	}
	avail := int64(st.Bavail) * st.Bsize
	reserve := max(1<<30, int64(st.Blocks)*st.Bsize/20)
	return avail > reserve
}

func (t *tempFiles) init(s *ServerSettings) {
	t.dirs, t.idx = s.tempDirs(), 0
}

// size is the number of bytes written and not yet consumed.
func (t *tempFiles) size() int64 {
	var n int64
	for _, s := range t.segs {
		n += s.n - s.done
	}
	return n
}

// write appends p to the last file, starting a new one when its directory
// fails; errNoRoom (p not written) when the file system is nearly full.
func (t *tempFiles) write(p []byte) error {
	if len(t.segs) > 0 && t.unchecked >= roomCheckEvery {
		t.unchecked = 0
		if !hasRoom(t.segs[len(t.segs)-1].f) {
			return errNoRoom // nothing of p was written
		}
	}
	t.unchecked += int64(len(p))
	for len(p) > 0 {
		if len(t.segs) == 0 {
			if err := t.open(); err != nil {
				return err
			}
		}
		s := &t.segs[len(t.segs)-1]
		n, err := s.f.WriteAt(p, s.n)
		s.n += int64(n)
		p = p[n:]
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) || t.idx+1 >= len(t.dirs) {
				return fmt.Errorf("write() temp-file %s failed: %w", s.f.Name(), err)
			}
			t.idx++ // disk full: continue in the next directory
			if err := t.open(); err != nil {
				return err
			}
		}
	}
	return nil
}

// open starts a new file in the first directory that accepts one.
func (t *tempFiles) open() error {
	var err error
	for ; t.idx < len(t.dirs); t.idx++ {
		var f *os.File
		if f, err = openTemp(t.dirs[t.idx]); err == nil {
			t.segs = append(t.segs, tempSeg{f: f})
			return nil
		}
	}
	t.idx = len(t.dirs) - 1 // keep trying the last one next time
	return fmt.Errorf("opening temp-file failed: %w", err)
}

// openTemp creates an unnamed file in dir.
func openTemp(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err == nil {
		return os.NewFile(uintptr(fd), dir+"/(response spool)"), nil
	}
	// Filesystems without O_TMPFILE: a named file, unlinked at once.
	f, err := os.CreateTemp(dir, "golighty-response-")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return f, nil
}

// punchStep is how much of a file must have been sent before that part is
// given back to the file system (mode 1, a long stream to a slow client).
const punchStep = 1 << 20

// sent records that k more bytes of the first file went to the client.
// Once nothing waits in it, a lone file starts over empty; a finished file
// before others is closed; sent regions of a long file are freed.
func (t *tempFiles) sent(k int64) {
	s := &t.segs[0]
	s.done += k
	switch {
	case s.done == s.n && len(t.segs) > 1:
		s.f.Close()
		t.segs[0] = tempSeg{}
		t.segs = t.segs[1:]
	case s.done == s.n:
		if s.f.Truncate(0) == nil {
			s.n, s.done, s.punched = 0, 0, 0
		}
	case s.done-s.punched >= punchStep:
		// Best effort: without hole punching the space comes back at the end.
		end := s.done &^ (punchStep - 1)
		unix.Fallocate(int(s.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, s.punched, end-s.punched)
		s.punched = end
	}
}

// closeAll closes every file.
func (t *tempFiles) closeAll() {
	for _, s := range t.segs {
		s.f.Close()
	}
	clear(t.segs)
	t.segs = t.segs[:0]
}
