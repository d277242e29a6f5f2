// Package h2 is golighty's HTTP/2 wire engine (RFC 9113) for connections
// that arrive with ALPN "h2", with the HTTP/2 preface on a clear port
// (prior knowledge), or through "Upgrade: h2c". It reads frames with
// golang.org/x/net/http2's Framer, decodes and encodes header blocks with
// its hpack package, and does the rest itself: stream states, connection
// and stream flow control, the concurrency limit lighttpd advertises (8
// streams), RFC 9218 priorities as lighttpd schedules them, request bodies
// streamed to the handler, responses written by one writer goroutine per
// connection that batches frames from all streams, files read straight into
// DATA frames, and graceful GOAWAY.
//
// Requests are judged by lighttpd's rules (core/h1's field checks, Host
// policy, 411/413/431); a request RFC 9113 calls malformed (pseudo-header
// errors, upper-case or connection-specific fields, a TE other than
// "trailers", a body that disagrees with Content-Length) is answered with
// RST_STREAM PROTOCOL_ERROR where lighttpd 1.4.69 sends a 400 response.
//
// The known HTTP/2 denial-of-service patterns are bounded: rapid reset
// (handlers still running for reset streams keep their slot; excess streams
// wait in a bounded queue), CONTINUATION floods (a header block is capped
// in bytes and frames and must finish within a deadline), SETTINGS, PING,
// PRIORITY, RST_STREAM and empty-frame floods (a per-connection budget of
// frames that carry no request or response data, and a bound on control
// frames queued for a client that does not read), HPACK bombs (decoded
// fields count against server.max-request-field-size while the decoder keeps
// its state), and zero-window stalls (a stream that cannot send for
// server.max-write-idle is reset).
//
// Like core/h1 it knows nothing of configuration files or modules: the core
// fills a Config and implements Handler.
package h2
