package testconf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Large-file behaviour of the download path, side by side with lighttpd:
// ranges of multi-GiB files, X-Sendfile2 ranges through php-cgi, clients
// that stop reading, files truncated or replaced while they are sent.

const downloadConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_fastcgi")
server.max-write-idle = @WRITEIDLE@
mimetype.assign = (".bin" => "application/octet-stream", ".txt" => "text/plain")
fastcgi.server = ( ".php" => ( "php" => (
	"bin-path" => "@PHP@",
	"socket" => "@ROOT@/@NAME@.sock",
	"max-procs" => 1,
	"bin-environment" => ( "PHP_FCGI_CHILDREN" => "2", "GOLIGHTY_TEST_MARK" => "@ROOT@/@NAME@" ),
	"x-sendfile" => "enable",
	"x-sendfile-docroot" => ( "@ROOT@/www" )
)))
`

// downloadScripts: xs.php hands the file f to the server with header h;
// xs2.php sends X-Sendfile2 for v ("path range;path range", paths encoded
// as lighttpd expects them).
var downloadScripts = map[string]string{
	"www/xs.php": `<?php header("Content-Type: application/octet-stream"); header($_GET["h"] . ": " . $_GET["f"]);`,
	"www/xs2.php": `<?php header("Content-Type: application/octet-stream");
