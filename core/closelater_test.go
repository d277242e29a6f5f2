package core

import (
	"io"
	"testing"

	"github.com/golighty/golighty/core/filefd"
)

type countCloser struct{ n int }

func (c *countCloser) Close() error { c.n++; return nil }

// deferringWriter is a ResponseWriter that can defer closes (as h1's).
type deferringWriter struct{ deferred []io.Closer }

func (*deferringWriter) WriteHead(int, *Headers, int64, []byte) error { return nil }
func (*deferringWriter) Write(p []byte) (int, error)                  { return len(p), nil }
func (*deferringWriter) SendFile(filefd.FD, int64, int64) error       { return nil }
func (*deferringWriter) Flush() error                                 { return nil }
func (w *deferringWriter) DeferClose(c io.Closer)                     { w.deferred = append(w.deferred, c) }

// plainWriter cannot defer closes (as HTTP/2's).
type plainWriter struct{ deferringWriter }

func (plainWriter) DeferClose() {} // not closeDeferrer's method

func TestCloseAfterResponse(t *testing.T) {
	s := mustCompile(t, `server.document-root = "@DIR@"`)

	// The transport cannot defer: closed at once.
	rc := newRequest(s, "GET", "a", "/x")
	rc.w = &plainWriter{}
	c := &countCloser{}
	rc.CloseAfterResponse(c)
	if c.n != 1 {
		t.Fatalf("closed %d times at once on a transport without DeferClose, want 1", c.n)
	}

	// Another pass through the pipeline closes it first.
	rc = newRequest(s, "GET", "a", "/x")
	w := &deferringWriter{}
	rc.w = w
	c = &countCloser{}
	rc.CloseAfterResponse(c)
	if c.n != 0 {
		t.Fatal("closed before the response")
	}
	rc.phases()
	if c.n != 1 || len(rc.closeLater) != 0 {
		t.Fatalf("after another pass: closed %d times, %d kept", c.n, len(rc.closeLater))
	}

	// The response's end hands it to the transport, unclosed.
	c = &countCloser{}
	rc.CloseAfterResponse(c)
	rc.handCloses()
	if c.n != 0 || len(w.deferred) != 1 || w.deferred[0] != io.Closer(c) || len(rc.closeLater) != 0 {
		t.Fatalf("handed: closed %d, transport has %d, request keeps %d", c.n, len(w.deferred), len(rc.closeLater))
	}

	// A request reset with one kept (a path that did not end normally)
	// closes it.
	c = &countCloser{}
	rc.CloseAfterResponse(c)
	rc.reset()
	if c.n != 1 {
		t.Fatalf("reset closed %d times, want 1", c.n)
	}
}
