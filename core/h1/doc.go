// Package h1 is golighty's HTTP/1.x wire engine. It parses requests exactly
// as lighttpd 1.4.69 does (request line, methods, target forms, header
// joining, Host validation and normalization, whole-request checks, the
// status for every malformed request), runs each connection in one
// goroutine with pipelining and keep-alive, reads request bodies
// (Content-Length or chunked, with "100 Continue") and writes responses
// the way lighttpd serialises them (Connection / Content-Length /
// Transfer-Encoding framing, Date cached per second, Server from
// server.tag), with head and small bodies in one write and files through
// sendfile(2).
//
// It knows nothing of configuration files or modules. The core creates one
// Server per listener, fills a Config from the server.* keys, and
// implements Handler:
//
//	s := &h1.Server{Handler: core, Token: listenerID}
//	s.SetConfig(cfg) // again on reload
//	go s.Serve(ln)
//
// For every request the handler receives a *Request (fields point into the
// connection's buffer; valid until it returns) and a *ResponseWriter. A
// request with Status != 0 was rejected by the parser: the handler renders
// the error document for that status and h1 closes the connection.
//
// The handler may adjust per-condition settings before the response head
// is written: Request.KeepAlive (max-keep-alive-requests via Request.Seq,
// protocol-http11 via Request.Proto), ResponseWriter.SetKeepAliveIdle and
// Body.MaxSize (max-request-size).
//
// Connections that wait without work hold no goroutine: an idle keep-alive
// connection is parked in an epoll set of the engine's own (idle.go), and
// so is a response whose file body the handler deferred
// (ResponseWriter.DeferFile) while the client is too slow to take it. The
// engine sends such a file after the handler returned, from the poller
// when the socket has room, and a Handler that implements TailHandler ends
// the request (its access log line, its state) in FinishTail once the file
// is out (tail.go). A handler waiting for a backend's answer may let go of
// its goroutine too (ResponseWriter.Suspend): the engine watches the
// backend socket in the same set and a Handler that implements Resumer
// goes on with the request in ResumeH1 (suspend.go).
package h1
