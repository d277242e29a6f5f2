package staticfile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golighty/golighty/core/coretest"
	_ "github.com/golighty/golighty/modules/access"
	_ "github.com/golighty/golighty/modules/alias"
	_ "github.com/golighty/golighty/modules/indexfile"
	_ "github.com/golighty/golighty/modules/staticfile"
)

const conf = `
server.document-root = "@DIR@/www"
server.tag = "golighty-test"
server.modules = ("mod_access", "mod_alias")
index-file.names = ("index.html")
url.access-deny = ("~", ".inc")
static-file.exclude-extensions = (".php")
alias.url = ("/al/" => "@DIR@/aliased/")
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html")
$HTTP["url"] =^ "/private/" { url.access-deny = ("") }
`

func harness(t *testing.T) *coretest.Harness {
	h := coretest.New(t, conf)
	h.WriteFile("www/a.txt", "abcdefghijklmnopqrstuvwxyz\n")
	h.WriteFile("www/dir/index.html", "<p>index</p>\n")
	h.WriteFile("www/x.inc", "secret")
	h.WriteFile("www/s.php", "<?php")
	h.WriteFile("www/private/p.txt", "private")
	h.WriteFile("www/b.bin", "binary")
	h.WriteFile("www/long.txt", strings.Repeat("0123456789", 30))
	h.WriteFile("aliased/f.txt", "from alias\n")
	return h
}

func TestStaticRequests(t *testing.T) {
	h := harness(t)
	tests := []struct {
		name, path string
		status     int
		body       string
		header     map[string]string
	}{
		{name: "file", path: "/a.txt", status: 200, body: "abcdefghijklmnopqrstuvwxyz\n",
			header: map[string]string{"Content-Type": "text/plain", "Content-Length": "27", "Server": "golighty-test"}},
		{name: "missing", path: "/nope.txt", status: 404},
		{name: "index file", path: "/dir/", status: 200, body: "<p>index</p>\n"},
		{name: "directory redirect", path: "/dir?x=1", status: 301, header: map[string]string{"Location": "/dir/?x=1", "Content-Length": "0"}},
		{name: "access deny suffix", path: "/x.inc", status: 403},
		{name: "access deny in condition", path: "/private/p.txt", status: 403},
		{name: "excluded extension", path: "/s.php", status: 403},
		{name: "alias", path: "/al/f.txt", status: 200, body: "from alias\n"},
		{name: "path info", path: "/a.txt/more", status: 200, body: "abcdefghijklmnopqrstuvwxyz\n"},
		{name: "octet-stream has no etag", path: "/b.bin", status: 200, header: map[string]string{"Content-Type": "application/octet-stream", "ETag": ""}},
		{name: "dot segments", path: "/dir/../a.txt", status: 200, body: "abcdefghijklmnopqrstuvwxyz\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := h.Get(tt.path)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tt.status, body)
			}
			if tt.body != "" && body != tt.body {
				t.Fatalf("body %q, want %q", body, tt.body)
			}
			for k, v := range tt.header {
				if got := resp.Header.Get(k); got != v {
					t.Fatalf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestErrorDocumentAndHeaderOrder(t *testing.T) {
	h := harness(t)
	raw := string(h.Raw("GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
	head, _, _ := strings.Cut(raw, "\r\n\r\n")
	var names []string
	for _, line := range strings.Split(head, "\r\n")[1:] {
		n, _, _ := strings.Cut(line, ":")
		names = append(names, n)
	}
	want := "Content-Type ETag Last-Modified Content-Length Accept-Ranges Connection Date Server"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("header order\n got: %s\nwant: %s", got, want)
	}
	resp, body := h.Get("/nope")
	if resp.StatusCode != 404 || len(body) != 341 || !strings.Contains(body, "<title>404 Not Found</title>") {
		t.Fatalf("404 page: %d %d %q", resp.StatusCode, len(body), body)
	}
}

func TestConditionalAndRange(t *testing.T) {
	h := harness(t)
	resp, _ := h.Get("/a.txt")
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	r304, _ := h.Do("GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: " + etag + "\r\nConnection: close\r\n\r\n")
	if r304.StatusCode != 304 {
		t.Fatalf("If-None-Match: %d", r304.StatusCode)
	}
	r206, body := h.Do("GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-4\r\nConnection: close\r\n\r\n")
	if r206.StatusCode != 206 || body != "abcde" || r206.Header.Get("Content-Range") != "bytes 0-4/27" {
		t.Fatalf("range: %d %q %q", r206.StatusCode, body, r206.Header.Get("Content-Range"))
	}
	r416, _ := h.Do("GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=100-200\r\nConnection: close\r\n\r\n")
	if r416.StatusCode != 416 || r416.Header.Get("Content-Range") != "" {
		t.Fatalf("416: %d %q", r416.StatusCode, r416.Header.Get("Content-Range"))
	}
	// Ranges closer than 80 bytes merge into one, as lighttpd merges them.
	rmerged, body := h.Do("GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,20-21\r\nConnection: close\r\n\r\n")
	if rmerged.StatusCode != 206 || body != "abcdefghijklmnopqrstuv" {
		t.Fatalf("merged range: %d %q", rmerged.StatusCode, body)
	}
	rm, body := h.Do("GET /long.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,200-201\r\nConnection: close\r\n\r\n")
	if rm.StatusCode != 206 || !strings.HasPrefix(rm.Header.Get("Content-Type"), "multipart/byteranges") || !strings.Contains(body, "Content-Range: bytes 200-201/300\r\n\r\n01\r\n") {
		t.Fatalf("multipart: %d %q %q", rm.StatusCode, rm.Header.Get("Content-Type"), body)
	}
}

// TestConditionalErrorLog: server.errorlog set in a conditional receives
// the messages of the requests that match it.
func TestConditionalErrorLog(t *testing.T) {
	h := coretest.New(t, `
server.document-root = "@DIR@/www"
debug.log-file-not-found = "enable"
$HTTP["url"] =^ "/x/" { server.errorlog = "@DIR@/x-error.log" }
`)
	h.WriteFile("www/a.txt", "a")
	h.Get("/x/missing.txt")
	h.Get("/other-missing.txt")
	b, err := os.ReadFile(filepath.Join(h.Dir, "x-error.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "/x/missing.txt") || strings.Contains(string(b), "other-missing") {
		t.Fatalf("conditional error log holds %q", b)
	}
}
