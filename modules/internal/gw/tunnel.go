package gw

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// TunnelOpts shape a transparent tunnel between a client connection and a
// backend (lighttpd's gw_set_transparent after a 101 or for CONNECT).
type TunnelOpts struct {
	// ReadIdle ends the tunnel when the client sends nothing for this long
	// (server.max-read-idle, as lighttpd's connection timeout); 0: never.
	ReadIdle time.Duration
	// WriteIdle bounds one write to the client (server.max-write-idle).
	WriteIdle time.Duration
	// Abort makes a read of the backend that is blocked return (closing
	// the backend connection, killing a script); the tunnel calls it when
	// the client side fails.
	Abort func()
	// CloseUp ends the stream to the backend when the client half-closes
	// (a TCP shutdown for tcp-fin-propagate, closing a script's stdin);
	// nil: nothing more is sent, the backend is left to end the tunnel.
	CloseUp func() error
}

// Tunnel copies bytes both ways between client and a backend (up: what
// the client sends, down: what the backend sends) until the backend's side
// ends or either side fails, then stops the other direction and returns
// once no goroutine of its own touches either side. It returns the error
// that ended the tunnel (nil when the backend finished).
func Tunnel(client net.Conn, up io.Writer, down io.Reader, o *TunnelOpts) error {
	var wg sync.WaitGroup
	var upErr error
	var once sync.Once
	var finished atomic.Bool // the backend side ended the tunnel
	stop := func() { once.Do(o.Abort) }
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			if o.ReadIdle > 0 {
				client.SetReadDeadline(time.Now().Add(o.ReadIdle))
			}
			n, err := client.Read(buf)
			if n > 0 {
				if _, werr := up.Write(buf[:n]); werr != nil {
					upErr = werr
					stop()
					return
				}
			}
			if err == io.EOF {
				if o.CloseUp != nil {
					o.CloseUp()
				}
				return
			}
			if err != nil {
				if !finished.Load() {
					upErr = err
					stop()
				}
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	var downErr error
	for {
		n, err := down.Read(buf)
		if n > 0 {
			if o.WriteIdle > 0 {
				client.SetWriteDeadline(time.Now().Add(o.WriteIdle))
			}
			if _, werr := client.Write(buf[:n]); werr != nil {
				downErr = werr
				break
			}
		}
		if err != nil {
			if err != io.EOF {
				downErr = err
			}
			break
		}
	}
	// The backend is done: wake the client reader and wait for it.
	finished.Store(true)
	client.SetReadDeadline(time.Unix(1, 0))
	wg.Wait()
	if downErr == nil {
		downErr = upErr
	}
	return downErr
}
