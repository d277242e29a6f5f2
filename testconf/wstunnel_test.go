package testconf

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// WebSocket opcodes (the test speaks the protocol itself).
const (
	wsOpCont  = 0x0
	wsOpText  = 0x1
	wsOpBin   = 0x2
	wsOpClose = 0x8
	wsOpPing  = 0x9
)

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsEchoBackend is a raw TCP echo server: mod_wstunnel's backend sees the
// payloads, not frames.
func wsEchoBackend(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().(*net.TCPAddr).Port
}

// wsFrame builds a masked client frame.
func wsFrame(op byte, payload []byte) []byte {
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
	mask := [4]byte{1, 2, 3, 4}
	b = append(b, mask[:]...)
	for i, c := range payload {
		b = append(b, c^mask[i%4])
	}
	return b
}

// wsReadFrame reads one server frame (unmasked).
func wsReadFrame(br *bufio.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		io.ReadFull(br, l[:])
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		io.ReadFull(br, l[:])
		n = binary.BigEndian.Uint64(l[:])
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(br, payload)
	return h[0] & 0x0f, payload, err
}

const wsConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.max-read-idle = 3
server.modules = ("mod_wstunnel", "mod_proxy", "mod_cgi")
wstunnel.server = ( "/ws/" => (( "host" => "127.0.0.1", "port" => @BPORT@ )))
$HTTP["url"] =^ "/ws/bin" { wstunnel.frame-type = "binary" }
$HTTP["url"] =^ "/ws/origin" { wstunnel.origins = ( "example.com" ) }
$HTTP["url"] =^ "/ws/ping" { wstunnel.ping-interval = 1 }
$HTTP["url"] =^ "/down/" { wstunnel.server = ( "/down/" => (( "host" => "127.0.0.1", "port" => @DEAD@ ))) }
$HTTP["url"] =^ "/px/" {
	proxy.server = ( "/px/" => (( "host" => "127.0.0.1", "port" => @WSPORT@ )))
	proxy.header = ( "upgrade" => "enable" )
}
$HTTP["url"] =^ "/cgi/" {
	cgi.assign = ( ".pl" => "@PERL@" )
	cgi.upgrade = "enable"
}
`

// wsHandshake sends an upgrade request and returns the response head
// (without Date) and the reader positioned after it.
func wsHandshake(t *testing.T, s *server, path, extra string) (net.Conn, *bufio.Reader, string) {
	return wsHandshakeBody(t, s, path, extra, "")
}

// wsHandshakeBody also sends body right after the head (hybi-00's key3).
func wsHandshakeBody(t *testing.T, s *server, path, extra, body string) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: ws.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n%s\r\n%s", path, extra, body)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: %v after %q", s.name, err, head.String())
		}
		if !strings.HasPrefix(line, "Date: ") {
			head.WriteString(line)
		}
		if line == "\r\n" {
			break
		}
	}
	return c, br, head.String()
}

const wsKey = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

// wsGoEcho is a WebSocket echo server (for mod_proxy, which passes the
// whole WebSocket conversation through).
func wsGoEcho(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				key := ""
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Sec-WebSocket-Key") {
						key = strings.TrimSpace(v)
					}
					if line == "\r\n" {
						break
					}
				}
				fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", wsAccept(key))
				for {
					// Client frames are masked; the echo is not.
					var h [2]byte
					if _, err := io.ReadFull(br, h[:]); err != nil {
						return
					}
					n := uint64(h[1] & 0x7f)
					switch n {
					case 126:
						var l [2]byte
						io.ReadFull(br, l[:])
						n = uint64(binary.BigEndian.Uint16(l[:]))
					case 127:
						var l [8]byte
						io.ReadFull(br, l[:])
						n = binary.BigEndian.Uint64(l[:])
					}
					var mask [4]byte
					io.ReadFull(br, mask[:])
					p := make([]byte, n)
					if _, err := io.ReadFull(br, p); err != nil {
						return
					}
					for i := range p {
						p[i] ^= mask[i%4]
					}
					if h[0]&0x0f == wsOpClose {
						return
					}
					out := []byte{0x80 | h[0]&0x0f}
					if len(p) < 126 {
						out = append(out, byte(len(p)))
					} else {
						out = append(out, 126, byte(len(p)>>8), byte(len(p)))
					}
					if _, err := c.Write(append(out, p...)); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().(*net.TCPAddr).Port
}

func wsPeers(t *testing.T) (g, l *server) {
	lighttpd := requirePeer(t, "lighttpd")
	perl := requirePeer(t, "perl")
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"www/x": "",
		// A CGI that accepts the upgrade and echoes its stdin.
		"www/cgi/echo.pl": "$| = 1; print \"Status: 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\\r\\n\\r\\n\"; binmode STDIN; while (sysread(STDIN, my $b, 4096)) { syswrite(STDOUT, $b); }",
	})
	conf := strings.NewReplacer("@ROOT@", root, "@BPORT@", strconv.Itoa(wsEchoBackend(t)),
		"@DEAD@", strconv.Itoa(freePort(t)), "@WSPORT@", strconv.Itoa(wsGoEcho(t)), "@PERL@", perl).Replace(wsConf)
	g = startServer(t, "golighty", golightyBin, root, conf)
	l = startServer(t, "lighttpd", lighttpd, root, conf)
	return g, l
}

// TestSideBySideWSTunnel: handshakes, echoed frames, pings, closes and the
// refusals of mod_wstunnel, and WebSocket through mod_proxy and through a
// CGI (cgi.upgrade), each as with lighttpd.
func TestSideBySideWSTunnel(t *testing.T) {
	g, l := wsPeers(t)
	both := func(t *testing.T, f func(t *testing.T, s *server) string) {
		t.Helper()
		gr, lr := f(t, g), f(t, l)
		if gr != lr {
			t.Errorf("differ:\ngolighty: %q\nlighttpd: %q", gr, lr)
		}
	}
	for _, tc := range []struct{ name, path, extra string }{
		{"text echo", "/ws/text", wsKey},
		{"binary frame-type", "/ws/bin", wsKey},
		{"binary subprotocol", "/ws/text", wsKey + "Sec-WebSocket-Protocol: chat, binary\r\n"},
		{"base64 subprotocol", "/ws/text", wsKey + "Sec-WebSocket-Protocol: base64\r\n"},
		{"origin allowed", "/ws/origin", wsKey + "Origin: https://www.example.com\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			both(t, func(t *testing.T, s *server) string {
				c, br, head := wsHandshake(t, s, tc.path, tc.extra)
				c.Write(wsFrame(wsOpText, []byte("hello")))
				op, p, err := wsReadFrame(br)
				if err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				// A ping is answered with its payload.
				c.Write(wsFrame(wsOpPing, []byte("are you there")))
				pop, pp, _ := wsReadFrame(br)
				// A fragmented message: continuation frames go through.
				c.Write(append(wsFrame(wsOpText, []byte("frag")), wsFrame(wsOpCont, []byte("ment"))...))
				var got []byte
				for len(got) < 8 {
					_, fp, err := wsReadFrame(br)
					if err != nil {
						break
					}
					got = append(got, fp...)
				}
				// A close is answered with "1000" as text.
				c.Write(wsFrame(wsOpClose, []byte{3, 232}))
				cop, cp, _ := wsReadFrame(br)
				return fmt.Sprintf("%s|%d %q|%d %q|%q|%d %q", head, op, p, pop, pp, got, cop, cp)
			})
		})
	}
	for _, tc := range []struct{ name, path, extra string }{
		{"old version", "/ws/text", "Sec-WebSocket-Key: x\r\nSec-WebSocket-Version: 5\r\n"},
		{"bad version", "/ws/text", "Sec-WebSocket-Version: x13\r\n"},
		{"no key", "/ws/text", "Sec-WebSocket-Version: 13\r\n"},
		{"origin missing", "/ws/origin", wsKey},
		{"origin refused", "/ws/origin", wsKey + "Origin: https://evil-example.com\r\n"},
		{"backend down", "/down/x", wsKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := "GET " + tc.path + " HTTP/1.1\r\nHost: ws.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + tc.extra + "Connection: close\r\n\r\n"
			compareSideBySide(t, g, l, []string{req}, nil, nil)
		})
	}
	t.Run("hybi-00", func(t *testing.T) {
		both(t, func(t *testing.T, s *server) string {
			c, br, head := wsHandshakeBody(t, s, "/ws/old", "Origin: http://ws.example\r\nSec-WebSocket-Key1: 18x 6]8vM;54 *(5:  {   U1]8  z [  8\r\nSec-WebSocket-Key2: 1_ tx7X d  <  nw  334J702) 7]o}` 0\r\n", "Tm[K T2u")
			sum := make([]byte, 16)
			if _, err := io.ReadFull(br, sum); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			c.Write([]byte("\x00hello\xff"))
			frame, err := br.ReadBytes(0xff)
			return fmt.Sprintf("%s|%x|%q %v", head, sum, frame, err)
		})
	})
	t.Run("server ping", func(t *testing.T) {
		both(t, func(t *testing.T, s *server) string {
			_, br, _ := wsHandshake(t, s, "/ws/ping", wsKey)
			op, p, err := wsReadFrame(br)
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			return fmt.Sprintf("%d %q", op, p)
		})
	})
	t.Run("oversized ping", func(t *testing.T) {
		both(t, func(t *testing.T, s *server) string {
			c, br, _ := wsHandshake(t, s, "/ws/text", wsKey)
			h := []byte{0x89, 0x80 | 127}
			h = binary.BigEndian.AppendUint64(h, 16<<20)
			c.Write(h)
			op, p, _ := wsReadFrame(br)
			_, err := br.ReadByte() // the connection ends
			return fmt.Sprintf("%d %q %v", op, p, err)
		})
	})
	t.Run("unmasked frame", func(t *testing.T) {
		both(t, func(t *testing.T, s *server) string {
			c, br, _ := wsHandshake(t, s, "/ws/text", wsKey)
			c.Write([]byte{0x81, 0x02, 'h', 'i'})
			op, p, _ := wsReadFrame(br)
			return fmt.Sprintf("%d %q", op, p)
		})
	})
	t.Run("big frame streamed", func(t *testing.T) {
		both(t, func(t *testing.T, s *server) string {
			c, br, _ := wsHandshake(t, s, "/ws/bin", wsKey)
			big := bytes.Repeat([]byte("0123456789abcdef"), 200000) // 3.2 MB
			go c.Write(wsFrame(wsOpBin, big))
			var got int
			for got < len(big) {
				_, p, err := wsReadFrame(br)
				if err != nil {
					break
				}
				got += len(p)
			}
			return strconv.Itoa(got)
		})
	})
	t.Run("through mod_proxy", func(t *testing.T) {
		both(t, func(t *testing.T, s *server) string {
			c, br, head := wsHandshake(t, s, "/px/chat", wsKey)
			c.Write(wsFrame(wsOpText, []byte("via proxy")))
			op, p, err := wsReadFrame(br)
			return fmt.Sprintf("%s|%d %q %v", head, op, p, err)
		})
	})
	t.Run("through a CGI", func(t *testing.T) {
		both(t, func(t *testing.T, s *server) string {
			c, br, head := wsHandshake(t, s, "/cgi/echo.pl", wsKey)
			io.WriteString(c, "raw bytes both ways")
			got := make([]byte, len("raw bytes both ways"))
			_, err := io.ReadFull(br, got)
			return fmt.Sprintf("%s|%q %v", head, got, err)
		})
	})
}

