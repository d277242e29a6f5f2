package core

import (
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golighty/golighty/core/h1"
)

// connStartModule applies a PROXY header at connection start, as
// mod_extforward does, and records what each hook saw.
type connStartModule struct{}

var connStartLog struct {
	sync.Mutex
	lines []string
}

func logConnStart(s string) {
	connStartLog.Lock()
	connStartLog.lines = append(connStartLog.lines, s)
	connStartLog.Unlock()
}

func (connStartModule) Setup(*SetupContext) error { return nil }

func (connStartModule) ConnStart(rc *Request) bool {
	logConnStart("start " + rc.Conn.RemoteIP + " name=" + rc.Conf.ServerName + " tag=" + rc.Conf.ServerTag + " prefix=" + rc.Conf.ErrorfilePrefix)
	h, err := rc.ReadProxyHeader()
	if err != nil {
		logConnStart("drop " + err.Error())
		return false
	}
	if _, err := rc.ReadProxyHeader(); err == nil {
		logConnStart("second read allowed")
	}
	if h.HasAddr {
		rc.SetRemoteAddr(h.Addr, h.Port)
	}
	if h.TLS {
		rc.SetScheme("https")
	}
	return true
}

func (connStartModule) URIRaw(rc *Request) Result {
	logConnStart("request " + rc.Conn.RemoteIP + " " + rc.URI.Scheme + " tag=" + rc.Conf.ServerTag)
	return GoOn
}

func init() {
	Register(ModuleInfo{Name: "mod_test_connstart", New: func() Module { return connStartModule{} }})
}

// tcpAddrConn gives an in-memory connection a TCP peer address.
type tcpAddrConn struct {
	net.Conn
	remote *net.TCPAddr
}

func (c tcpAddrConn) RemoteAddr() net.Addr { return c.remote }

func TestConnStart(t *testing.T) {
	s := mustCompile(t, `
server.document-root = "@DIR@"
server.modules = ("mod_test_connstart")
$HTTP["host"] == "x" { server.tag = "host" } else { server.tag = "else" }
$SERVER["socket"] == ":80" { server.name = "sock" }
$HTTP["remoteip"] == "127.0.0.0/8" { server.errorfile-prefix = "loopback" }
$HTTP["remoteip"] == "192.0.2.0/24" { server.tag = "doc-net" }
`)
	srv := NewServer(s, nil)
	get := "GET / HTTP/1.1\r\nHost: y\r\n\r\n"
	tests := []struct {
		name   string
		send   string
		want   []string // hook log
		closed bool     // no response at all
	}{
		{"v1 address lasts for the connection", "PROXY TCP4 192.0.2.1 192.0.2.2 4444 80\r\n" + get + get,
			[]string{"start 127.0.0.1 name=sock tag=" + ServerTag + " prefix=loopback", "request 192.0.2.1 http tag=doc-net", "request 192.0.2.1 http tag=doc-net"}, false},
		{"unknown keeps the peer", "PROXY UNKNOWN\r\n" + get,
			[]string{"start 127.0.0.1 name=sock tag=" + ServerTag + " prefix=loopback", "request 127.0.0.1 http tag=else"}, false},
		{"v2 ssl tlv makes https", string(sslHeader()) + get,
			[]string{"start 127.0.0.1 name=sock tag=" + ServerTag + " prefix=loopback", "request 198.51.100.9 https tag=else"}, false},
		{"no header drops", get,
			[]string{"start 127.0.0.1 name=sock tag=" + ServerTag + " prefix=loopback", "drop invalid/unsupported PROXY header"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			connStartLog.Lock()
			connStartLog.lines = nil
			connStartLog.Unlock()
			client, server := net.Pipe()
			done := make(chan struct{})
			go func() {
				defer close(done)
				srv.ServeConn(tcpAddrConn{server, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}}, ":80")
			}()
			go io.WriteString(client, tt.send)
			var out bytes.Buffer
			buf := make([]byte, 4096)
			for {
				client.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				n, err := client.Read(buf)
				out.Write(buf[:n])
				if err != nil {
					break
				}
			}
			client.Close()
			<-done
			connStartLog.Lock()
			got := strings.Join(connStartLog.lines, "\n")
			connStartLog.Unlock()
			if got != strings.Join(tt.want, "\n") {
				t.Fatalf("hooks saw:\n%s\nwant:\n%s", got, strings.Join(tt.want, "\n"))
			}
			if tt.closed != (out.Len() == 0) {
				t.Fatalf("response %q, closed without one: %v", out.String(), tt.closed)
			}
		})
	}
}

// sslHeader is a PROXY v2 header from 198.51.100.9 whose client used TLS.
func sslHeader() []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x14")
	b = append(b, 198, 51, 100, 9, 192, 0, 2, 1, 0x10, 0, 0, 80)
	return append(b, 0x20, 0, 5, 1, 0, 0, 0, 0)
}

