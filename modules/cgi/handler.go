package cgi

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/rawpoll"
	"github.com/golighty/golighty/core/rawsys"
	"github.com/golighty/golighty/modules/internal/gw"
)

// handler runs one request's script.
type handler struct {
	m      *Module
	conf   conf
	interp string
}

// envList collects the CGI/1.1 variables as a child's environment.
type envList []string

func (e *envList) Add(name, value string) { *e = append(*e, name+"="+value) }

// readers holds the readers of script output: 64 KiB and a bit, so the
// whole header block (core.MaxBackendHead) can be looked at before it is
// parsed (a script that prints no header block has its output sent as the
// body).
var readers = gw.NewReaderPool(core.MaxBackendHead + 1024)

// Serve runs the script and sends its response (lighttpd's cgi_create_env
// and the response half of mod_cgi).
func (h *handler) Serve(rc *core.Request) core.Result {
	if h.interp != "" {
		if _, err := os.Stat(h.interp); err != nil {
			rc.Logf("stat for cgi-handler %s: %v", h.interp, err)
			return rc.Status(500)
		}
	}
	upgrade := false
	if rc.Header.Has("Upgrade") {
		if h.conf.upgrade && rc.Proto == 11 {
			upgrade = true
		} else {
			rc.Header.Del("Upgrade") // the script must not think it can switch
		}
	}
	body := &gw.Body{}
	if !upgrade {
		// A chunked body is read whole first, also when request bodies
		// stream: CONTENT_LENGTH needs its length (lighttpd answers 411
		// unless the whole body arrived with the head).
		var err error
		if body, err = gw.ReadBody(rc, gw.StreamAbove(rc)); err != nil {
			return gw.BodyFailed(rc, err)
		}
	}
	defer body.Close()

	env := make(envList, 0, 32+rc.Header.Len())
	rc.CGIEnv(&env, &core.CGIOptions{XSendfile: h.conf.xsendfile})
	env = append(env, h.m.env...)
	ch, err := h.start(rc, env, body, upgrade)
	if err != nil {
		rc.Logf("fork failed: %s: %v", rc.Phys.Path, err)
		return rc.Status(500)
	}
	defer ch.finish()
	return h.response(rc, ch, upgrade)
}

// child is a running script.
type child struct {
	proc   *os.Process
	pidfd  *rawpoll.Conn // the script's pidfd, watched for its exit (nil: none)
	pid    int
	path   string
	stdout *os.File // read end of the script's stdout
	stdin  *os.File // write end of the script's stdin (nil when not piped)
	log    *slog.Logger

	copyDone chan struct{} // the stdin copier ended (nil: none)
	// writeTimedOut: the script did not read its stdin within cgi.limits
	// write-timeout; it was killed and the response is a 504.
	writeTimedOut atomic.Bool
	exited        chan struct{}
	sigSent       atomic.Int32
	stopping      atomic.Bool   // stopCopy interrupts the copier on purpose
	body          *core.Request // set while the copier may read the client's body
}

