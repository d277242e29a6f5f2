package testconf

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// The same mod_extforward config runs in golighty and lighttpd; clients
// connect from several loopback source addresses (trusted and not), on a
// plain socket and on a hap-PROXY socket, and a PHP script prints what the
// backend sees. Responses and access logs must match.

const extforwardConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_extforward", "mod_access", "mod_setenv", "mod_fastcgi", "mod_accesslog")
server.errorlog = "@ROOT@/@NAME@-error.log"
mimetype.assign = (".txt" => "text/plain")
accesslog.filename = "@ROOT@/@NAME@-access.log"
accesslog.format = "%h %a %u %s %r [%{X-Forwarded-For}i]"
extforward.forwarder = (
	"127.0.0.1" => "trust", "127.0.0.3" => "trust",
	"10.0.0.0/8" => "trust", "10.9.9.9" => "untrusted",
	"2001:db8::10" => "trust", "_hop" => "trust",
)
extforward.headers = ("X-Forwarded-For", "Forwarded", "X-Real-IP")
$SERVER["socket"] == "127.0.0.1:@PPORT@" {
	extforward.hap-PROXY = "enable"
	extforward.hap-PROXY-ssl-client-verify = "enable"
}
$HTTP["remoteip"] == "198.51.100.0/24" { url.access-deny = ("") }
$HTTP["remoteip"] == "203.0.113.0/24" { setenv.add-response-header = ("X-Net" => "doc") }
$HTTP["scheme"] == "https" { setenv.add-response-header = ("X-Scheme" => "https") }
fastcgi.server = ( ".php" => ( "php" => (
	"bin-path" => "@PHP@",
	"socket" => "@ROOT@/@NAME@.sock",
	"max-procs" => 1,
	"bin-environment" => ( "PHP_FCGI_CHILDREN" => "1" ),
)))
`

const extforwardPHP = `<?php header("Content-Type: text/plain");
foreach (["REMOTE_ADDR", "REMOTE_PORT", "HTTPS", "REQUEST_SCHEME", "REMOTE_USER", "AUTH_TYPE", "SSL_CLIENT_VERIFY",
	"SSL_PROTOCOL", "SSL_CIPHER", "SSL_CLIENT_S_DN_CN", "SSL_SERVER_A_SIG", "SSL_SERVER_A_KEY", "PP2_UNIQUE_ID", "HTTP_HOST"] as $k)
	echo $k, "=", $_SERVER[$k] ?? "-", "\n";
