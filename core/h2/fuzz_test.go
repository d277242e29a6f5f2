package h2

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// fuzzSeeds are frame sequences sent after the client preface.
func fuzzSeeds() [][]byte {
	var out [][]byte
	add := func(build func(fr *http2.Framer, block func(kv ...string) []byte)) {
		var buf, hb bytes.Buffer
		enc := hpack.NewEncoder(&hb)
		block := func(kv ...string) []byte {
			hb.Reset()
			for i := 0; i+1 < len(kv); i += 2 {
				enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
			}
			return bytes.Clone(hb.Bytes())
		}
		fr := http2.NewFramer(&buf, nil)
		fr.WriteSettings()
		build(fr, block)
		out = append(out, buf.Bytes())
	}
	add(func(fr *http2.Framer, b func(...string) []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b(get("/")...), EndStream: true, EndHeaders: true})
	})
	add(func(fr *http2.Framer, b func(...string) []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true,
			BlockFragment: b(":method", "PUT", ":scheme", "http", ":authority", "a", ":path", "/p", "content-length", "4")})
		fr.WriteData(1, false, []byte("ab"))
		fr.WriteDataPadded(1, true, []byte("cd"), []byte{0, 0})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: b(get("/x.js", "priority", "u=1, i")...), EndStream: true, EndHeaders: true})
	})
	add(func(fr *http2.Framer, b func(...string) []byte) {
		blk := b(get("/", "cookie", "a=1", "cookie", "b=2")...)
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:3], EndStream: true})
		fr.WriteContinuation(1, false, blk[3:5])
		fr.WriteContinuation(1, true, blk[5:])
		fr.WritePing(false, [8]byte{1})
		fr.WriteWindowUpdate(0, 1000)
		fr.WritePriority(1, http2.PriorityParam{StreamDep: 1})
		fr.WriteRSTStream(1, http2.ErrCodeCancel)
		fr.WriteGoAway(0, http2.ErrCodeNo, nil)
	})
	add(func(fr *http2.Framer, b func(...string) []byte) {
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1}, http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, BlockFragment: b(get("/big")...), EndStream: true, EndHeaders: true})
		fr.WriteWindowUpdate(5, 100)
		fr.WritePriorityUpdate(5, "u=0")
	})
	return out
}

// FuzzFrames feeds arbitrary frames to a connection: the engine must
// neither panic nor hang, whatever arrives.
func FuzzFrames(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	srv := &Server{Handler: HandlerFunc(func(w *ResponseWriter, r *Request) {
		var n int64
		if r.Body != nil {
			n, _ = io.Copy(io.Discard, r.Body)
		}
		body := bytes.Repeat([]byte("x"), int(n%7)+100)
		if string(r.Target) == "/big" {
			body = bytes.Repeat([]byte("y"), 70000)
		}
		w.AddHeader("Content-Type", "text/plain")
		w.WriteHead(int64(len(body)), body)
	})}
	cfg := DefaultConfig()
	cfg.MaxReadIdle, cfg.MaxWriteIdle, cfg.HeadTimeout, cfg.MaxKeepAliveIdle = time.Second, time.Second, time.Second, time.Second
	srv.SetConfig(cfg)
	// Half the inputs run their streams on the reader (Config.Inline).
	inline := &Server{Handler: srv.Handler}
	cfg.Inline = true
	inline.SetConfig(cfg)
	f.Fuzz(func(t *testing.T, data []byte) {
		s := srv
		if len(data)%2 == 1 {
			s = inline
		}
		a, b := net.Pipe()
		done := make(chan struct{})
		go func() {
			s.ServeConn(b, ConnOptions{})
			close(done)
		}()
		go io.Copy(io.Discard, a)
		a.SetWriteDeadline(time.Now().Add(2 * time.Second))
		a.Write([]byte(clientPreface))
		a.Write(data)
		time.Sleep(time.Millisecond)
		a.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("connection did not end")
		}
	})
}
