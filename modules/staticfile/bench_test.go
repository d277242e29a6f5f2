package staticfile_test

import (
	"strings"
	"testing"

	"github.com/golighty/golighty/core/coretest"
)

// BenchmarkKeepAlive1KiB is the whole path for the most common request: a
// keep-alive GET of a 1 KiB file over loopback TCP, through the HTTP/1.x
// engine, the pipeline, the stat cache and the file sender.
func BenchmarkKeepAlive1KiB(b *testing.B) {
	b.SetBytes(1024)
	coretest.KeepAliveBench(b, `server.document-root = "@DIR@"
server.bind = "127.0.0.1"
server.port = @PORT@
server.max-keep-alive-requests = 65535
mimetype.assign = (".txt" => "text/plain")
`, map[string]string{"1k.txt": strings.Repeat("x", 1024)},
		"GET /1k.txt HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n")
}
