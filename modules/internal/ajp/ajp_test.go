package ajp

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestForwardRequest(t *testing.T) {
	r := &Request{Method: 2, Protocol: "HTTP/1.1", URI: "/a", RemoteAddr: "127.0.0.1", ServerPort: 80,
		Headers: [][2]string{{"Host", "x"}, {"X-Other", "v"}}, Attrs: []Attr{{AttrQueryString, "q=1"}}}
	b, err := AppendForwardRequest(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	want := "\x12\x34\x00\x43\x02\x02" +
		"\x00\x08HTTP/1.1\x00" + "\x00\x02/a\x00" + "\x00\x09127.0.0.1\x00" + "\xff\xff" + "\xff\xff" +
		"\x00\x50" + "\x00" + "\x00\x02" + "\xa0\x0b\x00\x01x\x00" + "\x00\x07X-Other\x00\x00\x01v\x00" +
		"\x05\x00\x03q=1\x00" + "\xff"
	if string(b) != want {
		t.Fatalf("got  %q\nwant %q", b, want)
	}
	r.Headers = append(r.Headers, [2]string{"X-Big", strings.Repeat("v", MaxPacket)})
	if _, err := AppendForwardRequest(nil, r); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v", err)
	}
}

func TestHeadText(t *testing.T) {
	p := []byte("\x00\xc8\x00\x02OK\x00\x00\x03" + "\xa0\x01\x00\x0atext/plain\x00" + "\x00\x03X-A\x00\x00\x01a\x00" + "\xa0\x0a\x00\x03299\x00")
	got, err := HeadText(nil, p)
	if err != nil || string(got) != "HTTP/1.1 200 OK\nContent-Type: text/plain\nX-A: a\nStatus: 299\n\n" {
		t.Fatalf("%q %v", got, err)
	}
	// An unknown code ends the list.
	got, _ = HeadText(nil, []byte("\x01\x94\x00\x00\x00\x00\x02\xa0\x0c\x00\x01x\x00"))
	if string(got) != "HTTP/1.1 404 \n\n" {
		t.Fatalf("%q", got)
	}
}

// FuzzPackets: container packets of any shape decode without panicking.
func FuzzPackets(f *testing.F) {
	f.Add([]byte("AB\x00\x03\x04\x00\xc8"))
	f.Add([]byte("AB\x00\x06\x03\x00\x02ok\x00"))
	f.Add([]byte("AB\x00\x01\x05"))
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReader(bytes.NewReader(b))
		for {
			typ, p, err := ReadPacket(br)
			if err != nil {
				return
			}
			switch typ {
			case SendHeaders:
				if h, err := HeadText(nil, p); err == nil && !bytes.HasSuffix(h, []byte("\n\n")) {
					t.Fatalf("head %q", h)
				}
			case SendBodyChunk:
				BodyChunk(p)
			case GetBodyChunk:
				Requested(p)
			}
		}
	})
}
