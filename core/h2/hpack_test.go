package h2

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/golighty/golighty/core/h1"
	"golang.org/x/net/http2/hpack"
)

// TestAppendString: every string decodes to itself, Huffman-coded exactly
// when that is shorter, behind the shortest length prefix.
func TestAppendString(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var inputs []string
	for n := 0; n <= 300; n++ {
		text := strings.Repeat("etag-0123456789 GMT", 20)[:n] // Huffman is shorter
		raw := make([]byte, n)                                // Huffman is longer
		for i := range raw {
			raw[i] = byte(128 + rng.IntN(128))
		}
		inputs = append(inputs, text, string(raw))
	}
	for _, s := range inputs {
		b := appendString([]byte{0xAA}, s)
		if b[0] != 0xAA {
			t.Fatalf("len %d: the bytes before were changed", len(s))
		}
		b = b[1:]
		huff := hpack.HuffmanEncodeLength(s) < uint64(len(s))
		wantLen := uint64(len(s))
		if huff {
			wantLen = hpack.HuffmanEncodeLength(s)
		}
		prefix := appendVarInt(nil, 0, 7, wantLen)
		if len(b) != len(prefix)+int(wantLen) || (b[0]&0x80 != 0) != huff {
			t.Fatalf("len %d: %d bytes, Huffman bit %v; want %d bytes, Huffman %v", len(s), len(b), b[0]&0x80 != 0, len(prefix)+int(wantLen), huff)
		}
		b[0] &^= 0x80
		if string(b[:len(prefix)]) != string(prefix) {
			t.Fatalf("len %d: prefix % x, want % x", len(s), b[:len(prefix)], prefix)
		}
		got := string(b[len(prefix):])
		if huff {
			var err error
			if got, err = hpack.HuffmanDecodeToString(b[len(prefix):]); err != nil {
				t.Fatalf("len %d: %v", len(s), err)
			}
		}
		if got != s {
			t.Fatalf("len %d: decoded %q", len(s), got)
		}
	}
}

// TestEncodeHead writes hundreds of heads on one connection with field
// names spelled every way handlers and backends spell them, and decodes
// them in order as a client would: each must carry its fields lower-cased
// with their values (fields of one name in their order), :status first,
// and the writer's own date and server exactly once.
func TestEncodeHead(t *testing.T) {
	fields := [][2]string{
		{"Content-Type", "text/plain"}, {"content-type", "text/html"}, {"Content-type", "text/html; charset=UTF-8"},
		{"CONTENT-LENGTH", "1024"}, {"Content-Length", "7"}, {"ETag", `"427083219"`}, {"Etag", `"1"`},
		{"Last-Modified", "Mon, 07 Dec 2026 01:07:04 GMT"}, {"Accept-Ranges", "bytes"}, {"Vary", "Accept-Encoding"},
		{"X-App", "kept"}, {"x-app", "again"}, {"X-Powered-By", "PHP/8.2"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"},
		{"Location", "/elsewhere"}, {"X-" + strings.Repeat("Long", 20), "over 64 bytes of name"},
		{"Cache-Control", strings.Repeat("max-age=1, ", 30)}, {"WWW-Authenticate", `Basic realm="x"`},
	}
	c := newConn(&Server{}, nil, &ConnOptions{Info: &h1.ConnInfo{}})
	c.cfg = &Config{ServerTag: "golighty/test"}
	var got [][2]string
	dec := hpack.NewDecoder(headerTableMax, func(f hpack.HeaderField) { got = append(got, [2]string{f.Name, f.Value}) })
	rng := rand.New(rand.NewPCG(5, 6))
	for block := 0; block < 400; block++ {
		s := &stream{c: c}
		s.rw.s = s
		var want [][2]string
		for n := rng.IntN(8); n > 0; n-- {
			f := fields[rng.IntN(len(fields))]
			s.rw.AddHeader(f[0], f[1])
			want = append(want, [2]string{strings.ToLower(f[0]), f[1]})
		}
		status := []int{200, 404, 304, 206}[rng.IntN(4)]
		c.encodeHead(s, status)
		got = got[:0]
		if _, err := dec.Write(c.encBuf.Bytes()); err != nil {
			t.Fatalf("block %d: %v", block, err)
		}
		if err := dec.Close(); err != nil {
			t.Fatalf("block %d: %v", block, err)
		}
		if len(got) != len(want)+3 || got[0] != [2]string{":status", statusStrings[status]} {
			t.Fatalf("block %d: decoded %q for %q", block, got, want)
		}
		counts := map[string]int{}
		for _, f := range got[1:] {
			counts[f[0]]++
		}
		if counts["date"] != 1 || counts["server"] != 1 {
			t.Fatalf("block %d: %q", block, got)
		}
		// Fields of each name in the order added.
		for _, w := range want {
			i := 1
			for i < len(got) && got[i][0] != w[0] {
				i++
			}
			if i == len(got) || got[i][1] != w[1] {
				t.Fatalf("block %d: %q not next in %q", block, w, got)
			}
			got = append(got[:i:i], got[i+1:]...)
		}
	}
}

// TestSafeValue: CR, LF and NUL anywhere in values of every length are
// found, other bytes (controls, DEL, high bytes) pass.
func TestSafeValue(t *testing.T) {
	for n := 0; n <= 40; n++ {
		for pos := 0; pos < n; pos++ {
			for _, bad := range []byte{'\r', '\n', 0} {
				for _, fill := range []string{"\x01\t\x7f\xff a", "abc\x7f\xffdef"} {
					b := []byte(strings.Repeat(fill, 8)[:n])
					b[pos] = bad
					if safeValue(string(b)) {
						t.Fatalf("%q passed", b)
					}
				}
			}
		}
		if v := strings.Repeat("\x01\t\x1f\x7f\xff\x80a ", 6)[:n]; !safeValue(v) {
			t.Fatalf("%q refused", v)
		}
	}
}
