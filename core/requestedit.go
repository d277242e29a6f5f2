package core

import "github.com/golighty/golighty/core/h1"

// For modules that change a request while it runs (mod_magnet) and look at
// the server around it.

// ResetConditions forgets the cached results of the config conditions, for
// a module that changed what they test (URL, host, query, headers, remote
// address): later phases and modules evaluate them again, as lighttpd
// resets its condition cache for the changed item.
func (rc *Request) ResetConditions() { rc.resetConditions() }

// ConnSummary is what may be told about another client connection without
// touching the request it runs (which belongs to another goroutine).
type ConnSummary struct {
	RemoteIP   string
	RemotePort int
	LocalIP    string
	LocalPort  int
	Idle       bool // waiting for the next request of a keep-alive connection
}

// EachConnection calls f for every HTTP/1.x client connection of the
// server the request arrived at (this one included when it is one), until f
// returns false. HTTP/2 connections are not listed yet.
func (rc *Request) EachConnection(f func(ConnSummary) bool) {
	if rc.srv == nil {
		return
	}
	rc.srv.mu.Lock()
	engines := make([]*h1.Server, 0, len(rc.srv.engines))
	for _, e := range rc.srv.engines {
		engines = append(engines, e)
	}
	rc.srv.mu.Unlock()
	for _, e := range engines {
		more := true
		e.EachConn(func(ci *h1.ConnInfo, idle bool) bool {
			more = f(ConnSummary{RemoteIP: ci.RemoteIP, RemotePort: ci.RemotePort,
				LocalIP: ci.LocalIP, LocalPort: ci.LocalPort, Idle: idle})
			return more
		})
		if !more {
			return
		}
	}
}

// OpenConnections is the number of client connections the server holds.
func (rc *Request) OpenConnections() int64 {
	if rc.srv == nil {
		return 0
	}
	return rc.srv.OpenConns()
}
