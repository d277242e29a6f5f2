package logsink

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Attribute keys with a special meaning to the error-log handler. They are
// recognized among the attributes passed to the log call itself.
const (
	// SourceKey overrides the location printed between parentheses, e.g.
	// slog.String(logsink.SourceKey, "server.c.1704") gives the exact
	// lighttpd line "(server.c.1704) server started (lighttpd/1.4.69)".
	SourceKey = "lighttpd.src"
	// MultilineKey carries a payload logged one line per physical line,
	// each prefixed with the full line header and the message (lighttpd's
	// log_error_multiline, used for FastCGI stderr and header dumps). An
	// empty payload logs nothing.
	MultilineKey = "lighttpd.multiline"
)

// Source returns the SourceKey attribute.
func Source(loc string) slog.Attr { return slog.String(SourceKey, loc) }

// Multiline returns the MultilineKey attribute.
func Multiline(payload string) slog.Attr { return slog.String(MultilineKey, payload) }

// HandlerOption configures NewErrorLogHandler.
type HandlerOption func(*handlerShared)

// WithLevel sets the minimum level logged. The default logs every level:
// lighttpd has no levels, the caller decides (debug.* options) what to log.
func WithLevel(l slog.Leveler) HandlerOption {
	return func(h *handlerShared) { h.level = l }
}

// WithHighPrecision selects nanosecond timestamps
// (server.feature-flags "server.errorlog-high-precision").
func WithHighPrecision(on bool) HandlerOption {
	return func(h *handlerShared) { h.highPrecision = on }
}

// WithLocation sets the time zone of timestamps (default time.Local, as
// lighttpd's localtime()).
func WithLocation(loc *time.Location) HandlerOption {
	return func(h *handlerShared) { h.loc = loc }
}

// handlerShared is the state common to a handler and all handlers derived
// from it with WithAttrs/WithGroup.
type handlerShared struct {
	sink          *Sink
	level         slog.Leveler
	highPrecision bool
	loc           *time.Location

	ts atomic.Pointer[tsCache]

	srcMu sync.RWMutex
	src   map[uintptr]string // caller PC -> "(file.go.LINE) "
}

type tsCache struct {
	sec  int64
	text []byte // "YYYY-MM-DD HH:MM:SS: "
}

type errorLogHandler struct {
	sh     *handlerShared
	attrs  []byte // preformatted " k=v" from WithAttrs
	prefix string // group prefix "g1.g2."
}

// NewErrorLogHandler returns a slog.Handler writing lighttpd error-log lines
// to sink:
//
//	YYYY-MM-DD HH:MM:SS: (FILE.LINE) MESSAGE key=value ...
//
// The timestamp is local time, formatted as strftime "%F %T" and cached per
// second. For syslog sinks it is omitted (syslog stamps records itself).
//
// FILE.LINE cannot name a lighttpd C file, so it is the base name and line
// of the Go source that made the log call, e.g. "(server.go.214)": the same
// shape as lighttpd's "(server.c.1704)", so tools that parse the prefix keep
// working, and it points a reader at the code that logged, which is what the
// C location is for. SourceKey overrides it where byte-equality with a
// lighttpd message is wanted.
//
// Non-printable bytes are escaped C-style (\t \r \n \xhh) as lighttpd does,
// so one record never spans two lines (see MultilineKey for payloads).
func NewErrorLogHandler(sink *Sink, opts ...HandlerOption) slog.Handler {
	sh := &handlerShared{sink: sink, loc: time.Local, src: make(map[uintptr]string)}
	for _, o := range opts {
		o(sh)
	}
	return &errorLogHandler{sh: sh}
}

func (h *errorLogHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.sh.level == nil || l >= h.sh.level.Level()
}

func (h *errorLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	n := *h
	n.attrs = append([]byte(nil), h.attrs...)
	for _, a := range as {
		n.attrs = appendAttr(n.attrs, h.prefix, a)
	}
	return &n
}

func (h *errorLogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	n.prefix = h.prefix + name + "."
	return &n
}

type lineBufs struct{ head, body, out []byte }

var bufPool = sync.Pool{New: func() any { return new(lineBufs) }}

