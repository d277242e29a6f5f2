package indexfile_test

import (
	"testing"

	"github.com/golighty/golighty/core/coretest"
	_ "github.com/golighty/golighty/modules/indexfile"
	_ "github.com/golighty/golighty/modules/staticfile"
)

func TestIndexFiles(t *testing.T) {
	h := coretest.New(t, `
server.document-root = "@DIR@/www"
index-file.names = ("missing.html", "index.txt", "/gen.txt")
mimetype.assign = (".txt" => "text/plain")
$HTTP["url"] =^ "/old/" { index-file.names = () server.indexfiles = ("legacy.txt") }
`)
	h.WriteFile("www/index.txt", "root index\n")
	h.WriteFile("www/sub/index.txt", "sub index\n")
	h.WriteFile("www/noindex/file.txt", "x")
	h.WriteFile("www/gen.txt", "generated for any directory\n")
	h.WriteFile("www/old/legacy.txt", "legacy name\n")
	h.WriteFile("www/dirindex/index.txt/inner.txt", "a directory named like an index")
	tests := []struct {
		name, path string
		status     int
		body       string
	}{
		{"first existing name wins", "/", 200, "root index\n"},
		{"in a subdirectory", "/sub/", 200, "sub index\n"},
		{"absolute name is a generator below the docroot", "/noindex/", 200, "generated for any directory\n"},
		{"old key server.indexfiles in a conditional", "/old/", 200, "legacy name\n"},
		{"only for paths ending in a slash", "/sub/index.txt", 200, "sub index\n"},
		{"a directory with an index name counts as found", "/dirindex/", 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := h.Get(tt.path)
			if resp.StatusCode != tt.status || (tt.body != "" && body != tt.body) {
				t.Fatalf("GET %s: %d %q, want %d %q", tt.path, resp.StatusCode, body, tt.status, tt.body)
			}
		})
	}
}