`

// extforwardCase is one connection: from src, to the plain or the
// hap-PROXY socket, sending raw (in two writes split at split, if > 0).
type extforwardCase struct {
	name  string
	src   string
	proxy bool
	raw   string
	split int
}

const efGet = "GET /env.php HTTP/1.1\r\nHost: ef\r\n"

func efReq(hdrs ...string) string {
	return efGet + strings.Join(hdrs, "") + "Connection: close\r\n\r\n"
}

// efKeep is a request that keeps the connection open for the next.
func efKeep(hdrs ...string) string { return efGet + strings.Join(hdrs, "") + "\r\n" }

// efV2 builds a PROXY v2 header: command byte, family byte, payload.
func efV2(cmd, fam byte, payload []byte) string {
	b := append([]byte("\r\n\r\n\x00\r\nQUIT\n"), cmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(payload)))
	return string(append(b, payload...))
}

func efTLV(typ byte, v []byte) []byte {
	return append(binary.BigEndian.AppendUint16([]byte{typ}, uint16(len(v))), v...)
}

// efV4 is a TCPv4 address block from 203.0.113.50:5555 to 192.0.2.1:80.
var efV4 = []byte{203, 0, 113, 50, 192, 0, 2, 1, 0x15, 0xb3, 0, 80}

func efSSL(client byte, verify uint32, subs ...[]byte) []byte {
	v := binary.BigEndian.AppendUint32([]byte{client}, verify)
	return efTLV(0x20, append(v, bytes.Join(subs, nil)...))
}

func extforwardCases() []extforwardCase {
	fullSSL := efSSL(0x07, 0, efTLV(0x21, []byte("TLSv1.3")), efTLV(0x22, []byte("alice")),
		efTLV(0x23, []byte("TLS_AES_256_GCM_SHA384")), efTLV(0x24, []byte("RSA-SHA256")), efTLV(0x25, []byte("RSA2048")))
	v6 := append(append([]byte{0x20, 0x01, 0x0d, 0xb8, 15: 7}, make([]byte, 16)...), 0x11, 0x5c, 0, 80)
	return []extforwardCase{
		// Headers on the plain socket.
		{name: "trusted peer, no header", src: "127.0.0.1", raw: efReq()},
		{name: "trusted peer xff", src: "127.0.0.1", raw: efReq("X-Forwarded-For: 203.0.113.7\r\n")},
		{name: "untrusted peer xff ignored", src: "127.0.0.2", raw: efReq("X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n")},
		{name: "spoofed chain", src: "127.0.0.1", raw: efReq("X-Forwarded-For: 203.0.113.66, 6.6.6.6, 203.0.113.8, 10.1.2.3\r\n")},
		{name: "untrusted exact entry in a trusted net", src: "127.0.0.1", raw: efReq("X-Forwarded-For: 203.0.113.8, 10.9.9.9, 10.1.2.3\r\n")},
		{name: "all trusted", src: "127.0.0.3", raw: efReq("X-Forwarded-For: 10.1.1.1, 10.2.2.2\r\n")},
		{name: "long chain", src: "127.0.0.1", raw: efReq("X-Forwarded-For: " + strings.Repeat("10.1.1.1, ", 600) + "203.0.113.9, 10.0.0.1\r\n")},
		{name: "xff with proto https", src: "127.0.0.1", raw: efReq("X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: HTTPS\r\n")},
		{name: "xff proto http", src: "127.0.0.1", raw: efReq("X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: http\r\n")},
		{name: "proto list ignored", src: "127.0.0.1", raw: efReq("X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https, http\r\n")},
		{name: "proto alone ignored", src: "127.0.0.1", raw: efReq("X-Forwarded-Proto: https\r\n")},
		{name: "denied forwarded net", src: "127.0.0.1", raw: efReq("X-Forwarded-For: 198.51.100.4\r\n")},
		{name: "denied net spoofed from untrusted", src: "127.0.0.2", raw: efReq("X-Forwarded-For: 198.51.100.4\r\n")},
		{name: "ipv6 in brackets", src: "127.0.0.1", raw: efReq("X-Forwarded-For: [2001:db8::7]\r\n")},
		{name: "ipv6 upper case", src: "127.0.0.1", raw: efReq("X-Forwarded-For: 2001:DB8::7\r\n")},
		{name: "port glued", src: "127.0.0.1", raw: efReq("X-Forwarded-For: 203.0.113.7:4711\r\nX-Forwarded-Proto: https\r\n")},
		{name: "garbage", src: "127.0.0.1", raw: efReq("X-Forwarded-For: hello world, zz\r\n")},
		{name: "repeated xff lines", src: "127.0.0.1", raw: efReq("X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-For: 10.0.0.3\r\n")},
		{name: "empty xff falls to x-real-ip", src: "127.0.0.1", raw: efReq("X-Forwarded-For:\r\nX-Real-IP: 203.0.113.11\r\n")},
		{name: "xff wins over forwarded", src: "127.0.0.1", raw: efReq("Forwarded: for=1.1.1.1;proto=https\r\nX-Forwarded-For: 203.0.113.12\r\n")},
		{name: "forwarded lone first element", src: "127.0.0.1", raw: efReq("Forwarded: for=203.0.113.7\r\n")},
		{name: "forwarded with proto", src: "127.0.0.1", raw: efReq("Forwarded: for=203.0.113.7;proto=https\r\n")},
		{name: "forwarded chain", src: "127.0.0.1", raw: efReq("Forwarded: for=203.0.113.7;proto=https, for=10.0.0.2\r\n")},
		{name: "forwarded chain, lone first", src: "127.0.0.1", raw: efReq("Forwarded: for=203.0.113.7, for=10.0.0.2\r\n")},
		{name: "forwarded untrusted hop", src: "127.0.0.1", raw: efReq("Forwarded: for=6.6.6.6;proto=http, for=203.0.113.7;proto=https, for=10.0.0.2\r\n")},
		{name: "forwarded quoted v4 port", src: "127.0.0.1", raw: efReq("Forwarded: for=\"203.0.113.7:4711\";proto=https\r\n")},
		{name: "forwarded quoted v6 port", src: "127.0.0.1", raw: efReq("Forwarded: x=1, for=\"[2001:db8::7]:4711\"\r\n")},
		{name: "forwarded trusted v6 proxy", src: "127.0.0.1", raw: efReq("Forwarded: for=\"[2001:db8::7]\";by=x, for=\"[2001:db8::10]\"\r\n")},
		{name: "forwarded obfuscated hop", src: "127.0.0.1", raw: efReq("Forwarded: for=_hidden;proto=https, for=10.0.0.2;proto=http\r\n")},
		{name: "forwarded trusted obfuscated hop", src: "127.0.0.1", raw: efReq("Forwarded: for=203.0.113.7;x=1, for=_hop, for=10.0.0.2\r\n")},
		{name: "forwarded unknown", src: "127.0.0.1", raw: efReq("Forwarded: for=unknown;x=1, for=10.0.0.2\r\n")},
		{name: "forwarded empty for", src: "127.0.0.1", raw: efReq("Forwarded: for=203.0.113.7;x=1, for=\"\", for=10.0.0.2\r\n")},
		{name: "forwarded case and spaces", src: "127.0.0.1", raw: efReq("Forwarded:  FOR=203.0.113.7 ;  Proto=\"HTTPS\" \r\n")},
		{name: "forwarded nameless params", src: "127.0.0.1", raw: efReq("Forwarded: junk;for=203.0.113.7;more;x=1\r\n")},
		{name: "forwarded unterminated quote", src: "127.0.0.1", raw: efReq("Forwarded: for=\"203.0.113.7;p=1\r\n")},
		{name: "forwarded unterminated quote untrusted", src: "127.0.0.2", raw: efReq("Forwarded: for=\"203.0.113.7;p=1\r\n")},
		{name: "forwarded empty brackets", src: "127.0.0.1", raw: efReq("Forwarded: x=1, for=\"[]\"\r\n")},
		{name: "forwarded lone bracket", src: "127.0.0.1", raw: efReq("Forwarded: for=203.0.113.7;p=1, for=\"[\"\r\n")},
		{name: "forwarded 63 params", src: "127.0.0.1", raw: efReq("Forwarded: " + strings.Repeat("a=1;", 62) + "for=203.0.113.7\r\n")},
		{name: "forwarded 64 params", src: "127.0.0.1", raw: efReq("Forwarded: " + strings.Repeat("a=1;", 63) + "for=203.0.113.7\r\n")},
		{name: "address back after the request", src: "127.0.0.1", raw: efKeep("X-Forwarded-For: 203.0.113.7\r\n") + efReq()},
		{name: "forwarded client, then denied client", src: "127.0.0.1", raw: efKeep("X-Forwarded-For: 203.0.113.7\r\n") + efReq("X-Forwarded-For: 198.51.100.9\r\n")},
		{name: "static file", src: "127.0.0.1", raw: "GET /s.txt HTTP/1.0\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n"},

		// The hap-PROXY socket.
		{name: "proxy v1", proxy: true, src: "127.0.0.1", raw: "PROXY TCP4 203.0.113.20 192.0.2.1 4444 80\r\n" + efKeep() + efReq()},
		{name: "proxy v1 tcp6", proxy: true, src: "127.0.0.1", raw: "PROXY TCP6 2001:db8::20 2001:db8::1 4444 80\r\n" + efReq()},
		{name: "proxy v1 unknown", proxy: true, src: "127.0.0.1", raw: "PROXY UNKNOWN\r\n" + efReq()},
		{name: "proxy v1 port 0", proxy: true, src: "127.0.0.1", raw: "PROXY TCP4 203.0.113.20 192.0.2.1 0 80\r\n" + efReq()},
		{name: "proxy v1 bad address", proxy: true, src: "127.0.0.1", raw: "PROXY TCP4 203.0.113.256 192.0.2.1 1 80\r\n" + efReq()},
		{name: "proxy v1 without CRLF", proxy: true, src: "127.0.0.1", raw: "PROXY TCP4 203.0.113.20 192.0.2.1 1 80\n" + efReq()},
		{name: "proxy v2 tcp4", proxy: true, src: "127.0.0.1", raw: efV2(0x21, 0x11, efV4) + efReq()},
		{name: "proxy v2 tcp6", proxy: true, src: "127.0.0.1", raw: efV2(0x21, 0x21, v6) + efReq()},
		{name: "proxy v2 local", proxy: true, src: "127.0.0.1", raw: efV2(0x20, 0x00, nil) + efReq()},
		{name: "proxy v2 proxy unspec", proxy: true, src: "127.0.0.1", raw: efV2(0x21, 0x00, nil) + efReq()},
		{name: "proxy v2 udp", proxy: true, src: "127.0.0.1", raw: efV2(0x21, 0x12, efV4) + efReq()},
		{name: "proxy v2 ssl and verified cert", proxy: true, src: "127.0.0.1", raw: efV2(0x21, 0x11, append(append([]byte{}, efV4...), append(fullSSL, efTLV(0x05, []byte("uid-1"))...)...)) + efReq()},
		{name: "proxy v2 ssl, cert verified as lighttpd reads it", proxy: true, src: "127.0.0.1", raw: efV2(0x21, 0x11, append(append([]byte{}, efV4...),
			efSSL(0x05, 0, efTLV(0x00, nil), efTLV(0x21, []byte("TLSv1.2")), efTLV(0x22, []byte("bob")))...)) + efReq()},
		{name: "proxy v2 ssl, host with port 443", proxy: true, src: "127.0.0.1", raw: efV2(0x21, 0x11, append(append([]byte{}, efV4...), efSSL(0x01, 0, efTLV(0x21, []byte("TLSv1.3")))...)) +
			"GET /env.php HTTP/1.1\r\nHost: EF:443\r\nConnection: close\r\n\r\n"},
		{name: "proxy v2 plain, host with port 443", proxy: true, src: "127.0.0.1", raw: efV2(0x21, 0x11, efV4) +
			"GET /env.php HTTP/1.1\r\nHost: EF:443\r\nConnection: close\r\n\r\n"},
		{name: "proxy v2 ssl unverified", proxy: true, src: "127.0.0.1", raw: efV2(0x21, 0x11, append(append([]byte{}, efV4...), efSSL(0x03, 1, efTLV(0x22, []byte("mallory")))...)) + efReq()},
		{name: "proxy v2 truncated tlv", proxy: true, src: "127.0.0.1", raw: efV2(0x21, 0x11, append(append(append([]byte{}, efV4...), efTLV(0x05, []byte("u2"))...), 0x20, 0, 40, 1)) + efReq()},
		{name: "proxy v2 too large", proxy: true, src: "127.0.0.1", raw: efV2(0x21, 0x11, append(append([]byte{}, efV4...), efTLV(0x04, make([]byte, 300))...)) + efReq()},
		{name: "proxy v2 largest", proxy: true, src: "127.0.0.1", raw: efV2(0x21, 0x11, append(append([]byte{}, efV4...), efTLV(0x04, make([]byte, 256-16-12-3))...)) + efReq()},
		{name: "proxy v2 bad version", proxy: true, src: "127.0.0.1", raw: efV2(0x31, 0x11, efV4) + efReq()},
		{name: "proxy v2 bad command", proxy: true, src: "127.0.0.1", raw: efV2(0x22, 0x11, efV4) + efReq()},
		{name: "proxy v1 static file (sendfile)", proxy: true, src: "127.0.0.1", raw: "PROXY TCP4 203.0.113.21 192.0.2.1 4444 80\r\nGET /s.txt HTTP/1.0\r\n\r\n"},
		{name: "proxy then trusted-proxy address with xff", proxy: true, src: "127.0.0.1", raw: "PROXY TCP4 10.4.4.4 192.0.2.1 4444 80\r\n" + efKeep("X-Forwarded-For: 203.0.113.30\r\n") + efReq()},
		{name: "proxy then untrusted xff", proxy: true, src: "127.0.0.1", raw: "PROXY TCP4 203.0.113.20 192.0.2.1 4444 80\r\n" + efReq("X-Forwarded-For: 198.51.100.1\r\n")},
		{name: "proxy denied net", proxy: true, src: "127.0.0.1", raw: "PROXY TCP4 198.51.100.20 192.0.2.1 4444 80\r\n" + efReq()},
		{name: "proxy missing", proxy: true, src: "127.0.0.1", raw: efReq()},
		{name: "proxy from untrusted peer is http", proxy: true, src: "127.0.0.2", raw: "PROXY TCP4 203.0.113.20 192.0.2.1 4444 80\r\n" + efReq()},
		{name: "proxy v2 from untrusted peer is http", proxy: true, src: "127.0.0.2", raw: efV2(0x21, 0x11, efV4) + efReq()},
		{name: "untrusted peer plain request on proxy socket", proxy: true, src: "127.0.0.2", raw: efReq("X-Forwarded-For: 203.0.113.7\r\n")},
		{name: "proxy on the plain socket is http", src: "127.0.0.1", raw: "PROXY TCP4 203.0.113.20 192.0.2.1 4444 80\r\n" + efReq()},
		{name: "proxy v2 on the plain socket is http", src: "127.0.0.1", raw: efV2(0x21, 0x11, efV4) + efReq()},
	}
}

// efPorts hands out client source ports below the ephemeral range, so that
// REMOTE_PORT of a direct connection is the same for both servers.
var efPorts atomic.Int32

func init() { efPorts.Store(int32(20000 + rand.IntN(8000))) }

// extforwardExchange runs c against addr (from the given source port) and
// returns what came back and whether the server closed the connection.
func extforwardExchange(t *testing.T, addr string, c extforwardCase, port int) ([]byte, bool) {
	t.Helper()
	// SO_REUSEADDR: the same source port serves both servers one after
	// the other, and the first connection may have left it in TIME_WAIT
	// (the client closes first when a server keeps the connection open).
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(c.src), Port: port}, Timeout: 5 * time.Second,
		Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
			}); err != nil {
				return err
			}
			return serr
		}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s:%d: %v", c.src, port, err)
	}
	defer conn.Close()
	if c.split > 0 {
		io.WriteString(conn, c.raw[:c.split])
		time.Sleep(100 * time.Millisecond)
		io.WriteString(conn, c.raw[c.split:])
	} else {
		io.WriteString(conn, c.raw)
	}
	var out bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		wait := 500 * time.Millisecond
		if out.Len() == 0 {
			wait = 5 * time.Second
		}
		conn.SetReadDeadline(time.Now().Add(wait))
		n, err := conn.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			var ne net.Error
			return out.Bytes(), !(errors.As(err, &ne) && ne.Timeout())
		}
	}
}

// extforwardPair starts both servers on the config; it returns them with
// the address of each one's hap-PROXY socket and the root directory.
func extforwardPair(t *testing.T, lighttpd, php string) (g, l *server, gp, lp, root string) {
	root = t.TempDir()
	writeTree(t, root, map[string]string{"www/env.php": extforwardPHP, "www/s.txt": "static\n"})
	start := func(name, bin string) (*server, string) {
		pport := freePort(t)
		conf := strings.NewReplacer("@ROOT@", root, "@PHP@", php, "@NAME@", name, "@PPORT@", fmt.Sprint(pport)).Replace(extforwardConf)
		return startServer(t, name, bin, root, conf), fmt.Sprintf("127.0.0.1:%d", pport)
	}
	g, gp = start("golighty", golightyBin)
	l, lp = start("lighttpd", lighttpd)
	return g, l, gp, lp, root
}

var (
	efStatusLine   = regexp.MustCompile(`(?m)^HTTP/1\.[01] \d\d\d `)
	efUnparsedLine = regexp.MustCompile(`400 {3,4}(HTTP/1\.0 )?\[`)
)

func TestSideBySideExtForward(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	php := requirePeer(t, "php-cgi")
	g, l, gp, lp, root := extforwardPair(t, lighttpd, php)
	responses := 0
	for _, c := range extforwardCases() {
		t.Run(c.name, func(t *testing.T) {
			ga, la := g.addr, l.addr
			if c.proxy {
				ga, la = gp, lp
			}
			port := int(efPorts.Add(1))
			graw, gclosed := extforwardExchange(t, ga, c, port)
			lraw, lclosed := extforwardExchange(t, la, c, port)
			responses += len(efStatusLine.FindAll(lraw, -1))
			if gclosed != lclosed {
				t.Errorf("closed: golighty %v, lighttpd %v", gclosed, lclosed)
			}
			if len(graw) == 0 || len(lraw) == 0 {
				if len(graw) != len(lraw) {
					elog, _ := os.ReadFile(filepath.Join(root, "golighty-error.log"))
					t.Fatalf("golighty %q\nlighttpd %q\ngolighty's error log: %s", graw, lraw, elog)
				}
				return
			}
			gs, gh, gb := splitResponse(graw)
			ls, lh, lb := splitResponse(lraw)
			if gs != ls || strings.Join(gh, "\n") != strings.Join(lh, "\n") || !bytes.Equal(gb, lb) {
				t.Fatalf("responses differ\ngolighty:\n%s\nlighttpd:\n%s", graw, lraw)
			}
		})
	}
	t.Run("access log", func(t *testing.T) {
		gl := alLines(t, g, filepath.Join(root, "golighty-access.log"), responses)
		ll := alLines(t, l, filepath.Join(root, "lighttpd-access.log"), responses)
		// A request line that does not parse (a PROXY header read as HTTP)
		// logs an empty %r in lighttpd; golighty's access log adds
		// "HTTP/1.0" there (an access-log matter, not mod_extforward's).
		if len(gl) != len(ll) {
			t.Fatalf("golighty logged %d lines, lighttpd %d", len(gl), len(ll))
		}
		for i := range gl {
			gl[i] = efUnparsedLine.ReplaceAllString(gl[i], "400 [")
			ll[i] = efUnparsedLine.ReplaceAllString(ll[i], "400 [")
		}
		for i := range gl {
			if gl[i] != ll[i] {
				t.Errorf("line %d\ngolighty: %.300s\nlighttpd: %.300s", i, gl[i], ll[i])
			}
		}
		for _, want := range []string{"203.0.113.7 203.0.113.7 - 200", "203.0.113.20 203.0.113.20 - 200", "bob 200", "198.51.100.4 198.51.100.4 - 403"} {
			if !strings.Contains(strings.Join(gl, "\n"), want) {
				t.Errorf("access log lacks %q", want)
			}
		}
	})
}

// TestExtForwardDifferences shows, on the same two servers, where golighty
// departs from lighttpd 1.4.69 on purpose (README, deliberate differences):
// golighty's answer is checked, lighttpd's is logged.
func TestExtForwardDifferences(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	php := requirePeer(t, "php-cgi")
	g, l, gp, lp, _ := extforwardPair(t, lighttpd, php)
	v1 := "PROXY TCP4 203.0.113.40 192.0.2.1 4444 80\r\n"
	tests := []struct {
		c    extforwardCase
		want string // in golighty's response ("closed" for no response)
	}{
		{extforwardCase{name: "scheme does not stick to the connection", src: "127.0.0.1",
			raw: efKeep("X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n") + efReq("X-Forwarded-For: 203.0.113.8\r\n")},
			"REMOTE_ADDR=203.0.113.8\nREMOTE_PORT=0\nHTTPS=-\nREQUEST_SCHEME=http\n"},
		{extforwardCase{name: "mapped address is not trusted by an IPv4 network", src: "127.0.0.1",
			raw: efReq("X-Forwarded-For: 203.0.113.7, ::ffff:11.1.1.1\r\n")}, "REMOTE_ADDR=::ffff:11.1.1.1\n"},
		{extforwardCase{name: "inet_aton spelling is not an address", src: "127.0.0.1",
			raw: efReq("X-Forwarded-For: 127.1\r\n")}, "REMOTE_ADDR=127.0.0.1\n"},
		{extforwardCase{name: "proxy v1 port above 65535", proxy: true, src: "127.0.0.1",
			raw: "PROXY TCP4 203.0.113.40 192.0.2.1 99999 80\r\n" + efReq()}, "closed"},
		{extforwardCase{name: "proxy v2 shorter than its address", proxy: true, src: "127.0.0.1",
			raw: efV2(0x21, 0x11, nil) + efReq()}, "closed"},
		{extforwardCase{name: "proxy v1 split over two segments", proxy: true, src: "127.0.0.1",
			raw: v1 + efReq(), split: 10}, "REMOTE_ADDR=203.0.113.40\nREMOTE_PORT=4444\n"},
		{extforwardCase{name: "proxy v2 split over two segments", proxy: true, src: "127.0.0.1",
			raw: efV2(0x21, 0x11, efV4) + efReq(), split: 20}, "REMOTE_ADDR=203.0.113.50\nREMOTE_PORT=5555\n"},
	}
	for _, tt := range tests {
		t.Run(tt.c.name, func(t *testing.T) {
			ga, la := g.addr, l.addr
			if tt.c.proxy {
				ga, la = gp, lp
			}
			port := int(efPorts.Add(1))
			graw, _ := extforwardExchange(t, ga, tt.c, port)
			lraw, _ := extforwardExchange(t, la, tt.c, port)
			got := string(graw)
			if len(graw) == 0 {
				got = "closed"
			}
			if !strings.Contains(got, tt.want) {
				t.Fatalf("golighty:\n%s\nwant it to contain %q", got, tt.want)
			}
			t.Logf("lighttpd 1.4.69 answers: %q", efLastBody(lraw))
		})
	}
}

// efLastBody is the start of the last response's body ("closed" if no
// response came), for the log.
func efLastBody(raw []byte) string {
	if len(raw) == 0 {
		return "closed"
	}
	body := raw[bytes.LastIndex(raw, []byte("\r\n\r\n"))+4:]
	lines := strings.SplitN(string(body), "\n", 5)
	return strings.Join(lines[:min(4, len(lines))], " ")
}

// TestSideBySideExtForwardH2: a PROXY v2 header in front of HTTP/2 (prior
// knowledge) gives every stream of the connection the client, scheme and
// TLS variables it names, in both servers.
func TestSideBySideExtForwardH2(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	php := requirePeer(t, "php-cgi")
	_, _, gp, lp, _ := extforwardPair(t, lighttpd, php)
	ssl := efSSL(0x01, 0, efTLV(0x21, []byte("TLSv1.3")))
	header := []byte(efV2(0x21, 0x11, append(append([]byte{}, efV4...), ssl...)))
	var bodies [2][]string
	for i, addr := range []string{gp, lp} {
		tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, _ string, _ *tls.Config) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				_, err = c.Write(header)
			}
			return c, err
		}}
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		for n := 0; n < 3; n++ {
			req, _ := http.NewRequest("GET", "http://ef/env.php", nil)
			if n == 2 {
				req.Header.Set("X-Forwarded-For", "198.51.100.77") // 203.0.113.50 is no trusted proxy
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", addr, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != 2 {
				t.Fatalf("%s answered over %s", addr, resp.Proto)
			}
			bodies[i] = append(bodies[i], string(b))
		}
		tr.CloseIdleConnections()
	}
	for n := range bodies[0] {
		if bodies[0][n] != bodies[1][n] {
			t.Errorf("stream %d differs\ngolighty:\n%s\nlighttpd:\n%s", n, bodies[0][n], bodies[1][n])
		}
		if !strings.Contains(bodies[0][n], "REMOTE_ADDR=203.0.113.50\nREMOTE_PORT=5555\nHTTPS=on\n") ||
			!strings.Contains(bodies[0][n], "SSL_PROTOCOL=TLSv1.3\n") {
			t.Errorf("stream %d of golighty:\n%s", n, bodies[0][n])
		}
	}
}
