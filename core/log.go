package core

import (
	"log/slog"

	"github.com/golighty/golighty/core/logsink"
	"github.com/golighty/golighty/lighttpdconf"
)

// Logs returns the process-wide pool of log destinations. It lives in the
// shared pool so that a reload reuses open log files and pipes, and SIGHUP
// reopens every file at once.
func (p *SharedPool) Logs() *logsink.Pool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.logs == nil {
		p.logs = logsink.NewPool()
	}
	return p.logs
}

// Logs is the shared log pool, for modules that open logs (mod_accesslog).
func (sc *SetupContext) Logs() *logsink.Pool { return sc.snap.shared.Logs() }

// openConditionalErrorLogs opens the error logs that conditionals name
// (server.errorlog inside a block); requests matching those blocks log
// there, everything else goes to the process's error log.
func (s *Snapshot) openConditionalErrorLogs(preflight bool) error {
	if preflight {
		return nil
	}
	global := s.Core.Table.Defaults().ErrorLog
	for _, b := range s.Conf.Blocks[1:] {
		e, ok := b.Get("server.errorlog")
		if !ok || e.Value.Kind != lighttpdconf.KindString {
			continue
		}
		spec := e.Value.Str
		if spec == global || s.errorLogs[spec] != nil {
			continue
		}
		sink, err := s.shared.Logs().Acquire(spec)
		if err != nil {
			return &ConfigError{Pos: e.Pos, Err: err}
		}
		if s.errorLogs == nil {
			s.errorLogs = map[string]*slog.Logger{}
		}
		s.errorLogs[spec] = slog.New(logsink.NewErrorLogHandler(sink))
		s.errorSinks = append(s.errorSinks, sink)
	}
	return nil
}

// loggerFor picks the error log of a request (its resolved server.errorlog).
func (s *Snapshot) loggerFor(spec string, def *slog.Logger) *slog.Logger {
	if l := s.errorLogs[spec]; l != nil {
		return l
	}
	return def
}
