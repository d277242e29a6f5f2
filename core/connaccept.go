package core

import (
	"errors"
	"net"
	"time"

	"github.com/golighty/golighty/core/filefd"
	"github.com/golighty/golighty/core/h1"
)

// ConnAcceptHook runs when a connection is accepted, before any request is
// read (lighttpd's handle_connection_accept, used by mod_sockproxy). The
// request it sees carries only the connection (Conn, and URI.Path "/" for
// matching); conditions on $SERVER["socket"] and the remote address work.
// A module that claims the connection sets a handler; the handler takes
// the raw connection with Tunnel (no head is written) and the core closes
// it when the handler returns. No HTTP is spoken on such a connection.
type ConnAcceptHook interface{ ConnAccept(*Request) Result }

var _ h1.ConnAcceptor = (*Server)(nil)

// AcceptConn offers a new connection to the ConnAccept hooks; true means a
// module served it (the engine then closes it).
func (s *Server) AcceptConn(info *h1.ConnInfo) bool {
	snap := s.rt.Acquire()
	if snap == nil {
		return false
	}
	defer snap.release()
	if len(snap.hooks.connAccept) == 0 {
		return false
	}
	rc := s.reqs.Get().(*Request)
	defer func() {
		rc.reset()
		s.reqs.Put(rc)
	}()
	rc.Snap = snap
	rc.srvLog = s.log
	rc.Start = time.Now()
	rc.rawConn = true
	rc.netConn = info.Conn
	rc.w = rawWriter{info.Conn}
	rc.URI.Scheme = "http"
	if info.TLS {
		rc.URI.Scheme = "https"
	}
	rc.URI.Path = "/"
	if tok, ok := info.Token.(string); ok {
		rc.Conn.Socket = tok
	}
	rc.Conn.TLS = info.TLS
	rc.Conn.RemoteIP, rc.Conn.RemotePort = info.RemoteIP, info.RemotePort
	rc.Conn.LocalIP, rc.Conn.LocalPort = info.LocalIP, info.LocalPort
	rc.resetConditions()
	rc.Conf = snap.Core.Table.Resolve(rc)
	rc.log = snap.loggerFor(rc.Conf.ErrorLog, s.log)
	for _, m := range snap.hooks.connAccept {
		r := m.ConnAccept(rc)
		if r != GoOn && rc.Handler == nil {
			return true // refused (every backend down): closed unanswered
		}
		if rc.Handler != nil {
			break
		}
	}
	if rc.Handler == nil {
		return false
	}
	rc.Handler.Serve(rc)
	return true
}

// errRawConn: a connection taken over at accept has no HTTP response.
var errRawConn = errors.New("no HTTP response on a connection taken over at accept")

// rawWriter is the ResponseWriter of a connection taken over at accept:
// only Tunnel (Hijack) works.
type rawWriter struct{ c net.Conn }

func (rawWriter) WriteHead(int, *Headers, int64, []byte) error { return errRawConn }
func (rawWriter) Write([]byte) (int, error)                    { return 0, errRawConn }
func (rawWriter) SendFile(filefd.FD, int64, int64) error       { return errRawConn }
func (rawWriter) Flush() error                                 { return errRawConn }
func (x rawWriter) Hijack(int, *Headers, bool, bool) (net.Conn, error) {
	return x.c, nil
}
