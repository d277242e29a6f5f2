package statcache

import (
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// shortPath is the longest path stat and open pass to the kernel from a
// buffer on the stack; longer ones go through package syscall, which
// copies each path to the heap. The entries of a cache are stat()ed again
// once a second each: serving 10,000 files at random, those copies were
// the most of the server's garbage (1.9 MB of the 2.7 MB allocated after
// start-up), and what the collector was paced by.
const shortPath = 256

// atFDCWD is AT_FDCWD as a variable: a negative constant does not convert
// to uintptr.
var atFDCWD = unix.AT_FDCWD

// cString copies path and a NUL into buf; false when it does not fit or
// holds a NUL (the kernel would see a shorter path: package syscall
// refuses it with EINVAL too).
func cString(buf *[shortPath]byte, path string) bool {
	if len(path) >= shortPath || strings.IndexByte(path, 0) >= 0 {
		return false
	}
	copy(buf[:], path)
	buf[len(path)] = 0
	return true
}

// stat is stat(2) of path (fstatat from the working directory).
func stat(path string, st *syscall.Stat_t) error {
	var buf [shortPath]byte
	if !cString(&buf, path) {
		return syscall.Stat(path, st)
	}
	_, _, e := syscall.Syscall6(syscall.SYS_NEWFSTATAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(&buf[0])),
		uintptr(unsafe.Pointer(st)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// openRead is open(2) of path for reading, close-on-exec, blocking.
func openRead(path string) (int, error) {
	const flags = unix.O_RDONLY | unix.O_NOCTTY | unix.O_CLOEXEC
	var buf [shortPath]byte
	if !cString(&buf, path) {
		return unix.Open(path, flags, 0)
	}
	fd, _, e := syscall.Syscall6(syscall.SYS_OPENAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(&buf[0])),
		flags, 0, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}