// start spawns the script with env, its directory as working directory,
// stdin from the body (the spooled file itself, a pipe fed by a copier, or
// /dev/null), stdout to a pipe and stderr to server.breakagelog or the
// server's stderr. The child is always reaped: a goroutine waits for it.
func (h *handler) start(rc *core.Request, env []string, body *gw.Body, upgrade bool) (*child, error) {
	script := rc.Phys.Path
	argv := []string{script}
	if h.interp != "" {
		argv = []string{h.interp, script}
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer outW.Close()
	ch := &child{stdout: outR, path: script, log: rc.Logger(), exited: make(chan struct{})}
	var stdin, pipeW *os.File
	switch {
	case upgrade || (body.N > 0 && body.File() == nil):
		if stdin, pipeW, err = os.Pipe(); err != nil {
			outR.Close()
			return nil, err
		}
	case body.N > 0:
		stdin = body.File()
		if _, err := stdin.Seek(0, io.SeekStart); err != nil {
			outR.Close()
			return nil, err
		}
	default:
		if stdin, err = devNull(); err != nil {
			outR.Close()
			return nil, err
		}
	}
	stderr := os.Stderr
	if p := rc.Conf.BreakageLog; p != "" {
		if f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			defer f.Close()
			stderr = f
		} else {
			rc.Logf("opening server.breakagelog %s: %v", p, err)
		}
	}
	// os.StartProcess passes the environment as given: duplicate names
	// reach the script as with lighttpd's execve (exec.Cmd would drop them).
	attr := &os.ProcAttr{
		Dir:   filepath.Dir(script),
		Env:   env,
		Files: []*os.File{stdin, outW, stderr},
	}
	proc, pidfd, err := startProcess(argv, attr)
	if stdin != body.File() && stdin != sharedDevNull.f {
		stdin.Close()
	}
	if err != nil {
		outR.Close()
		if pipeW != nil {
			pipeW.Close()
		}
		return nil, err
	}
	ch.proc, ch.pid, ch.pidfd = proc, proc.Pid, pidfd
	go ch.reap()
	if pipeW != nil {
		ch.stdin = pipeW
		if !upgrade {
			ch.copyBody(rc, body, h.conf.limits)
		}
	}
	return ch, nil
}

// reap waits for the script to exit, logging a death by a signal the
// server did not send, as lighttpd's cgi_waitpid_cb.
func (ch *child) reap() {
	ws, err := ch.wait()
	close(ch.exited)
	if err == nil && ws.Signaled() && int32(ws.Signal()) != ch.sigSent.Load() {
		ch.log.Error(fmt.Sprintf("CGI pid %d died with signal %d", ch.pid, int(ws.Signal())))
	}
}

// wait reaps the script. With a pidfd it waits in the netpoller until the
// pidfd reports the exit, then collects the status without blocking:
// os.Process.Wait holds a thread in waitid(2) for the script's whole life,
// and with the server on one core the runtime then handed the processor
// to another thread and back for every request (6.4 context switches per
// CGI request, measured with perl hello). The os.Process keeps its own
// pidfd for signals: one to a reaped script fails, as it should.
func (ch *child) wait() (syscall.WaitStatus, error) {
	if ch.pidfd == nil {
		st, err := ch.proc.Wait()
		if err != nil {
			return 0, err
		}
		ws, _ := st.Sys().(syscall.WaitStatus)
		return ws, nil
	}
	defer ch.proc.Release()
	defer ch.pidfd.Close()
	var ws syscall.WaitStatus
	var werr error
	rc, _ := ch.pidfd.SyscallConn()
	err := rc.Read(func(uintptr) bool {
		for {
			pid, e := syscall.Wait4(ch.pid, &ws, syscall.WNOHANG, nil)
			switch {
			case e == syscall.EINTR:
				continue
			case e == nil && pid == 0:
				return false // still running: wait for the pidfd
			}
			werr = e
			return true
		}
	})
	if err != nil {
		// The pidfd could not be watched (a kernel whose pidfds cannot
		// be polled, before Linux 5.3): the script is still reaped.
		for {
			_, werr = syscall.Wait4(ch.pid, &ws, 0, nil)
			if werr != syscall.EINTR {
				break
			}
		}
	}
	return ws, werr
}

// sharedDevNull is the stdin of scripts without a request body, opened
// once: every child gets its own copy of the descriptor at the fork.
var sharedDevNull struct {
	once sync.Once
	f    *os.File
	err  error
}

func devNull() (*os.File, error) {
	sharedDevNull.once.Do(func() { sharedDevNull.f, sharedDevNull.err = os.Open(os.DevNull) })
	return sharedDevNull.f, sharedDevNull.err
}

