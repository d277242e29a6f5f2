package extforward_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/coretest"
	_ "github.com/golighty/golighty/modules/extforward"
	_ "github.com/golighty/golighty/modules/staticfile"
)

// echo is a handler module for /echo: it prints what a backend would see
// and echo.tag, a key resolved at handler time (after mod_extforward), so a
// $HTTP["remoteip"] block shows whether conditions were evaluated again.
type echo struct{ table *core.Table[string] }

func (e *echo) Setup(sc *core.SetupContext) error {
	var err error
	e.table, err = core.Bind(sc, "-", []core.Key[string]{{Name: "echo.tag", Type: core.TypeString,
		Bind: func(v core.Value) (func(*string), error) { s := v.String(); return func(t *string) { *t = s }, nil }}})
	return err
}

func (e *echo) URIClean(rc *core.Request) core.Result {
	if rc.URI.Path == "/echo" {
		rc.SetHandler("mod_test_echo", e)
	}
	return core.GoOn
}

func (e *echo) Serve(rc *core.Request) core.Result {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d %s tag=%s", rc.Conn.RemoteIP, rc.Conn.RemotePort, rc.URI.Scheme, e.table.Resolve(rc))
	if rc.RemoteUser != "" {
		fmt.Fprintf(&b, " user=%s/%s", rc.RemoteUser, rc.AuthType)
	}
	rc.Env.Each(func(n, v string) { fmt.Fprintf(&b, " %s=%s", n, v) })
	rc.Resp.Status = 200
	rc.Resp.SetBody([]byte(b.String()))
	return core.Finished
}

func init() {
	core.Register(core.ModuleInfo{Name: "mod_test_echo", New: func() core.Module { return &echo{} }})
}

// tcpAddrConn gives an in-memory connection a TCP peer address.
type tcpAddrConn struct {
	net.Conn
	remote *net.TCPAddr
}

func (c tcpAddrConn) RemoteAddr() net.Addr { return c.remote }

// exchange sends raw on one connection from peer and returns the bodies of
// the responses (or "closed" when the server dropped the connection without
// a response).
func exchange(t testing.TB, h *coretest.Harness, peer, token, raw string, n int) []string {
	t.Helper()
	client, server := net.Pipe()
	ap := net.TCPAddrFromAddrPort(netipMust(peer))
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Server.ServeConn(tcpAddrConn{server, ap}, token)
	}()
	go io.WriteString(client, raw)
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(client)
	var out []string
	for i := 0; i < n; i++ {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			out = append(out, "closed")
			break
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			body = []byte(fmt.Sprint(resp.StatusCode))
		}
		out = append(out, string(body))
	}
	client.Close()
	<-done
	return out
}

const moduleConf = `
server.document-root = "@DIR@"
server.modules = ("mod_extforward", "mod_test_echo")
extforward.forwarder = ("127.0.0.1" => "trust", "10.0.0.0/8" => "trust", "10.9.9.9" => "untrusted")
extforward.headers = ("X-Forwarded-For", "Forwarded", "X-Real-IP")
$HTTP["remoteip"] == "203.0.113.0/24" { echo.tag = "client-net" }
$HTTP["remoteip"] == "127.0.0.1" { echo.tag = "proxy" }
$HTTP["scheme"] == "https" { echo.tag = "tls" }
$SERVER["socket"] == ":81" {
	extforward.hap-PROXY = "enable"
	extforward.hap-PROXY-ssl-client-verify = "enable"
}
$SERVER["socket"] == ":82" { extforward.forwarder = ("all" => "trust") }
`

func get(hdrs ...string) string {
	return "GET /echo HTTP/1.1\r\nHost: x\r\n" + strings.Join(hdrs, "") + "\r\n"
}

