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

// defaultTempFileSize is lighttpd's server.upload-temp-file-size default: a
// temporary file is closed and the next one started once it holds this much.
const defaultTempFileSize = 1 << 20

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

// tempFileSize is server.upload-temp-file-size (0: lighttpd's default).
func (s *ServerSettings) tempFileSize() int64 {
	if s.UploadTempFileSize > 0 {
		return s.UploadTempFileSize
	}
	return defaultTempFileSize
}

// tempSeg is one temporary file of a spool: bytes [done, n) are still to
// be sent (done stays 0 for a spool that is sent whole).
type tempSeg struct {
	f       *os.File
	n, done int64
}

// tempFiles writes bytes into a sequence of unnamed temporary files in the
// upload directories, as lighttpd's chunkqueue does with its
// lighttpd-upload-XXXXXX files: a file is closed for writing once it holds
// the configured size, a directory that fails (cannot create, disk full)
// hands over to the next one. The files have no name (O_TMPFILE, or
// unlinked at once), so nothing is left behind whatever happens to the
// process.
type tempFiles struct {
	dirs []string
	max  int64
	idx  int // directory in use
	segs []tempSeg
}

func (t *tempFiles) init(s *ServerSettings) {
	t.dirs, t.max, t.idx = s.tempDirs(), s.tempFileSize(), 0
}

// size is the number of bytes written and not yet consumed.
func (t *tempFiles) size() int64 {
	var n int64
	for _, s := range t.segs {
		n += s.n - s.done
	}
	return n
}

// write appends p to the last file, starting a new one when it is full or
// its directory fails.
func (t *tempFiles) write(p []byte) error {
	for len(p) > 0 {
		if len(t.segs) == 0 || t.segs[len(t.segs)-1].n >= t.max {
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

// closeAll closes every file.
func (t *tempFiles) closeAll() {
	for _, s := range t.segs {
		s.f.Close()
	}
	clear(t.segs)
	t.segs = t.segs[:0]
}
