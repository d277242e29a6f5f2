package scgi

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestSCGIEncoding(t *testing.T) {
	var e Env
	e.Reset(false)
	e.Add("CONTENT_LENGTH", "5")
	e.Add("REQUEST_METHOD", "POST")
	b, err := e.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	want := "44:CONTENT_LENGTH\x005\x00REQUEST_METHOD\x00POST\x00SCGI\x001\x00,"
	if string(b) != want {
		t.Fatalf("got %q, want %q", b, want)
	}
	vars, err := ReadSCGI(bufio.NewReader(bytes.NewReader(b)), 1<<20)
	if err != nil || len(vars) != 3 || vars[2] != (Var{"SCGI", "1"}) {
		t.Fatalf("decoded %v, %v", vars, err)
	}
}

func TestUwsgiEncoding(t *testing.T) {
	var e Env
	e.Reset(true)
	e.Add("CONTENT_LENGTH", "0")
	e.Add("A", "")
	b, err := e.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	want := "\x00\x18\x00\x00\x0e\x00CONTENT_LENGTH\x01\x000\x01\x00A\x00\x00"
	if string(b) != want {
		t.Fatalf("got %q, want %q", b, want)
	}
	for _, tc := range []struct {
		name string
		add  func(*Env)
		err  error
	}{
		{"value over 64 KiB", func(e *Env) { e.Add("X", strings.Repeat("v", 65536)) }, ErrVarTooLarge},
		{"block over 64 KiB", func(e *Env) {
			for i := 0; i < 3; i++ {
				e.Add("X", strings.Repeat("v", 30000))
			}
		}, ErrTooLarge},
		{"block of exactly 64 KiB - 1", func(e *Env) { e.Add("X", strings.Repeat("v", 0xffff-5)) }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e Env
			e.Reset(true)
			tc.add(&e)
			if _, err := e.Bytes(); !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
		})
	}
}

// FuzzRoundTrip: variables survive encoding and decoding in both
// protocols (names without NUL, as CGI names are).
func FuzzRoundTrip(f *testing.F) {
	f.Add("CONTENT_LENGTH", "0", "HTTP_X", "a\x00b")
	f.Add("A", "", "B", strings.Repeat("x", 300))
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2 string) {
		if strings.IndexByte(n1+n2, 0) >= 0 {
			return
		}
		for _, uwsgi := range []bool{false, true} {
			var e Env
			e.Reset(uwsgi)
			e.Add("CONTENT_LENGTH", "0")
			e.Add(n1, v1)
			e.Add(n2, v2)
			b, err := e.Bytes()
			if err != nil {
				continue // too large for uwsgi
			}
			var got []Var
			if uwsgi {
				got, err = ReadUwsgi(bufio.NewReader(bytes.NewReader(b)))
			} else {
				if strings.IndexByte(v1+v2, 0) >= 0 {
					continue // SCGI values cannot hold NUL
				}
				got, err = ReadSCGI(bufio.NewReader(bytes.NewReader(b)), 1<<24)
			}
			if err != nil || len(got) < 3 || got[1] != (Var{n1, v1}) || got[2] != (Var{n2, v2}) {
				t.Fatalf("uwsgi=%v: %q -> %v, %v", uwsgi, b, got, err)
			}
		}
	})
}

// FuzzDecode: hostile bytes never panic the decoders.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("5:A\x00B\x00,"))
	f.Add([]byte("\x00\x05\x00\x00\x01\x00A\x00\x00"))
	f.Add([]byte("99999999999:"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ReadSCGI(bufio.NewReader(bytes.NewReader(b)), 1<<16)
		ReadUwsgi(bufio.NewReader(bytes.NewReader(b)))
	})
}
