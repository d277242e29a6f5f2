// Package logsink implements the destinations lighttpd writes its logs to:
// a file opened O_APPEND, a "|command" pipe to a program started through
// /bin/sh, syslog, or stderr. It also provides the lighttpd error-log line
// format as a log/slog Handler.
//
// Behaviour follows lighttpd 1.4.69 (src/fdlog.c, src/fdlog_maint.c,
// src/log.c, src/mod_accesslog.c):
//
//   - files are opened O_APPEND|O_WRONLY|O_CREAT, mode 0644, symlinks allowed;
//   - access-log lines for files are buffered and written when the caller
//     says so (lighttpd: when the cached %t timestamp changes second), when
//     8 KiB accumulate, every 4 s (Pool), on Reopen and on Close;
//   - pipes are written immediately, never buffered, and never reopened;
//     lighttpd keeps the read side of the pipe open and restarts a command
//     that exits, at most once every 5 s, on the same pipe;
//   - Reopen (SIGHUP) flushes and opens a file's path again, keeping the old
//     descriptor if that fails.
package logsink

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Kind is the type of destination a Sink writes to.
type Kind int

// Destination kinds.
const (
	KindStderr Kind = iota // spec "": the process's standard error
	KindFile               // a path, opened O_APPEND
	KindPipe               // "|command", run by /bin/sh -c
	KindSyslog             // built with SyslogSpec
)

