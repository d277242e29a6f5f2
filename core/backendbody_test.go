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
	"strings"
	"testing"
	"time"
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
		case "/big": // 300 KiB: past the memory share
			b = BackendBody{R: bytes.NewReader(bodyPattern(300 << 10)), ContentLength: -1}
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
