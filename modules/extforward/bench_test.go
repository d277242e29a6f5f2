package extforward_test

import (
	"net"
	"strings"
	"testing"

	"github.com/golighty/golighty/core/coretest"
)

const benchBase = `server.document-root = "@DIR@"
server.bind = "127.0.0.1"
server.port = @PORT@
server.max-keep-alive-requests = 65535
mimetype.assign = (".txt" => "text/plain")
`

var benchFiles = map[string]string{"1k.txt": strings.Repeat("x", 1024)}

// BenchmarkKeepAlive1KiB is the keep-alive small-file path with and without
// mod_extforward: what the module costs a request it does not touch, one
// from an untrusted peer, and one whose client it takes from a header.
func BenchmarkKeepAlive1KiB(b *testing.B) {
	const fwd = `server.modules = ("mod_extforward")
extforward.headers = ("X-Forwarded-For", "Forwarded")
`
	cases := []struct {
		name, conf, hdr string
	}{
		{"without module", "", ""},
		{"module, no header", fwd + `extforward.forwarder = ("127.0.0.1" => "trust")`, ""},
		{"untrusted peer", fwd + `extforward.forwarder = ("10.0.0.0/8" => "trust")`, "X-Forwarded-For: 203.0.113.7\r\n"},
		{"trusted X-Forwarded-For", fwd + `extforward.forwarder = ("127.0.0.1" => "trust", "10.0.0.0/8" => "trust")`,
			"X-Forwarded-For: 203.0.113.7, 10.1.1.1\r\nX-Forwarded-Proto: https\r\n"},
		{"trusted Forwarded", fwd + `extforward.forwarder = ("127.0.0.1" => "trust", "10.0.0.0/8" => "trust")`,
			"Forwarded: for=203.0.113.7;proto=https, for=10.1.1.1\r\n"},
		{"trusted X-Forwarded-For, remoteip block", fwd + `extforward.forwarder = ("127.0.0.1" => "trust", "10.0.0.0/8" => "trust")
$HTTP["remoteip"] == "203.0.113.0/24" { server.name = "clients" }`, "X-Forwarded-For: 203.0.113.7, 10.1.1.1\r\n"},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(1024)
			coretest.KeepAliveBench(b, benchBase+tc.conf, benchFiles,
				"GET /1k.txt HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n"+tc.hdr+"\r\n")
		})
	}
}

// BenchmarkNewConnection is a request on a fresh connection, plain and
// behind a PROXY v2 header (with an SSL TLV, as haproxy sends for a TLS
// client): the difference is what reading the header costs a connection.
// The client's own dial is in both.
func BenchmarkNewConnection(b *testing.B) {
	const proxyConf = `server.modules = ("mod_extforward")
extforward.forwarder = ("127.0.0.1" => "trust")
extforward.hap-PROXY = "enable"
`
	req := "GET /1k.txt HTTP/1.0\r\n\r\n"
	cases := []struct{ name, conf, send string }{
		{"plain", "", req},
		{"plain, module loaded", `server.modules = ("mod_extforward")
extforward.forwarder = ("127.0.0.1" => "trust")`, req},
		{"PROXY v1", proxyConf, "PROXY TCP4 203.0.113.7 192.0.2.1 4444 80\r\n" + req},
		{"PROXY v2", proxyConf, string(v2SSL(false)) + req},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			addr := coretest.BenchServer(b, benchBase+tc.conf, benchFiles)
			send := []byte(tc.send)
			buf := make([]byte, 4096)
			b.ReportAllocs()
			cpu := coretest.CPUTime()
			b.ResetTimer()
			defer func() { b.ReportMetric(float64(coretest.CPUTime()-cpu)/1e3/float64(b.N), "cpu-µs/op") }()
			for i := 0; i < b.N; i++ {
				c, err := net.Dial("tcp", addr)
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
