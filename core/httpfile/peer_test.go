package httpfile_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golighty/golighty/core/httpfile"
)

const lighttpdBin = "/usr/sbin/lighttpd"

// peerMime is the mimetype.assign given to lighttpd and to golighty.
var peerMime = []httpfile.MimePair{
	{Suffix: ".txt", Type: "text/plain"},
	{Suffix: ".oct", Type: "application/octet-stream"},
}

type peerFile struct {
	name  string
	size  int
	flags httpfile.ETagFlags
}

var peerFiles = []peerFile{
	{"a.txt", 1000, httpfile.ETagDefault},
	{"e.txt", 0, httpfile.ETagDefault},
	{"b.bin", 500, httpfile.ETagDefault},
	{"o.oct", 300, httpfile.ETagDefault},
	{"noinode/c.txt", 400, httpfile.ETagUseMtime | httpfile.ETagUseSize},
	{"noetag/d.txt", 200, 0},
}

// startLighttpd runs the real lighttpd over docroot and returns its address.
func startLighttpd(t *testing.T, dir, docroot, extraConf string) string {
	t.Helper()
	if _, err := os.Stat(lighttpdBin); err != nil {
		if os.Getenv("GOLIGHTY_REQUIRE_PEERS") == "1" {
			t.Fatalf("lighttpd required but missing: %v", err)
		}
		t.Skipf("lighttpd not installed: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := fmt.Sprintf(`server.document-root = %q
server.port = %d
server.bind = "127.0.0.1"
server.errorlog = %q
%s
`, docroot, port, filepath.Join(dir, "error.log"), extraConf)
	confPath := filepath.Join(dir, "lighttpd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(lighttpdBin, "-D", "-f", confPath)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start lighttpd: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("lighttpd did not start on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mimeConf renders pairs as a mimetype.assign line.
func mimeConf(pairs []httpfile.MimePair) string {
	var b strings.Builder
	b.WriteString("mimetype.assign = (")
	for i, p := range pairs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q => %q", p.Suffix, p.Type)
	}
	b.WriteString(")")
	return b.String()
}

type rawResponse struct {
	status  int
	order   []string
	headers map[string]string
	body    []byte
}

func rawRequest(t *testing.T, addr, req string) rawResponse {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	head, body, ok := bytes.Cut(all, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("no header end in %q", all)
	}
	sc := bufio.NewScanner(bytes.NewReader(head))
	sc.Scan()
	fields := strings.Fields(sc.Text())
	if len(fields) < 2 {
		t.Fatalf("bad status line %q", sc.Text())
	}
	r := rawResponse{headers: map[string]string{}, body: body}
	r.status, _ = strconv.Atoi(fields[1])
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ": ")
		r.order = append(r.order, k)
		r.headers[k] = v
	}
	return r
}

type peerCase struct {
	name    string
	method  string
	file    string
	proto   string
	headers [][2]string
}

func TestPeerLighttpd(t *testing.T) {
	dir := t.TempDir()
	docroot := filepath.Join(dir, "root")
	content := map[string][]byte{}
	info := map[string]httpfile.FileID{}
	mtime := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	for _, f := range peerFiles {
		p := filepath.Join(docroot, f.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, f.size)
		for i := range b {
			b[i] = "abcdefghijklmnopqrstuvwxyz0123456789\n"[i%37]
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		content[f.name] = b
		info[f.name] = httpfile.FileID{Ino: st.Ino, Size: st.Size, MtimeSec: st.Mtim.Sec, MtimeNsec: st.Mtim.Nsec}
	}
	addr := startLighttpd(t, dir, docroot, mimeConf(peerMime)+`
$HTTP["url"] =~ "^/noinode/" { etag.use-inode = "disable" }
$HTTP["url"] =~ "^/noetag/" { static-file.etags = "disable" }`)

	a := info["a.txt"]
	etagA := string(httpfile.ETag(nil, a, httpfile.ETagDefault))
	lm := string(httpfile.AppendHTTPDate(nil, a.MtimeSec))
	lmEarlier := string(httpfile.AppendHTTPDate(nil, a.MtimeSec-86400))
	lmLater := string(httpfile.AppendHTTPDate(nil, a.MtimeSec+1))
	mt := time.Unix(a.MtimeSec, 0).UTC()
	rfc850 := mt.Format("Monday, 02-Jan-06 15:04:05 GMT")
	asctime := mt.Format("Mon Jan _2 15:04:05 2006")
	h := func(kv ...string) [][2]string {
		var out [][2]string
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, [2]string{kv[i], kv[i+1]})
		}
		return out
	}
	var tenRanges []string
	for i := 0; i < 11; i++ {
		tenRanges = append(tenRanges, fmt.Sprintf("%d-%d", i*95, i*95))
	}
	cases := []peerCase{
		{"plain GET", "GET", "a.txt", "", nil},
		{"HEAD", "HEAD", "a.txt", "", nil},
		{"HTTP/1.0 no Accept-Ranges", "GET", "a.txt", "HTTP/1.0", nil},
		{"POST static", "POST", "a.txt", "", nil},
		{"INM exact", "GET", "a.txt", "", h("If-None-Match", etagA)},
		{"INM weak", "GET", "a.txt", "", h("If-None-Match", "W/"+etagA)},
		{"INM weak with Range", "GET", "a.txt", "", h("If-None-Match", "W/"+etagA, "Range", "bytes=0-4")},
		{"INM strong with Range", "GET", "a.txt", "", h("If-None-Match", etagA, "Range", "bytes=0-4")},
		{"INM list", "GET", "a.txt", "", h("If-None-Match", `"x", `+etagA+`, "y"`)},
		{"INM star", "GET", "a.txt", "", h("If-None-Match", "*")},
		{"INM star member", "GET", "a.txt", "", h("If-None-Match", `"x", *`)},
		{"INM blank-separated list", "GET", "a.txt", "", h("If-None-Match", `"x" `+etagA)},
		{"INM prefix only", "GET", "a.txt", "", h("If-None-Match", strings.TrimSuffix(etagA, `"`))},
		{"INM mismatch ignores IMS", "GET", "a.txt", "", h("If-None-Match", `"nope"`, "If-Modified-Since", lm)},
		{"INM POST 412", "POST", "a.txt", "", h("If-None-Match", etagA)},
		{"INM HEAD", "HEAD", "a.txt", "", h("If-None-Match", etagA)},
		{"INM QUERY", "QUERY", "a.txt", "", h("If-None-Match", etagA)},
		{"QUERY with Range", "QUERY", "a.txt", "", h("Range", "bytes=0-4")},
		{"IMS equal", "GET", "a.txt", "", h("If-Modified-Since", lm)},
		{"IMS earlier", "GET", "a.txt", "", h("If-Modified-Since", lmEarlier)},
		{"IMS later", "GET", "a.txt", "", h("If-Modified-Since", lmLater)},
		{"IMS garbage", "GET", "a.txt", "", h("If-Modified-Since", "yesterday")},
		{"IMS RFC850", "GET", "a.txt", "", h("If-Modified-Since", rfc850)},
		{"IMS asctime", "GET", "a.txt", "", h("If-Modified-Since", asctime)},
		{"IMS POST ignored", "POST", "a.txt", "", h("If-Modified-Since", lm)},
		{"IMS HEAD", "HEAD", "a.txt", "", h("If-Modified-Since", lm)},
		{"If-Match ignored", "GET", "a.txt", "", h("If-Match", `"nope"`)},
		{"IUS ignored", "GET", "a.txt", "", h("If-Unmodified-Since", lmEarlier)},
		{"range first bytes", "GET", "a.txt", "", h("Range", "bytes=0-4")},
		{"range suffix", "GET", "a.txt", "", h("Range", "bytes=-10")},
		{"range open end", "GET", "a.txt", "", h("Range", "bytes=990-")},
		{"range clipped", "GET", "a.txt", "", h("Range", "bytes=995-2000")},
		{"range start past end", "GET", "a.txt", "", h("Range", "bytes=1000-")},
		{"range reversed", "GET", "a.txt", "", h("Range", "bytes=5-3")},
		{"range near merge", "GET", "a.txt", "", h("Range", "bytes=0-1,5-6")},
		{"range multipart", "GET", "a.txt", "", h("Range", "bytes=0-4,500-504")},
		{"range multipart reversed order", "GET", "a.txt", "", h("Range", "bytes=500-504,0-4")},
		{"range gap 79 merges", "GET", "a.txt", "", h("Range", "bytes=0-99,179-199")},
		{"range gap 80 separate", "GET", "a.txt", "", h("Range", "bytes=0-99,180-199")},
		{"range overlap three", "GET", "a.txt", "", h("Range", "bytes=600-700,0-10,650-800")},
		{"range unit unknown", "GET", "a.txt", "", h("Range", "items=0-4")},
		{"range unit uppercase", "GET", "a.txt", "", h("Range", "BYTES=0-4")},
		{"range leading blank", "GET", "a.txt", "", h("Range", "bytes= 0-4")},
		{"range blanks around dash", "GET", "a.txt", "", h("Range", "bytes=0 - 4")},
		{"range plus sign", "GET", "a.txt", "", h("Range", "bytes=+5-9")},
		{"range garbage", "GET", "a.txt", "", h("Range", "bytes=abc")},
		{"range empty set", "GET", "a.txt", "", h("Range", "bytes=")},
		{"range minus zero", "GET", "a.txt", "", h("Range", "bytes=-0")},
		{"range partly garbage", "GET", "a.txt", "", h("Range", "bytes=0-4,abc,300-304")},
		{"range blank after comma", "GET", "a.txt", "", h("Range", "bytes=0-4, 500-504")},
		{"range suffix in multipart", "GET", "a.txt", "", h("Range", "bytes=0-4,-5")},
		{"range suffix bigger than file", "GET", "a.txt", "", h("Range", "bytes=-2000")},
		{"range eleven specs", "GET", "a.txt", "", h("Range", "bytes="+strings.Join(tenRanges, ","))},
		{"range trailing junk", "GET", "a.txt", "", h("Range", "bytes=0-4x")},
		{"range HEAD", "HEAD", "a.txt", "", h("Range", "bytes=0-4")},
		{"range HTTP/1.0", "GET", "a.txt", "HTTP/1.0", h("Range", "bytes=0-4")},
		{"range POST", "POST", "a.txt", "", h("Range", "bytes=0-4")},
		{"If-Range etag match", "GET", "a.txt", "", h("Range", "bytes=0-4", "If-Range", etagA)},
		{"If-Range etag mismatch", "GET", "a.txt", "", h("Range", "bytes=0-4", "If-Range", `"other"`)},
		{"If-Range weak etag", "GET", "a.txt", "", h("Range", "bytes=0-4", "If-Range", "W/"+etagA)},
		{"If-Range date match", "GET", "a.txt", "", h("Range", "bytes=0-4", "If-Range", lm)},
		{"If-Range date later", "GET", "a.txt", "", h("Range", "bytes=0-4", "If-Range", lmLater)},
		{"empty file", "GET", "e.txt", "", nil},
		{"empty file range", "GET", "e.txt", "", h("Range", "bytes=0-4")},
		{"octet-stream no caching headers", "GET", "b.bin", "", nil},
		{"octet-stream INM star ignored", "GET", "b.bin", "", h("If-None-Match", "*")},
		{"octet-stream range", "GET", "b.bin", "", h("Range", "bytes=0-4,200-204")},
		{"octet-stream If-Range", "GET", "b.bin", "", h("Range", "bytes=0-4", "If-Range", etagA)},
		{"explicit octet-stream mapping", "GET", "o.oct", "", nil},
		{"explicit octet-stream INM star", "GET", "o.oct", "", h("If-None-Match", "*")},
		{"etag without inode", "GET", "noinode/c.txt", "", nil},
		{"etags disabled", "GET", "noetag/d.txt", "", nil},
		{"etags disabled INM star", "GET", "noetag/d.txt", "", h("If-None-Match", "*")},
		{"etags disabled IMS", "GET", "noetag/d.txt", "", h("If-Modified-Since", lm)},
	}
	mimes := httpfile.CompileMimeTypes(peerMime)
	flagsOf := map[string]httpfile.ETagFlags{}
	for _, f := range peerFiles {
		flagsOf[f.name] = f.flags
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			proto := tc.proto
			if proto == "" {
				proto = "HTTP/1.1"
			}
			var req strings.Builder
			fmt.Fprintf(&req, "%s /%s %s\r\nHost: x\r\nConnection: close\r\n", tc.method, tc.file, proto)
			r := httpfile.Request{Method: tc.method, RangeAllowed: proto == "HTTP/1.1"}
			for _, kv := range tc.headers {
				fmt.Fprintf(&req, "%s: %s\r\n", kv[0], kv[1])
				switch kv[0] {
				case "If-None-Match":
					r.IfNoneMatch = kv[1]
				case "If-Modified-Since":
					r.IfModifiedSince = kv[1]
				case "Range":
					r.Range = kv[1]
				case "If-Range":
					r.IfRange = kv[1]
				}
			}
			if tc.method == "POST" || tc.method == "QUERY" {
				req.WriteString("Content-Length: 0\r\n")
			}
			req.WriteString("\r\n")
			got := rawRequest(t, addr, req.String())

			id := info[tc.file]
			f := httpfile.File{Size: id.Size, MtimeSec: id.MtimeSec}
			f.ContentType, f.TypeMatched = mimes.Lookup(filepath.Join(docroot, tc.file))
			f.ETag = string(httpfile.ETag(nil, id, flagsOf[tc.file]))
			f.LastModified = string(httpfile.AppendHTTPDate(nil, id.MtimeSec))
			var p httpfile.Plan
			httpfile.Decide(&p, &r, &f, time.Now().Unix())

			if got.status != p.Status {
				t.Fatalf("status: lighttpd %d, golighty %d (headers %v)", got.status, p.Status, got.headers)
			}
			if p.Status == 412 || p.Status == 416 {
				if cr, ok := got.headers["Content-Range"]; ok {
					t.Errorf("lighttpd sent Content-Range %q on %d", cr, p.Status)
				}
				return
			}
			want := map[string]string{
				"Content-Type":  p.ContentType,
				"ETag":          p.ETag,
				"Last-Modified": p.LastModified,
			}
			if p.ContentLength >= 0 {
				want["Content-Length"] = strconv.FormatInt(p.ContentLength, 10)
			}
			if p.AcceptRanges {
				want["Accept-Ranges"] = "bytes"
			}
			if p.Status == 206 && !p.Multipart() {
				want["Content-Range"] = string(p.AppendContentRange(nil))
			}
			var wantOrder []string
			for _, k := range []string{"Content-Type", "ETag", "Last-Modified", "Content-Length", "Accept-Ranges", "Content-Range"} {
				if want[k] != "" {
					wantOrder = append(wantOrder, k)
				}
				if g := got.headers[k]; g != want[k] {
					t.Errorf("%s: lighttpd %q, golighty %q", k, g, want[k])
				}
			}
			var gotOrder []string
			for _, k := range got.order {
				if _, ok := want[k]; ok || k == "Accept-Ranges" || k == "Content-Range" || k == "Content-Length" {
					gotOrder = append(gotOrder, k)
				}
			}
			if strings.Join(gotOrder, ",") != strings.Join(wantOrder, ",") {
				t.Errorf("header order: lighttpd %v, golighty %v", gotOrder, wantOrder)
			}
			if tc.method == "HEAD" || p.Status == 304 {
				if len(got.body) != 0 {
					t.Errorf("lighttpd sent a %d-byte body", len(got.body))
				}
				return
			}
			if wb := planBody(&p, content[tc.file]); !bytes.Equal(got.body, wb) {
				t.Errorf("body:\nlighttpd %q\ngolighty %q", got.body, wb)
			}
		})
	}
}

