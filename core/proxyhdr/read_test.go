package proxyhdr

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t testing.TB, ln net.Listener) (client, server net.Conn) {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { client.Close(); r.c.Close() })
	return client, r.c
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// transports are the two ways Read meets a connection: a socket (peek)
// and a descriptor-less pipe (byte by byte).
func transports(t *testing.T) map[string]func() (net.Conn, net.Conn) {
	ln := listen(t)
	return map[string]func() (net.Conn, net.Conn){
		"tcp": func() (net.Conn, net.Conn) { return tcpPair(t, ln) },
		"pipe": func() (net.Conn, net.Conn) {
			c, s := net.Pipe()
			t.Cleanup(func() { c.Close(); s.Close() })
			return c, s
		},
	}
}

func TestRead(t *testing.T) {
	v1 := []byte("PROXY TCP4 192.0.2.1 192.0.2.2 4444 80\r\n")
	v2h := v2(0x21, 0x11, cat(v4a, sslTLV(0x01, 0, tlv(0x21, []byte("TLSv1.3")))))
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	tests := []struct {
		name    string
		chunks  [][]byte // written with a pause between them
		closeAt bool     // close the client after the chunks
		wait    time.Duration
		want    string // rendered header
		wantErr error
	}{
		{"v1 and request in one segment", [][]byte{cat(v1, req)}, false, time.Second, "v1 192.0.2.1:4444", nil},
		{"v2 and request in one segment", [][]byte{cat(v2h, req)}, false, time.Second, "v2 192.0.2.7:5555 tls SSL_PROTOCOL=TLSv1.3", nil},
		{"v1 split in the signature", [][]byte{v1[:3], cat(v1[3:], req)}, false, time.Second, "v1 192.0.2.1:4444", nil},
		{"v1 split before LF", [][]byte{v1[:len(v1)-1], cat(v1[len(v1)-1:], req)}, false, time.Second, "v1 192.0.2.1:4444", nil},
		{"v2 split in the fixed part", [][]byte{v2h[:10], v2h[10:20], cat(v2h[20:], req)}, false, time.Second, "v2 192.0.2.7:5555 tls SSL_PROTOCOL=TLSv1.3", nil},
		{"header alone", [][]byte{v1}, false, time.Second, "v1 192.0.2.1:4444", nil},
		{"slow header hits the deadline", [][]byte{v1[:20]}, false, 150 * time.Millisecond, "", os.ErrDeadlineExceeded},
		{"nothing sent hits the deadline", nil, false, 150 * time.Millisecond, "", os.ErrDeadlineExceeded},
		{"closed mid-header", [][]byte{v1[:20]}, true, time.Second, "", io.ErrUnexpectedEOF},
		{"closed at once", nil, true, time.Second, "", io.ErrUnexpectedEOF},
		{"plain http", [][]byte{req}, false, time.Second, "", ErrInvalid},
		{"v2 oversized", [][]byte{v2(0x21, 0x11, cat(v4a, tlv(4, make([]byte, 1000))))}, false, time.Second, "", ErrTooLarge},
		{"endless v1 line", [][]byte{append([]byte("PROXY "), bytes.Repeat([]byte("1"), 300)...)}, false, time.Second, "", ErrTooLarge},
		{"bad v1 fields", [][]byte{cat([]byte("PROXY TCP4 a b 1 2\r\n"), req)}, false, time.Second, "", ErrInvalid},
	}
	for tname, pair := range transports(t) {
		for _, tt := range tests {
			t.Run(tname+"/"+tt.name, func(t *testing.T) {
				client, server := pair()
				go func() {
					for i, c := range tt.chunks {
						if i > 0 {
							time.Sleep(30 * time.Millisecond)
						}
						client.Write(c)
					}
					if tt.closeAt {
						client.Close()
					}
				}()
				start := time.Now()
				h, err := Read(server, start.Add(tt.wait))
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("Read error %v, want %v", err, tt.wantErr)
					}
					if errors.Is(err, os.ErrDeadlineExceeded) && time.Since(start) > tt.wait+time.Second {
						t.Fatalf("deadline %v honoured only after %v", tt.wait, time.Since(start))
					}
					return
				}
				if err != nil {
					t.Fatalf("Read: %v", err)
				}
				if got := render(h); got != tt.want {
					t.Fatalf("Read = %q, want %q", got, tt.want)
				}
				// Not one byte past the header was consumed, and the deadline
				// was cleared: the request is still there to read.
				var rest []byte
				for _, c := range tt.chunks {
					rest = append(rest, c...)
				}
				n, _ := Frame(rest)
				rest = rest[n:]
				if len(rest) == 0 {
					return
				}
				got := make([]byte, len(rest))
				if _, err := io.ReadFull(server, got); err != nil || !bytes.Equal(got, rest) {
					t.Fatalf("after the header: %q, %v; want %q", got, err, rest)
				}
			})
		}
	}
}

func TestReadClearsDeadline(t *testing.T) {
	client, server := tcpPair(t, listen(t))
	client.Write([]byte("PROXY UNKNOWN\r\n"))
	if _, err := Read(server, time.Now().Add(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(250 * time.Millisecond)
		client.Write([]byte("x"))
	}()
	var b [1]byte
	if _, err := server.Read(b[:]); err != nil {
		t.Fatalf("a read after the header still had the header's deadline: %v", err)
	}
}