// startProcess starts argv with a pidfd of its own when the kernel gives
// one (nil otherwise).
func startProcess(argv []string, attr *os.ProcAttr) (*os.Process, *rawpoll.Conn, error) {
	fd := -1
	attr.Sys = &syscall.SysProcAttr{PidFD: &fd}
	proc, err := os.StartProcess(argv[0], argv, attr)
	if err != nil && pidfdUnsupported(err) {
		attr.Sys, fd = nil, -1
		proc, err = os.StartProcess(argv[0], argv, attr)
	}
	if err != nil || fd < 0 {
		return proc, nil, err
	}
	return proc, rawpoll.Open(fd, "pidfd"), nil
}

// pidfdUnsupported reports whether a start failed because the kernel
// cannot give a pidfd (before Linux 5.3, or a seccomp filter): the script
// is then started without one and reaped with a blocking wait.
func pidfdUnsupported(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EPERM)
}

// kill sends sig unless the script already exited.
func (ch *child) kill(sig syscall.Signal) {
	select {
	case <-ch.exited:
	default:
		ch.sigSent.Store(int32(sig))
		ch.proc.Signal(sig)
	}
}

// copyBody feeds the request body to the script's stdin in the
// background, closing stdin at its end. A script that stops reading (it
// exited, or answered without reading) ends the copy.
func (ch *child) copyBody(rc *core.Request, body *gw.Body, l *limits) {
	ch.copyDone = make(chan struct{})
	if body.Streamed() {
		ch.body = rc
	}
	src := body.Reader()
	w := io.Writer(ch.stdin)
	if l != nil && l.writeTimeout > 0 {
		w = &deadlineWriter{f: ch.stdin, d: l.writeTimeout}
	}
	go func() {
		defer close(ch.copyDone)
		_, err := io.Copy(w, src)
		ch.stdin.Close()
		if err != nil && gw.IsTimeout(err) && l != nil && l.writeTimeout > 0 && !ch.stopping.Load() {
			ch.log.Error(fmt.Sprintf("write timeout on CGI: %s (pid: %d)", ch.path, ch.pid))
			ch.writeTimedOut.Store(true)
			ch.kill(syscall.SIGTERM)
			ch.stdout.SetReadDeadline(time.Unix(1, 0))
		}
	}()
}

// stopCopy ends the stdin copier and waits for it: nothing may read the
// client's body once the handler returned.
func (ch *child) stopCopy() {
	if ch.copyDone == nil {
		return
	}
	select {
	case <-ch.copyDone:
		return
	default:
	}
	ch.stopping.Store(true)
	if ch.body != nil {
		ch.body.InterruptBody()
	}
	ch.stdin.SetWriteDeadline(time.Unix(1, 0))
	<-ch.copyDone
}

// finish releases the pipes; a script still running when its request ends
// gets SIGTERM (lighttpd's cgi_connection_close) and is reaped later.
func (ch *child) finish() {
	ch.stopCopy()
	ch.stdout.Close()
	if ch.stdin != nil && ch.copyDone == nil {
		ch.stdin.Close()
	}
	ch.kill(syscall.SIGTERM)
}

// deadlineWriter bounds each write to a pipe (cgi.limits write-timeout).
type deadlineWriter struct {
	f *os.File
	d time.Duration
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.f.SetWriteDeadline(time.Now().Add(w.d))
	return w.f.Write(p)
}

// timedReader bounds each read of the script's output (cgi.limits
// read-timeout: the script must produce something within it).
type timedReader struct {
	f       *os.File
	d       time.Duration
	aborted atomic.Bool // the client went away (WatchClient)
}

func (r *timedReader) Read(p []byte) (int, error) {
	r.setDeadline()
	return r.f.Read(p)
}

// await waits, within the same limit, until a read would not block,
// reading nothing.
func (r *timedReader) await() error {
	rc, err := r.f.SyscallConn()
	if err != nil {
		return nil // the first read waits
	}
	r.setDeadline()
	return rawsys.AwaitInput(rc)
}

func (r *timedReader) setDeadline() {
	if r.d > 0 && !r.aborted.Load() {
		r.f.SetReadDeadline(time.Now().Add(r.d))
	}
}
