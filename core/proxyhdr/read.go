package proxyhdr

import (
	"errors"
	"io"
	"net"
	"syscall"
	"time"
)

// Read reads the PROXY header c starts with, consuming exactly its bytes so
// the HTTP stream behind it stays on the socket for the engine. The header
// must be complete by deadline (lighttpd drops a header split over two
// reads; the PROXY spec asks receivers to wait, and so does Read). The read
// deadline is cleared again before Read returns.
func Read(c net.Conn, deadline time.Time) (*Header, error) {
	// (An in-memory pipe refuses deadlines once its peer closed; the
	// read below then reports the end.)
	_ = c.SetReadDeadline(deadline)
	defer c.SetReadDeadline(time.Time{})
	var buf [MaxLen]byte
	var n int
	var err error
	if sc, ok := c.(syscall.Conn); ok {
		n, err = readPeeking(c, sc, &buf)
	} else {
		n, err = readExact(c, &buf)
	}
	if err != nil {
		return nil, err
	}
	return Parse(buf[:n])
}

// readPeeking looks at the waiting bytes with MSG_PEEK (usually the whole
// header arrives in the first segment: two system calls per connection, as
// in lighttpd), then consumes only the header's bytes.
func readPeeking(c net.Conn, sc syscall.Conn, buf *[MaxLen]byte) (int, error) {
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	got := 0
	for {
		var n int
		var rerr error
		err := raw.Read(func(fd uintptr) bool {
			for {
				n, _, rerr = syscall.Recvfrom(int(fd), buf[got:], syscall.MSG_PEEK)
				if rerr != syscall.EINTR {
					return rerr != syscall.EAGAIN
				}
			}
		})
		switch {
		case err != nil:
			return 0, err
		case rerr != nil:
			return 0, rerr
		case n == 0:
			return 0, io.ErrUnexpectedEOF
		}
		size, err := Frame(buf[:got+n])
		if err != nil {
			return 0, err
		}
		// Incomplete: every byte seen belongs to the header; consume them
		// so the next peek waits for new ones instead of spinning.
		take := n
		if size > 0 {
			take = size - got
		}
		if _, err := io.ReadFull(c, buf[got:got+take]); err != nil {
			return 0, err
		}
		got += take
		if size > 0 {
			return size, nil
		}
	}
}

// readExact serves connections without a descriptor (in-memory pipes in
// tests): one byte at a time, never past the header.
func readExact(c net.Conn, buf *[MaxLen]byte) (int, error) {
	for got := 0; got < MaxLen; got++ {
		if _, err := io.ReadFull(c, buf[got:got+1]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		size, err := Frame(buf[:got+1])
		if err != nil {
			return 0, err
		}
		if size > 0 {
			return size, nil
		}
	}
	return 0, ErrTooLarge
}
