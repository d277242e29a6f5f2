package evhost

import (
	"strings"
	"testing"

	"github.com/golighty/golighty/core/coretest"
)

// BenchmarkKeepAlive1KiB is a 1 KiB file on a kept connection, without and
// with mod_evhost choosing the document root.
func BenchmarkKeepAlive1KiB(b *testing.B) {
	base := `server.document-root = "@DIR@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.max-keep-alive-requests = 65535
mimetype.assign = (".txt" => "text/plain")
`
	body := strings.Repeat("x", 1024)
	files := map[string]string{"www/1k.txt": body, "vhosts/example.com/w/www/1k.txt": body}
	req := "GET /1k.txt HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n"
	b.Run("plain", func(b *testing.B) {
		coretest.KeepAliveBench(b, base, files, req)
	})
	b.Run("evhost", func(b *testing.B) {
		coretest.KeepAliveBench(b, base+`server.modules = ("mod_evhost")
evhost.path-pattern = "@DIR@/vhosts/%0/%{3.1}/%3/"
`, files, req)
	})
}