func (k Kind) String() string {
	switch k {
	case KindStderr:
		return "stderr"
	case KindFile:
		return "file"
	case KindPipe:
		return "pipe"
	case KindSyslog:
		return "syslog"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// FlushThreshold is the buffered size at which pending access-log lines are
// written out (mod_accesslog writes once its buffer reaches 8192 bytes).
const FlushThreshold = 8192

// syslogPrefix starts specs made by SyslogSpec. A NUL byte cannot occur in
// a path or a shell command, so a syslog spec never collides with a
// configured file name.
const syslogPrefix = "\x00syslog:"

// SyslogSpec returns the spec that opens syslog with the given facility name
// (server.syslog-facility; unknown names fall back to "daemon" as lighttpd
// does, check them with ParseFacility to warn) and severity (LOG_ERR = 3 for
// the error log, accesslog.syslog-level for access logs, default 6).
func SyslogSpec(facility string, severity int) string {
	return syslogPrefix + facility + ":" + strconv.Itoa(severity&7)
}

// OpenError reports a destination that could not be opened.
type OpenError struct {
	Spec string // the path, "|command" or a syslog spec
	Err  error  // the underlying error, usually a syscall.Errno
}

func (e *OpenError) Error() string {
	return "opening log '" + displaySpec(e.Spec) + "' failed: " + errText(e.Err)
}

func (e *OpenError) Unwrap() error { return e.Err }

// WriteError reports a failed write or flush; the data is dropped, as
// lighttpd clears its buffer even when the write fails.
type WriteError struct {
	Spec string
	Err  error
}

func (e *WriteError) Error() string {
	return "error flushing log " + displaySpec(e.Spec) + ": " + errText(e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }

func displaySpec(spec string) string {
	if rest, ok := strings.CutPrefix(spec, syslogPrefix); ok {
		return "syslog:" + rest
	}
	return spec
}

// errText strips the *PathError wrapper (it repeats the path we already
// print) and leaves the errno text.
func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// ErrClosed is returned by writes to a closed Sink.
var ErrClosed = errors.New("logsink: sink closed")

// Option configures Open and NewPool.
type Option func(*options)

type options struct {
	syslogAddrs  []string
	syslogTag    string
	stderr       *os.File
	restartDelay time.Duration
	onError      func(error)
}

func defaultOptions() options {
	return options{
		syslogAddrs:  []string{"/dev/log", "/var/run/syslog", "/var/run/log"},
		syslogTag:    "lighttpd",
		stderr:       os.Stderr,
		restartDelay: 5 * time.Second,
	}
}

// WithSyslogAddr makes syslog sinks send to the Unix socket at path instead
// of /dev/log (tests, chroots).
func WithSyslogAddr(path string) Option {
	return func(o *options) { o.syslogAddrs = []string{path} }
}

// WithSyslogTag sets the syslog ident (default "lighttpd", as lighttpd's
// openlog, so existing syslog filters keep matching).
func WithSyslogTag(tag string) Option {
	return func(o *options) { o.syslogTag = tag }
}

// WithStderr replaces the process's stderr as the target of spec "".
func WithStderr(f *os.File) Option {
	return func(o *options) { o.stderr = f }
}

// WithPipeRestartDelay sets the minimum time between two starts of a piped
// logger command (lighttpd: 5 s).
func WithPipeRestartDelay(d time.Duration) Option {
	return func(o *options) { o.restartDelay = d }
}

// WithErrorHandler receives errors that have no caller to return to: failed
// periodic flushes of a Pool and failed restarts of piped commands.
func WithErrorHandler(fn func(error)) Option {
	return func(o *options) { o.onError = fn }
}

// Sink is one open log destination. All methods are safe for concurrent use;
// every Write and every access-log line reaches the destination whole, never
// interleaved with another.
type Sink struct {
	spec string
	kind Kind

	mu     sync.Mutex
	f      *os.File // file, stderr, or write side of the pipe
	buf    []byte   // pending access-log lines
	closed bool
	pipe   *pipeProc
	sys    *syslogWriter

	refs int // guarded by the owning Pool's mutex
}

// Open opens the destination named by spec:
//
//	""                 standard error (never closed by Close)
//	"|command"         a pipe to "/bin/sh -c command"
//	SyslogSpec(f, s)   syslog with facility f and severity s
//	anything else      a file path, opened O_APPEND|O_WRONLY|O_CREAT, 0644
func Open(spec string, opts ...Option) (*Sink, error) {
	o := defaultOptions()
	for _, fn := range opts {
		fn(&o)
	}
	return open(spec, o)
}

func open(spec string, o options) (*Sink, error) {
	s := &Sink{spec: spec}
	switch {
	case spec == "":
		s.kind = KindStderr
		s.f = o.stderr
	case strings.HasPrefix(spec, syslogPrefix):
		s.kind = KindSyslog
		facility, sev, _ := strings.Cut(spec[len(syslogPrefix):], ":")
		n, err := strconv.Atoi(sev)
		if err != nil {
			return nil, &OpenError{Spec: spec, Err: fmt.Errorf("bad severity %q", sev)}
		}
		fac, _ := ParseFacility(facility)
		s.sys = newSyslogWriter(o.syslogAddrs, o.syslogTag, fac|n)
	case spec[0] == '|':
		s.kind = KindPipe
		p, err := startPipe(spec[1:], o)
		if err != nil {
			return nil, &OpenError{Spec: spec, Err: err}
		}
		s.pipe = p
		s.f = p.w
	default:
		s.kind = KindFile
		f, err := openFile(spec)
		if err != nil {
			return nil, &OpenError{Spec: spec, Err: err}
		}
		s.f = f
	}
	return s, nil
}

func openFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE|syscall.O_CLOEXEC, 0o644)
}

// Spec returns the spec the Sink was opened with.
func (s *Sink) Spec() string { return s.spec }

// Kind returns the destination type.
func (s *Sink) Kind() Kind { return s.kind }

// Write writes p at once as one unit (the error log is not buffered). p
// should hold whole lines. For syslog, p is one message; a trailing newline
// is dropped.
func (s *Sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	if err := s.writeLocked(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteAccess adds one access-log line (without its trailing newline). For a
// file the line is buffered and written when flush is true, when the buffer
// reaches FlushThreshold, or at the next Flush. Pipes and stderr are written
// at once; syslog receives the line as one message (empty lines are skipped,
// as lighttpd does).
func (s *Sink) WriteAccess(line []byte, flush bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.kind == KindSyslog {
		if len(line) == 0 {
			return nil
		}
		return s.writeLocked(line)
	}
	s.buf = append(s.buf, line...)
	s.buf = append(s.buf, '\n')
	if s.kind == KindFile && !flush && len(s.buf) < FlushThreshold {
		return nil
	}
	return s.flushLocked()
}

// Flush writes pending access-log lines.
func (s *Sink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	return s.flushLocked()
}

func (s *Sink) flushLocked() error {
	if len(s.buf) == 0 {
		return nil
	}
	err := s.writeLocked(s.buf)
	// Dropped even on error, as lighttpd does: retrying a failing device
	// would only grow the buffer without bound.
	s.buf = s.buf[:0]
	if cap(s.buf) > 4*FlushThreshold {
		s.buf = nil // do not pin memory after a burst of huge lines
	}
	return err
}

func (s *Sink) writeLocked(p []byte) error {
	var err error
	switch s.kind {
	case KindSyslog:
		err = s.sys.write(p)
	case KindPipe:
		err = s.pipe.write(p)
	default:
		_, err = s.f.Write(p)
	}
	if err != nil {
		return &WriteError{Spec: s.spec, Err: err}
	}
	return nil
}

// Dup returns a duplicate of the descriptor the Sink writes to, owned by
// the caller, for handing to a child process as its stderr
// (server.breakagelog). A duplicate stays valid across Reopen and Close.
// Syslog sinks have no descriptor.
func (s *Sink) Dup() (*os.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if s.kind == KindSyslog {
		return nil, fmt.Errorf("logsink: %s has no file descriptor", displaySpec(s.spec))
	}
	rc, err := s.f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var fd int
	var derr error
	if err := rc.Control(func(u uintptr) { fd, derr = unix.FcntlInt(u, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	return os.NewFile(uintptr(fd), s.f.Name()), nil
}

// Reopen flushes pending lines and, for a file, opens its path again so a
// log rotated by rename continues in a fresh file (SIGHUP). If the path
// cannot be opened the old descriptor stays in use and an *OpenError is
// returned. Pipes, syslog and stderr are left as they are.
func (s *Sink) Reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	ferr := s.flushLocked()
	if s.kind != KindFile {
		return ferr
	}
	f, err := openFile(s.spec)
	if err != nil {
		return errors.Join(ferr, &OpenError{Spec: s.spec, Err: err})
	}
	old := s.f
	s.f = f
	return errors.Join(ferr, old.Close())
}

// Close flushes pending lines and releases the destination. A piped command
// sees end-of-file; Close waits briefly for it to exit so its last output is
// complete. Stderr is flushed but not closed.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	err := s.flushLocked()
	s.closed = true
	switch s.kind {
	case KindFile:
		err = errors.Join(err, s.f.Close())
	case KindPipe:
		err = errors.Join(err, s.pipe.close())
	case KindSyslog:
		err = errors.Join(err, s.sys.close())
	}
	return err
}
