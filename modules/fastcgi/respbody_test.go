package fastcgi

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golighty/golighty/core/coretest"
)

// respBodyApp serves /n.php?n=BYTES (a pattern of that size) and
// /slow.php, which sends its head and first bytes, then waits for release
// before finishing. written counts the body bytes the app got out (a
// write blocks while the backend socket is full).
type respBodyApp struct {
	written atomic.Int64
	release chan struct{}
}

func respBodyPattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

func (a *respBodyApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	switch r.URL.Path {
	case "/slow.php":
		io.WriteString(w, "first;")
		w.(http.Flusher).Flush()
		<-a.release
		io.WriteString(w, "last")
	default:
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		body := respBodyPattern(n)
		for len(body) > 0 {
			k := min(len(body), 16<<10)
			m, err := w.Write(body[:k])
			a.written.Add(int64(m))
			if err != nil {
				return
			}
			body = body[k:]
		}
	}
}

func respBodyHarness(t *testing.T, mode int, app *respBodyApp, extra string) *coretest.Harness {
	t.Helper()
	ln := goBackend(t, "unix", app)
	conf := confFor(".php", hostOpt(ln), "") + fmt.Sprintf("server.stream-response-body = %d\n", mode) + extra
	h := coretest.New(t, conf)
	h.WriteFile("www/n.php", "")
	h.WriteFile("www/slow.php", "")
	return h
}

// TestStreamResponseBody checks server.stream-response-body 0, 1 and 2 on
// bodies below and far above the memory share: framing, Accept-Ranges,
// Range on a spooled body, and the bytes.
func TestStreamResponseBody(t *testing.T) {
	const big = 3 << 20
	for _, mode := range []int{0, 1, 2} {
		t.Run(fmt.Sprintf("mode %d", mode), func(t *testing.T) {
			leakCheck(t)
			app := &respBodyApp{release: make(chan struct{})}
			h := respBodyHarness(t, mode, app, "")
			cases := []struct {
				name, req   string
				status      int
				length      int64 // Content-Length; -1: streamed (chunked)
				ranges      string
				first, size int // the slice of the pattern the body must be
			}{
				// Streamed, a small body's framing depends on whether its end
				// was in before the head left (see CompleteWithHead): -2.
				{"small", "GET /n.php?n=100 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200,
					map[bool]int64{true: 100, false: -2}[mode == 0], "bytes", 0, 100},
				{"big", "GET /n.php?n=" + strconv.Itoa(big) + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200,
					map[bool]int64{true: big, false: -1}[mode == 0], map[bool]string{true: "bytes"}[mode == 0], 0, big},
				{"big range", "GET /n.php?n=" + strconv.Itoa(big) + " HTTP/1.1\r\nHost: x\r\nRange: bytes=2000000-2000099\r\nConnection: close\r\n\r\n",
					map[bool]int{true: 206, false: 200}[mode == 0], map[bool]int64{true: 100, false: -1}[mode == 0], map[bool]string{true: "bytes"}[mode == 0],
					map[bool]int{true: 2000000, false: 0}[mode == 0], map[bool]int{true: 100, false: big}[mode == 0]},
				{"big head", "HEAD /n.php?n=" + strconv.Itoa(big) + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200,
					map[bool]int64{true: big, false: -1}[mode == 0], map[bool]string{true: "bytes"}[mode == 0], 0, 0},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					resp, body := roundTrip(t, h, tc.req)
					if resp.StatusCode != tc.status {
						t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
					}
					if tc.length != -2 {
						if resp.ContentLength != tc.length {
							t.Errorf("content-length %d, want %d (transfer-encoding %v)", resp.ContentLength, tc.length, resp.TransferEncoding)
						}
						if got := resp.Header.Get("Accept-Ranges"); got != tc.ranges {
							t.Errorf("accept-ranges %q, want %q", got, tc.ranges)
						}
					}
					if want := respBodyPattern(tc.first + tc.size)[tc.first:]; !bytes.Equal(body, want) {
						t.Errorf("body: %d bytes, want %d (pattern from %d)", len(body), len(want), tc.first)
					}
				})
			}
		})
	}
}

// TestStreamResponseBodyCompleteWithHead: a body that has fully arrived
// when the head is read (php-cgi sends a small page, its end and
// END_REQUEST in one write) gets a Content-Length in every mode, as in
// lighttpd; net/http/fcgi above sends its end in separate writes, so its
// small bodies are streamed in modes 1 and 2.
func TestStreamResponseBodyCompleteWithHead(t *testing.T) {
	for _, mode := range []int{0, 1, 2} {
		t.Run(fmt.Sprintf("mode %d", mode), func(t *testing.T) {
			leakCheck(t)
			be := startRaw(t, "unix", func(req *rawReq, c net.Conn) {
				var b bytes.Buffer
				writeResponse(&b, "Content-Type: text/plain\r\n\r\n"+string(respBodyPattern(100)))
				c.Write(b.Bytes())
			})
			h := coretest.New(t, confFor(".php", hostOpt(be.ln), "")+fmt.Sprintf("server.stream-response-body = %d\n", mode))
			h.WriteFile("www/n.php", "")
			resp, body := roundTrip(t, h, "GET /n.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			if resp.StatusCode != 200 || resp.ContentLength != 100 || resp.Header.Get("Accept-Ranges") != "bytes" {
				t.Errorf("status %d, content-length %d, accept-ranges %q; want 200, 100, bytes", resp.StatusCode, resp.ContentLength, resp.Header.Get("Accept-Ranges"))
			}
			if !bytes.Equal(body, respBodyPattern(100)) {
				t.Errorf("body %q", body)
			}
		})
	}
}

