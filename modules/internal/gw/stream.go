package gw

import (
	"context"
	"errors"
	"net"
	"os"
	"time"
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

// Dial connects to the proc within the host's connect-timeout (none when 0).
func (p *Proc) Dial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{}
	if t := p.host.Conf.ConnectTimeout; t > 0 {
		d.Timeout = time.Duration(t) * time.Second
	}
	c, err := d.DialContext(ctx, p.Addr.Network, p.Addr.Address)
	if err == nil {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
	}
	return c, err
}

// Backend is a connection to a proc, held for one request.
type Backend struct {
	net.Conn
	Host *Host
	Proc *Proc
	si   *SelectInfo
}

// Release closes the connection and ends the request's load on the proc.
func (b *Backend) Release() {
	b.Conn.Close()
	b.Host.Release(b.Proc, b.si)
}

// Connect opens a connection for a request to host, the one Select chose
// for ext: the least loaded usable proc is dialed (starting bin-path
// processes first); a refused or timed-out connect disables the proc for
// disable-time (with lighttpd's log lines) and the request goes to the host
// Select picks next, at most MaxReconnects times, and only once more after
// a connect that timed out. ErrAllDown, or the last connect error, means
// the request is answered 503.
func Connect(ctx context.Context, ext *Ext, host *Host, bal Balance, si *SelectInfo) (*Backend, error) {
	var last error = ErrAllDown
	for attempt := 0; attempt < MaxReconnects; attempt++ {
		if attempt > 0 {
			if host = ext.Select(bal, si); host == nil {
				return nil, last
			}
		}
		proc := host.Acquire(si)
		if proc == nil {
			continue
		}
		if sp := host.Spawner; sp != nil {
			if err := sp.Ensure(); err != nil {
				if si.Logf != nil {
					si.Logf("[ERROR]: spawning gw failed: %v", err)
				}
				host.Release(proc, si)
				for _, p := range host.Procs {
					p.Disable()
				}
				continue
			}
		}
		c, err := proc.Dial(ctx)
		if err == nil {
			return &Backend{Conn: c, Host: host, Proc: proc, si: si}, nil
		}
		last = err
		proc.ConnectFailed(err, si.Logf)
		host.Release(proc, si)
		if IsTimeout(err) && attempt > 0 {
			break
		}
	}
	return nil, last
}

// IsTimeout reports a deadline or timeout error.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
