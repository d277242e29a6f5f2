package gw

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/golighty/golighty/core/rawpoll"
	"github.com/golighty/golighty/core/rawsys"
)

// This file is the connect step lighttpd's gw_backend.c shares between the
// stream protocols (SCGI, uwsgi, HTTP proxy, AJP13, WebSocket and socket
// tunnels): one new connection per request to a proc chosen by load, and
// on a failed connect the proc is disabled and the request moves on.

// MaxReconnects is how often lighttpd moves a request whose connect failed
// to another proc or host (gw_write_error: reconnects < 5).
const MaxReconnects = 5

// ErrAllDown means no host of the extension had a usable proc: the request
// is answered 503.
var ErrAllDown = errors.New("all backends are down")

// Dial connects to the proc within the host's connect-timeout (none when
// 0). The address is resolved once; the connection makes its system calls
// around the Go scheduler (core/rawpoll: with a connection per request,
// calls through the scheduler cost as much CPU as lighttpd spends on the
// whole request).
func (p *Proc) Dial(ctx context.Context) (net.Conn, error) {
	t := p.target.Load()
	if t == nil {
		var err error
		if t, err = rawpoll.Resolve(ctx, p.Addr.Network, p.Addr.Address); err != nil {
			return nil, err
		}
		p.target.Store(t)
	}
	c, err := t.Dial(ctx, time.Duration(p.host.Conf.ConnectTimeout)*time.Second)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Backend is a connection to a proc, held for one request.
type Backend struct {
	net.Conn
	Host *Host
	Proc *Proc
	// Reused is set for a kept connection that carried earlier requests:
	// if it fails before any answer the request may be sent again on a
	// new one.
	Reused bool
	si     *SelectInfo
}

// Release ends the request's load on the proc. keep returns the
// connection to the proc's pool (when the host keeps connections and the
// exchange ended cleanly); otherwise it is closed.
func (b *Backend) Release(keep bool) {
	if p := b.Proc.Pool(); keep && p != nil {
		b.Conn.SetDeadline(time.Time{})
		p.Put(b.Conn)
	} else {
		b.Conn.Close()
	}
	b.Host.Release(b.Proc, b.si)
}

// Connect opens a connection for a request to host, the one Select chose
// for ext: the least loaded usable proc is dialed (starting bin-path
// processes first); a refused or timed-out connect disables the proc for
// disable-time (with lighttpd's log lines) and the request goes to the host
// Select picks next, at most MaxReconnects times, and only once more after
// a connect that timed out. ErrAllDown, or the last connect error, means
// the request is answered 503. With keep-conn a kept connection is used
// first, unless fresh asks for a new one. The connection is set in be,
// which the handler holds (nothing is allocated for it).
func Connect(ctx context.Context, be *Backend, ext *Ext, host *Host, bal Balance, si *SelectInfo, fresh bool) error {
	var last error = ErrAllDown
	for attempt := 0; attempt < MaxReconnects; attempt++ {
		if attempt > 0 {
			if host = ext.Select(bal, si); host == nil {
				return last
			}
		}
		proc := host.Acquire(si)
		if proc == nil {
			continue
		}
		if sp := host.Spawner; sp != nil {
			if err := sp.Ensure(); err != nil {
				if si.Log != nil {
					si.logf("[ERROR]: spawning gw failed: %v", err)
				}
				host.Release(proc, si)
				for _, p := range host.Procs {
					p.Disable()
				}
				continue
			}
		}
		if p := proc.Pool(); p != nil && !fresh {
			if c := p.get(); c != nil {
				*be = Backend{Conn: c, Host: host, Proc: proc, Reused: true, si: si}
				return nil
			}
		}
		c, err := proc.Dial(ctx)
		if err == nil {
			*be = Backend{Conn: c, Host: host, Proc: proc, si: si}
			return nil
		}
		last = err
		proc.ConnectFailed(err, si.logf)
		host.Release(proc, si)
		if IsTimeout(err) && attempt > 0 {
			break
		}
	}
	return last
}

// IsTimeout reports a deadline or timeout error.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// ConnPool keeps idle connections to one proc for reuse: golighty's
// "keep-conn" backend option (lighttpd opens a connection per request).
type ConnPool struct {
	mu   sync.Mutex
	idle []net.Conn
	max  int
}

// Pool returns the proc's pool of kept connections, nil when the host does
// not keep connections.
func (p *Proc) Pool() *ConnPool {
	if p.host.Conf.KeepConn <= 0 {
		return nil
	}
	p.poolOnce.Do(func() { p.pool = &ConnPool{max: p.host.Conf.KeepConn} })
	return p.pool
}

// get returns an idle connection that is still open (the most recently
// used first), or nil.
func (cp *ConnPool) get() net.Conn {
	for {
		cp.mu.Lock()
		n := len(cp.idle)
		if n == 0 {
			cp.mu.Unlock()
			return nil
		}
		c := cp.idle[n-1]
		cp.idle[n-1] = nil
		cp.idle = cp.idle[:n-1]
		cp.mu.Unlock()
		if alive(c) {
			return c
		}
		c.Close()
	}
}

// Put keeps c for the next request, or closes it when the pool is full.
func (cp *ConnPool) Put(c net.Conn) {
	cp.mu.Lock()
	if len(cp.idle) < cp.max {
		cp.idle = append(cp.idle, c)
		cp.mu.Unlock()
		return
	}
	cp.mu.Unlock()
	c.Close()
}

// CloseIdle closes every kept connection.
func (cp *ConnPool) CloseIdle() {
	cp.mu.Lock()
	idle := cp.idle
	cp.idle = nil
	cp.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

// alive reports whether an idle connection is still open: the backend has
// neither closed it nor sent anything unasked.
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	ready, err := rawsys.Readable(raw)
	return err == nil && !ready
}

// CloseIdle closes the kept connections of every proc of h.
func (h *Host) CloseIdle() {
	for _, p := range h.Procs {
		if p.pool != nil {
			p.pool.CloseIdle()
		}
	}
}

// AwaitAnswer waits until a read of c would not block (a backend's first
// byte, its end or an error), within the read timeout d (zero: none),
// reading nothing: a request takes its read buffer only once the answer
// starts, and holds none while the backend works (a long poll). A
// connection without a raw socket returns at once (its first read waits).
func AwaitAnswer(c net.Conn, d time.Duration) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	if d > 0 {
		c.SetReadDeadline(time.Now().Add(d))
	}
	return rawsys.AwaitReadable(rc)
}
