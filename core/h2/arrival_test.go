package h2

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestStreamArrival: a request's start (Request.Arrived) is the read that
// brought its header block: requests that came in one read share it; a
// request sent after an idle spell, or whose frame was completed by a read
// of its own, gets that later read's time.
func TestStreamArrival(t *testing.T) {
	arrived := make(chan time.Time, 8)
	e := startEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		arrived <- r.Arrived
		w.WriteHead(0, nil)
	}), nil)
	cl := dial(t, e.addr)
	frames := func(ids ...uint32) []byte {
		var buf bytes.Buffer
		fr := http2.NewFramer(&buf, nil)
		for _, id := range ids {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: cl.block(get("/")...), EndStream: true, EndHeaders: true})
		}
		return buf.Bytes()
	}
	next := func() time.Time {
		select {
		case a := <-arrived:
			return a
		case <-time.After(5 * time.Second):
			t.Fatal("no request reached the handler")
		}
		return time.Time{}
	}

	before := time.Now()
	cl.c.Write(frames(1, 3))
	a1, a3 := next(), next()
	if after := time.Now(); a1 != a3 || a1.Before(before) || a1.After(after) {
		t.Errorf("one read: arrived %v and %v, sent between %v and %v", a1, a3, before, after)
	}

	time.Sleep(150 * time.Millisecond)
	before = time.Now()
	cl.c.Write(frames(5))
	if a := next(); a.Before(before) {
		t.Errorf("after an idle spell: arrived %v before it was sent (%v)", a, before)
	}

	b := frames(7)
	cl.c.Write(b[:5])
	time.Sleep(150 * time.Millisecond)
	before = time.Now()
	cl.c.Write(b[5:])
	if a := next(); a.Before(before) {
		t.Errorf("a frame completed by a later read: arrived %v, its end sent at %v", a, before)
	}
}
