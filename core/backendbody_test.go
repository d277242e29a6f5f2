package core

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golighty/golighty/core/bufpoison"
	"github.com/golighty/golighty/core/rawsys"
)

// failingBody yields n pattern bytes, then fails.
type failingBody struct{ n, off int }

func (f *failingBody) Read(p []byte) (int, error) {
	if f.off >= f.n {
		return 0, errors.New("backend died")
	}
	k := min(len(p), f.n-f.off)
	for i := range p[:k] {
		p[i] = byte('a' + (f.off+i)%26)
	}
	f.off += k
	return k, nil
}

// recordBody yields r in reads of at most 8 KiB, as a FastCGI backend's
// records arrive (PHP's output buffer).
type recordBody struct{ r io.Reader }

func (b recordBody) Read(p []byte) (int, error) { return b.r.Read(p[:min(len(p), 8<<10)]) }

// countingReader counts what was read from r.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

var (
	hugeBody    = bodyPattern(6 << 20)
	hugeRead    atomic.Int64
	recordsBody = bodyPattern(1<<20 + 3)
	smallBody   = bodyPattern(20 << 10)
	midBody     = bodyPattern(50 << 10)
)

func bodyPattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

func init() {
	registerServe("mod_test_backendbody", func(rc *Request) Result {
		var b BackendBody
		path := rc.URI.Path[strings.LastIndexByte(rc.URI.Path, '/'):]
		switch path {
		case "/short": // announces 10 bytes, sends 3
			b = BackendBody{R: strings.NewReader("abc"), ContentLength: 10}
		case "/dies": // dies after 200 KiB
			b = BackendBody{R: &failingBody{n: 200 << 10}, ContentLength: -1}
		case "/records": // 1 MiB and 3 bytes in reads of 8 KiB
			b = BackendBody{R: recordBody{bytes.NewReader(recordsBody)}, ContentLength: -1}
		case "/small", "/smallcl": // 20 KiB: within a scratch buffer
			b = BackendBody{R: recordBody{bytes.NewReader(smallBody)}, ContentLength: -1}
			if path == "/smallcl" {
				b.ContentLength = 20 << 10
			}
		case "/mid", "/midcl": // 50 KiB: past a scratch buffer, within the memory share
			b = BackendBody{R: recordBody{bytes.NewReader(midBody)}, ContentLength: -1}
			if path == "/midcl" {
				b.ContentLength = 50 << 10
			}
		case "/big": // 300 KiB: past the memory share
			b = BackendBody{R: bytes.NewReader(bodyPattern(300 << 10)), ContentLength: -1}
		case "/huge", "/hugecl": // 6 MiB, read as far as hugeRead counts
			b = BackendBody{R: &countingReader{r: bytes.NewReader(hugeBody), n: &hugeRead}, ContentLength: -1}
			if path == "/hugecl" {
				b.ContentLength = int64(len(hugeBody))
				rc.Resp.Header.Set("Content-Length", strconv.Itoa(len(hugeBody)))
			}
		}
		rc.Resp.Status = 200
		rc.Resp.Dynamic = true
		rc.Resp.Header.Set("Content-Type", "text/plain")
		if err := rc.SendBackendBody(b); err != nil && !rc.Resp.Started() {
			rc.Resp.Header.Reset()
			rc.Resp.Dynamic = false
			rc.Resp.Status = 502
		}
		return Finished
	})
}

const backendBodyConf = `
server.document-root = "/nonexistent"
server.modules = ("mod_test_backendbody")
server.upload-dirs = ("@TMP@")
$HTTP["url"] =^ "/m1/" { server.stream-response-body = 1 }
$HTTP["url"] =^ "/m2/" { server.stream-response-body = 2 }
`

// TestSendBackendBody checks the core's side of every gateway's body: a
// short or failing body is a 502 while nothing was sent and a cut
// connection once streaming, and a spooled body takes multi-range requests.
func TestSendBackendBody(t *testing.T) {
	_, dial, _ := testServer(t, strings.ReplaceAll(backendBodyConf, "@TMP@", t.TempDir()))
	for _, tc := range []struct {
		name, path, rng string
		status          int
		cut             bool // the response must end without completing
	}{
		{"short buffered", "/m0/short", "", 502, false},
		{"dies buffered", "/m0/dies", "", 502, false},
		{"dies streamed ahead", "/m1/dies", "", 200, true},
		{"dies streamed", "/m2/dies", "", 200, true},
		{"short streamed", "/m2/short", "", 200, true},
		{"spooled multi-range", "/m0/big", "bytes=0-9,200000-200009", 206, false},
		{"spooled from small reads", "/m0/records", "", 200, false},
		{"streamed from small reads", "/m1/records", "", 200, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial()
			req := "GET " + tc.path + " HTTP/1.1\r\nHost: x\r\n"
			if tc.rng != "" {
				req += "Range: " + tc.rng + "\r\n"
			}
			go io.WriteString(c, req+"\r\n")
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if cut := errors.Is(err, io.ErrUnexpectedEOF); cut != tc.cut {
				t.Fatalf("cut %v (%v), want %v", cut, err, tc.cut)
			}
			if strings.HasSuffix(tc.path, "/records") {
				// Whole and in order, and with its length when collected.
				if !bytes.Equal(body, recordsBody) {
					t.Errorf("body of %d bytes differs from the backend's", len(body))
				}
				if cl := resp.ContentLength; strings.HasPrefix(tc.path, "/m0/") && cl != 1<<20+3 {
					t.Errorf("Content-Length %d", cl)
				}
			}
			if tc.status != 206 {
				return
			}
			_, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
			mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
			want := bodyPattern(300 << 10)
			for _, r := range [][2]int{{0, 10}, {200000, 200010}} {
				p, err := mr.NextPart()
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(p)
				if !bytes.Equal(got, want[r[0]:r[1]]) || p.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", r[0], r[1]-1, len(want)) {
					t.Errorf("part %q %q", p.Header.Get("Content-Range"), got)
				}
			}
		})
	}
}

