// Package accesslog is lighttpd's mod_accesslog: one line per finished
// request, rendered with accesslog.format (see the format subpackage) and
// written to a file, a "|command" pipe or syslog.
//
// Log destinations come from the server's shared logsink.Pool, so a reload
// keeps unchanged files and piped loggers open, and SIGHUP reopens files.
package accesslog

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/logsink"
	"github.com/golighty/golighty/lighttpdconf"
	"github.com/golighty/golighty/modules/accesslog/format"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_accesslog", New: func() core.Module { return &Module{} }})
}

// output is one file or pipe destination of this module instance, shared by
// every block that names the same accesslog.filename.
type output struct {
	sink *logsink.Sink
	// sec is the second of the last line that asked for a flush: buffered
	// file lines go out when the second changes, as lighttpd writes its
	// buffer when the cached %t text moves on.
	sec atomic.Int64
}

// conf is the per-request mod_accesslog configuration.
type conf struct {
	out    *output // nil: no file or pipe (unset, or set to "")
	format *format.Format
	esc    format.Escaping
	syslog bool
	level  int // accesslog.syslog-level (severity)
}

// Module is one loaded mod_accesslog.
type Module struct {
	table *core.Table[conf]
	// def is the only configuration when no conditional block sets a key:
	// using it skips Table.Resolve, which allocates its result.
	def    conf
	static bool
	pool   *logsink.Pool
	// outputs holds the sinks acquired from pool, by spec, to release them
	// in Close.
	outputs map[string]*output
	// syslog has a sink for each severity some block can select (index
	// level&7), acquired only when some block enables accesslog.use-syslog.
	syslog    [8]*logsink.Sink
	serverTag string // global server.tag: the Server header h1 writes
}

var (
	_ core.RequestDoneHook = (*Module)(nil)
	_ core.Closer          = (*Module)(nil)
)

// pendingFile is an accesslog.filename occurrence as found by scanning the
// config, in the order core.Bind visits them.
type pendingFile struct {
	pos lighttpdconf.Pos
	// syslog: the same block enables accesslog.use-syslog, so lighttpd does
	// not open the file and the occurrence changes nothing.
	syslog bool
}

// Setup binds the accesslog.* keys, compiles every distinct format once and
// opens the log destinations (lighttpd opens them at start-up and a failure
// is fatal).
func (m *Module) Setup(sc *core.SetupContext) error {
	m.pool = sc.Logs()
	m.outputs = map[string]*output{}
	m.serverTag = sc.Core().Table.Defaults().ServerTag

	formats := map[string]*format.Format{}
	compile := func(s string) (*format.Format, error) {
		if f, ok := formats[s]; ok {
			return f, nil
		}
		f, err := format.Compile(s)
		if err != nil {
			return nil, err
		}
		formats[s] = f
		return f, nil
	}
	def, err := compile(format.Default)
	if err != nil {
		return fmt.Errorf("default accesslog.format: %w", err)
	}

	files := scanFilenames(sc.Config())
	levels := map[int]bool{logsink.SeverityInfo: true}
	useSyslog := false
	m.table, err = core.Bind(sc, conf{format: def, level: logsink.SeverityInfo}, []core.Key[conf]{
		{Name: "accesslog.filename", Type: core.TypeString, Bind: func(v core.Value) (func(*conf), error) {
			if len(files) == 0 || files[0].pos != v.Pos {
				return nil, errors.New("accesslog.filename: internal error: configuration scan out of step")
			}
			pf := files[0]
			files = files[1:]
			if v.String() == "" {
				return func(c *conf) { c.out = nil }, nil
			}
			if pf.syslog || sc.Preflight() {
				return nil, nil // -tt opens no log, as lighttpd
			}
			o, err := m.acquire(v.String())
			if err != nil {
				return nil, err
			}
			return func(c *conf) { c.out = o }, nil
		}},
		{Name: "accesslog.format", Type: core.TypeString, Bind: func(v core.Value) (func(*conf), error) {
			f, err := compile(v.String())
			if err != nil {
				return nil, err
			}
			return func(c *conf) { c.format = f }, nil
		}},
		{Name: "accesslog.use-syslog", Type: core.TypeBool, Bind: func(v core.Value) (func(*conf), error) {
			on := v.Bool()
			useSyslog = useSyslog || on
			return func(c *conf) { c.syslog = on }, nil
		}},
		{Name: "accesslog.syslog-level", Type: core.TypeShort, Bind: func(v core.Value) (func(*conf), error) {
			n := int(v.Int())
			levels[n&7] = true
			return func(c *conf) { c.level = n }, nil
		}},
		{Name: "accesslog.escaping", Type: core.TypeString, Bind: func(v core.Value) (func(*conf), error) {
			e := format.ParseEscaping(v.String())
			return func(c *conf) { c.esc = e }, nil
		}},
	})
	if err != nil {
		m.Close() // the core closes only modules whose Setup succeeded
		return err
	}
	m.def, m.static = m.table.Defaults(), !m.table.Conditional()
	if useSyslog && !sc.Preflight() {
		fac := syslogFacility(sc.Core().Server)
		for lvl := range levels {
			s, err := m.pool.Acquire(logsink.SyslogSpec(fac, lvl))
			if err != nil {
				m.Close()
				return err
			}
			m.syslog[lvl] = s
		}
	}
	return nil
}

