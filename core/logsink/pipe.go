package logsink

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pipeCloseWait bounds how long Close waits for a piped command to exit
// after it has seen end-of-file.
const pipeCloseWait = 2 * time.Second

// pipeProc runs "/bin/sh -c cmd" reading from a pipe. The parent keeps the
// read side open, as lighttpd does, so that a command that dies can be
// restarted on the same pipe and lines written meanwhile are not lost (up to
// the pipe's capacity).
type pipeProc struct {
	cmd     string
	r, w    *os.File
	rawW    syscall.RawConn
	delay   time.Duration
	onError func(error)

	mu      sync.Mutex
	proc    *exec.Cmd
	started time.Time
	closed  bool

	stop chan struct{} // closed by close(): no more restarts
	done chan struct{} // closed when the monitor goroutine returns
}

func startPipe(cmd string, o options) (*pipeProc, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	rawW, err := w.SyscallConn()
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	p := &pipeProc{
		cmd: cmd, r: r, w: w, rawW: rawW,
		delay: o.restartDelay, onError: o.onError,
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	c, err := p.spawn()
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	p.proc = c
	p.started = time.Now()
	go p.monitor(c)
	return p, nil
}

func (p *pipeProc) spawn() (*exec.Cmd, error) {
	c := exec.Command("/bin/sh", "-c", p.cmd)
	c.Stdin = p.r // stdout and stderr stay nil: /dev/null, as in lighttpd
	if err := c.Start(); err != nil {
		return nil, err
	}
	return c, nil
}

// monitor reaps the command and restarts it, no sooner than delay after
// its previous start, until the sink is closed.
func (p *pipeProc) monitor(c *exec.Cmd) {
	defer close(p.done)
	for {
		_ = c.Wait() // the exit status of a logger is of no use to us
		p.mu.Lock()
		wait := p.delay - time.Since(p.started)
		p.mu.Unlock()
		for {
			if wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-p.stop:
					t.Stop()
					return
				case <-t.C:
				}
			}
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				return
			}
			next, err := p.spawn()
			p.started = time.Now()
			if err == nil {
				p.proc = next
				p.mu.Unlock()
				c = next
				break
			}
			p.mu.Unlock()
			if p.onError != nil {
				p.onError(&OpenError{Spec: "|" + p.cmd, Err: err})
			}
			wait = p.delay
		}
	}
}

// write writes b without blocking, like lighttpd's non-blocking pipe: a
// full pipe (stalled reader) drops the data with EAGAIN instead of stalling
// the server. Writes of up to PIPE_BUF bytes are atomic.
func (p *pipeProc) write(b []byte) error {
	for len(b) > 0 {
		var n int
		var werr error
		err := p.rawW.Write(func(fd uintptr) bool {
			n, werr = unix.Write(int(fd), b)
			return true // never park: report EAGAIN to the caller
		})
		if err != nil {
			return err
		}
		if werr == unix.EINTR {
			continue
		}
		if werr != nil {
			return werr
		}
		if n == 0 {
			return syscall.EIO
		}
		b = b[n:]
	}
	return nil
}

func (p *pipeProc) close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	close(p.stop)
	err := errors.Join(p.w.Close(), p.r.Close())
	select {
	case <-p.done:
	case <-time.After(pipeCloseWait):
		// The command ignores end-of-file; the monitor reaps it whenever it
		// exits. Closing must not hang server shutdown.
		err = errors.Join(err, fmt.Errorf("command %q still running %v after its pipe was closed", p.cmd, pipeCloseWait))
	}
	return err
}
