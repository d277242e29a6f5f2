package deflate

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

func decode(t testing.TB, cd codec, b []byte) []byte {
	t.Helper()
	var r io.Reader
	var err error
	switch cd {
	case codecGzip:
		r, err = gzip.NewReader(bytes.NewReader(b))
	case codecZlib:
		r, err = zlib.NewReader(bytes.NewReader(b))
	case codecBr:
		r = brotli.NewReader(bytes.NewReader(b))
	case codecZstd:
		var d *zstd.Decoder
		d, err = zstd.NewReader(bytes.NewReader(b))
		if err == nil {
			defer d.Close()
			r = d
		}
	}
	if err != nil {
		t.Fatalf("%v: %v", cd, err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%v: decoding: %v", cd, err)
	}
	return out
}

// TestSettings: deflate.params and deflate.compression-level pick the
// encoder as lighttpd's stream_*_init do.
func TestSettings(t *testing.T) {
	cases := []struct {
		name string
		c    conf
		cd   codec
		want settings
	}{
		{"gzip default is zlib's 6", conf{level: -1}, codecGzip, settings{codec: codecGzip, level: 6}},
		{"gzip level", conf{level: 1}, codecGzip, settings{codec: codecGzip, level: 1}},
		{"params override the level", conf{level: 1, params: &params{gzipLevel: 9, brQuality: 5, zstdLevel: 3}}, codecZlib, settings{codec: codecZlib, level: 9}},
		{"params without gzip.level", conf{level: 3, params: &params{brQuality: 5, zstdLevel: 3}}, codecGzip, settings{codec: codecGzip, level: 6}},
		{"huffman only", conf{level: -1, params: &params{gzipStrategy: 2, brQuality: 5}}, codecGzip, settings{codec: codecGzip, level: -2}},
		{"brotli default quality 5", conf{level: -1}, codecBr, settings{codec: codecBr, level: 5}},
		{"brotli level is quality", conf{level: 9}, codecBr, settings{codec: codecBr, level: 9}},
		{"brotli params", conf{level: 9, params: &params{brQuality: 11, brWindow: 18}}, codecBr, settings{codec: codecBr, level: 11, win: 18}},
		{"zstd default", conf{level: -1}, codecZstd, settings{codec: codecZstd, level: 2}},
		{"zstd level applied as strategy", conf{level: 9}, codecZstd, settings{codec: codecZstd, level: 4}},
		{"zstd params", conf{params: &params{zstdLevel: 1, zstdWindow: 20}}, codecZstd, settings{codec: codecZstd, level: 1, win: 20}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.c.settings(c.cd); got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// TestFilterRoundTrip compresses with every codec and level lighttpd's
// configs can select (brotli quality 1 included, which crashes lighttpd
// 1.4.69) and decodes with the reference decoders.
func TestFilterRoundTrip(t *testing.T) {
	in := []byte(strings.Repeat("round trip through the response filter\n", 2000))
	for _, s := range []settings{
		{codec: codecGzip, level: 1}, {codec: codecGzip, level: 6}, {codec: codecGzip, level: 9}, {codec: codecGzip, level: -2},
		{codec: codecZlib, level: 6}, {codec: codecBr, level: 0}, {codec: codecBr, level: 1}, {codec: codecBr, level: 5},
		{codec: codecBr, level: 11, win: 10}, {codec: codecBr, level: 5, stream: true}, {codec: codecZstd, level: 1}, {codec: codecZstd, level: 4}, {codec: codecZstd, level: 2, win: 10},
	} {
		var out bytes.Buffer
		var gotIn, gotOut int64
		f := newFilter(s, &out, func(i, o int64) { gotIn, gotOut = i, o })
		f.Write(in[:100])
		f.Flush()
		f.Write(in[100:])
		if err := f.Close(); err != nil {
			t.Fatalf("%+v: %v", s, err)
		}
		if !bytes.Equal(decode(t, s.codec, out.Bytes()), in) {
			t.Errorf("%+v: round trip differs", s)
		}
		if gotIn != int64(len(in)) || gotOut != int64(out.Len()) {
			t.Errorf("%+v: counted %d in, %d out; really %d, %d", s, gotIn, gotOut, len(in), out.Len())
		}
		f.Close() // a second Close is harmless
	}
}

// FuzzCompressFilter feeds arbitrary bytes, cut at arbitrary points with
// flushes between, through each codec: the output always decodes to the
// input.
func FuzzCompressFilter(f *testing.F) {
	f.Add([]byte("hello hello hello"), uint8(0), uint16(3))
	f.Add(bytes.Repeat([]byte{0}, 5000), uint8(2), uint16(100))
	f.Add([]byte{}, uint8(3), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, which uint8, cut uint16) {
		all := []settings{{codec: codecGzip, level: 6}, {codec: codecZlib, level: 1}, {codec: codecBr, level: 5}, {codec: codecZstd, level: 2}}
		s := all[int(which)%len(all)]
		var out bytes.Buffer
		fl := newFilter(s, &out, nil)
		rest := data
		for len(rest) > 0 {
			n := min(int(cut)+1, len(rest))
			if _, err := fl.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
			if cut%3 == 0 {
				fl.Flush()
			}
		}
		if err := fl.Close(); err != nil {
			t.Fatal(err)
		}
		if got := decode(t, s.codec, out.Bytes()); !bytes.Equal(got, data) {
			t.Fatalf("%+v: decoded %d bytes, wrote %d", s, len(got), len(data))
		}
	})
}

// BenchmarkCompress100KiB is the work of one uncached compressed response
// of a 100 KiB HTML page (the bench/compare.sh deflate cases).
func BenchmarkCompress100KiB(b *testing.B) {
	var page strings.Builder
	for i := 0; page.Len() < 100<<10; i++ {
		page.WriteString("<tr><td class=\"n\"><a href=\"file")
		page.WriteString(strings.Repeat("x", i%13))
		page.WriteString(".html\">a file name</a></td><td class=\"m\">2024-Jan-01 12:00:00</td></tr>\n")
	}
	in := []byte(page.String()[:100<<10])
	for _, s := range []struct {
		name string
		s    settings
	}{{"gzip", (&conf{level: -1}).settings(codecGzip)}, {"br", (&conf{level: -1}).settings(codecBr)}, {"zstd", (&conf{level: -1}).settings(codecZstd)}} {
		b.Run(s.name, func(b *testing.B) {
			var out bytes.Buffer
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for range b.N {
				out.Reset()
				f := newFilter(s.s, &out, nil)
				f.Write(in)
				f.Close()
			}
			b.ReportMetric(float64(out.Len()), "out-bytes")
		})
	}
}
