package h2

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/golighty/golighty/core/h1"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// headersPayload is a HEADERS frame's payload: the pad length (pad >= 0),
// a priority (prio), the fragment and the padding.
func headersPayload(frag []byte, pad int, prio bool, dep uint32) (http2.Flags, []byte) {
	var flags http2.Flags
	var p []byte
	if pad >= 0 {
		flags |= http2.FlagHeadersPadded
		p = append(p, byte(pad))
	}
	if prio {
		flags |= http2.FlagHeadersPriority
		p = binary.BigEndian.AppendUint32(p, dep)
		p = append(p, 15)
	}
	p = append(p, frag...)
	if pad > 0 {
		p = append(p, make([]byte, pad)...)
	}
	return flags, p
}

// TestHeadersFrames: HEADERS frames of every shape on one connection, in
// an order where blocks grow and shrink, each decoded whole (the frame is
// read by the engine itself, not by x/net's Framer).
func TestHeadersFrames(t *testing.T) {
	e := startEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		var x string
		for _, h := range r.Headers {
			if string(h.Name) == "x-n" {
				x = string(h.Value)
			}
		}
		body := string(r.Target) + "|" + x
		w.WriteHead(int64(len(body)), []byte(body))
	}), nil)
	cl := dial(t, e.addr)
	long := strings.Repeat("v", 300)
	id := uint32(1)
	for _, tc := range []struct {
		name  string
		path  string
		x     string
		pad   int // -1: not padded
		prio  bool
		split bool // the block in HEADERS and a CONTINUATION
	}{
		{"short", "/a", "1", -1, false, false},
		{"longer, padded", "/b/" + long, "2" + long, 7, false, false},
		{"short after long", "/c", "3", -1, false, false},
		{"priority", "/d/" + long, "4", -1, true, false},
		{"padded with priority", "/e", "5" + long, 200, true, false},
		{"padding of zero bytes", "/f", "6", 0, false, false},
		{"continued", "/g/" + long, "7" + long, 3, true, true},
		{"short again", "/h", "8", -1, false, false},
	} {
		block := cl.block(get(tc.path, "x-n", tc.x)...)
		frag, rest := block, []byte(nil)
		if tc.split {
			frag, rest = block[:len(block)/2], block[len(block)/2:]
		}
		flags, p := headersPayload(frag, tc.pad, tc.prio, 0)
		flags |= http2.FlagHeadersEndStream
		if !tc.split {
			flags |= http2.FlagHeadersEndHeaders
		}
		if err := cl.fr.WriteRawFrame(http2.FrameHeaders, flags, id, p); err != nil {
			t.Fatal(err)
		}
		if tc.split {
			if err := cl.fr.WriteContinuation(id, true, rest); err != nil {
				t.Fatal(err)
			}
		}
		r := cl.collect(id, false, nil)
		if want := tc.path + "|" + tc.x; r.status != "200" || string(r.body) != want {
			t.Fatalf("%s: status %q body %.40q..., want 200 %.40q...", tc.name, r.status, r.body, want)
		}
		id += 2
	}
}

// TestBadHeadersFrames: what a malformed HEADERS frame costs, as x/net's
// Framer judged it: the connection (stream 0, a truncated priority), the
// stream (padding longer than the payload, a stream depending on itself).
func TestBadHeadersFrames(t *testing.T) {
	e := startEngine(t, text("ok"), nil)
	for _, tc := range []struct {
		name    string
		id      uint32
		flags   http2.Flags
		payload func(frag []byte) []byte
		want    string // "goaway", "closed", "rst"
	}{
		{"stream 0", 0, http2.FlagHeadersEndHeaders, func(frag []byte) []byte { return frag }, "goaway"},
		{"no pad length", 1, http2.FlagHeadersEndHeaders | http2.FlagHeadersPadded, func([]byte) []byte { return nil }, "closed"},
		{"truncated priority", 1, http2.FlagHeadersEndHeaders | http2.FlagHeadersPriority, func([]byte) []byte { return []byte{0, 0, 0} }, "closed"},
		{"padding too long", 1, http2.FlagHeadersEndHeaders | http2.FlagHeadersPadded, func(frag []byte) []byte {
			return append([]byte{byte(len(frag) + 1)}, frag...)
		}, "rst"},
		{"depends on itself", 1, http2.FlagHeadersEndHeaders | http2.FlagHeadersEndStream | http2.FlagHeadersPriority, func(frag []byte) []byte {
			_, p := headersPayload(frag, -1, true, 1)
			return p
		}, "rst"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := dial(t, e.addr)
			p := tc.payload(cl.block(get("/")...))
			if err := cl.fr.WriteRawFrame(http2.FrameHeaders, tc.flags, tc.id, p); err != nil {
				t.Fatal(err)
			}
			switch tc.want {
			case "goaway":
				if code, ok := cl.expectGoAway(5 * time.Second); !ok || code != http2.ErrCodeProtocol {
					t.Errorf("GOAWAY %v %v, want PROTOCOL_ERROR", ok, code)
				}
			case "closed":
				if !cl.closedSoon(5 * time.Second) {
					t.Error("connection still open")
				}
			case "rst":
				if r := cl.collect(tc.id, false, nil); !r.gotRST || r.rst != http2.ErrCodeProtocol {
					t.Errorf("status %q rst %v %v, want RST_STREAM PROTOCOL_ERROR", r.status, r.gotRST, r.rst)
				}
			}
		})
	}
}

// loopReader returns b over and over.
type loopReader struct {
	b   []byte
	off int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.b[l.off:])
	l.off = (l.off + n) % len(l.b)
	return n, nil
}

// TestHeadersFrameAllocs: a request's HEADERS frame (padded, with a
// priority, its fields in the decoder's table) is read and decoded without
// an allocation; x/net's Framer made a HeadersFrame for it, and a variable
// of decode's escaped.
func TestHeadersFrameAllocs(t *testing.T) {
	c := newConn(&Server{}, nil, &ConnOptions{Info: &h1.ConnInfo{}})
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	fields := func() []byte {
		buf.Reset()
		for _, kv := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "example.org"}, {":path", "/static/app.js"}} {
			enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
		}
		return bytes.Clone(buf.Bytes())
	}
	var r Request
	var scratch []byte
	c.blk = fields()
	if err := c.decode(&r, &scratch, false); err != nil { // the table now holds the fields
		t.Fatal(err)
	}
	frag := fields() // the same, by index
	if len(frag) != 4 {
		t.Fatalf("second block %x, want four indexed fields", frag)
	}
	var frames bytes.Buffer
	fr := http2.NewFramer(&frames, nil)
	flags, p := headersPayload(frag, 5, true, 0)
	fr.WriteRawFrame(http2.FrameHeaders, flags|http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, 1, p)
	c.br.Reset(&loopReader{b: frames.Bytes()})
	n := testing.AllocsPerRun(200, func() {
		fh, err := c.fr.ReadFrameHeader()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.readHeadersFrame(fh); err != nil {
			t.Fatal(err)
		}
		r = Request{Headers: r.Headers[:0]}
		scratch = scratch[:0]
		if err := c.decode(&r, &scratch, false); err != nil {
			t.Fatal(err)
		}
		c.fp.finish(true)
		if string(r.Target) != "/static/app.js" || r.Status != 0 {
			t.Fatalf("decoded %q status %d", r.Target, r.Status)
		}
	})
	if n != 0 {
		t.Errorf("%.1f allocations per HEADERS frame, want 0", n)
	}
}
