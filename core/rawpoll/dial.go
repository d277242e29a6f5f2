package rawpoll

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/golighty/golighty/core/rawsys"
	"golang.org/x/sys/unix"
)

// Target is a resolved backend address, dialed once per connection.
// Compared with net.Dialer a dial skips what a backend connection does not
// need and what showed up in profiles at 20k requests/s (a context timer
// per dial, getsockname and getpeername, address parsing), and every
// system call of the connection's life is a raw one.
type Target struct {
	network, address string
	domain           int
	sa               unix.Sockaddr
	remote           net.Addr
}

// Resolve turns a network ("unix", "tcp", "tcp4", "tcp6") and address into
// a Target: a unix path, an IP literal, or a host name looked up now
// (lighttpd resolves backend hosts when it reads its config).
func Resolve(ctx context.Context, network, address string) (*Target, error) {
	t := &Target{network: network, address: address}
	switch network {
	case "unix":
		t.domain, t.sa = unix.AF_UNIX, &unix.SockaddrUnix{Name: address}
		t.remote = &net.UnixAddr{Name: address, Net: "unix"}
	case "tcp", "tcp4", "tcp6":
		host, portStr, err := net.SplitHostPort(address)
		if err != nil {
			return nil, t.dialError(err)
		}
		port, err := strconv.ParseUint(portStr, 10, 16)
		if err != nil {
			return nil, t.dialError(fmt.Errorf("invalid port %q", portStr))
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			ips, lerr := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
			if lerr != nil || len(ips) == 0 {
				return nil, t.dialError(fmt.Errorf("lookup %s: %v", host, lerr))
			}
			ip = ips[0]
		}
		ip = ip.Unmap()
		if ip.Is4() {
			t.domain, t.sa = unix.AF_INET, &unix.SockaddrInet4{Port: int(port), Addr: ip.As4()}
		} else {
			sa := &unix.SockaddrInet6{Port: int(port), Addr: ip.As16()}
			if z := ip.Zone(); z != "" {
				if ifi, err := net.InterfaceByName(z); err == nil {
					sa.ZoneId = uint32(ifi.Index)
				}
			}
			t.domain, t.sa = unix.AF_INET6, sa
		}
		t.remote = net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port)))
	default:
		return nil, t.dialError(net.UnknownNetworkError(network))
	}
	return t, nil
}

// Dial opens a non-blocking socket to t. A connect the kernel does not
// complete at once (TCP; unix sockets always complete) is waited for,
// bounded by timeout (0: none) and ctx. TCP connections get TCP_NODELAY:
// requests are written whole and must not wait for an ACK.
func (t *Target) Dial(ctx context.Context, timeout time.Duration) (*Conn, error) {
	fd, serr := rawsys.Socket(t.domain, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if serr != 0 {
		return nil, t.dialError(os.NewSyscallError("socket", serr))
	}
	if t.domain != unix.AF_UNIX {
		rawsys.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	var cerr syscall.Errno
	for {
		if cerr = rawsys.Connect(fd, t.sa); cerr != unix.EINTR {
			break
		}
	}
	pending := cerr == unix.EINPROGRESS || cerr == unix.EALREADY
	if cerr != 0 && !pending {
		unix.Close(fd)
		return nil, t.dialError(os.NewSyscallError("connect", cerr))
	}
	c := open(fd, t.address, t.remote)
	if pending {
		if err := c.awaitConnect(ctx, timeout); err != nil {
			c.Close()
			return nil, t.dialError(err)
		}
	}
	return c, nil
}

// dialError has net.Dial's shape, so callers (and log lines) see the same
// "dial unix /path: connect: connection refused".
func (t *Target) dialError(err error) error {
	return &net.OpError{Op: "dial", Net: t.network, Addr: opAddr(t.address), Err: err}
}

type opAddr string

func (a opAddr) Network() string { return "" }
func (a opAddr) String() string  { return string(a) }

// awaitConnect waits for a connect in progress, bounded by timeout and
// ctx, and reports its outcome (SO_ERROR).
func (c *Conn) awaitConnect(ctx context.Context, timeout time.Duration) error {
	deadline := time.Time{}
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	ctxDeadline, byCtx := ctx.Deadline()
	if byCtx && (deadline.IsZero() || ctxDeadline.Before(deadline)) {
		deadline = ctxDeadline
	} else {
		byCtx = false
	}
	if !deadline.IsZero() {
		c.SetWriteDeadline(deadline)
		defer c.SetWriteDeadline(time.Time{})
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { c.SetWriteDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	d := &c.s.wr
	d.connecting = true
	err := c.do(d, nil)
	d.connecting = false
	connErr, soErr := d.errno, d.n != 0
	d.errno, d.n = 0, 0
	if err != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		if byCtx && !time.Now().Before(ctxDeadline) {
			return context.DeadlineExceeded // the poller fired before ctx's timer
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return os.NewSyscallError("connect", os.ErrDeadlineExceeded)
		}
		return err
	}
	switch {
	case connErr == 0:
		return nil
	case soErr:
		return os.NewSyscallError("getsockopt", connErr)
	}
	return os.NewSyscallError("connect", connErr)
}

// connectRaw checks a connect in progress (the write direction's call
// while connecting): done when it failed (d.errno; d.n set when asking
// SO_ERROR itself failed) or when the socket has its peer.
func (c *sock) connectRaw(fd uintptr) bool {
	d := &c.wr
	v, errno := rawsys.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
	switch {
	case errno != 0:
		d.errno, d.n = errno, 1
	case v == int(unix.EINPROGRESS), v == int(unix.EALREADY), v == int(unix.EINTR):
		return false // not yet: wait for writability
	case v != 0:
		d.errno = syscall.Errno(v)
	case !rawsys.Connected(int(fd)):
		// SO_ERROR is also 0 while the handshake runs: only a peer
		// address proves the connection is up.
		return false
	}
	return true
}
