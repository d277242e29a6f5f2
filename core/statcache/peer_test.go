package statcache

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/golighty/golighty/core/httpfile"
)

// TestPeerFreshness replaces, rewrites and deletes a file under a running
// lighttpd and under this cache, and checks that both notice within the
// same bound and that the ETag and Last-Modified the cache derives are the
// ones lighttpd sends.
func TestPeerFreshness(t *testing.T) {
	const bin = "/usr/sbin/lighttpd"
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("GOLIGHTY_REQUIRE_PEERS") == "1" {
			t.Fatalf("lighttpd required but missing: %v", err)
		}
		t.Skipf("lighttpd not installed: %v", err)
	}
	if testing.Short() {
		t.Skip("sleeps")
	}
	dir := t.TempDir()
	docroot := filepath.Join(dir, "root")
	os.Mkdir(docroot, 0o755)
	p := filepath.Join(docroot, "f.txt")
	write(t, p, "first version")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := filepath.Join(dir, "lighttpd.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`server.document-root = %q
server.port = %d
server.bind = "127.0.0.1"
server.errorlog = %q
mimetype.assign = (".txt" => "text/plain")
`, docroot, port, filepath.Join(dir, "error.log"))), 0o644)
	cmd := exec.Command(bin, "-D", "-f", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	get := func() (status int, etag, lm, body string) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return 0, "", "", err.Error()
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		io.WriteString(c, "GET /f.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0, "", "", err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("ETag"), resp.Header.Get("Last-Modified"), string(b)
	}
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if st, _, _, _ := get(); st == 200 {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("lighttpd did not come up")
		}
	}

	c := New(Config{})
	defer c.Close()
	ours := func() (status int, etag, lm, body string) {
		h, err := c.Open(p)
		if err != nil {
			return 404, "", "", ""
		}
		defer h.Release()
		buf := make([]byte, h.Entry.Size)
		h.ReadAt(buf, 0)
		return 200, h.Entry.ETag(httpfile.ETagDefault), h.Entry.LastModified, string(buf)
	}
	steps := []struct {
		name   string
		change func()
		status int
		body   string
	}{
		{"replace by rename", func() { replace(t, p, "second version!") }, 200, "second version!"},
		{"rewrite in place", func() { write(t, p, "third") }, 200, "third"},
		{"delete", func() { os.Remove(p) }, 404, ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			get()
			ours()
			s.change()
			changed := time.Now()
			var lst, ost int
			var letag, oetag, llm, olm, lbody, obody string
			for {
				lst, letag, llm, lbody = get()
				ost, oetag, olm, obody = ours()
				lDone := lst == s.status && (s.status != 200 || lbody == s.body)
				oDone := ost == s.status && (s.status != 200 || obody == s.body)
				// lighttpd may send new bytes under the old ETag for up to
				// a second (its descriptor reads the rewritten file), so
				// wait for both to agree on the validators too.
				same := letag == oetag && llm == olm
				if lDone && oDone && same {
					break
				}
				if time.Since(changed) > 1100*time.Millisecond {
					t.Fatalf("after %v: lighttpd done=%v (%d %q %s), golighty done=%v (%d %q %s)",
						time.Since(changed), lDone, lst, lbody, letag, oDone, ost, obody, oetag)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
