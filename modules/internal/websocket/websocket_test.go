package websocket

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// mask builds a masked client frame.
func mask(op byte, payload []byte, m [4]byte) []byte {
	b := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = append(b, m[:]...)
	for i, c := range payload {
		b = append(b, c^m[i%4])
	}
	return b
}

// decodeAll feeds in in pieces of size step and collects the results.
func decodeAll(in []byte, step int) (data, pongs []byte, err error) {
	d := Decoder{Before: OpText}
	in = append([]byte(nil), in...)
	for i := 0; i < len(in) && err == nil; i += step {
		end := min(i+step, len(in))
		err = d.Decode(in[i:end], func(p []byte) error { data = append(data, p...); return nil },
			func(p []byte) error {
				pongs = append(pongs, '[')
				pongs = append(pongs, p...)
				pongs = append(pongs, ']')
				return nil
			})
	}
	return data, pongs, err
}

func TestDecoder(t *testing.T) {
	m := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	big := bytes.Repeat([]byte("x"), 70000)
	for _, tc := range []struct {
		name        string
		in          []byte
		data, pongs string
		err         error
	}{
		{"text", mask(OpText, []byte("Hello"), m), "Hello", "", nil},
		{"binary 16-bit length", mask(OpBin, big[:300], m), string(big[:300]), "", nil},
		{"64-bit length", mask(OpBin, big, m), string(big), "", nil},
		{"continuation", append(mask(OpText, []byte("ab"), m), mask(OpCont, []byte("cd"), m)...), "abcd", "", nil},
		{"ping answered", mask(OpPing, []byte("p"), m), "", "[p]", nil},
		{"empty ping", mask(OpPing, nil, m), "", "[]", nil},
		{"pong dropped", mask(OpPong, []byte("x"), m), "", "", nil},
		{"continuation after a ping keeps the data type", append(append(mask(OpText, []byte("a"), m), mask(OpPing, nil, m)...), mask(OpCont, []byte("b"), m)...), "ab", "[]", nil},
		{"close", mask(OpClose, []byte{3, 232}, m), "", "", ErrClose},
		{"unmasked", []byte{0x81, 0x01, 'x'}, "", "", ErrUnmasked},
		{"reserved opcode", mask(0x3, nil, m), "", "", ErrOpcode},
		{"huge ping", append([]byte{0x89, 0x80 | 127}, binary.BigEndian.AppendUint64(nil, MaxControl+1)...), "", "", ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, step := range []int{1, 3, len(tc.in)} {
				data, pongs, err := decodeAll(tc.in, step)
				if !errors.Is(err, tc.err) || string(data) != tc.data || string(pongs) != tc.pongs {
					t.Fatalf("step %d: data %q pongs %q err %v", step, data, pongs, err)
				}
			}
		})
	}
}

func TestAppendFrame(t *testing.T) {
	for _, tc := range []struct {
		n    int
		head []byte
	}{
		{5, []byte{0x81, 5}},
		{125, []byte{0x81, 125}},
		{126, []byte{0x81, 126, 0, 126}},
		{65536, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	} {
		f := AppendFrame(nil, OpText, make([]byte, tc.n))
		if !bytes.HasPrefix(f, tc.head) || len(f) != len(tc.head)+tc.n {
			t.Errorf("%d bytes: head %v", tc.n, f[:min(len(f), 10)])
		}
	}
	if got := Accept("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("Accept = %q (RFC 6455's example)", got)
	}
}

func TestHybi00(t *testing.T) {
	k1, ok1 := Hybi00Key("18x 6]8vM;54 *(5:  {   U1]8  z [  8")
	k2, ok2 := Hybi00Key("1_ tx7X d  <  nw  334J702) 7]o}` 0")
	if !ok1 || !ok2 || k1 != 155712099 || k2 != 173347027 {
		t.Fatalf("keys %d %v %d %v", k1, ok1, k2, ok2)
	}
	if _, ok := Hybi00Key("12345"); ok {
		t.Error("a key without spaces is refused")
	}
	var got []byte
	d := Hybi00Decoder{}
	if err := d.Decode([]byte("\x00hel"), func(p []byte) error { got = append(got, p...); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := d.Decode([]byte("lo\xff\xff\x00"), func(p []byte) error { got = append(got, p...); return nil }); !errors.Is(err, ErrClose) || string(got) != "hello" {
		t.Fatalf("%q %v", got, err)
	}
	bin := Hybi00Decoder{Binary: true}
	got = nil
	frame := AppendHybi00(nil, []byte{0, 1, 2, 255}, true, false)
	if err := bin.Decode(frame, func(p []byte) error { got = append(got, p...); return nil }); err != nil || !bytes.Equal(got, []byte{0, 1, 2, 255}) {
		t.Fatalf("binary round trip: %v %v", got, err)
	}
}

// FuzzDecoder: hostile client bytes never panic the decoder, and the
// result does not depend on how the bytes are split.
func FuzzDecoder(f *testing.F) {
	f.Add(mask(OpText, []byte("hi"), [4]byte{1, 2, 3, 4}), 1)
	f.Add(mask(OpPing, []byte("p"), [4]byte{}), 2)
	f.Add([]byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 9}, 3)
	f.Fuzz(func(t *testing.T, in []byte, step int) {
		if step <= 0 || step > 64 {
			step = 1
		}
		d1, p1, e1 := decodeAll(in, len(in)+1)
		d2, p2, e2 := decodeAll(in, step)
		if !bytes.Equal(d1, d2) || !bytes.Equal(p1, p2) || !errors.Is(e1, e2) && !errors.Is(e2, e1) {
			t.Fatalf("whole %q %q %v; step %d: %q %q %v", d1, p1, e1, step, d2, p2, e2)
		}
		var hd Hybi00Decoder
		hd.Decode(append([]byte(nil), in...), func([]byte) error { return nil })
	})
}
