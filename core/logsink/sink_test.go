package logsink

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// line builds a self-checking line: writer id, sequence, a payload whose
// length varies (some lines exceed PIPE_BUF) and the payload's length.
func line(w, i int) string {
	n := (w*131 + i*17) % 6000
	return fmt.Sprintf("w%d i%d %s len%d", w, i, strings.Repeat(string(rune('a'+w%26)), n), n)
}

func checkLines(t *testing.T, data string, writers, perWriter int) {
	t.Helper()
	seen := make(map[string]bool)
	for _, l := range strings.Split(strings.TrimSuffix(data, "\n"), "\n") {
		var w, i int
		if _, err := fmt.Sscanf(l, "w%d i%d", &w, &i); err != nil {
			t.Fatalf("garbled line %.80q: %v", l, err)
		}
		if l != line(w, i) {
			t.Fatalf("line w%d i%d interleaved or corrupted: %.80q", w, i, l)
		}
		if seen[l] {
			t.Fatalf("duplicate line w%d i%d", w, i)
		}
		seen[l] = true
	}
	if len(seen) != writers*perWriter {
		t.Fatalf("got %d distinct lines, want %d", len(seen), writers*perWriter)
	}
}

func TestConcurrentWritersNoInterleaving(t *testing.T) {
	const writers, perWriter = 8, 300
	for _, mode := range []string{"Write", "WriteAccess"} {
		t.Run(mode, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := 0; i < perWriter; i++ {
						var err error
						if mode == "Write" {
							_, err = s.Write([]byte(line(w, i) + "\n"))
						} else {
							err = s.WriteAccess([]byte(line(w, i)), i%50 == 0)
						}
						if err != nil {
							t.Error(err)
							return
						}
					}
				}(w)
			}
			wg.Wait()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			checkLines(t, readFile(t, path), writers, perWriter)
		})
	}
}

func TestAccessBuffering(t *testing.T) {
	short := []byte("short line")
	big := bytes.Repeat([]byte("x"), FlushThreshold)
	tests := []struct {
		name   string
		lines  [][]byte
		flush  bool
		expect int // bytes on disk before any explicit Flush
	}{
		{"small line stays buffered", [][]byte{short}, false, 0},
		{"flush hint writes", [][]byte{short}, true, len(short) + 1},
		{"threshold writes", [][]byte{short, big}, false, len(short) + 1 + len(big) + 1},
		{"just below threshold stays buffered", [][]byte{big[:FlushThreshold-2]}, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "access.log")
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for i, l := range tc.lines {
				if err := s.WriteAccess(l, tc.flush && i == len(tc.lines)-1); err != nil {
					t.Fatal(err)
				}
			}
			if got := len(readFile(t, path)); got != tc.expect {
				t.Fatalf("before Flush: %d bytes on disk, want %d", got, tc.expect)
			}
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, l := range tc.lines {
				want += len(l) + 1
			}
			if got := len(readFile(t, path)); got != want {
				t.Fatalf("after Flush: %d bytes on disk, want %d", got, want)
			}
		})
	}
}

func TestReopenAfterRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.WriteAccess([]byte("before rotation"), false); err != nil {
		t.Fatal(err)
	}
	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	// A line buffered before SIGHUP belongs to the old file: Reopen flushes
	// first.
	if err := s.WriteAccess([]byte("buffered at rotation"), false); err != nil {
		t.Fatal(err)
	}
	if err := s.Reopen(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("after rotation\n")); err != nil {
		t.Fatal(err)
	}
	if got, want := readFile(t, rotated), "before rotation\nbuffered at rotation\n"; got != want {
		t.Errorf("rotated file = %q, want %q", got, want)
	}
	if got, want := readFile(t, path), "after rotation\n"; got != want {
		t.Errorf("new file = %q, want %q", got, want)
	}
}

func TestReopenFailureKeepsOldFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "error.log")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Keep an independent handle to the inode to read it after the
	// directory is gone.
	keep, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	err = s.Reopen()
	var oe *OpenError
	if !errors.As(err, &oe) || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("Reopen error = %v, want *OpenError wrapping ENOENT", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the path", err)
	}
	if _, err := s.Write([]byte("still logging\n")); err != nil {
		t.Fatalf("write after failed reopen: %v", err)
	}
	b := make([]byte, 64)
	n, _ := keep.Read(b)
	if got := string(b[:n]); got != "still logging\n" {
		t.Fatalf("old descriptor got %q", got)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		spec  string
		errno syscall.Errno
	}{
		{"missing directory", filepath.Join(dir, "nodir", "x.log"), syscall.ENOENT},
		{"parent is a file", filepath.Join(file, "x.log"), syscall.ENOTDIR},
		{"path is a directory", dir, syscall.EISDIR},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.spec)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			var oe *OpenError
			if !errors.As(err, &oe) || oe.Spec != tc.spec {
				t.Fatalf("error %v is not an *OpenError for %q", err, tc.spec)
			}
			if !errors.Is(err, tc.errno) {
				t.Fatalf("error %v, want errno %v", err, tc.errno)
			}
			want := "opening log '" + tc.spec + "' failed: " + tc.errno.Error()
			if err.Error() != want {
				t.Fatalf("message %q, want %q", err.Error(), want)
			}
		})
	}
}

func TestPipeToCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	s, err := Open("|cat > " + out)
	if err != nil {
		t.Fatal(err)
	}
	if s.Kind() != KindPipe {
		t.Fatalf("kind %v", s.Kind())
	}
	const writers, perWriter = 4, 50
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				// Short lines: the pipe is non-blocking and must not fill up.
				l := fmt.Sprintf("w%d i%d", w, i)
				if err := s.WriteAccess([]byte(l), false); err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	// Pipes are not buffered: everything reaches cat without Flush.
	waitFor(t, "cat to write all lines", func() bool {
		b, _ := os.ReadFile(out)
		return bytes.Count(b, []byte("\n")) == writers*perWriter
	})
	// Reopen leaves a pipe alone.
	if err := s.Reopen(); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteAccess([]byte("last"), false); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data := readFile(t, out)
	if !strings.HasSuffix(data, "\nlast\n") {
		t.Fatalf("last line missing after Close: ...%q", data[max(0, len(data)-40):])
	}
	for w := 0; w < writers; w++ {
		for i := 0; i < perWriter; i++ {
			if !strings.Contains(data, fmt.Sprintf("w%d i%d\n", w, i)) {
				t.Fatalf("line w%d i%d missing", w, i)
			}
		}
	}
}

func TestPipeCommandRestarted(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	// Each run consumes exactly one line (sh's read takes one byte at a time
	// from a pipe) and exits, so every line after the first needs a restart.
	s, err := Open(`|read -r l && printf '%s\n' "$l" >> `+out, WithPipeRestartDelay(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, l := range []string{"one", "two", "three"} {
		if err := s.WriteAccess([]byte(l), false); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "three restarts", func() bool {
		b, _ := os.ReadFile(out)
		return string(b) == "one\ntwo\nthree\n"
	})
}

func TestPipeWriteWhileCommandDown(t *testing.T) {
	// The parent holds the read side of the pipe, so a command that exited
	// does not turn writes into EPIPE; the line waits for the restart.
	s, err := Open("|exit 0", WithPipeRestartDelay(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	time.Sleep(50 * time.Millisecond)
	if err := s.WriteAccess([]byte("kept in pipe"), false); err != nil {
		t.Fatalf("write while command is down: %v", err)
	}
}

func TestSyslog(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log.sock")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Skipf("unix datagram sockets unavailable: %v", err)
	}
	defer ln.Close()
	recv := func() string {
		ln.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 4096)
		n, err := ln.Read(b)
		if err != nil {
			t.Fatal(err)
		}
		return string(b[:n])
	}
	pid := strconv.Itoa(os.Getpid())
	tests := []struct {
		name     string
		facility string
		severity int
		write    func(*Sink) error
		wantPri  int
		wantMsg  string
	}{
		{"access log local3 info", "local3", SeverityInfo,
			func(s *Sink) error { return s.WriteAccess([]byte("GET / 200"), false) }, 19*8 + 6, "GET / 200"},
		{"error log daemon err, newline dropped", "daemon", SeverityErr,
			func(s *Sink) error { _, err := s.Write([]byte("(x.go.1) boom\n")); return err }, 3*8 + 3, "(x.go.1) boom"},
		{"unknown facility falls back to daemon", "bogus", 4,
			func(s *Sink) error { _, err := s.Write([]byte("m")); return err }, 3*8 + 4, "m"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(SyslogSpec(tc.facility, tc.severity), WithSyslogAddr(sock))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := tc.write(s); err != nil {
				t.Fatal(err)
			}
			got := recv()
			prefix := "<" + strconv.Itoa(tc.wantPri) + ">"
			suffix := " lighttpd[" + pid + "]: " + tc.wantMsg
			if !strings.HasPrefix(got, prefix) || !strings.HasSuffix(got, suffix) {
				t.Fatalf("datagram %q, want %q...%q", got, prefix, suffix)
			}
			// "Mmm dd hh:mm:ss" between the two.
			if stamp := got[len(prefix) : len(got)-len(suffix)]; len(stamp) != len(time.Stamp) {
				t.Fatalf("timestamp %q", stamp)
			}
		})
	}
	t.Run("empty access line skipped", func(t *testing.T) {
		s, err := Open(SyslogSpec("user", 6), WithSyslogAddr(sock))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.WriteAccess(nil, false); err != nil {
			t.Fatal(err)
		}
		if err := s.WriteAccess([]byte("x"), false); err != nil {
			t.Fatal(err)
		}
		if got := recv(); !strings.HasSuffix(got, "]: x") {
			t.Fatalf("first datagram %q, want the non-empty line", got)
		}
	})
	t.Run("no syslog daemon", func(t *testing.T) {
		s, err := Open(SyslogSpec("user", 6), WithSyslogAddr(filepath.Join(t.TempDir(), "none")))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var we *WriteError
		if err := s.WriteAccess([]byte("x"), false); !errors.As(err, &we) {
			t.Fatalf("error %v, want *WriteError", err)
		}
	})
}

func TestParseFacility(t *testing.T) {
	tests := []struct {
		name string
		want int
		ok   bool
	}{
		{"daemon", 24, true}, {"local7", 184, true}, {"security", 32, true}, {"auth", 32, true},
		{"LOCAL0", 24, false}, {"", 24, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseFacility(tc.name)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("ParseFacility(%q) = %d, %v; want %d, %v", tc.name, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestStderrSink(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := Open("", WithStderr(w))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteAccess([]byte("to stderr"), false); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Close must not close stderr.
	if _, err := w.Write([]byte("still open\n")); err != nil {
		t.Fatalf("stderr closed by Close: %v", err)
	}
	w.Close()
	b := make([]byte, 100)
	n, _ := r.Read(b)
	if got := string(b[:n]); got != "to stderr\nstill open\n" {
		t.Fatalf("stderr got %q", got)
	}
}

func TestClosedSink(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "l"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("x\n")); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	if err := s.WriteAccess([]byte("x"), true); !errors.Is(err, ErrClosed) {
		t.Errorf("WriteAccess after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestPool(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	p := NewPool()
	defer p.Close()

	s1, err := p.Acquire(a)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := p.Acquire(a)
	if err != nil {
		t.Fatal(err)
	}
	if s1 != s2 {
		t.Fatal("same path gave two sinks")
	}
	sb, err := p.Acquire(b)
	if err != nil {
		t.Fatal(err)
	}
	if sb == s1 {
		t.Fatal("different paths share a sink")
	}
	if err := s1.WriteAccess([]byte("one"), false); err != nil {
		t.Fatal(err)
	}
	// First release: still referenced, stays open and keeps its buffer.
	if err := p.Release(s1); err != nil {
		t.Fatal(err)
	}
	if err := s2.WriteAccess([]byte("two"), false); err != nil {
		t.Fatalf("sink closed while referenced: %v", err)
	}
	if got := readFile(t, a); got != "" {
		t.Fatalf("buffered lines written early: %q", got)
	}
	if err := p.FlushAll(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, a); got != "one\ntwo\n" {
		t.Fatalf("after FlushAll: %q", got)
	}
	// SIGHUP through the pool.
	if err := os.Rename(a, a+".old"); err != nil {
		t.Fatal(err)
	}
	if err := p.ReopenAll(); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Write([]byte("three\n")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, a); got != "three\n" {
		t.Fatalf("after ReopenAll: %q", got)
	}
	// Last release closes.
	if err := p.Release(s2); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Write([]byte("x\n")); !errors.Is(err, ErrClosed) {
		t.Fatalf("sink still open after last release: %v", err)
	}
	if err := p.Release(s2); err == nil {
		t.Fatal("double release accepted")
	}
	// Acquire after close opens a fresh sink.
	s3, err := p.Acquire(a)
	if err != nil {
		t.Fatal(err)
	}
	if s3 == s2 {
		t.Fatal("closed sink handed out again")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Acquire(a); !errors.Is(err, ErrClosed) {
		t.Fatalf("Acquire on closed pool: %v", err)
	}
	if err := sb.WriteAccess([]byte("x"), false); !errors.Is(err, ErrClosed) {
		t.Fatalf("pool Close left a sink open: %v", err)
	}
}

func TestPoolOpenErrorNotCached(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "x.log")
	p := NewPool()
	defer p.Close()
	if _, err := p.Acquire(path); err == nil {
		t.Fatal("Acquire of unopenable path succeeded")
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := p.Acquire(path)
	if err != nil {
		t.Fatalf("failure was cached: %v", err)
	}
	if err := p.Release(s); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkWriteAccess(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "access.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	l := []byte(`127.0.0.1 example.com - [25/Nov/2026:19:05:35 +0000] "GET /index.html HTTP/1.1" 200 27 "-" "curl/8.5.0"`)
	b.ReportAllocs()
	b.SetBytes(int64(len(l) + 1))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.WriteAccess(l, false); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestDup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "breakage.log")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Dup()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// The duplicate outlives rotation and Close, as a child's stderr would.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Reopen(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Write([]byte("from child\n")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path+".1"); got != "from child\n" {
		t.Fatalf("rotated file %q", got)
	}
	if _, err := s.Dup(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Dup after Close: %v", err)
	}
	sys, err := Open(SyslogSpec("user", 6), WithSyslogAddr(filepath.Join(dir, "none")))
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	if _, err := sys.Dup(); err == nil {
		t.Fatal("Dup of a syslog sink succeeded")
	}
}
