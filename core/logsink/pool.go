package logsink

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// FlushInterval is how often a Pool flushes buffered access logs
// (lighttpd: every 4 s from its once-per-second timer).
const FlushInterval = 4 * time.Second

// Pool shares open sinks between users: two config keys naming the same
// file or command get one Sink (lighttpd keeps one descriptor per path, and
// one process per command), and a reload acquires the sinks of the new
// config before releasing the old ones, so unchanged logs stay open and
// piped commands keep running. A Pool also flushes buffered access logs
// every FlushInterval.
type Pool struct {
	opts options

	mu     sync.Mutex
	sinks  map[string]*Sink
	closed bool

	stop chan struct{}
	done chan struct{}
}

// NewPool returns an empty Pool whose sinks are opened with opts. It starts
// the periodic flusher; call Close to stop it.
func NewPool(opts ...Option) *Pool {
	o := defaultOptions()
	for _, fn := range opts {
		fn(&o)
	}
	p := &Pool{
		opts:  o,
		sinks: make(map[string]*Sink),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go p.flusher()
	return p
}

func (p *Pool) flusher() {
	defer close(p.done)
	t := time.NewTicker(FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			if err := p.FlushAll(); err != nil && p.opts.onError != nil {
				p.opts.onError(err)
			}
		}
	}
}

// Acquire returns the Sink for spec (see Open), opening it on first use,
// and counts one more reference to it.
func (p *Pool) Acquire(spec string) (*Sink, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if s, ok := p.sinks[spec]; ok {
		s.refs++
		return s, nil
	}
	s, err := open(spec, p.opts)
	if err != nil {
		return nil, err
	}
	s.refs = 1
	p.sinks[spec] = s
	return s, nil
}

// Release drops one reference taken by Acquire and closes the Sink when
// none remain.
func (p *Pool) Release(s *Sink) error {
	p.mu.Lock()
	cur, ok := p.sinks[s.spec]
	if !ok || cur != s {
		p.mu.Unlock()
		return fmt.Errorf("logsink: release of %q: not held by this pool", displaySpec(s.spec))
	}
	s.refs--
	if s.refs > 0 {
		p.mu.Unlock()
		return nil
	}
	delete(p.sinks, s.spec)
	p.mu.Unlock()
	return s.Close()
}

// snapshot returns the open sinks so that slow writes happen outside p.mu.
func (p *Pool) snapshot() []*Sink {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*Sink, 0, len(p.sinks))
	for _, s := range p.sinks {
		out = append(out, s)
	}
	return out
}

// FlushAll writes the buffered lines of every sink.
func (p *Pool) FlushAll() error {
	var errs []error
	for _, s := range p.snapshot() {
		errs = append(errs, s.Flush())
	}
	return errors.Join(errs...)
}

// ReopenAll is the SIGHUP action: flush everything and reopen every file
// sink by path (pipes and syslog are left running).
func (p *Pool) ReopenAll() error {
	var errs []error
	for _, s := range p.snapshot() {
		if err := s.Reopen(); err != nil && !errors.Is(err, ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close stops the flusher and closes every sink regardless of references
// (shutdown).
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	sinks := p.sinks
	p.sinks = nil
	p.mu.Unlock()
	close(p.stop)
	<-p.done
	var errs []error
	for _, s := range sinks {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
