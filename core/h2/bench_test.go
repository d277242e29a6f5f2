package h2

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"testing"

	"github.com/golighty/golighty/core/filefd"
	"github.com/golighty/golighty/core/h1"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// benchRequests keeps 8 streams in flight on one connection (lighttpd's
// limit) and counts completed responses.
func benchRequests(b *testing.B, h Handler, path string) {
	e := startEngine(b, h, nil)
	cl := dial(b, e.addr, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30})
	cl.fr.WriteWindowUpdate(0, 1<<30-65535)
	block := cl.block(get(path)...)
	// Requests go out through a buffer, flushed once per response read.
	bw := bufio.NewWriterSize(cl.c, 4096)
	cl.fr = http2.NewFramer(bw, cl.c)
	var unacked int64
	id := uint32(1)
	send := func() {
		cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true})
		id += 2
	}
	b.ReportAllocs()
	b.ResetTimer()
	inflight := 0
	for range min(8, b.N) {
		send()
		inflight++
	}
	bw.Flush()
	done, sent := 0, inflight
	var got int64
	for done < b.N {
		f := cl.read()
		switch f := f.(type) {
		case *http2.DataFrame:
			got += int64(len(f.Data()))
			if unacked += int64(len(f.Data())); unacked > 1<<28 {
				cl.fr.WriteWindowUpdate(0, uint32(unacked))
				bw.Flush()
				unacked = 0
			}
			if !f.StreamEnded() {
				continue
			}
		case *http2.HeadersFrame:
			if !f.StreamEnded() {
				continue
			}
		default:
			continue
		}
		done++
		if sent < b.N {
			send()
			sent++
			bw.Flush()
		}
	}
	b.SetBytes(got / int64(b.N))
}

// BenchmarkSmallResponses: 1 KiB responses, 8 streams in flight.
func BenchmarkSmallResponses(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1024)
	benchRequests(b, HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.AddHeader("Content-Type", "text/plain")
		w.AddHeader("ETag", `"123456"`)
		w.AddHeader("Content-Length", "1024")
		w.WriteHead(int64(len(body)), body)
	}), "/1k.txt")
}

// BenchmarkFileResponses: 1 MiB files read into DATA frames.
func BenchmarkFileResponses(b *testing.B) {
	path, _ := writeTemp(b, 1<<20)
	benchRequests(b, HandlerFunc(func(w *ResponseWriter, r *Request) {
		f, _ := os.Open(path)
		defer f.Close()
		w.AddHeader("Content-Length", strconv.Itoa(1<<20))
		w.SendFile(filefd.Of(f), 0, 1<<20)
	}), "/big")
}

// BenchmarkFieldParser: decoding a typical browser request's fields with
// lighttpd's rules.
func BenchmarkFieldParser(b *testing.B) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, kv := range [][2]string{
		{":method", "GET"}, {":scheme", "https"}, {":authority", "www.example.org"}, {":path", "/index.html?a=b"},
		{"user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
		{"accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		{"accept-language", "en-US,en;q=0.5"}, {"accept-encoding", "gzip, deflate, br, zstd"},
		{"cookie", "a=1"}, {"cookie", "b=2"}, {"priority", "u=0, i"},
	} {
		enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	block := buf.Bytes()
	var p fieldParser
	dec := hpack.NewDecoder(4096, p.field)
	opts := h1.DefaultParseOptions()
	var r Request
	var scratch []byte
	b.ReportAllocs()
	for b.Loop() {
		r = Request{Headers: r.Headers[:0]}
		scratch = scratch[:0]
		p.reset(&r, &scratch, &opts, 8192, false)
		dec.Write(block)
		dec.Close()
		p.finish(true)
		if r.Status != 0 || p.malformed != "" {
			b.Fatal(r.Status, p.malformed)
		}
	}
}

// BenchmarkEncodeHead: the head of a static file's response as core sends
// it (Date and Server added by the writer), the same connection throughout.
func BenchmarkEncodeHead(b *testing.B) {
	c := newConn(&Server{}, nil, &ConnOptions{Info: &h1.ConnInfo{}})
	c.cfg = &Config{ServerTag: "golighty/0.1.0"}
	s := &stream{c: c}
	s.rw.s = s
	etags := []string{`"427083219"`, `"1732469103"`, `"3120987765"`}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		w := &s.rw
		w.AddHeader("Content-Type", "text/plain")
		w.AddHeader("Accept-Ranges", "bytes")
		w.AddHeader("ETag", etags[i%len(etags)])
		w.AddHeader("Last-Modified", "Mon, 07 Dec 2026 01:07:04 GMT")
		w.AddHeader("Content-Length", "1024")
		c.encodeHead(s, 200)
		w.fields = w.fields[:0]
		i++
	}
}

// BenchmarkDecodeRequests: the header blocks of a connection's requests
// after its first (a client's encoder has indexed the fields that repeat;
// :path changes, a literal kept out of the table so that the blocks can be
// decoded again in turn), decoded with lighttpd's rules into Requests.
func BenchmarkDecodeRequests(b *testing.B) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	var blocks [][]byte
	for i := range 64 {
		buf.Reset()
		for _, kv := range [][2]string{
			{":method", "GET"}, {":scheme", "https"}, {":authority", "www.example.org"}, {":path", "/static/f" + strconv.Itoa(i) + ".txt"},
			{"user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
			{"accept", "*/*"}, {"accept-encoding", "gzip, deflate, br, zstd"}, {"priority", "u=4, i"},
		} {
			enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1], Sensitive: kv[0] == ":path"})
		}
		blocks = append(blocks, bytes.Clone(buf.Bytes()))
	}
	c := newConn(&Server{}, nil, &ConnOptions{Info: &h1.ConnInfo{}})
	var r Request
	var scratch []byte
	// The first block fills the decoder's table, as a connection's first
	// request does.
	c.blk = blocks[0]
	if err := c.decode(&r, &scratch, false); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 1
	for b.Loop() {
		r = Request{Headers: r.Headers[:0]}
		scratch = scratch[:0]
		c.blk = blocks[i]
		if err := c.decode(&r, &scratch, false); err != nil {
			b.Fatal(err)
		}
		c.fp.finish(true)
		if r.Status != 0 || c.fp.malformed != "" {
			b.Fatal(r.Status, c.fp.malformed)
		}
		if i++; i == len(blocks) {
			i = 1
		}
	}
}
