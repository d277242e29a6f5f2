package simplevhost

import (
	"strings"
	"testing"

	"github.com/golighty/golighty/core/coretest"
)

const benchBase = `server.document-root = "@DIR@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.max-keep-alive-requests = 65535
mimetype.assign = (".txt" => "text/plain")
`

// BenchmarkKeepAlive1KiB is a 1 KiB file on a kept connection, without and
// with mod_simple_vhost choosing the document root.
func BenchmarkKeepAlive1KiB(b *testing.B) {
	body := strings.Repeat("x", 1024)
	files := map[string]string{"www/1k.txt": body, "vhosts/www.example.com/htdocs/1k.txt": body}
	req := "GET /1k.txt HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n"
	b.Run("plain", func(b *testing.B) {
		coretest.KeepAliveBench(b, benchBase, files, req)
	})
	b.Run("simple_vhost", func(b *testing.B) {
		coretest.KeepAliveBench(b, benchBase+`server.modules = ("mod_simple_vhost")
simple-vhost.server-root = "@DIR@/vhosts"
simple-vhost.document-root = "htdocs"
simple-vhost.default-host = "www.example.com"
`, files, req)
	})
}