func (h *errorLogHandler) Handle(_ context.Context, r slog.Record) error {
	b := bufPool.Get().(*lineBufs)
	defer func() {
		if cap(b.out) <= 64<<10 { // keep huge one-off lines from staying pooled
			bufPool.Put(b)
		}
	}()

	var src, multi string
	var haveSrc, haveMulti bool
	body := append(b.body[:0], r.Message...)
	body = append(body, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		if h.prefix == "" && a.Value.Kind() == slog.KindString {
			switch a.Key {
			case SourceKey:
				src, haveSrc = a.Value.String(), true
				return true
			case MultilineKey:
				multi, haveMulti = a.Value.String(), true
				return true
			}
		}
		body = appendAttr(body, h.prefix, a)
		return true
	})
	b.body = body
	if haveMulti && multi == "" {
		return nil
	}

	head := b.head[:0]
	if h.sh.sink.Kind() != KindSyslog {
		t := r.Time
		if t.IsZero() {
			t = time.Now()
		}
		head = h.sh.appendTimestamp(head, t)
	}
	head = append(head, '(')
	if haveSrc {
		head = appendEscaped(head, src)
		head = append(head, ") "...)
	} else {
		head = append(head, h.sh.source(r.PC)...)
	}
	head = appendEscaped(head, body)
	b.head = head

	if !haveMulti {
		out := append(b.out[:0], head...)
		out = append(out, '\n')
		b.out = out
		_, err := h.sh.sink.Write(out)
		return err
	}
	var firstErr error
	for len(multi) > 0 {
		line, rest, _ := strings.Cut(multi, "\n")
		multi = rest
		line = strings.TrimSuffix(line, "\r")
		out := append(b.out[:0], head...)
		out = appendEscaped(out, line)
		out = append(out, '\n')
		b.out = out
		if _, err := h.sh.sink.Write(out); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// appendTimestamp appends "%F %T: " (or "%F %T.NNNNNNNNN: "), formatting
// the date once per second.
func (sh *handlerShared) appendTimestamp(dst []byte, t time.Time) []byte {
	t = t.In(sh.loc)
	sec := t.Unix()
	c := sh.ts.Load()
	if c == nil || c.sec != sec {
		c = &tsCache{sec: sec, text: t.AppendFormat(make([]byte, 0, 21), "2006-01-02 15:04:05: ")}
		sh.ts.Store(c)
	}
	if !sh.highPrecision {
		return append(dst, c.text...)
	}
	dst = append(dst, c.text[:len(c.text)-2]...)
	dst = append(dst, '.')
	ns := t.Nanosecond()
	var d [9]byte
	for i := 8; i >= 0; i-- {
		d[i] = byte('0' + ns%10)
		ns /= 10
	}
	dst = append(dst, d[:]...)
	return append(dst, ": "...)
}

// source returns "file.go.LINE) " for the caller's program counter.
func (sh *handlerShared) source(pc uintptr) string {
	sh.srcMu.RLock()
	s, ok := sh.src[pc]
	sh.srcMu.RUnlock()
	if ok {
		return s
	}
	s = "golighty.0) "
	if pc != 0 {
		f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
		if f.File != "" {
			s = filepath.Base(f.File) + "." + strconv.Itoa(f.Line) + ") "
		}
	}
	sh.srcMu.Lock()
	sh.src[pc] = s
	sh.srcMu.Unlock()
	return s
}

// appendAttr appends " key=value" in the style of slog's TextHandler;
// the caller escapes the whole line afterwards.
func appendAttr(dst []byte, prefix string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return dst
	}
	if a.Value.Kind() == slog.KindGroup {
		gs := a.Value.Group()
		p := prefix
		if a.Key != "" {
			p = prefix + a.Key + "."
		}
		for _, g := range gs {
			dst = appendAttr(dst, p, g)
		}
		return dst
	}
	dst = append(dst, ' ')
	dst = append(dst, prefix...)
	dst = append(dst, a.Key...)
	dst = append(dst, '=')
	v := a.Value
	switch v.Kind() {
	case slog.KindString:
		return appendMaybeQuoted(dst, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(dst, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(dst, v.Uint64(), 10)
	case slog.KindFloat64:
		return strconv.AppendFloat(dst, v.Float64(), 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(dst, v.Bool())
	case slog.KindDuration:
		return append(dst, v.Duration().String()...)
	case slog.KindTime:
		return v.Time().AppendFormat(dst, time.RFC3339Nano)
	}
	if err, ok := v.Any().(error); ok {
		return appendMaybeQuoted(dst, err.Error())
	}
	return appendMaybeQuoted(dst, fmt.Sprint(v.Any()))
}

func appendMaybeQuoted(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, `""`...)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == '"' || c == '=' || c > '~' {
			return strconv.AppendQuoteToASCII(dst, s)
		}
	}
	return append(dst, s...)
}

const hexLower = "0123456789abcdef"

// appendEscaped escapes bytes outside printable ASCII the way lighttpd's
// error log does: \t \r \n, everything else \xhh (lower-case hex).
func appendEscaped[T string | []byte](dst []byte, s T) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= ' ' && c <= '~':
			dst = append(dst, c)
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		default:
			dst = append(dst, '\\', 'x', hexLower[c>>4], hexLower[c&15])
		}
	}
	return dst
}