// syslogFacility is the facility lighttpd's syslog(3) calls end up with: it
// calls openlog() with server.syslog-facility only when the error log goes
// to syslog; otherwise the C library's default, "user", applies.
func syslogFacility(srv core.ServerSettings) string {
	if srv.ErrorLogUseSyslog {
		return srv.SyslogFacility
	}
	return "user"
}

// scanFilenames lists the accesslog.filename occurrences block by block in
// the order core.Bind binds them, noting which blocks enable syslog.
func scanFilenames(cfg *lighttpdconf.Config) []pendingFile {
	var out []pendingFile
	for _, b := range cfg.Blocks {
		syslogOn := false
		if e, ok := b.Get("accesslog.use-syslog"); ok {
			syslogOn, _ = core.ParseBool(e.Value)
		}
		for i := range b.Entries {
			if strings.EqualFold(b.Entries[i].Key, "accesslog.filename") {
				out = append(out, pendingFile{pos: b.Entries[i].Value.Pos, syslog: syslogOn})
			}
		}
	}
	return out
}

// acquire returns the output for a file or "|command", opening it through
// the shared pool on first use in this module instance.
func (m *Module) acquire(spec string) (*output, error) {
	if o, ok := m.outputs[spec]; ok {
		return o, nil
	}
	s, err := m.pool.Acquire(spec)
	if err != nil {
		return nil, err
	}
	o := &output{sink: s}
	m.outputs[spec] = o
	return o, nil
}

// Close releases the log destinations; the pool closes those that no newer
// configuration holds.
func (m *Module) Close() error {
	var errs []error
	for spec, o := range m.outputs {
		errs = append(errs, m.pool.Release(o.sink))
		delete(m.outputs, spec)
	}
	for i, s := range m.syslog {
		if s != nil {
			errs = append(errs, m.pool.Release(s))
			m.syslog[i] = nil
		}
	}
	return errors.Join(errs...)
}

// maxPooledLine bounds the buffers kept for reuse, so one huge line (long
// headers in the format) does not pin memory.
const maxPooledLine = 16 << 10

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// RequestDone writes the access-log line of rc.
func (m *Module) RequestDone(rc *core.Request) {
	c := m.def
	if !m.static {
		c = m.table.Resolve(rc)
	}
	var sink *logsink.Sink
	switch {
	case c.syslog:
		sink = m.syslog[c.level&7]
	case c.out != nil:
		sink = c.out.sink
	}
	if sink == nil {
		return
	}
	var rec format.Record
	fillRecord(&rec, rc, m.serverTag)

	bp := linePool.Get().(*[]byte)
	// The format's own new-second signal is not used: one Format may serve
	// several files, and each file must see the second change itself.
	line, _ := c.format.Append((*bp)[:0], &rec, c.esc)
	flush := false
	if o := c.out; !c.syslog && o != nil {
		if sec := rec.End.Unix(); o.sec.Load() != sec {
			o.sec.Store(sec) // a racing second writer merely flushes too
			flush = true
		}
	}
	err := sink.WriteAccess(line, flush)
	if cap(line) <= maxPooledLine {
		*bp = line[:0]
		linePool.Put(bp)
	}
	// lighttpd ignores syslog(3) failures and reports file and pipe ones.
	if err != nil && !c.syslog {
		rc.Logf("%v", err)
	}
}

// InlineHooks marks the module for HTTP/2 requests on the reader
// (core.InlineHooks): it formats a line into a buffer flushed once a second.
func (*Module) InlineHooks() {}
