package fcgi

import (
	"context"
	"io"
	"syscall"
	"time"

	"github.com/golighty/golighty/core/rawpoll"
)

// backendConn is what the client needs from a backend connection: the
// rawpoll.Conn connect creates (tests may hand in a net.Conn).
type backendConn interface {
	io.ReadWriteCloser
	SetDeadline(time.Time) error
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
	SyscallConn() (syscall.RawConn, error)
}

// resolve turns Network and Address into a rawpoll.Target, once (a
// reload builds new Dialers).
func (d *Dialer) resolve(ctx context.Context) (*rawpoll.Target, error) {
	if t := d.target.Load(); t != nil {
		return t, nil
	}
	t, err := rawpoll.Resolve(ctx, d.network(), d.Address)
	if err != nil {
		return nil, err
	}
	d.target.Store(t)
	return t, nil
}

// connect dials the backend (see rawpoll.Target); the connect timeout
// applies only when the kernel did not complete connect() at once (unix
// sockets always do).
func (d *Dialer) connect(ctx context.Context) (backendConn, error) {
	t, err := d.resolve(ctx)
	if err != nil {
		return nil, err
	}
	c, err := t.Dial(ctx, d.ConnectTimeout)
	if err != nil {
		return nil, err
	}
	return c, nil
}