// TestSendBackendBodyFiltered: a body read ahead into the temporary file
// (mode 1, a client that reads nothing for a while) still passes through
// the response filter, never around it with sendfile.
func TestSendBackendBodyFiltered(t *testing.T) {
	conf := strings.ReplaceAll(backendBodyConf, "@TMP@", t.TempDir())
	conf = strings.Replace(conf, `server.modules = ("mod_test_backendbody")`, `server.modules = ("mod_test_backendbody", "mod_test_filter")`, 1)
	_, dial, _ := testServer(t, conf)
	c := dial()
	// mod_test_filter (filter_test.go) upper-cases the body when asked.
	go io.WriteString(c, "GET /m1/big HTTP/1.1\r\nHost: x\r\nX-Filter: 1\r\nConnection: close\r\n\r\n")
	time.Sleep(200 * time.Millisecond) // the backend is read ahead meanwhile
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(bytes.ToUpper(bodyPattern(300<<10)), "<END>"...); !bytes.Equal(body, want) {
		t.Errorf("%d bytes, want %d all through the filter (lower-case bytes: %d)", len(body), len(want), bytes.Count(body, []byte("a")))
	}
}

// TestSendBackendBodyNoRoom: when the upload directory nearly fills (here:
// a spool file past 2 MiB, checked every MiB), buffering stops short of
// filling it. Mode 0
// streams the rest (Content-Length only if the backend sent one, no Range),
// mode 1 stops reading ahead until the client has taken what waits; every
// byte arrives either way.
func TestSendBackendBodyNoRoom(t *testing.T) {
	defer func(f func(*os.File) bool, every int64) { hasRoom, roomCheckEvery = f, every }(hasRoom, roomCheckEvery)
	roomCheckEvery = 1 << 20
	hasRoom = func(f *os.File) bool {
		st, err := f.Stat()
		return err == nil && st.Size() <= 2<<20
	}
	_, dial, logs := testServer(t, strings.ReplaceAll(backendBodyConf, "@TMP@", t.TempDir()))
	for _, tc := range []struct {
		name, path, rng string
		cl              int64 // Content-Length; -1: chunked
		stall           bool  // read nothing at first
	}{
		{"buffered, unknown length", "/m0/huge", "bytes=0-9", -1, false},
		{"buffered, backend's length", "/m0/hugecl", "", int64(len(hugeBody)), false},
		{"read ahead for a stalled client", "/m1/huge", "", -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hugeRead.Store(0)
			c := dial()
			req := "GET " + tc.path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
			if tc.rng != "" {
				req += "Range: " + tc.rng + "\r\n"
			}
			go io.WriteString(c, req+"\r\n")
			if tc.stall {
				time.Sleep(time.Second)
				if got := hugeRead.Load(); got >= int64(len(hugeBody)) {
					t.Errorf("the backend was read to its end (%d bytes) for a client that read nothing", got)
				}
			}
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, hugeBody) {
				t.Fatalf("status %d, %d bytes (%v), want 200 and the %d-byte body", resp.StatusCode, len(body), err, len(hugeBody))
			}
			if resp.ContentLength != tc.cl {
				t.Errorf("content-length %d, want %d", resp.ContentLength, tc.cl)
			}
		})
	}
	if !strings.Contains(logs.String(), "nearly full") {
		t.Errorf("no log line: %s", logs.String())
	}
}

// BenchmarkSendBackendBodySpooled: a 1 MiB backend body arriving in 8 KiB
// reads (PHP's FastCGI records) collected into a temporary file and sent
// (server.stream-response-body = 0), one request per iteration, on a new
// connection after every 1,000.
func BenchmarkSendBackendBodySpooled(b *testing.B) {
	_, dial, _ := testServer(b, strings.ReplaceAll(backendBodyConf, "@TMP@", b.TempDir()))
	c := dial()
	br := bufio.NewReaderSize(c, 64<<10)
	req := []byte("GET /m0/records HTTP/1.1\r\nHost: x\r\n\r\n")
	b.SetBytes(1<<20 + 3)
	b.ReportAllocs()
	for b.Loop() {
		go c.Write(req)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != 1<<20+3 {
			b.Fatalf("read %d bytes: %v", n, err)
		}
		if resp.Close { // server.max-keep-alive-requests (1000) reached
			c.Close()
			c = dial()
			br.Reset(c)
		}
	}
}

