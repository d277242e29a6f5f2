package h1

import (
	"errors"
	"io"
	"os"
	"syscall"
	"unsafe"

	"github.com/golighty/golighty/core/filefd"
	"github.com/golighty/golighty/core/netyield"
	"github.com/golighty/golighty/core/rawsys"
	"golang.org/x/sys/unix"
)

// sendChunk is the most one sendfile(2) call is asked for outside the
// idle poller (lighttpd's MAX_WRITE_LIMIT; the poller asks for its whole
// budget at once, see sendfileStep). Between chunks the goroutine yields
// to everything runnable and to what the network made ready (netyield:
// lighttpd's event loop polls between two rounds of writes too), so
// connections sending files take turns with each other and with small
// requests, no call holds the socket for long, and each call is short
// enough to be made without the scheduler's system-call bookkeeping (see
// sendfileChunks).
const sendChunk = 256 << 10

// fileSpan is the part of a file a response still has to send.
type fileSpan struct {
	fd     filefd.FD
	off, n int64
}

// How sendfileChunks stops early, with the span holding what is left.
var (
	errSocketFull = errors.New("h1: socket send buffer full") // and told not to wait
	errBudget     = errors.New("h1: send budget used")        // in the poller
	errNeedsDisk  = errors.New("h1: file pages not cached")   // in the poller
)

// sendMode says how sendfileChunks may wait.
type sendMode uint8

const (
	sendWait   sendMode = iota // wait for room through the netpoller
	sendNoWait                 // errSocketFull instead of waiting
	// sendPoller is sendNoWait on the idle poller's goroutine, which serves
	// every parked download: only pages already in the page cache
	// (errNeedsDisk otherwise), at most pollerBudget bytes per call.
	sendPoller
)

// pollerBudget bounds what the poller sends to one connection per wake-up,
// so a fast client cannot hold the others up (lighttpd's MAX_WRITE_LIMIT
// per connection and event-loop turn, 4 chunks here).
const pollerBudget = 4 * sendChunk

// sendfileChunks sends the span to the socket behind rc, advancing it as
// bytes go out (and counting them in rw.written).
//
// A chunk whose file pages are in the page cache (probed with a one-byte
// preadv2(RWF_NOWAIT) at its last byte) is sent with a raw system call:
// on a non-blocking socket it cannot block, and a call of up to 256 KiB
// takes tens of microseconds, long enough for the runtime to hand the P to
// another thread if it knew about the call (sysmon retakes a P after
// 20 µs), which costs context switches and thread wake-ups per chunk
// (measured: twice lighttpd's CPU per GiB for 1,000 slow clients; raw calls
// bring it to lighttpd's). After a short write a poll(2) for room decides
// between waiting and going on, cheaper than retrying into EAGAIN (a
// failing sendfile still reads the file pages into its pipe first).
//
// A chunk that may have to wait for the disk (or a file system without
// RWF_NOWAIT) goes through the ordinary system call, retried until EAGAIN,
// so other goroutines keep running meanwhile.
func (c *conn) sendfileChunks(rc syscall.RawConn, sp *fileSpan, mode sendMode) error {
	st := &c.sf
	*st = sendState{sp: sp, mode: mode}
	defer func() { st.sp = nil }()
	if c.sendfileFn == nil {
		c.sendfileFn = c.sendfileStep // once per conn (conns are pooled)
	}
	for sp.n > 0 {
		if mode == sendPoller && st.sent >= pollerBudget {
			return errBudget
		}
		if mode == sendWait {
			c.setWriteDeadline()
		}
		st.err = nil
		if werr := rc.Write(c.sendfileFn); werr != nil {
			return werr
		}
		if st.err != nil {
			return st.err
		}
		if sp.n > 0 && mode != sendPoller {
			netyield.Yield()
		}
	}
	return nil
}

// sendState is one sendfileChunks call's state, kept in the conn so that
// the write callback (the method value c.sendfileFn, made once per conn)
// costs no allocation per chunk.
type sendState struct {
	sp   *fileSpan
	mode sendMode
	sent int64
	err  error
}