func TestResetConditionsOn(t *testing.T) {
	s := mustCompile(t, `
server.document-root = "/srv"
$HTTP["url"] =~ "^/(a)" { server.name = "url" }
$HTTP["remoteip"] =~ "^(10)\." {
	server.tag = "ten"
	$HTTP["url"] =^ "/" { server.errorfile-prefix = "nested" }
}
else $HTTP["host"] == "h" { server.tag = "else-host" }
$HTTP["scheme"] == "https" { server.error-handler = "/tls" }
`)
	rc := newRequest(s, "GET", "h", "/a")
	before := s.Core.Table.Resolve(rc)
	if before.ServerName != "url" || before.ServerTag != "else-host" || before.ErrorfilePrefix != "" || before.ErrorHandler != "" {
		t.Fatalf("before: %+v", before)
	}
	rc.SetRemoteAddr("10.1.2.3", 0)
	after := s.Core.Table.Resolve(rc)
	if after.ServerName != "url" || after.ServerTag != "ten" || after.ErrorfilePrefix != "nested" || after.ErrorHandler != "" {
		t.Fatalf("after SetRemoteAddr: %+v", after)
	}
	if caps := rc.CondCaptures(2, nil); len(caps) != 2 || caps[1] != "10" {
		t.Fatalf("remoteip captures: %q", caps)
	}
	if caps := rc.CondCaptures(1, nil); len(caps) != 2 || caps[1] != "a" {
		t.Fatalf("url captures lost: %q", caps)
	}
	rc.SetScheme("https")
	if c := s.Core.Table.Resolve(rc); c.ErrorHandler != "/tls" || c.ServerTag != "ten" {
		t.Fatalf("after SetScheme: %+v", c)
	}
	rc.SetRemoteAddr("127.0.0.1", 1)
	if c := s.Core.Table.Resolve(rc); c.ServerTag != "else-host" || c.ErrorfilePrefix != "" {
		t.Fatalf("back to the peer: %+v", c)
	}
	if caps := rc.CondCaptures(2, nil); len(caps) != 0 {
		t.Fatalf("stale remoteip captures: %q", caps)
	}
}

// startListenerForTest listens on loopback through a startListener of a
// server whose config loads mod_test_connstart; ln is the plain listener
// (its address), wl the wrapping one.
func startListenerForTest(t *testing.T) (ln, wl net.Listener) {
	t.Helper()
	s := mustCompile(t, "server.document-root = \"@DIR@\"\nserver.modules = (\"mod_test_connstart\")\n")
	srv := NewServer(s, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, srv.startWrap(ln, "127.0.0.1:80")
}

// TestStartConnSocket: on a real socket the connection keeps its
// descriptor and half-close visible, runs the hooks on first use, honours a
// read deadline the engine set before (a TLS handshake's) and puts it back
// after the header.
func TestStartConnSocket(t *testing.T) {
	ln, wl := startListenerForTest(t)
	tests := []struct {
		name     string
		send     string
		deadline time.Duration // set by "the engine" before its first read
		want     string        // RemoteAddr after the start
		readErr  bool          // the read after the header fails (deadline, refusal)
	}{
		{"header then data", "PROXY TCP4 192.0.2.5 192.0.2.1 1234 80\r\nGET", 0, "192.0.2.5:1234", false},
		{"engine deadline ends a slow header", "PROXY TCP4 192.0", 150 * time.Millisecond, "127.0.0.1", true},
		{"engine deadline is put back", "PROXY UNKNOWN\r\n", 150 * time.Millisecond, "127.0.0.1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			// A deadline lost would block the read for good: end it.
			stop := time.AfterFunc(3*time.Second, func() { client.Close() })
			defer stop.Stop()
			io.WriteString(client, tt.send)
			c, err := wl.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, ok := c.(interface {
				SyscallConn() (syscall.RawConn, error)
			}); !ok {
				t.Fatal("the socket's descriptor is hidden (no sendfile)")
			}
			if _, ok := c.(interface{ CloseWrite() error }); !ok {
				t.Fatal("the socket's half-close is hidden")
			}
			if tt.deadline > 0 {
				c.SetReadDeadline(time.Now().Add(tt.deadline))
			}
			start := time.Now()
			buf := make([]byte, 3)
			_, rerr := io.ReadFull(c, buf)
			if (rerr != nil) != tt.readErr {
				t.Fatalf("read: %v (%q)", rerr, buf)
			}
			if el := time.Since(start); tt.deadline > 0 && el > tt.deadline+time.Second {
				t.Fatalf("the engine's deadline of %v held for %v", tt.deadline, el)
			}
			if got := c.RemoteAddr().String(); !strings.HasPrefix(got, tt.want) {
				t.Fatalf("RemoteAddr = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestStartConnRawSocket: over a plain socket the connection is an
// h1.RawSocket (raw I/O, parking), and asking for its descriptor runs the
// hooks first, so a raw read starts after the PROXY header; a refused
// connection gives no descriptor.
func TestStartConnRawSocket(t *testing.T) {
	ln, wl := startListenerForTest(t)
	accept := func(send string) net.Conn {
		t.Helper()
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		io.WriteString(client, send)
		c, err := wl.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, ok := c.(h1.RawSocket); !ok {
			t.Fatalf("%T is no h1.RawSocket: idle connections would keep a goroutine", c)
		}
		return c
	}

	c := accept("PROXY TCP4 192.0.2.5 192.0.2.1 1234 80\r\nGET")
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var buf [16]byte
	var n int
	var rerr error
	if err := rc.Read(func(fd uintptr) bool {
		n, rerr = syscall.Read(int(fd), buf[:])
		return rerr != syscall.EAGAIN
	}); err != nil || rerr != nil {
		t.Fatal(err, rerr)
	}
	if got := string(buf[:n]); got != "GET" {
		t.Fatalf("raw read after SyscallConn: %q, want the bytes after the PROXY header", got)
	}
	if got := c.RemoteAddr().String(); got != "192.0.2.5:1234" {
		t.Fatalf("RemoteAddr = %s", got)
	}

	c = accept("NOT A PROXY HEADER\r\n")
	if _, err := c.(syscall.Conn).SyscallConn(); err == nil {
		t.Fatal("a connection its hooks refused handed out its descriptor")
	}
}
