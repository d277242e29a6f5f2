package core

import "io"

// CloseAfterResponse closes c once the response has gone to the client,
// or before the request runs another pass through the pipeline (an
// authorizer's restart, an error handler), whichever comes first; on a
// transport that cannot defer it (HTTP/2, TLS) c is closed now. It is for
// a backend connection the backend has finished with: php-cgi, having
// answered, waits in a read for the server's close, and the close wakes
// it. lighttpd too writes the response before it closes, so that wake-up
// does not interrupt the server between the two.
func (rc *Request) CloseAfterResponse(c io.Closer) {
	if _, ok := rc.w.(closeDeferrer); !ok {
		c.Close()
		return
	}
	rc.closeLater = append(rc.closeLater, c)
}

// closeDeferrer is a ResponseWriter that can close what the request
// deferred after its own flush (h1.ResponseWriter.DeferClose).
type closeDeferrer interface {
	DeferClose(c io.Closer)
}

// closeDeferred closes what CloseAfterResponse kept.
func (rc *Request) closeDeferred() {
	for i, c := range rc.closeLater {
		c.Close()
		rc.closeLater[i] = nil
	}
	rc.closeLater = rc.closeLater[:0]
}

// handCloses passes what CloseAfterResponse kept to the transport, to close
// after the response it now holds is flushed.
func (rc *Request) handCloses() {
	d, ok := rc.w.(closeDeferrer)
	if !ok {
		rc.closeDeferred()
		return
	}
	for i, c := range rc.closeLater {
		d.DeferClose(c)
		rc.closeLater[i] = nil
	}
	rc.closeLater = rc.closeLater[:0]
}
