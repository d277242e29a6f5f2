package deflate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golighty/golighty/core/coretest"
)

// TestMaxLoadavg: above deflate.max-loadavg nothing is compressed, yet
// Vary is added (lighttpd looks at the load after adding it).
func TestMaxLoadavg(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "loadavg")
	old := loadavgPath
	loadavgPath = fake
	t.Cleanup(func() { loadavgPath = old; loadavg.read.Store(0) })
	h := coretest.New(t, `server.document-root = "@DIR@"
mimetype.assign = (".html" => "text/html")
server.modules = ("mod_deflate")
deflate.mimetypes = ("text/")
deflate.allowed-encodings = ("gzip")
deflate.max-loadavg = "2.5"
`)
	h.WriteFile("p.html", strings.Repeat("<p>text</p>\n", 100))
	for _, c := range []struct {
		load, ce string
	}{{"3.10 1.00 1.00 2/100 1234\n", ""}, {"2.50 9.00 9.00 2/100 1234\n", "gzip"}, {"0.01 0.00 0.00 1/90 1\n", "gzip"}} {
		os.WriteFile(fake, []byte(c.load), 0o644)
		loadavg.read.Store(0) // read it again now, not 30 s later
		resp, _ := h.Do("GET /p.html HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n")
		if resp.Header.Get("Content-Encoding") != c.ce || resp.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("load %q: Content-Encoding %q, Vary %q", c.load, resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
		}
	}
}