// sendfileStep sends one chunk to the socket s (the RawConn.Write callback of
// sendfileChunks): false means wait for room.
func (c *conn) sendfileStep(s uintptr) bool {
	st := &c.sf
	sp := st.sp
	want := min(sp.n, sendChunk)
	if st.mode == sendPoller {
		// One call for the wake-up's whole budget: the poller stops at the
		// first short write anyway, and a paced client's socket often has
		// room for more than a chunk (256 KiB sends took 1.8 calls per
		// wake-up, and a page-cache probe each).
		want = min(sp.n, pollerBudget-st.sent)
	}
	if sp.n > want && st.mode != sendPoller {
		// (The poller's sends are cut short by the socket's room anyway.)
		want = segmentAligned(int64(c.rw.headLen)+c.rw.written, want, c.mss.get(s))
	}
	cached := probeCached(sp.fd.Int(), sp.off+want-1)
	if !cached && st.mode == sendPoller {
		st.err = errNeedsDisk
		return true
	}
	full := func() bool {
		if st.mode == sendWait {
			return false // wait until writable (the deadline applies)
		}
		st.err = errSocketFull
		return true
	}
	for {
		var m int
		var e error
		if cached {
			m, e = rawSendfile(int(s), sp.fd.Int(), &sp.off, int(want))
		} else {
			m, e = unix.Sendfile(int(s), sp.fd.Int(), &sp.off, int(want))
		}
		if m > 0 {
			sp.n -= int64(m)
			want -= int64(m)
			st.sent += int64(m)
			c.rw.written += int64(m)
		}
		switch {
		case e == unix.EAGAIN:
			c.closeDeferred() // the client may take long to make room
			return full()
		case e == unix.EINTR:
			continue
		case e != nil:
			st.err = e
			return true
		case m == 0:
			st.err = io.ErrUnexpectedEOF // the file shrank
			return true
		case want == 0:
			return true
		case st.mode == sendPoller:
			// Short write: the poller re-arms the socket, and
			// epoll_ctl checks for room itself (an event at once if
			// there is some), so no poll(2) first.
			return full()
		case cached && !writable(int(s)):
			// Short write and the socket has no room: wait. (A short
			// write need not mean a full buffer, and the kernel signals
			// new room only to a writer that found none: tcp_poll
			// records that.)
			return full()
		}
	}
}

// segmentAligned shortens a chunk that is not the body's last so that the
// response's bytes handed to the socket (pos before it, the head included)
// end on a TCP segment boundary: the socket has TCP_NODELAY (Go sets it on
// every accepted connection), so the bytes past a call's last full segment
// would leave at once as a small packet of their own, one per call (256
// KiB is 4 loopback segments of 65,483 bytes and 212 more, 181 Ethernet
// ones of 1,448 and 56 more). Measured with 8 X-Sendfile downloads of 10
// MiB over loopback under BBR: small packets 3,145 -> 1,364 per GiB, server
// CPU 225-254 -> 204-216 ms per GiB. An mss that does not fit the chunk
// (or none, -1) leaves it as it is.
func segmentAligned(pos, want, mss int64) int64 {
	if mss <= 0 || mss >= want {
		return want
	}
	return want - (pos+want)%mss
}

// mssCache is a connection's segment size as last asked. TCP bounds the
// MSS by half the largest window the peer offered, so it moves while a new
// connection's window grows (on loopback 32,768 for the first chunk, then
// 65,483 for the rest of 100 MiB) and when the path MTU changes; between
// those it holds. It is asked per chunk until four readings in a row
// agree, then every 64th chunk: the getsockopt(2), which takes the socket
// lock, was 1.3% of a download's CPU.
type mssCache struct {
	v     int64  // the last reading
	same  uint32 // readings in a row that agreed with it
	skips uint32 // chunks sent on it since it was read
}

const (
	mssSettled = 4  // agreeing readings after which the MSS is trusted
	mssRecheck = 64 // chunks after which a trusted MSS is asked again
)