// planBody renders the body a Plan describes, as the core's sender would.
func planBody(p *httpfile.Plan, file []byte) []byte {
	switch {
	case p.Status != 206:
		return file
	case !p.Multipart():
		return file[p.Ranges[0].Start : p.Ranges[0].End+1]
	}
	var b []byte
	for i, r := range p.Ranges {
		b = p.AppendPartHeader(b, i)
		b = append(b, file[r.Start:r.End+1]...)
	}
	return httpfile.AppendMultipartEnd(b)
}

// TestPeerMimetypes compares Content-Type selection (and whether caching
// headers follow) with lighttpd for a short table (first suffix match in
// config order) and a long one (basename, longest dotted suffix, "").
func TestPeerMimetypes(t *testing.T) {
	short := []httpfile.MimePair{
		{Suffix: ".gz", Type: "application/gzip"},
		{Suffix: ".tar.gz", Type: "application/x-tgz"},
		{Suffix: ".HTML", Type: "text/html"},
		{Suffix: "README", Type: "text/x-readme"},
		{Suffix: ".js", Type: "application/javascript"},
		{Suffix: ".empty", Type: ""},
	}
	long := append([]httpfile.MimePair{}, short...)
	long = append(long,
		httpfile.MimePair{Suffix: "md", Type: "text/markdown"},
		httpfile.MimePair{Suffix: ".htaccess", Type: "text/x-htaccess"},
		httpfile.MimePair{Suffix: "", Type: "application/x-default"},
	)
	for i := 0; i < 12; i++ {
		long = append(long, httpfile.MimePair{Suffix: fmt.Sprintf(".z%d", i), Type: fmt.Sprintf("x/z%d", i)})
	}
	names := []string{"x.tar.gz", "y.gz", "INDEX.html", "page.HTML", "README", "myREADME", "notes.md",
		"app.js", "f.empty", ".htaccess", "unknown.png", "noext", "x..gz", "v.z9", "d.gz/inner"}
	for _, tc := range []struct {
		name  string
		pairs []httpfile.MimePair
	}{{"linear", short}, {"indexed", long}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			docroot := filepath.Join(dir, "root")
			for _, n := range names {
				p := filepath.Join(docroot, n)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte("data"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			addr := startLighttpd(t, dir, docroot, mimeConf(tc.pairs))
			m := httpfile.CompileMimeTypes(tc.pairs)
			for _, n := range names {
				t.Run(n, func(t *testing.T) {
					got := rawRequest(t, addr, "GET /"+n+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
					ct, ok := m.Lookup(filepath.Join(docroot, n))
					if !ok {
						ct = httpfile.OctetStream
					}
					if got.status != 200 || got.headers["Content-Type"] != ct {
						t.Errorf("lighttpd %d %q, golighty %q", got.status, got.headers["Content-Type"], ct)
					}
					if _, hasETag := got.headers["ETag"]; hasETag != ok {
						t.Errorf("lighttpd ETag present=%v, golighty type matched=%v", hasETag, ok)
					}
				})
			}
		})
	}
}

// TestPeerXattr compares mimetype.use-xattr handling with lighttpd.
func TestPeerXattr(t *testing.T) {
	dir := t.TempDir()
	docroot := filepath.Join(dir, "root")
	os.MkdirAll(docroot, 0o755)
	files := []struct{ name, attr string }{
		{"a.txt", "text/x-attr"},
		{"b.txt", ""},
		{"c.bin", "image/x-from-attr"},
		{"d.txt", strings.Repeat("x", 127)},
		{"e.txt", strings.Repeat("y", 128)},
	}
	for _, f := range files {
		p := filepath.Join(docroot, f.name)
		if err := os.WriteFile(p, []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
		if f.attr != "" {
			if err := syscall.Setxattr(p, "user.Content-Type", []byte(f.attr), 0); err != nil {
				t.Skipf("filesystem has no user xattrs: %v", err)
			}
		}
	}
	pairs := []httpfile.MimePair{{Suffix: ".txt", Type: "text/plain"}}
	addr := startLighttpd(t, dir, docroot, mimeConf(pairs)+`
mimetype.use-xattr = "enable"
mimetype.xattr-name = "user.Content-Type"`)
	m := httpfile.CompileMimeTypes(pairs)
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			got := rawRequest(t, addr, "GET /"+f.name+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			ct, ok := httpfile.ContentTypeFor(m, filepath.Join(docroot, f.name), "user.Content-Type")
			if !ok {
				ct = httpfile.OctetStream
			}
			if got.headers["Content-Type"] != ct {
				t.Errorf("lighttpd %q, golighty %q", got.headers["Content-Type"], ct)
			}
			if _, hasETag := got.headers["ETag"]; hasETag != ok {
				t.Errorf("lighttpd ETag present=%v, golighty matched=%v", hasETag, ok)
			}
		})
	}
}
