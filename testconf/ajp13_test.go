package testconf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// ajpResponder is an AJP/1.3 container written for these tests (its own
// decoder, not golighty's): it echoes the FORWARD_REQUEST fields, headers,
// attributes and body it received, or misbehaves by path.
type ajpResponder struct {
	ln net.Listener
	wg sync.WaitGroup
}

func startAJPResponder(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &ajpResponder{ln: ln}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				defer c.Close()
				ajpServe(c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); r.wg.Wait() })
	return ln.Addr().(*net.TCPAddr).Port
}

// ajpReadPacket reads a server-to-container packet (0x12 0x34 len data).
func ajpReadPacket(br *bufio.Reader) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, err
	}
	if h[0] != 0x12 || h[1] != 0x34 {
		return nil, fmt.Errorf("bad prefix %x", h[:2])
	}
	p := make([]byte, binary.BigEndian.Uint16(h[2:]))
	_, err := io.ReadFull(br, p)
	return p, err
}

var ajpReqHeaderNames = map[uint16]string{0xA001: "accept", 0xA002: "accept-charset", 0xA003: "accept-encoding",
	0xA004: "accept-language", 0xA005: "authorization", 0xA006: "connection", 0xA007: "content-type",
	0xA008: "content-length", 0xA009: "cookie", 0xA00A: "cookie2", 0xA00B: "host", 0xA00C: "pragma",
	0xA00D: "referer", 0xA00E: "user-agent"}

func ajpPacket(typ byte, payload []byte) []byte {
	b := []byte{'A', 'B', 0, 0, typ}
	b = append(b, payload...)
	binary.BigEndian.PutUint16(b[2:], uint16(len(payload)+1))
	return b
}

func ajpStr(s string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(s)))
	return append(append(b, s...), 0)
}

func ajpHeaders(status int, msg string, headers ...string) []byte {
	p := binary.BigEndian.AppendUint16(nil, uint16(status))
	p = append(p, ajpStr(msg)...)
	p = binary.BigEndian.AppendUint16(p, uint16(len(headers)/2))
	for i := 0; i < len(headers); i += 2 {
		switch headers[i] {
		case "Content-Type":
			p = binary.BigEndian.AppendUint16(p, 0xA001)
		case "Set-Cookie":
			p = binary.BigEndian.AppendUint16(p, 0xA007)
		default:
			p = append(p, ajpStr(headers[i])...)
		}
		p = append(p, ajpStr(headers[i+1])...)
	}
	return ajpPacket(4, p)
}

func ajpBody(data string) []byte {
	return ajpPacket(3, append(binary.BigEndian.AppendUint16(nil, uint16(len(data))), append([]byte(data), 0)...))
}