// TestWSTunnelLeaks: tunnels that end every way (client close frame,
// oversized ping, unmasked frame, client gone without a close, backend
// closing) leave no descriptor behind, and the server keeps serving.
func TestWSTunnelLeaks(t *testing.T) {
	g, _ := wsPeers(t)
	pid := g.cmd.Process.Pid
	// Warm up: the first tunnel opens what the server keeps (pools, logs).
	c, br, _ := wsHandshake(t, g, "/ws/text", wsKey)
	c.Write(wsFrame(wsOpText, []byte("warm")))
	wsReadFrame(br)
	c.Close()
	time.Sleep(200 * time.Millisecond)
	before := cgiOpenFDs(t, pid)
	for i := 0; i < 10; i++ {
		for _, end := range []func(c net.Conn){
			func(c net.Conn) { c.Write(wsFrame(wsOpClose, nil)) },
			func(c net.Conn) {
				h := []byte{0x89, 0x80 | 127}
				c.Write(binary.BigEndian.AppendUint64(h, 1<<40))
			},
			func(c net.Conn) { c.Write([]byte{0x81, 0x01, 'x'}) },
			func(c net.Conn) { c.(*net.TCPConn).SetLinger(0) },
		} {
			c, br, _ := wsHandshake(t, g, "/ws/text", wsKey)
			c.Write(wsFrame(wsOpText, []byte("x")))
			wsReadFrame(br)
			end(c)
			c.Close()
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && cgiOpenFDs(t, pid) > before {
		time.Sleep(100 * time.Millisecond)
	}
	if n := cgiOpenFDs(t, pid); n > before {
		t.Errorf("descriptors: %d before, %d after", before, n)
	}
	c, br, _ = wsHandshake(t, g, "/ws/text", wsKey)
	c.Write(wsFrame(wsOpText, []byte("still here")))
	if _, p, err := wsReadFrame(br); err != nil || string(p) != "still here" {
		t.Fatalf("after the hostile tunnels: %q %v", p, err)
	}
}
