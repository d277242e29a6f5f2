package core

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzBackendHeaders feeds hostile backend output (including X-Sendfile
// paths) to the response-head parser: it must never panic, never forward
// a header that could split the response, and a handoff must never serve a
// file outside x-sendfile-docroot.
func FuzzBackendHeaders(f *testing.F) {
	dir := f.TempDir()
	inside := filepath.Join(dir, "files")
	os.MkdirAll(inside, 0o755)
	os.WriteFile(filepath.Join(inside, "a.txt"), []byte("inside"), 0o644)
	os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("outside"), 0o644)
	seeds := []string{
		"X-Sendfile: " + inside + "/a.txt\r\n\r\n",
		"X-Sendfile: " + inside + "/../secret.txt\r\n\r\n",
		"X-Sendfile: " + inside + "/%2e%2e/secret.txt\r\n\r\n",
		"X-Sendfile2: " + inside + "/a.txt 0-2, " + dir + "/secret.txt 0-\r\n\r\n",
		"Status: 206\r\nX-LIGHTTPD-send-file: " + inside + "/a.txt\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-send-response-body: " + dir + "/secret.txt\r\n\r\n",
		"Location: /x\r\n X-Folded: y\r\n\r\n",
		"Content-Type: text/html\r\nX-A: \x00\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	t := &testing.T{}
	s := mustCompile(t, `server.document-root = "/srv"`)
	f.Fuzz(func(t *testing.T, head []byte) {
		rc := newRequest(s, "GET", "x", "/index.php")
		defer rc.Resp.reset()
		bh, err := rc.BackendHeaders(bufio.NewReaderSize(bytes.NewReader(head), 4096), &BackendOpts{
			XSendfile: true, XSendfileDocroots: []string{inside + "/"},
		})
		if err != nil {
			if rc.Resp.Status != 502 {
				t.Fatalf("error %v with status %d", err, rc.Resp.Status)
			}
			return
		}
		for i := 0; i < rc.Resp.Header.Len(); i++ {
			h := rc.Resp.Header.At(i)
			if strings.ContainsAny(h.Name, "\r\n: \t\x00") || strings.ContainsAny(h.Value, "\r\n\x00") {
				t.Fatalf("unsafe header forwarded: %q: %q", h.Name, h.Value)
			}
			if strings.EqualFold(h.Name, "X-Sendfile") || strings.EqualFold(h.Name, "X-Sendfile2") || strings.EqualFold(h.Name, "X-send-response-body") {
				t.Fatalf("handoff header forwarded: %q", h.Name)
			}
		}
		if !bh.Handoff {
			return
		}
		for _, p := range rc.Resp.file.parts {
			// A descriptor's name is its link in /proc.
			if name, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(p.fd.Int())); p.fd.Valid() && !strings.HasPrefix(name, inside+"/") {
				t.Fatalf("handoff served %s, outside %s", name, inside)
			}
			if p.data != nil && bytes.Contains(p.data, []byte("outside")) {
				t.Fatal("handoff served the outside file")
			}
		}
	})
}