$parts = [];
foreach (explode(";", $_GET["v"]) as $p) { [$f, $r] = explode(" ", $p); $parts[] = rawurlencode($f) . " " . $r; }
header("X-Sendfile2: " . implode(", ", $parts));`,
}

const (
	sparseSize = 8 << 30
	bigSize    = 3<<20 + 12345
)

// downloadTree writes the scripts, big.bin (random bytes) and sparse.bin
// (8 GiB, holes with markers at the start, around 4 GiB and at the end).
func downloadTree(t *testing.T, root string) {
	t.Helper()
	writeTree(t, root, downloadScripts)
	b := make([]byte, bigSize)
	rand.NewChaCha8([32]byte{17}).Read(b)
	if err := os.WriteFile(filepath.Join(root, "www/big.bin"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(root, "www/sparse.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(sparseSize); err != nil {
		t.Skipf("no room for an 8 GiB sparse file: %v", err)
	}
	for _, off := range []int64{0, 1<<32 - 3, -1} {
		mark := fmt.Sprintf("<mark %d>", off)
		if off < 0 {
			off = sparseSize - int64(len(mark))
		}
		if _, err := f.WriteAt([]byte(mark), off); err != nil {
			t.Fatal(err)
		}
	}
}

func downloadServers(t *testing.T, writeIdle int) (g, l *server, root string) {
	lighttpd := requirePeer(t, "lighttpd")
	php := requirePeer(t, "php-cgi")
	root = t.TempDir()
	downloadTree(t, root)
	conf := func(name string) string {
		return strings.NewReplacer("@ROOT@", root, "@PHP@", php, "@NAME@", name, "@WRITEIDLE@", strconv.Itoa(writeIdle)).Replace(downloadConf)
	}
	g = startServer(t, "golighty", golightyBin, root, conf("golighty"))
	t.Cleanup(func() { stopWithChildren(t, g, root+"/golighty") })
	l = startServer(t, "lighttpd", lighttpd, root, conf("lighttpd"))
	return g, l, root
}

// TestDownloadSideBySide: ranges of a 3 MiB file and of an 8 GiB sparse
// file (offsets past 4 GiB, the last bytes, multipart), HEAD, and
// X-Sendfile / X-Sendfile2 ranges from PHP: same status, headers and body
// bytes from both servers.
func TestDownloadSideBySide(t *testing.T) {
	g, l, root := downloadServers(t, 360)
	www := filepath.Join(root, "www")
	// HTTP/1.1 with Connection: close: both servers ignore Range in
	// HTTP/1.0 requests (server.http10-range), and an 8 GiB body must
	// never be read whole.
	get := func(path string, hdr ...string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + strings.Join(append(hdr, ""), "\r\n") + "\r\n"
	}
	rng := func(spec string) string { return "Range: bytes=" + spec }
	xs2 := func(parts ...string) string {
		v := strings.Join(parts, ";")
		return "/xs2.php?v=" + strings.NewReplacer(" ", "%20", "/", "%2F").Replace(v)
	}
	big, sparse := www+"/big.bin", www+"/sparse.bin"
	reqs := []string{
		get("/big.bin"),
		get("/big.bin", rng("1000000-2000000")),
		get("/big.bin", rng("-70000")),
		get("/big.bin", rng("3000000-")),
		get("/big.bin", rng("0-0,3000000-3000100,-5")),
		"HEAD /sparse.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		get("/sparse.bin", rng("8589000000-")),
		get("/sparse.bin", rng("4294000000-4295000000")),
		get("/sparse.bin", rng("-300000")),
		get("/sparse.bin", rng("8589934591-")),
		get("/sparse.bin", rng("8589934592-")),
		get("/sparse.bin", rng("0-99,4294967290-4294967310,8589934580-")),
		get("/xs.php?h=X-Sendfile&f="+sparse, rng("-100000")),
		get("/xs.php?h=X-Sendfile&f="+big, rng("2000000-2100000")),
		get(xs2(big+" 0-99", big+" 2097152-2200000")),
		get(xs2(sparse + " 8589000000-8589934591")),
		get(xs2(sparse+" 4294967000-4294968000", big+" 5-9")),
		get(xs2(sparse + " 8589934592-8589934600")),
		get(xs2(big + " 3000000-9999999")),
		// A client's Range applies to the concatenation.
		get(xs2(big+" 0-99", big+" 2097152-2200000"), rng("50-149")),
		get(xs2(big+" 0-99", sparse+" 8589934000-8589934591"), rng("0-9,95-104,-5")),
		get(xs2(big+" 0-99", big+" 200-299"), rng("500-")),
	}
	for i, req := range reqs {
		name := strings.NewReplacer("\r", "", "\n", "|", "Host: x|Connection: close|", "").Replace(req)
		t.Run(name, func(t *testing.T) {
			gs, gh, gb := splitResponse(downloadRaw(t, g, req))
			ls, lh, lb := splitResponse(downloadRaw(t, l, req))
			if gs != ls || strings.Join(gh, "\n") != strings.Join(lh, "\n") {
				t.Fatalf("#%d heads differ:\ngolighty %s\n%s\nlighttpd %s\n%s", i, gs, strings.Join(gh, "\n"), ls, strings.Join(lh, "\n"))
			}
			if !bytes.Equal(gb, lb) {
				t.Errorf("#%d bodies differ: golighty %d bytes, lighttpd %d", i, len(gb), len(lb))
			}
		})
	}

	// The whole 8 GiB file: the same head, the right Content-Length and the
	// first bytes; the client then hangs up.
	t.Run("GET of the whole 8 GiB file", func(t *testing.T) {
		var heads [2][]string
		for i, s := range []*server{g, l} {
			c, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "GET /sparse.bin HTTP/1.1\r\nHost: x\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			first := make([]byte, 1<<20)
			if _, err := io.ReadFull(resp.Body, first); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			c.Close()
			if resp.ContentLength != sparseSize || !bytes.HasPrefix(first, []byte("<mark 0>")) {
				t.Errorf("%s: Content-Length %d, body starts %q", s.name, resp.ContentLength, first[:12])
			}
			for k, v := range resp.Header {
				if k != "Date" {
					heads[i] = append(heads[i], k+": "+strings.Join(v, ","))
				}
			}
		}
		if fmt.Sprint(sortedLines(heads[0])) != fmt.Sprint(sortedLines(heads[1])) {
			t.Errorf("heads differ:\ngolighty %q\nlighttpd %q", heads[0], heads[1])
		}
	})
}

// downloadRaw sends req on a new connection and reads until the server
// closes it, failing past 64 MiB (a server that ignored a Range of the
// 8 GiB file must not take the machine's memory with it).
func downloadRaw(t *testing.T, s *server, req string) []byte {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	const limit = 64 << 20
	raw, err := io.ReadAll(io.LimitReader(c, limit+1))
	if err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	if len(raw) > limit {
		t.Fatalf("%s: response larger than 64 MiB", s.name)
	}
	return raw
}

func sortedLines(l []string) []string {
	out := append([]string(nil), l...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// socketInodes lists pid's open sockets ("socket:[inode]").
func socketInodes(t *testing.T, pid int) map[string]bool {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(l, "socket:") {
			out[l] = true
		}
	}
	return out
}

// peerSocket is the socket ("socket:[inode]") of the IPv4 connection whose
// remote end is port on this host, from /proc/net/tcp ("" if none).
func peerSocket(t *testing.T, port int) string {
	t.Helper()
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(":%04X", port)
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 9 && strings.HasSuffix(f[2], want) && f[9] != "0" {
			return "socket:[" + f[9] + "]"
		}
	}
	return ""
}

// TestDownloadStopReading: a client that stops reading a download is cut
// off after server.max-write-idle, by both servers, and golighty keeps no
// socket (or file) of it.
func TestDownloadStopReading(t *testing.T) {
	g, l, _ := downloadServers(t, 1)
	for _, s := range []*server{g, l} {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			pid := s.cmd.Process.Pid
			c, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.(*net.TCPConn).SetReadBuffer(8 << 10)
			io.WriteString(c, "GET /sparse.bin HTTP/1.1\r\nHost: x\r\n\r\n")
			// The server's end of this connection: the socket whose peer
			// is this client's port (not merely a new one: the start-up
			// probe's connection may be accepted and closed meanwhile).
			var ours string
			for deadline := time.Now().Add(3 * time.Second); ours == ""; {
				if k := peerSocket(t, c.LocalAddr().(*net.TCPAddr).Port); k != "" && socketInodes(t, pid)[k] {
					ours = k
				}
				if ours == "" && time.Now().After(deadline) {
					t.Fatal("the server never accepted the connection")
				}
				time.Sleep(10 * time.Millisecond)
			}
			start := time.Now()
			for socketInodes(t, pid)[ours] {
				if time.Since(start) > 12*time.Second {
					t.Fatalf("the stalled connection is still open after %v (max-write-idle 1 s)", time.Since(start))
				}
				time.Sleep(100 * time.Millisecond)
			}
			// lighttpd times out after more than 1 s (its clock ticks in
			// seconds), then lingers up to 5 s for the client to close;
			// golighty closes at the deadline.
			if el := time.Since(start); el < 700*time.Millisecond {
				t.Errorf("closed after %v, before max-write-idle", el)
			} else {
				t.Logf("closed %v after the client stopped reading", el.Round(100*time.Millisecond))
			}
		})
	}
}

// partialDownload fetches path, reads the head and the first `first` body
// bytes, runs between, then reads on until the server closes (or 10 s). It
// returns the Content-Length, the body bytes and how long the rest took.
func partialDownload(t *testing.T, s *server, path string, first int, between func()) (int64, []byte, time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(64 << 10)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, first)
	if _, err := io.ReadFull(resp.Body, body); err != nil {
		t.Fatal(err)
	}
	between()
	start := time.Now()
	rest, err := io.ReadAll(resp.Body)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("%s: connection still open 10 s after the change", s.name)
	}
	return resp.ContentLength, append(body, rest...), time.Since(start)
}

// TestDownloadFileChanged: a file truncated while it is sent ends the
// response early and closes the connection at once; a file replaced
// (renamed over) while it is sent is sent whole as it was, and the next
// request gets the new one. Same for both servers.
func TestDownloadFileChanged(t *testing.T) {
	g, l, root := downloadServers(t, 360)
	const size = 16 << 20
	for _, s := range []*server{g, l} {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			old := make([]byte, size)
			rand.NewChaCha8([32]byte{3}).Read(old)
			name := "changed-" + s.name + ".bin"
			path := filepath.Join(root, "www", name)

			t.Run("truncated", func(t *testing.T) {
				if err := os.WriteFile(path, old, 0o644); err != nil {
					t.Fatal(err)
				}
				cl, body, rest := partialDownload(t, s, "/"+name, 256<<10, func() {
					if err := os.Truncate(path, 1<<20); err != nil {
						t.Fatal(err)
					}
				})
				// Bytes past the new end that were already queued in the
				// socket are whatever the page cache holds for them now
				// (sendfile passes page references, and the kernel zeroes
				// the truncated tail of a large folio): the same for both
				// servers, so only the part before the cut is compared.
				kept := min(len(body), 1<<20)
				if cl != size || len(body) >= size || !bytes.Equal(body[:kept], old[:kept]) {
					t.Errorf("Content-Length %d, %d body bytes, first %d as in the file: %v", cl, len(body), kept, bytes.Equal(body[:kept], old[:kept]))
				}
				if rest > 5*time.Second {
					t.Errorf("closed %v after the truncation", rest)
				}
			})

			t.Run("replaced", func(t *testing.T) {
				time.Sleep(1100 * time.Millisecond) // past the stat caches' second
				if err := os.WriteFile(path, old, 0o644); err != nil {
					t.Fatal(err)
				}
				time.Sleep(1100 * time.Millisecond)
				repl := bytes.Repeat([]byte("new!"), size/8)
				cl, body, _ := partialDownload(t, s, "/"+name, 256<<10, func() {
					tmp := path + ".tmp"
					if err := os.WriteFile(tmp, repl, 0o644); err != nil {
						t.Fatal(err)
					}
					if err := os.Rename(tmp, path); err != nil {
						t.Fatal(err)
					}
				})
				if cl != size || !bytes.Equal(body, old) {
					t.Errorf("Content-Length %d, %d body bytes, the old file whole: %v", cl, len(body), bytes.Equal(body, old))
				}
				time.Sleep(1100 * time.Millisecond)
				ex := s.raw(t, "GET /"+name+" HTTP/1.0\r\n\r\n", false)
				if ex.resp == nil || !bytes.Equal(ex.body, repl) {
					t.Errorf("next request: %d bytes, the new file: %v", len(ex.body), bytes.Equal(ex.body, repl))
				}
			})
		})
	}
}
