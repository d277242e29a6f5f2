package core

import (
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
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
