package core

import (
	"github.com/golighty/golighty/core/logsink"
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