// get returns the MSS to align the next chunk to, asking the socket fd
// when one is due.
func (m *mssCache) get(fd uintptr) int64 {
	if m.due() {
		m.record(tcpMSS(fd))
	}
	return m.v
}

// due reports whether the next chunk needs a fresh reading (and counts
// the chunk when it does not).
func (m *mssCache) due() bool {
	if m.same >= mssSettled && m.skips < mssRecheck {
		m.skips++
		return false
	}
	return true
}

func (m *mssCache) record(v int64) {
	m.skips = 0
	if v == m.v {
		m.same++
		return
	}
	m.v, m.same = v, 1
}

// tcpMSS is the socket's current maximum segment size (-1 if it has none,
// e.g. a Unix socket), asked through the connection's mssCache.
func tcpMSS(fd uintptr) int64 {
	var v int32
	l := uint32(unsafe.Sizeof(v))
	_, _, e := unix.RawSyscall6(unix.SYS_GETSOCKOPT, fd, unix.IPPROTO_TCP, unix.TCP_MAXSEG, uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 || v <= 0 {
		return -1
	}
	return int64(v)
}

// probeCached reports whether the byte at off of fd is in the page cache
// (reading it cannot wait for the disk) and exists (the file reaches it).
func probeCached(fd int, off int64) bool {
	var b [1]byte
	iov := unix.Iovec{Base: &b[0], Len: 1}
	r, _, e := unix.RawSyscall6(unix.SYS_PREADV2, uintptr(fd), uintptr(unsafe.Pointer(&iov)), 1,
		uintptr(off), uintptr(off>>32), unix.RWF_NOWAIT)
	return e == 0 && r == 1
}

// writable polls the socket for room without waiting.
func writable(fd int) bool {
	pfd := unix.PollFd{Fd: int32(fd), Events: unix.POLLOUT}
	r, _, e := unix.RawSyscall(unix.SYS_POLL, uintptr(unsafe.Pointer(&pfd)), 1, 0)
	return e == 0 && r == 1 && pfd.Revents&unix.POLLOUT != 0
}

func rawSendfile(out, in int, off *int64, count int) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_SENDFILE, uintptr(out), uintptr(in), uintptr(unsafe.Pointer(off)), uintptr(count), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// flushMore writes the buffered output (a response head before a file
// body) with MSG_MORE, so the kernel sends it in the same segment as the
// body's first bytes instead of a small packet of its own (lighttpd corks
// the socket for the same purpose). Other connections get a plain flush.
func (c *conn) flushMore() error {
	rc := c.sock()
	if c.werr != nil || len(c.wbuf) == 0 || !c.info.Remote.IsValid() || rc == nil || rawsys.RaceEnabled {
		return c.flush()
	}
	c.beforeWrite()
	c.sends++
	st := &c.raw
	if st.moreFn == nil {
		st.moreFn = c.rawSendMore
	}
	st.rp, st.errno = c.wbuf, 0
	werr := rc.Write(st.moreFn)
	errno := st.errno
	st.release()
	c.wbuf = c.wbuf[:0]
	if werr == nil && errno != 0 {
		werr = &os.SyscallError{Syscall: "sendto", Err: errno}
	}
	c.werr = werr
	return werr
}

// rawSendMore sends c.raw.rp with MSG_MORE (flushMore's call, bound once
// per conn so that a response allocates nothing).
func (c *conn) rawSendMore(fd uintptr) bool {
	s := &c.raw
	for len(s.rp) > 0 {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&s.rp[0])), uintptr(len(s.rp)), unix.MSG_MORE|unix.MSG_NOSIGNAL, 0, 0)
		switch {
		case e == unix.EAGAIN:
			c.closeDeferred() // the client may take long to make room
			c.setWriteDeadline()
			return false
		case e == unix.EINTR:
			continue
		case e != 0:
			s.errno = e
			return true
		}
		s.rp = s.rp[r:]
	}
	return true
}
