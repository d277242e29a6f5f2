// Package rawaccept accepts TCP connections with raw accept4(2) and serves
// them with raw system calls, entering the Go netpoller only when one of
// them must wait.
//
// A connection that net.TCPListener accepts costs work lighttpd does not
// do: getsockname(2) for its local address, setsockopt(2) for TCP_NODELAY,
// epoll_ctl(2) to add it to the netpoller and another to take it out at
// close, a finalizer set and cleared, a poll descriptor allocated and
// freed. With a connection per request that is a third of the system
// calls (10.6 per request against lighttpd's 7.5). Here the listener sets
// TCP_NODELAY once, which accepted sockets inherit (lighttpd relies on the
// same: the first accepted socket is checked, and where it did not inherit
// the option each one gets it); a connection's local address is the
// listener's unless that is a wildcard; reads and writes are raw, and a
// connection enters the netpoller (through os.NewFile: one fcntl(2) and one
// epoll_ctl(2)) at its first call that would block. A client whose request
// is there when it is accepted and which closes first costs no epoll call.
package rawaccept

import (
	"errors"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"unsafe"

	"github.com/golighty/golighty/core/rawsys"
	"golang.org/x/sys/unix"
)

// Listener accepts the connections of a listening TCP socket as *Conn.
type Listener struct {
	ln *net.TCPListener
	// f is a second descriptor of ln's socket in the netpoller: a
	// listener's own RawConn cannot wait (its Read is EINVAL).
	f        *os.File
	rc       syscall.RawConn
	addr     *net.TCPAddr // the socket's address: its connections' local one unless wildcard
	wildcard bool

	mu sync.Mutex // one Accept at a time: the fields below are its state
	// nodelay: 0 before the first connection, else whether each connection
	// needs TCP_NODELAY set (it did not inherit it from the listener).
	nodelay  int8
	acceptFn func(fd uintptr) bool // l.accept, bound once
	sa       unix.RawSockaddrAny
	nfd      int
	errno    syscall.Errno
}

// Wrap takes over ln's accepting; closing the Listener closes ln.
func Wrap(ln *net.TCPListener) (*Listener, error) {
	lrc, err := ln.SyscallConn()
	if err != nil {
		return nil, err
	}
	dup, e := -1, syscall.Errno(0)
	if err := lrc.Control(func(fd uintptr) {
		if e = rawsys.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); e != 0 {
			return
		}
		var derr error
		if dup, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0); derr != nil {
			e = unix.EBADF
			errors.As(derr, &e)
		}
	}); err != nil {
		return nil, err
	}
	if e != 0 {
		return nil, os.NewSyscallError("listener setup", e)
	}
	f := os.NewFile(uintptr(dup), "listener") // non-blocking as ln's: in the netpoller
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	l := &Listener{ln: ln, f: f, rc: rc}
	l.addr, _ = ln.Addr().(*net.TCPAddr)
	l.wildcard = l.addr == nil || l.addr.IP.IsUnspecified()
	l.acceptFn = l.accept
	return l, nil
}

// Addr is the listening socket's address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Close closes the listening socket; a waiting Accept returns net.ErrClosed.
func (l *Listener) Close() error {
	l.f.Close()
	return l.ln.Close()
}

// SyscallConn gives access to the listening socket.
func (l *Listener) SyscallConn() (syscall.RawConn, error) { return l.rc, nil }

// Accept waits for the next connection.
func (l *Listener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		l.errno = 0
		if err := l.rc.Read(l.acceptFn); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				err = os.ErrDeadlineExceeded
			} else {
				err = net.ErrClosed // the only other end of the wait
			}
			return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: err}
		}
		switch l.errno {
		case 0:
			return l.newConn(), nil
		case unix.ECONNABORTED:
			continue // the client gave up while queued, as net's Accept skips it
		}
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: os.NewSyscallError("accept4", l.errno)}
	}
}

func (l *Listener) accept(fd uintptr) bool {
	for {
		nfd, e := rawsys.Accept4(fd, &l.sa)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		l.nfd, l.errno = nfd, e
		return true
	}
}

func (l *Listener) newConn() *Conn {
	c := &Conn{fd: l.nfd}
	if setTCPAddr(&c.raddr, &c.rip, &l.sa) {
		c.remote = &c.raddr
	}
	if !l.wildcard {
		c.local.Store(l.addr)
	}
	if l.nodelay == 0 {
		l.nodelay = 1
		if v, err := unix.GetsockoptInt(c.fd, unix.IPPROTO_TCP, unix.TCP_NODELAY); err == nil && v == 0 {
			l.nodelay = 2
		}
	}
	if l.nodelay == 2 {
		rawsys.SetsockoptInt(c.fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	return c
}

// tcpAddr is the address accept4(2) or getsockname(2) wrote (nil for a
// family other than IPv4 and IPv6).
func tcpAddr(sa *unix.RawSockaddrAny) *net.TCPAddr {
	a := new(net.TCPAddr)
	if !setTCPAddr(a, new([16]byte), sa) {
		return nil
	}
	return a
}

// setTCPAddr sets a to the address in sa, its IP in ip's bytes (as
// net.TCPAddrFromAddrPort spells it: 4 bytes for IPv4); false for a family
// other than IPv4 and IPv6.
func setTCPAddr(a *net.TCPAddr, ip *[16]byte, sa *unix.RawSockaddrAny) bool {
	switch sa.Addr.Family {
	case unix.AF_INET:
		s := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		n := copy(ip[:], s.Addr[:])
		*a = net.TCPAddr{IP: ip[:n:n], Port: int(ntohs(s.Port))} // no room to append into
		return true
	case unix.AF_INET6:
		s := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		*a = net.TCPAddr{IP: ip[:], Port: int(ntohs(s.Port))}
		copy(ip[:], s.Addr[:])
		if s.Scope_id != 0 {
			a.Zone = zoneName(int(s.Scope_id))
		}
		return true
	}
	return false
}

// ntohs reads a port as the sockaddr stores it (network byte order).
func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// zoneName is the interface a link-local address's scope names.
func zoneName(index int) string {
	if ifi, err := net.InterfaceByIndex(index); err == nil {
		return ifi.Name
	}
	return strconv.Itoa(index)
}