// TestBackendBodyInPoolBuffer: a body collected in memory is sent from the
// pool buffer it was read into (no copy, no allocation of its size), whole,
// with ranges over it, and on a keep-alive connection whose next response
// reuses the buffer; with buffer poisoning on, a view of a buffer given
// back too early would read as 0xA5 bytes.
func TestBackendBodyInPoolBuffer(t *testing.T) {
	bufpoison.Enable()
	_, dial, _ := testServer(t, strings.ReplaceAll(backendBodyConf, "@TMP@", t.TempDir()))
	c := dial()
	br := bufio.NewReader(c)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	for _, path := range []string{"/m0/small", "/m0/smallcl", "/m0/mid", "/m0/midcl", "/m0/small"} {
		n := 20 << 10
		if strings.Contains(path, "mid") {
			n = 50 << 10
		}
		want := bodyPattern(n)
		for _, rng := range []string{"", "bytes=5-9", "bytes=0-1,10000-10002"} {
			req := "GET " + path + " HTTP/1.1\r\nHost: x\r\n"
			if rng != "" {
				req += "Range: " + rng + "\r\n"
			}
			// Two at once: the second is read while the first's answer may
			// still be buffered.
			go io.WriteString(c, req+"\r\n"+req+"\r\n")
			for range 2 {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(path, rng, err)
				}
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(path, rng, err)
				}
				switch {
				case rng == "":
					if resp.StatusCode != 200 || !bytes.Equal(body, want) || resp.ContentLength != int64(n) {
						t.Fatalf("%s: %d, %d bytes (Content-Length %d) differ from the backend's %d", path, resp.StatusCode, len(body), resp.ContentLength, n)
					}
				case strings.Contains(rng, ","):
					_, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
					mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
					for _, r := range [][2]int{{0, 2}, {10000, 10003}} {
						p, err := mr.NextPart()
						if err != nil {
							t.Fatal(path, rng, err)
						}
						if got, _ := io.ReadAll(p); !bytes.Equal(got, want[r[0]:r[1]]) {
							t.Fatalf("%s %s: part %q", path, rng, got)
						}
					}
				default:
					if resp.StatusCode != 206 || !bytes.Equal(body, want[5:10]) {
						t.Fatalf("%s %s: %d %q", path, rng, resp.StatusCode, body)
					}
				}
			}
		}
	}
}

// TestPooledBodyGivenBack: the response gives its pool buffer back when it
// is reset, poisoned, and a second body while one is held is a copy.
func TestPooledBodyGivenBack(t *testing.T) {
	if rawsys.RaceEnabled {
		t.Skip("sync.Pool drops a quarter of its puts under the race detector")
	}
	bufpoison.Enable()
	made := 0
	pool := sync.Pool{New: func() any { made++; b := make([]byte, 64); return &b }}
	var r Response
	bp := pool.Get().(*[]byte)
	copy(*bp, "first body")
	r.setPooledBody(bp, len("first body"), &pool)
	view := r.BodyBytes()
	bp2 := pool.Get().(*[]byte)
	copy(*bp2, "second")
	r.setPooledBody(bp2, len("second"), &pool) // bp is held: a copy, bp2 back at once
	if string(r.BodyBytes()) != "second" || &r.BodyBytes()[0] == &(*bp2)[0] || string(view) != "first body" {
		t.Fatalf("body %q (shares bp2: %v), first view %q", r.BodyBytes(), &r.BodyBytes()[0] == &(*bp2)[0], view)
	}
	if got := pool.Get().(*[]byte); got != bp2 {
		t.Fatal("the second buffer was not given back at once")
	}
	r.reset()
	if view[0] != bufpoison.Byte {
		t.Fatalf("the first buffer was not poisoned when given back: %q", view)
	}
	if got := pool.Get().(*[]byte); got != bp || made != 2 {
		t.Fatalf("the first buffer was not given back at reset (%d made)", made)
	}
}

// TestBackendBodyAllocations: collecting a 20 KiB or a 50 KiB body costs
// the server no allocation of its size per request (it did: a PHP page
// spent most of its CPU in the collector).
func TestBackendBodyAllocations(t *testing.T) {
	if rawsys.RaceEnabled {
		t.Skip("sync.Pool drops a quarter of its puts under the race detector")
	}
	_, dial, _ := testServer(t, strings.ReplaceAll(backendBodyConf, "@TMP@", t.TempDir()))
	c := dial()
	br := bufio.NewReaderSize(c, 64<<10)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	for _, path := range []string{"/m0/small", "/m0/mid", "/m0/midcl"} {
		req := []byte("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")
		get := func() {
			if _, err := c.Write(req); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				t.Fatal(err)
			}
		}
		get() // the pools' buffers exist
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		const n = 200
		for range n {
			get()
		}
		runtime.ReadMemStats(&after)
		// The client's own allocations (the response and its header map)
		// are a few KiB; the body alone was 20 or 64 KiB.
		if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 12<<10 {
			t.Errorf("%s: %d bytes allocated per request", path, per)
		}
	}
}