func TestRequests(t *testing.T) {
	h := coretest.New(t, moduleConf)
	tests := []struct {
		name, peer, token, raw string
		want                   []string
	}{
		{"no header", "127.0.0.1:4000", ":80", get(), []string{"127.0.0.1 4000 http tag=proxy"}},
		{"trusted peer", "127.0.0.1:4000", ":80", get("X-Forwarded-For: 203.0.113.7\r\n"), []string{"203.0.113.7 0 http tag=client-net"}},
		{"untrusted peer is ignored", "192.0.2.9:4000", ":80", get("X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n"), []string{"192.0.2.9 4000 http tag=-"}},
		{"spoofed chain", "127.0.0.1:4000", ":80", get("X-Forwarded-For: 203.0.113.66, 198.51.100.1, 10.1.1.1\r\n"), []string{"198.51.100.1 0 http tag=-"}},
		{"proto with the address", "127.0.0.1:4000", ":80", get("X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: HTTPS\r\n"), []string{"203.0.113.7 0 https tag=tls"}},
		{"proto without a usable address", "127.0.0.1:4000", ":80", get("X-Forwarded-For: 10.1.1.1\r\nX-Forwarded-Proto: https\r\n"), []string{"127.0.0.1 4000 http tag=proxy"}},
		{"proto list is ignored", "127.0.0.1:4000", ":80", get("X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https, http\r\n"), []string{"203.0.113.7 0 http tag=client-net"}},
		{"repeated header lines are joined", "127.0.0.1:4000", ":80", get("X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-For: 10.0.0.3\r\n"), []string{"203.0.113.7 0 http tag=client-net"}},
		{"first configured header wins", "127.0.0.1:4000", ":80", get("X-Real-IP: 198.51.100.5\r\nForwarded: for=1.1.1.1;proto=https\r\n"), []string{"1.1.1.1 0 https tag=tls"}},
		{"empty header falls through", "127.0.0.1:4000", ":80", get("X-Forwarded-For: \r\nX-Real-IP: 198.51.100.5\r\n"), []string{"198.51.100.5 0 http tag=-"}},
		{"invalid address changes nothing", "127.0.0.1:4000", ":80", get("X-Forwarded-For: 203.0.113.7:80\r\nX-Forwarded-Proto: https\r\n"), []string{"127.0.0.1 4000 http tag=proxy"}},
		{"inet_aton form refused", "127.0.0.1:4000", ":80", get("X-Forwarded-For: 127.1\r\n"), []string{"127.0.0.1 4000 http tag=proxy"}},
		{"bad Forwarded is a 400", "127.0.0.1:4000", ":80", get("Forwarded: for=\"1.2.3.4\r\n"), []string{"400"}},
		{"bad Forwarded from an untrusted peer is ignored", "192.0.2.9:4000", ":80", get("Forwarded: for=\"1.2.3.4\r\n"), []string{"192.0.2.9 4000 http tag=-"}},
		{"address restored for the next request", "127.0.0.1:4000", ":80",
			get("X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n") + get(), []string{"203.0.113.7 0 https tag=tls", "127.0.0.1 4000 http tag=proxy"}},
		{"all trusts any peer", "192.0.2.9:4000", ":82", get("X-Forwarded-For: 203.0.113.7, 10.1.1.1\r\n"), []string{"10.1.1.1 0 http tag=-"}},

		{"proxy v1", "127.0.0.1:4000", ":81", "PROXY TCP4 203.0.113.7 192.0.2.1 5555 81\r\n" + get() + get(),
			[]string{"203.0.113.7 5555 http tag=client-net SSL_CLIENT_VERIFY=NONE", "203.0.113.7 5555 http tag=client-net SSL_CLIENT_VERIFY=NONE"}},
		{"proxy address, then a header it does not trust", "127.0.0.1:4000", ":81", "PROXY TCP4 203.0.113.7 192.0.2.1 5555 81\r\n" + get("X-Forwarded-For: 198.51.100.1\r\n"),
			[]string{"203.0.113.7 5555 http tag=client-net SSL_CLIENT_VERIFY=NONE"}},
		{"proxy address is a trusted proxy: header applies, then back to it", "127.0.0.1:4000", ":81",
			"PROXY TCP4 10.2.2.2 192.0.2.1 5555 81\r\n" + get("X-Forwarded-For: 203.0.113.7\r\n") + get(),
			[]string{"203.0.113.7 0 http tag=client-net SSL_CLIENT_VERIFY=NONE", "10.2.2.2 5555 http tag=- SSL_CLIENT_VERIFY=NONE"}},
		{"proxy v2 with ssl, verify as lighttpd reads it", "127.0.0.1:4000", ":81", string(v2SSL(false)) + get(),
			[]string{"198.51.100.9 4096 https tag=tls SSL_PROTOCOL=TLSv1.3 SSL_CLIENT_S_DN_CN=alice PP2_UNIQUE_ID=u-1 SSL_CLIENT_VERIFY=NONE"}},
		{"proxy v2 with ssl and a client lighttpd sees verified", "127.0.0.1:4000", ":81", string(v2SSL(true)) + get(),
			[]string{"198.51.100.9 4096 https tag=tls user=alice/SSL_CLIENT_VERIFY SSL_PROTOCOL=TLSv1.3 SSL_CLIENT_S_DN_CN=alice PP2_UNIQUE_ID=u-1 SSL_CLIENT_VERIFY=SUCCESS"}},
		{"proxy header missing", "127.0.0.1:4000", ":81", get(), []string{"closed"}},
		{"proxy garbage", "127.0.0.1:4000", ":81", "PROXY TCP4 a b c d\r\n" + get(), []string{"closed"}},
		{"proxy from an untrusted peer is http", "192.0.2.9:4000", ":81", "PROXY TCP4 203.0.113.7 192.0.2.1 5555 81\r\n" + get(), []string{"400"}},
		{"proxy on a socket without hap-PROXY is http", "127.0.0.1:4000", ":80", "PROXY TCP4 203.0.113.7 192.0.2.1 5555 81\r\n" + get(), []string{"400"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := exchange(t, h, tt.peer, tt.token, tt.raw, len(tt.want))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// v2SSL is a PROXY v2 header from 198.51.100.9:4096 whose client used TLS
// and presented a verified certificate for "alice". lighttpd 1.4.69 reads
// the verify field four bytes in, so it sees the certificate as verified
// only when the sub-TLV after it starts with three zero bytes (zeroPad).
func v2SSL(zeroPad bool) []byte {
	sub := func(typ byte, v string) []byte {
		return append(binary.BigEndian.AppendUint16([]byte{typ}, uint16(len(v))), v...)
	}
	subs := [][]byte{sub(0x21, "TLSv1.3"), sub(0x22, "alice")}
	if zeroPad {
		subs = append([][]byte{sub(0x00, "")}, subs...)
	}
	ssl := append([]byte{0x07, 0, 0, 0, 0}, bytes.Join(subs, nil)...)
	payload := []byte{198, 51, 100, 9, 192, 0, 2, 1, 0x10, 0, 0, 81}
	payload = append(payload, sub(0x20, string(ssl))...)
	payload = append(payload, sub(0x05, "u-1")...)
	b := append([]byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11"), binary.BigEndian.AppendUint16(nil, uint16(len(payload)))...)
	return append(b, payload...)
}

func netipMust(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// TestDefaultHeaders: without extforward.headers the defaults are
// X-Forwarded-For and Forwarded-For, also for an empty global list, but
// not when hap-PROXY is enabled globally; an empty list in a condition
// reads no header.
func TestDefaultHeaders(t *testing.T) {
	base := "server.document-root = \"@DIR@\"\nserver.modules = (\"mod_extforward\", \"mod_test_echo\")\nextforward.forwarder = (\"127.0.0.1\" => \"trust\")\n"
	xff := get("X-Forwarded-For: 203.0.113.7\r\n")
	ff := get("Forwarded-For: 203.0.113.8\r\n")
	proxied := "PROXY TCP4 198.51.100.1 192.0.2.1 1 80\r\n"
	tests := []struct {
		name, conf, token, raw, want string
	}{
		{"no headers key", "", ":80", xff, "203.0.113.7 0 http tag=-"},
		{"Forwarded-For is a default", "", ":80", ff, "203.0.113.8 0 http tag=-"},
		{"empty global list keeps the defaults", "extforward.headers = ()\n", ":80", xff, "203.0.113.7 0 http tag=-"},
		{"other list replaces them", "extforward.headers = (\"X-Real-IP\")\n", ":80", xff, "127.0.0.1 4000 http tag=-"},
		{"empty list in a condition reads none", "$SERVER[\"socket\"] == \":80\" { extforward.headers = () }\n", ":80", xff, "127.0.0.1 4000 http tag=-"},
		{"global hap-PROXY drops the defaults", "extforward.hap-PROXY = \"enable\"\n", ":80", "PROXY TCP4 127.0.0.1 192.0.2.1 1 80\r\n" + xff, "127.0.0.1 1 http tag=-"},
		{"global hap-PROXY with headers listed", "extforward.hap-PROXY = \"enable\"\nextforward.headers = (\"X-Forwarded-For\")\n", ":80", proxied + xff, "198.51.100.1 1 http tag=-"},
		{"global hap-PROXY, headers listed, proxy address trusted", "extforward.hap-PROXY = \"enable\"\nextforward.headers = (\"X-Forwarded-For\")\n", ":80", "PROXY TCP4 127.0.0.1 192.0.2.1 1 80\r\n" + xff, "203.0.113.7 0 http tag=-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := coretest.New(t, base+tt.conf)
			got := exchange(t, h, "127.0.0.1:4000", tt.token, tt.raw, 1)
			if len(got) != 1 || got[0] != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
