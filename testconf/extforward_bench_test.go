package testconf

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// BenchmarkExtForwardNewConnection compares golighty and lighttpd 1.4.69 on
// one request per connection (a 1 KiB file), plain and behind a PROXY v2
// header with an SSL TLV as haproxy sends for a TLS client, each server on
// the same config. The Go client's dial is in every figure: compare the
// servers per case, and each server's two cases.
func BenchmarkExtForwardNewConnection(b *testing.B) {
	lighttpd := requirePeer(b, "lighttpd")
	root := b.TempDir()
	writeTree(b, root, map[string]string{"www/1k.txt": strings.Repeat("x", 1024)})
	const conf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.errorlog = "@ROOT@/@NAME@-error.log"
server.modules = ("mod_extforward")
mimetype.assign = (".txt" => "text/plain")
extforward.forwarder = ("127.0.0.1" => "trust")
$SERVER["socket"] == "127.0.0.1:@PPORT@" { extforward.hap-PROXY = "enable" }
`
	ssl := efSSL(0x01, 0, efTLV(0x21, []byte("TLSv1.3")), efTLV(0x23, []byte("TLS_AES_256_GCM_SHA384")))
	header := efV2(0x21, 0x11, append(append([]byte{}, efV4...), ssl...))
	req := "GET /1k.txt HTTP/1.0\r\n\r\n"
	for _, srv := range []struct{ name, bin string }{{"golighty", golightyBin}, {"lighttpd", lighttpd}} {
		pport := freePort(b)
		c := strings.NewReplacer("@ROOT@", root, "@NAME@", srv.name, "@PPORT@", fmt.Sprint(pport)).Replace(conf)
		s := startServer(b, srv.name, srv.bin, root, c)
		for _, tc := range []struct{ name, addr, send string }{
			{"plain", s.addr, req},
			{"PROXY v2", fmt.Sprintf("127.0.0.1:%d", pport), header + req},
		} {
			b.Run(srv.name+"/"+tc.name, func(b *testing.B) {
				send := []byte(tc.send)
				buf := make([]byte, 4096)
				for b.Loop() {
					c, err := net.Dial("tcp", tc.addr)
					if err != nil {
						b.Fatal(err)
					}
					c.Write(send)
					n := 0
					for {
						m, err := c.Read(buf[n:])
						n += m
						if err != nil {
							break
						}
					}
					c.Close()
					if n < 12 || buf[9] != '2' {
						b.Fatalf("response %q", buf[:n])
					}
				}
			})
		}
	}
}
