package proxyhdr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// v2 builds a v2 header: version/command byte, family byte, payload.
func v2(verCmd, fam byte, payload []byte) []byte {
	b := append([]byte{}, sigV2...)
	b = append(b, verCmd, fam, 0, 0)
	binary.BigEndian.PutUint16(b[14:], uint16(len(payload)))
	return append(b, payload...)
}

func ipv4Block(src, dst [4]byte, sport, dport uint16) []byte {
	b := append(src[:], dst[:]...)
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(b, sport), dport)
}

func ipv6Block(src, dst [16]byte, sport, dport uint16) []byte {
	b := append(src[:], dst[:]...)
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(b, sport), dport)
}

func unixBlock(src, dst string) []byte {
	b := make([]byte, addrLenUnix)
	copy(b, src)
	copy(b[addrLenUnix/2:], dst)
	return b
}

func tlv(typ byte, v []byte) []byte {
	return append(binary.BigEndian.AppendUint16([]byte{typ}, uint16(len(v))), v...)
}

// sslTLV is a PP2_TYPE_SSL value: client bits, verify, sub-TLVs.
func sslTLV(client byte, verify uint32, subs ...[]byte) []byte {
	v := binary.BigEndian.AppendUint32([]byte{client}, verify)
	for _, s := range subs {
		v = append(v, s...)
	}
	return tlv(0x20, v)
}