// TestStreamResponseBodyStarts: with streaming, the head and the first
// bytes reach the client while the backend is still working; buffered,
// nothing does until the body is complete.
func TestStreamResponseBodyStarts(t *testing.T) {
	for _, mode := range []int{0, 1, 2} {
		t.Run(fmt.Sprintf("mode %d", mode), func(t *testing.T) {
			leakCheck(t)
			app := &respBodyApp{release: make(chan struct{})}
			h := respBodyHarness(t, mode, app, "")
			client, server := net.Pipe()
			done := make(chan struct{})
			go func() {
				defer close(done)
				h.Server.ServeConn(server, "127.0.0.1:80")
			}()
			released := false
			defer func() {
				if !released {
					close(app.release)
				}
				client.Close()
				<-done
			}()
			go io.WriteString(client, "GET /slow.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			br := bufio.NewReader(client)
			client.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			_, err := br.Peek(1)
			streamed := err == nil
			if streamed != (mode != 0) {
				t.Fatalf("head before the backend finished: %v, want %v", streamed, mode != 0)
			}
			close(app.release)
			released = true
			client.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if string(body) != "first;last" {
				t.Errorf("body %q", body)
			}
			if chunked := len(resp.TransferEncoding) > 0; chunked != (mode != 0) {
				t.Errorf("chunked %v, want %v", chunked, mode != 0)
			}
		})
	}
}

// TestStreamResponseBodyBackpressure: a client that reads nothing holds
// back the backend in mode 2 only. Mode 1 reads the backend ahead into
// temporary files, so the script finishes (the php-cgi child is free), and
// the client still gets every byte afterwards.
func TestStreamResponseBodyBackpressure(t *testing.T) {
	const size = 16 << 20
	for _, mode := range []int{1, 2} {
		t.Run(fmt.Sprintf("mode %d", mode), func(t *testing.T) {
			leakCheck(t)
			app := &respBodyApp{release: make(chan struct{})}
			h := respBodyHarness(t, mode, app, "")
			client, server := net.Pipe()
			done := make(chan struct{})
			go func() {
				defer close(done)
				h.Server.ServeConn(server, "127.0.0.1:80")
			}()
			defer func() { client.Close(); <-done }()
			go io.WriteString(client, "GET /n.php?n="+strconv.Itoa(size)+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			deadline := time.Now().Add(10 * time.Second)
			for mode == 1 && app.written.Load() < size && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if mode == 2 {
				time.Sleep(500 * time.Millisecond)
			}
			got := app.written.Load()
			if mode == 1 && got != size {
				t.Fatalf("backend wrote %d of %d bytes while the client read nothing: not read ahead", got, size)
			}
			if mode == 2 && got > size/4 {
				t.Fatalf("backend wrote %d of %d bytes while the client read nothing: no backpressure", got, size)
			}
			client.SetReadDeadline(time.Now().Add(20 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(client), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if !bytes.Equal(body, respBodyPattern(size)) {
				t.Errorf("body: %d bytes, want the %d-byte pattern", len(body), size)
			}
		})
	}
}

// TestStreamResponseBodyUploadDirs: the spool goes to server.upload-dirs,
// skipping a directory that does not work; with none working the response
// is a 500 (lighttpd's answer when its temp file fails).
func TestStreamResponseBodyUploadDirs(t *testing.T) {
	leakCheck(t)
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		name   string
		dirs   string
		status int
	}{
		{"second dir used", `"` + missing + `", "` + t.TempDir() + `"`, 200},
		{"no dir works", `"` + missing + `"`, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := &respBodyApp{release: make(chan struct{})}
			h := respBodyHarness(t, 0, app, "server.upload-dirs = ("+tc.dirs+")\n")
			resp, body := roundTrip(t, h, "GET /n.php?n=200000 HTTP/1.0\r\n\r\n")
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status == 200 && !bytes.Equal(body, respBodyPattern(200000)) {
				t.Errorf("body: %d bytes", len(body))
			}
			if tc.status == 500 && !strings.Contains(string(body), "500 Internal Server Error") {
				t.Errorf("500 without the error page: %q", body)
			}
		})
	}
}
