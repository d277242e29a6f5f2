package logsink

import (
	"errors"
	"net"
	"os"
	"strconv"
	"time"
)

// facilities lists the names server.syslog-facility accepts (lighttpd's
// table; "security" is a deprecated alias of "auth"), with the facility
// codes already shifted into priority position.
var facilities = map[string]int{
	"auth":     4 << 3,
	"authpriv": 10 << 3,
	"cron":     9 << 3,
	"daemon":   3 << 3,
	"ftp":      11 << 3,
	"kern":     0 << 3,
	"lpr":      6 << 3,
	"mail":     2 << 3,
	"news":     7 << 3,
	"security": 4 << 3,
	"syslog":   5 << 3,
	"user":     1 << 3,
	"uucp":     8 << 3,
	"local0":   16 << 3,
	"local1":   17 << 3,
	"local2":   18 << 3,
	"local3":   19 << 3,
	"local4":   20 << 3,
	"local5":   21 << 3,
	"local6":   22 << 3,
	"local7":   23 << 3,
}

// Syslog severities used by lighttpd.
const (
	SeverityErr  = 3 // error log
	SeverityInfo = 6 // accesslog.syslog-level default
)

// ParseFacility maps a server.syslog-facility name to its priority bits.
// For an unknown name it returns the "daemon" facility and false; lighttpd
// then logs `unrecognized server.syslog-facility: "NAME"; defaulting to
// "daemon" facility`.
func ParseFacility(name string) (int, bool) {
	if v, ok := facilities[name]; ok {
		return v, true
	}
	return facilities["daemon"], false
}

// syslogWriter sends messages to the local syslog socket in the format
// glibc's syslog(3) uses ("<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG"), so the
// daemon sees the same records lighttpd would send. It connects lazily and
// reconnects after errors (syslogd restarts). Callers serialize access.
type syslogWriter struct {
	addrs []string
	tag   string
	pri   int
	pid   string
	conn  net.Conn
	tail  []byte // "" for datagrams, NUL for stream sockets (glibc)
	buf   []byte
}

func newSyslogWriter(addrs []string, tag string, pri int) *syslogWriter {
	return &syslogWriter{addrs: addrs, tag: tag, pri: pri, pid: strconv.Itoa(os.Getpid())}
}

func (w *syslogWriter) connect() error {
	var errs []error
	for _, a := range w.addrs {
		for _, network := range [...]string{"unixgram", "unix"} {
			c, err := net.Dial(network, a)
			if err == nil {
				w.conn = c
				w.tail = nil
				if network == "unix" {
					w.tail = []byte{0}
				}
				return nil
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (w *syslogWriter) write(msg []byte) error {
	if n := len(msg); n > 0 && msg[n-1] == '\n' {
		msg = msg[:n-1]
	}
	b := w.buf[:0]
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(w.pri), 10)
	b = append(b, '>')
	b = time.Now().AppendFormat(b, time.Stamp)
	b = append(b, ' ')
	b = append(b, w.tag...)
	b = append(b, '[')
	b = append(b, w.pid...)
	b = append(b, "]: "...)
	b = append(b, msg...)
	w.buf = b
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if w.conn == nil {
			if err = w.connect(); err != nil {
				return err
			}
		}
		out := append(w.buf, w.tail...)
		if _, err = w.conn.Write(out); err == nil {
			return nil
		}
		w.conn.Close()
		w.conn = nil
	}
	return err
}

func (w *syslogWriter) close() error {
	if w.conn == nil {
		return nil
	}
	err := w.conn.Close()
	w.conn = nil
	return err
}