var (
	v4a    = ipv4Block([4]byte{192, 0, 2, 7}, [4]byte{192, 0, 2, 8}, 5555, 80)
	v6src  = [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}
	mapped = [16]byte{10: 0xff, 11: 0xff, 12: 1, 13: 2, 14: 3, 15: 4}
)

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		wantErr error
		want    string // Header rendered by render
	}{
		{"v1 tcp4", []byte("PROXY TCP4 192.0.2.1 192.0.2.2 4444 80\r\n"), nil, "v1 192.0.2.1:4444"},
		{"v1 tcp6", []byte("PROXY TCP6 2001:db8::1 2001:db8::2 4444 443\r\n"), nil, "v1 2001:db8::1:4444"},
		{"v1 tcp6 keeps the mapped form", []byte("PROXY TCP6 ::ffff:1.2.3.4 ::1 1 2\r\n"), nil, "v1 ::ffff:1.2.3.4:1"},
		{"v1 unknown", []byte("PROXY UNKNOWN\r\n"), nil, "v1 keep"},
		{"v1 unknown with addresses", []byte("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"), nil, "v1 keep"},
		{"v1 src port 0", []byte("PROXY TCP4 192.0.2.1 192.0.2.2 0 80\r\n"), ErrInvalid, ""},
		{"v1 dst port 0", []byte("PROXY TCP4 192.0.2.1 192.0.2.2 1 0\r\n"), ErrInvalid, ""},
		{"v1 port too big", []byte("PROXY TCP4 192.0.2.1 192.0.2.2 65536 80\r\n"), ErrInvalid, ""},
		{"v1 family mismatch", []byte("PROXY TCP4 2001:db8::1 192.0.2.2 1 80\r\n"), ErrInvalid, ""},
		{"v1 tcp6 with ipv4", []byte("PROXY TCP6 1.2.3.4 ::1 1 80\r\n"), ErrInvalid, ""},
		{"v1 bad address", []byte("PROXY TCP4 1.2.3.256 192.0.2.2 1 80\r\n"), ErrInvalid, ""},
		{"v1 zoned address", []byte("PROXY TCP6 fe80::1%eth0 ::1 1 80\r\n"), ErrInvalid, ""},
		{"v1 missing field", []byte("PROXY TCP4 192.0.2.1 192.0.2.2 4444\r\n"), ErrInvalid, ""},
		{"v1 extra field", []byte("PROXY TCP4 192.0.2.1 192.0.2.2 4444 80 x\r\n"), ErrInvalid, ""},
		{"v1 double space", []byte("PROXY TCP4  192.0.2.1 192.0.2.2 4444 80\r\n"), ErrInvalid, ""},
		{"v1 lower-case family", []byte("PROXY tcp4 192.0.2.1 192.0.2.2 4444 80\r\n"), ErrInvalid, ""},
		{"v1 no space", []byte("PROXYTCP4 192.0.2.1 192.0.2.2 4444 80\r\n"), ErrInvalid, ""},
		{"v1 bare", []byte("PROXY\r\n"), ErrInvalid, ""},
		{"v1 CR without LF", []byte("PROXY TCP4 1.2.3.4\rX 5.6.7.8 1 2\r\n"), ErrInvalid, ""},
		{"v1 NUL in line", []byte("PROXY TCP4 192.0.2.1\x00 192.0.2.2 4444 80\r\n"), ErrInvalid, ""},
		{"v1 trailing bytes after the header", []byte("PROXY UNKNOWN\r\nGET"), ErrInvalid, ""},
		{"v1 line too long", []byte("PROXY UNKNOWN " + strings.Repeat("x", 250) + "\r\n"), ErrTooLarge, ""},

		{"v2 tcp4", v2(0x21, 0x11, v4a), nil, "v2 192.0.2.7:5555"},
		{"v2 tcp6", v2(0x21, 0x21, ipv6Block(v6src, v6src, 1, 2)), nil, "v2 2001:db8::1:1"},
		{"v2 tcp6 mapped", v2(0x21, 0x21, ipv6Block(mapped, v6src, 7, 2)), nil, "v2 ::ffff:1.2.3.4:7"},
		{"v2 unix", v2(0x21, 0x31, unixBlock("/run/client.sock", "/run/srv.sock")), nil, "v2 /run/client.sock:0"},
		{"v2 unix path without NUL", v2(0x21, 0x31, unixBlock(strings.Repeat("p", 108), "/s")), ErrInvalid, ""},
		{"v2 port 0 is fine", v2(0x21, 0x11, ipv4Block([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, 0, 0)), nil, "v2 10.0.0.1:0"},
		{"v2 local keeps address", v2(0x20, 0x11, v4a), nil, "v2 keep"},
		{"v2 local with odd family", v2(0x20, 0x77, nil), nil, "v2 keep"},
		{"v2 proxy unspec keeps address", v2(0x21, 0x00, nil), nil, "v2 keep"},
		{"v2 udp keeps address", v2(0x21, 0x12, v4a), nil, "v2 keep"},
		{"v2 undefined family keeps address", v2(0x21, 0x13, v4a), nil, "v2 keep"},
		{"v2 length shorter than the address", v2(0x21, 0x11, v4a[:6]), ErrInvalid, ""},
		{"v2 zero length tcp4", v2(0x21, 0x11, nil), ErrInvalid, ""},
		{"v2 version 1", v2(0x11, 0x11, v4a), ErrInvalid, ""},
		{"v2 command 2", v2(0x22, 0x11, v4a), ErrInvalid, ""},
		{"v2 too large", v2(0x21, 0x11, cat(v4a, tlv(4, make([]byte, 300)))), ErrTooLarge, ""},
		{"v2 largest accepted", v2(0x21, 0x11, cat(v4a, tlv(4, make([]byte, MaxLen-16-12-3)))), nil, "v2 192.0.2.7:5555"},
		{"v2 truncated", v2(0x21, 0x11, v4a)[:20], ErrInvalid, ""},

		{"v2 ssl tlv sets https and env", v2(0x21, 0x11, cat(v4a,
			sslTLV(0x07, 0, tlv(0x21, []byte("TLSv1.3")), tlv(0x22, []byte("alice")), tlv(0x23, []byte("TLS_AES_128_GCM_SHA256")),
				tlv(0x24, []byte("RSA-SHA256")), tlv(0x25, []byte("RSA2048")), tlv(0x28, []byte("cert"))))), nil,
			"v2 192.0.2.7:5555 tls SSL_PROTOCOL=TLSv1.3 SSL_CLIENT_S_DN_CN=alice SSL_CIPHER=TLS_AES_128_GCM_SHA256 SSL_SERVER_A_SIG=RSA-SHA256 SSL_SERVER_A_KEY=RSA2048"},
		{"v2 verify read at lighttpd's offset: zero bytes after it", v2(0x21, 0x11, cat(v4a, sslTLV(0x05, 0, tlv(0x00, nil), tlv(0x22, []byte("alice"))))), nil,
			"v2 192.0.2.7:5555 tls verified SSL_CLIENT_S_DN_CN=alice"},
		{"v2 verify read at lighttpd's offset: failure in the low byte", v2(0x21, 0x11, cat(v4a, sslTLV(0x05, 1, tlv(0x00, nil), tlv(0x22, []byte("alice"))))), nil,
			"v2 192.0.2.7:5555 tls SSL_CLIENT_S_DN_CN=alice"},
		{"v2 verify read at lighttpd's offset: high bytes unseen", v2(0x21, 0x11, cat(v4a, sslTLV(0x05, 0x01000000, tlv(0x00, nil), tlv(0x22, []byte("alice"))))), nil,
			"v2 192.0.2.7:5555 tls verified SSL_CLIENT_S_DN_CN=alice"},
		{"v2 no certificate bits", v2(0x21, 0x11, cat(v4a, sslTLV(0x01, 0, tlv(0x00, nil), tlv(0x22, []byte("alice"))))), nil,
			"v2 192.0.2.7:5555 tls SSL_CLIENT_S_DN_CN=alice"},
		{"v2 ssl failed verification", v2(0x21, 0x11, cat(v4a, sslTLV(0x03, 1, tlv(0x22, []byte("mallory"))))), nil,
			"v2 192.0.2.7:5555 tls SSL_CLIENT_S_DN_CN=mallory"},
		{"v2 ssl without client ssl bit", v2(0x21, 0x11, cat(v4a, sslTLV(0x00, 0))), nil, "v2 192.0.2.7:5555"},
		{"v2 ssl too short is skipped", v2(0x21, 0x11, cat(v4a, tlv(0x20, []byte{1, 0, 0}), tlv(5, []byte("id")))), nil,
			"v2 192.0.2.7:5555 PP2_UNIQUE_ID=id"},
		{"v2 truncated sub-tlv keeps earlier ones", v2(0x21, 0x11, cat(v4a,
			sslTLV(0x01, 0, tlv(0x21, []byte("TLSv1.2")), []byte{0x22, 0, 9, 'x'}))), nil, "v2 192.0.2.7:5555 tls SSL_PROTOCOL=TLSv1.2"},
		{"v2 truncated tlv keeps earlier ones", v2(0x21, 0x11, cat(v4a, tlv(5, []byte("u1")), []byte{0x20, 0, 50, 1})), nil,
			"v2 192.0.2.7:5555 PP2_UNIQUE_ID=u1"},
		{"v2 repeated tlv replaces", v2(0x21, 0x11, cat(v4a, tlv(5, []byte("a")), tlv(5, []byte("b")))), nil, "v2 192.0.2.7:5555 PP2_UNIQUE_ID=b"},
		{"v2 two trailing bytes ignored", v2(0x21, 0x11, cat(v4a, []byte{1, 2})), nil, "v2 192.0.2.7:5555"},
		{"v2 local ignores tlvs", v2(0x20, 0x11, cat(v4a, sslTLV(0x01, 0))), nil, "v2 keep"},
		{"v2 udp ignores tlvs", v2(0x21, 0x12, cat(v4a, sslTLV(0x01, 0))), nil, "v2 keep"},

		{"http request", []byte("GET / HTTP/1.0\r\n\r\n"), ErrInvalid, ""},
		{"empty", nil, ErrInvalid, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := Parse(tt.in)
			if tt.wantErr != nil || err != nil {
				if !errors.Is(err, tt.wantErr) || tt.wantErr == nil {
					t.Fatalf("Parse error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if got := render(h); got != tt.want {
				t.Fatalf("Parse = %q, want %q", got, tt.want)
			}
		})
	}
}

func render(h *Header) string {
	s := fmt.Sprintf("v%d keep", h.Version)
	if h.HasAddr {
		s = fmt.Sprintf("v%d %s:%d", h.Version, h.Addr, h.Port)
	}
	if h.TLS {
		s += " tls"
	}
	if h.CertVerified {
		s += " verified"
	}
	for _, v := range h.Env {
		s += " " + v.Name + "=" + v.Value
	}
	return s
}

func TestFrame(t *testing.T) {
	full := v2(0x21, 0x11, v4a)
	tests := []struct {
		name    string
		in      []byte
		want    int
		wantErr error
	}{
		{"empty needs more", nil, 0, nil},
		{"one byte of v1", []byte("P"), 0, nil},
		{"v1 signature only", []byte("PROXY"), 0, nil},
		{"v1 until CR", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r"), 0, nil},
		{"v1 complete with request behind", []byte("PROXY UNKNOWN\r\nGET / HTTP/1.0\r\n\r\n"), 15, nil},
		{"v1 wrong signature", []byte("PROXZ"), 0, ErrInvalid},
		{"v1 CR then junk", []byte("PROXY x\rx"), 0, ErrInvalid},
		{"v1 no CR in 256 bytes", []byte("PROXY " + strings.Repeat("1", 250)), 0, ErrTooLarge},
		{"v1 CRLF past 256 bytes", []byte("PROXY " + strings.Repeat("1", 249) + "\r\n"), 0, ErrTooLarge},
		{"v1 CRLF ending at 256", []byte("PROXY " + strings.Repeat("1", 248) + "\r\n"), 256, nil},
		{"v2 partial signature", full[:7], 0, nil},
		{"v2 fixed part only", full[:16], 0, nil},
		{"v2 complete", full, len(full), nil},
		{"v2 complete with request behind", append(append([]byte{}, full...), "GET"...), len(full), nil},
		{"v2 wrong signature", []byte("\r\n\r\nX"), 0, ErrInvalid},
		{"v2 bad version", append(append([]byte{}, full[:12]...), 0x31, 0x11, 0, 0), 0, ErrInvalid},
		{"v2 bad command", append(append([]byte{}, full[:12]...), 0x2F, 0x11, 0, 0), 0, ErrInvalid},
		{"v2 length over the limit", append(append([]byte{}, full[:12]...), 0x21, 0x11, 0, 241), 0, ErrTooLarge},
		{"v2 length at the limit", append(append([]byte{}, full[:12]...), 0x21, 0x11, 0, 240), 0, nil},
		{"tls client hello", []byte{0x16, 3, 1}, 0, ErrInvalid},
		{"http", []byte("GET"), 0, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Frame(tt.in)
			if n != tt.want || !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("Frame = %d, %v; want %d, %v", n, err, tt.want, tt.wantErr)
			}
		})
	}
}

// BenchmarkParse is the decoding a PROXY connection pays once (framing
// included), for haproxy's usual headers.
func BenchmarkParse(b *testing.B) {
	for _, tc := range []struct {
		name string
		hdr  []byte
	}{
		{"v1 tcp4", []byte("PROXY TCP4 203.0.113.7 192.0.2.1 44444 80\r\n")},
		{"v2 tcp4", v2(0x21, 0x11, v4a)},
		{"v2 tcp4 ssl", v2(0x21, 0x11, cat(v4a, sslTLV(0x01, 0, tlv(0x21, []byte("TLSv1.3")), tlv(0x23, []byte("TLS_AES_256_GCM_SHA384")))))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(tc.hdr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
