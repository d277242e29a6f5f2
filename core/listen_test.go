package core

import (
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestListenerIsPlainTCP: lighttpd's sockets are TCP, not the MPTCP that
// Go's net.Listen chooses by default where the kernel offers it.
func TestListenerIsPlainTCP(t *testing.T) {
	for _, network := range []string{"tcp", "tcp4"} {
		l, err := openListener(ListenSpec{Network: network, Address: "127.0.0.1:0", FD: -1})
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Listener.(syscall.Conn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var proto int
		var gerr error
		rc.Control(func(fd uintptr) { proto, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL) })
		l.Close()
		if gerr != nil {
			t.Fatal(gerr)
		}
		if proto != unix.IPPROTO_TCP {
			t.Errorf("%s listener: protocol %d, want IPPROTO_TCP (%d)", network, proto, unix.IPPROTO_TCP)
		}
	}
}

// TestListenBacklog: server.listen-backlog sizes the accept queue, as
// lighttpd's listen(2) does (a listening TCP socket reports its queue's
// size in tcpi_sacked).
func TestListenBacklog(t *testing.T) {
	for _, backlog := range []int{7, 1024} {
		l, err := openListener(ListenSpec{Network: "tcp4", Address: "127.0.0.1:0", FD: -1, Backlog: backlog})
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Listener.(syscall.Conn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var info *unix.TCPInfo
		var gerr error
		rc.Control(func(fd uintptr) { info, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
		l.Close()
		if gerr != nil {
			t.Fatal(gerr)
		}
		if int(info.Sacked) != backlog {
			t.Errorf("server.listen-backlog = %d: the accept queue holds %d", backlog, info.Sacked)
		}
	}
}
