package deflate

import (
	"io"
	"runtime"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/andybalholm/brotli/matchfinder"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// encoder is a pooled compressor: gzip, zlib, brotli and zstd writers all
// have this shape.
type encoder interface {
	io.WriteCloser
	Flush() error
	Reset(dst io.Writer)
}

// settings select one compressor configuration (mod_deflate's encparms
// resolved against deflate.compression-level).
type settings struct {
	codec codec
	level int // gzip/zlib level (-2 Huffman only .. 9), brotli quality, zstd EncoderLevel
	win   int // brotli LGWin or zstd window log; 0 = the library's default
	// stream selects, for brotli, the encoder that can flush mid-stream
	// (a streamed reply whose handler flushes). A complete body uses the
	// newer matchfinder encoder: at quality 5 it needs about 60% of the
	// older one's CPU for output some 10% smaller.
	stream bool
}

// Encoders are expensive to build (window and hash tables) and cheap to
// reset, so each configuration keeps a pool: memory follows the number of
// responses being compressed at once, not the number served.
var pools sync.Map // settings -> *sync.Pool

func getEncoder(s settings, dst io.Writer) encoder {
	p, ok := pools.Load(s)
	if !ok {
		p, _ = pools.LoadOrStore(s, new(sync.Pool))
	}
	if e, ok := p.(*sync.Pool).Get().(encoder); ok {
		e.Reset(dst)
		return e
	}
	return newEncoder(s, dst)
}

func putEncoder(s settings, e encoder) {
	e.Reset(nil)
	if p, ok := pools.Load(s); ok {
		p.(*sync.Pool).Put(e)
	}
}

func newEncoder(s settings, dst io.Writer) encoder {
	switch s.codec {
	case codecGzip:
		w, err := gzip.NewWriterLevel(dst, s.level)
		if err != nil {
			w, _ = gzip.NewWriterLevel(dst, flate.DefaultCompression)
		}
		return w
	case codecZlib:
		w, err := zlib.NewWriterLevel(dst, s.level)
		if err != nil {
			w, _ = zlib.NewWriterLevel(dst, flate.DefaultCompression)
		}
		return w
	case codecBr:
		if s.stream || s.level > 9 || s.win != 0 {
			win := s.win
			if win == 0 && s.stream {
				win = streamWindow
			}
			return brotli.NewWriterOptions(dst, brotli.WriterOptions{Quality: s.level, LGWin: win})
		}
		return flushless{brotli.NewWriterV2(dst, s.level)}
	default:
		opts := []zstd.EOption{zstd.WithEncoderLevel(zstd.EncoderLevel(s.level)), zstd.WithEncoderConcurrency(1)}
		if s.win != 0 {
			opts = append(opts, zstd.WithWindowSize(1<<s.win))
		}
		w, err := zstd.NewWriter(dst, opts...)
		if err != nil {
			w, _ = zstd.NewWriter(dst, zstd.WithEncoderConcurrency(1))
		}
		return w
	}
}

// streamWindow is brotli's window (log2) for streams unless deflate.params
// sets one: a stream holds its encoder as long as its client takes, and a
// 256 KiB window needs a quarter of the default's memory (about 2.6 MiB).
const streamWindow = 18

// flushless adapts brotli's matchfinder writer, which has no flush: it is
// used only for complete bodies, which are never flushed.
type flushless struct{ *matchfinder.Writer }

func (flushless) Flush() error { return nil }

// filter is the core.BodyFilter that compresses a response: bytes in go
// to the pooled encoder, compressed bytes to the response (or a cache file).
// done runs once with the byte counts when the body ended whole.
type filter struct {
	s    settings
	enc  encoder
	out  countWriter
	in   int64
	done func(in, out int64)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// busy bounds the complete bodies being compressed at once to the number
// of CPUs: compression is CPU-bound, so more at a time only adds encoders
// (a few MiB each) without adding throughput. Streams, which wait on their
// backend and client, are not counted.
var busy = make(chan struct{}, runtime.GOMAXPROCS(0))

func newFilter(s settings, dst io.Writer, done func(in, out int64)) *filter {
	if !s.stream {
		busy <- struct{}{}
	}
	f := &filter{s: s, out: countWriter{w: dst}, done: done}
	f.enc = getEncoder(s, &f.out)
	return f
}

func (f *filter) Write(p []byte) (int, error) {
	f.in += int64(len(p))
	return f.enc.Write(p)
}

func (f *filter) Flush() error { return f.enc.Flush() }

func (f *filter) Close() error {
	if f.enc == nil {
		return nil
	}
	err := f.enc.Close()
	putEncoder(f.s, f.enc)
	f.enc = nil
	if !f.s.stream {
		<-busy
	}
	if err == nil && f.done != nil {
		f.done(f.in, f.out.n)
	}
	return err
}
