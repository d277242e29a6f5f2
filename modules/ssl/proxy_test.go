package ssl

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	_ "github.com/golighty/golighty/modules/access"
	_ "github.com/golighty/golighty/modules/extforward"
)

// TestPROXYHeaderBeforeTLS: with extforward.hap-PROXY, the PROXY protocol
// header precedes the TLS ClientHello, and the client address it names is
// the one $HTTP["remoteip"] sees during the handshake (as in lighttpd,
// where mod_extforward reads it at connection accept).
func TestPROXYHeaderBeforeTLS(t *testing.T) {
	p := newPKI(t)
	s := startSite(t, p.dir, `
server.document-root = "@DIR@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.modules = ("mod_extforward", "mod_openssl", "mod_access")
extforward.forwarder = ("127.0.0.1" => "trust")
extforward.hap-PROXY = "enable"
ssl.engine = "enable"
ssl.pemfile = "@DIR@/default.pem"
$HTTP["remoteip"] == "192.0.2.7" {
	ssl.pemfile = "@DIR@/b.pem"
	url.access-deny = ("")
}
`)
	for _, tc := range []struct{ client, want, status string }{
		{"192.0.2.7", "b.test", "HTTP/1.0 403"},
		{"198.51.100.1", "default.test", "HTTP/1.0 200"},
	} {
		t.Run(tc.client, func(t *testing.T) {
			raw, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			fmt.Fprintf(raw, "PROXY TCP4 %s 127.0.0.1 40000 443\r\n", tc.client)
			c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, ServerName: "x.test"})
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			if got := c.ConnectionState().PeerCertificates[0].Subject.CommonName; got != tc.want {
				t.Fatalf("certificate %q, want %q", got, tc.want)
			}
			// Requests on the connection see the same client.
			fmt.Fprintf(c, "GET /index.html HTTP/1.0\r\n\r\n")
			b, _ := io.ReadAll(c)
			if !strings.HasPrefix(string(b), tc.status) {
				t.Fatalf("response %q, want %s", b, tc.status)
			}
		})
	}
}