func ajpServe(c net.Conn) {
	br := bufio.NewReader(c)
	p, err := ajpReadPacket(br)
	if err != nil || len(p) < 2 || p[0] != 2 {
		return
	}
	var out strings.Builder
	fmt.Fprintf(&out, "method=%d\n", p[1])
	q := p[2:]
	str := func() string {
		n := binary.BigEndian.Uint16(q)
		q = q[2:]
		if n == 0xffff {
			return "<null>"
		}
		s := string(q[:n])
		q = q[n+1:]
		return s
	}
	for _, f := range []string{"protocol", "uri", "remote_addr", "remote_host", "server_name"} {
		v := str()
		if f == "server_port" {
			continue
		}
		fmt.Fprintf(&out, "%s=%s\n", f, v)
	}
	q = q[2:] // the server port differs between the two servers
	fmt.Fprintf(&out, "ssl=%d\n", q[0])
	q = q[1:]
	nh := int(binary.BigEndian.Uint16(q))
	q = q[2:]
	cl := 0
	for ; nh > 0; nh-- {
		var name string
		if code := binary.BigEndian.Uint16(q); code >= 0xA000 {
			name = "coded:" + ajpReqHeaderNames[code]
			q = q[2:]
		} else {
			name = str()
		}
		v := str()
		if strings.HasSuffix(name, "content-length") {
			cl, _ = strconv.Atoi(v)
		}
		fmt.Fprintf(&out, "h %s=%s\n", name, v)
	}
	for len(q) > 0 && q[0] != 0xff {
		code := q[0]
		q = q[1:]
		fmt.Fprintf(&out, "attr %d=%s\n", code, str())
	}
	fmt.Fprintf(&out, "terminated=%v\n", len(q) == 1 && q[0] == 0xff)
	// The body: a first packet comes with the request; ask for more.
	var body []byte
	first, err := ajpReadPacket(br)
	if err != nil {
		return
	}
	body = append(body, first...)
	for len(body) < cl {
		c.Write(ajpPacket(6, binary.BigEndian.AppendUint16(nil, 8186)))
		more, err := ajpReadPacket(br)
		if err != nil || len(more) == 0 {
			break
		}
		body = append(body, more...)
	}
	fmt.Fprintf(&out, "body=%q\n", body)
	uri := strings.SplitN(out.String(), "uri=", 2)[1]
	uri = uri[:strings.IndexByte(uri, '\n')]
	switch uri {
	case "/ajp/status":
		c.Write(ajpHeaders(404, "Not Here", "Content-Type", "text/plain", "Set-Cookie", "a=1", "X-App", "x"))
		c.Write(ajpBody("missing\n"))
		c.Write(ajpPacket(5, []byte{0}))
	case "/ajp/statusheader":
		c.Write(ajpHeaders(200, "", "Status", "299 Custom", "Location", "/elsewhere"))
		c.Write(ajpPacket(5, []byte{1}))
	case "/ajp/noheaders":
		c.Write(ajpPacket(5, []byte{1}))
	case "/ajp/bodyfirst":
		c.Write(ajpBody("too early"))
	case "/ajp/badprefix":
		io.WriteString(c, "XY\x00\x02\x04\x00")
	case "/ajp/close":
	case "/ajp/cut":
		c.Write(ajpHeaders(200, "OK", "Content-Type", "text/plain", "Content-Length", "100"))
		c.Write(ajpBody("partial"))
	case "/ajp/big":
		c.Write(ajpHeaders(200, "OK", "Content-Type", "application/octet-stream"))
		chunk := strings.Repeat("z", 8000)
		for i := 0; i < 40; i++ {
			c.Write(ajpBody(chunk))
		}
		c.Write(ajpBody(""))
		c.Write(ajpPacket(5, []byte{1}))
	default:
		c.Write(ajpHeaders(200, "OK", "Content-Type", "text/plain"))
		text := out.String()
		for len(text) > 0 {
			n := min(len(text), 100)
			c.Write(ajpBody(text[:n]))
			text = text[n:]
		}
		c.Write(ajpPacket(5, []byte{1}))
	}
}

const ajpConf = `
server.document-root = "@ROOT@"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_setenv", "mod_ajp13")
ajp13.server = ( "/ajp/" => (( "host" => "127.0.0.1", "port" => @BPORT@ )))
setenv.set-environment = ( "AJP13_SECRET" => "s3cret" )
$HTTP["url"] =^ "/down/" { ajp13.server = ( "/down/" => (( "host" => "127.0.0.1", "port" => @DEAD@ ))) }
`

// TestSideBySideAJP13: what the container receives (fields, coded and
// named headers, attributes, body packets) and how its answers and
// misbehaviour are turned into responses match lighttpd.
func TestSideBySideAJP13(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	root := t.TempDir()
	conf := strings.NewReplacer("@ROOT@", root, "@BPORT@", strconv.Itoa(startAJPResponder(t)), "@DEAD@", strconv.Itoa(freePort(t))).Replace(ajpConf)
	g := startServer(t, "golighty", golightyBin, root, conf)
	l := startServer(t, "lighttpd", lighttpd, root, conf)
	big := strings.Repeat("p", 20000)
	compareSideBySide(t, g, l, []string{
		"GET /ajp/echo?q=1 HTTP/1.0\r\n\r\n",
		"GET /ajp/a%20b HTTP/1.1\r\nHost: Example.com:8080\r\nAccept: */*\r\nAccept-Charset: utf-8\r\nUser-Agent: t\r\nReferer: r\r\nPragma: no-cache\r\nCookie: c=1\r\nCookie2: x\r\nX-Custom: v\r\nAuthorization: Basic eA==\r\nConnection: close\r\n\r\n",
		"POST /ajp/echo HTTP/1.0\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
		"POST /ajp/echo HTTP/1.0\r\nContent-Length: 20000\r\n\r\n" + big,
		"POST /ajp/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"PROPFIND /ajp/echo HTTP/1.0\r\n\r\n",
		"HEAD /ajp/echo HTTP/1.0\r\n\r\n",
		"GET /ajp/status HTTP/1.0\r\n\r\n",
		"GET /ajp/statusheader HTTP/1.0\r\n\r\n",
		"GET /ajp/noheaders HTTP/1.0\r\n\r\n",
		"GET /ajp/bodyfirst HTTP/1.0\r\n\r\n",
		"GET /ajp/badprefix HTTP/1.0\r\n\r\n",
		"GET /ajp/close HTTP/1.0\r\n\r\n",
		"GET /ajp/big HTTP/1.0\r\n\r\n",
		"GET /down/x HTTP/1.0\r\n\r\n",
	}, nil, nil)
}
