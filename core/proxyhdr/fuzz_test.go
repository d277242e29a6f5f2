package proxyhdr

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

func fuzzSeeds() [][]byte {
	return [][]byte{
		[]byte("PROXY TCP4 192.0.2.1 192.0.2.2 4444 80\r\nGET / HTTP/1.0\r\n\r\n"),
		[]byte("PROXY TCP6 ::ffff:1.2.3.4 ::1 1 2\r\n"),
		[]byte("PROXY UNKNOWN\r\n"),
		v2(0x21, 0x11, v4a),
		v2(0x20, 0x00, nil),
		v2(0x21, 0x21, ipv6Block(v6src, mapped, 1, 2)),
		v2(0x21, 0x31, unixBlock("/run/a.sock", "/run/b.sock")),
		v2(0x21, 0x11, cat(v4a, sslTLV(0x07, 0, tlv(0x21, []byte("TLSv1.3")), tlv(0x22, []byte("cn"))), tlv(5, []byte("id")))),
		v2(0x21, 0x11, cat(v4a, []byte{0x20, 0, 9, 1, 0})),
		[]byte("GET / HTTP/1.0\r\n\r\n"),
	}
}

// FuzzParse: framing and decoding never panic, a complete frame fits the
// limit, and an accepted header carries a usable address.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := Frame(data)
		if err != nil || n == 0 {
			if _, perr := Parse(data); perr == nil {
				t.Fatalf("Parse accepted %q that Frame refused (%d, %v)", data, n, err)
			}
			return
		}
		if n > MaxLen || n > len(data) {
			t.Fatalf("Frame = %d for %d bytes", n, len(data))
		}
		h, err := Parse(data[:n])
		if err != nil {
			return
		}
		if h.Version != 1 && h.Version != 2 {
			t.Fatalf("version %d", h.Version)
		}
		if h.HasAddr && h.Port == 0 && h.Version == 1 {
			t.Fatalf("v1 header with port 0 accepted: %q", data[:n])
		}
		unixSrc := data[0] == sigV2[0] && data[13] == 0x31
		if h.HasAddr && !unixSrc {
			if _, err := netip.ParseAddr(h.Addr); err != nil {
				t.Fatalf("address %q of %q does not parse: %v", h.Addr, data[:n], err)
			}
		}
		if !h.HasAddr && (h.TLS || len(h.Env) > 0) {
			t.Fatalf("TLV data without an address: %q", data[:n])
		}
	})
}

// FuzzRead feeds a real socket in two writes: Read never consumes a byte
// past the header, whatever the input and wherever it is split.
func FuzzRead(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s, uint8(len(s)/2))
	}
	ln := listen(f)
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		if len(data) > 4*MaxLen {
			return
		}
		cut := min(int(split), len(data))
		client, server := tcpPair(t, ln)
		go func() {
			client.Write(data[:cut])
			time.Sleep(time.Millisecond)
			client.Write(data[cut:])
			client.(*net.TCPConn).CloseWrite()
		}()
		h, err := Read(server, time.Now().Add(2*time.Second))
		n, ferr := Frame(data)
		if err != nil {
			if h != nil {
				t.Fatal("header with an error")
			}
			if ferr == nil && n > 0 {
				if _, perr := Parse(data[:n]); perr == nil {
					t.Fatalf("Read failed (%v) on a valid header %q", err, data[:n])
				}
			}
			return
		}
		if ferr != nil || n == 0 {
			t.Fatalf("Read accepted %q that Frame refuses", data)
		}
		rest, _ := io.ReadAll(server)
		if !bytes.Equal(rest, data[n:]) {
			t.Fatalf("after the header: %q, want %q", rest, data[n:])
		}
	})
}
