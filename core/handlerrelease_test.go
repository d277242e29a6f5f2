package core

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// releaseModule sets a new releaseHandler on every request, so a test sees
// which handlers the core gives back (HandlerReleaser).
type releaseModule struct{}

type releaseHandler struct {
	name     string
	released *releaseLog
}

type releaseLog struct {
	mu    sync.Mutex
	names []string
}

var released releaseLog

// releaseFile is what /file sends: large enough that its download is still
// going when the client has read only the head.
var releaseFile string

func (l *releaseLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.names
	l.names = nil
	return n
}

func (releaseModule) Setup(*SetupContext) error { return nil }

func (releaseModule) URIClean(rc *Request) Result {
	rc.SetHandler("test", &releaseHandler{name: strings.Clone(rc.URI.Path), released: &released})
	return GoOn
}

func (h *releaseHandler) Serve(rc *Request) Result {
	switch rc.URI.Path {
	case "/panic":
		panic("test: the handler panics")
	case "/file":
		return rc.SendFile(releaseFile)
	case "/replace":
		// Another handler takes over: only the last one comes back.
		rc.SetHandler("test", &releaseHandler{name: "/replaced", released: h.released})
	}
	rc.Resp.Status = 200
	rc.Resp.SetBody([]byte(h.name))
	return Finished
}

func (h *releaseHandler) ReleaseHandler() {
	h.released.mu.Lock()
	defer h.released.mu.Unlock()
	h.released.names = append(h.released.names, h.name)
}

func init() {
	Register(ModuleInfo{Name: "mod_test_release", New: func() Module { return releaseModule{} }})
}

// TestHandlerReleased: the handler a request ended with goes back to its
// module once the response is out; one replaced before the end, or one
// whose request panicked (its state unknown), does not.
func TestHandlerReleased(t *testing.T) {
	_, dial, _ := testServer(t, `server.document-root = "/nonexistent"
server.modules = ("mod_test_release")
`)
	for _, tc := range []struct {
		path   string
		status int
		want   string // released handlers, by the path they were made for
	}{
		{"/ok", 200, "/ok"},
		{"/panic", 500, ""},
		{"/replace", 200, "/replaced"},
		{"/ok", 200, "/ok"},
	} {
		c := dial()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET "+tc.path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(tc.path, err)
		}
		io.Copy(io.Discard, resp.Body)
		c.Close()
		if resp.StatusCode != tc.status {
			t.Fatalf("%s: status %d, want %d", tc.path, resp.StatusCode, tc.status)
		}
		// The release comes after the response: wait for it a little.
		var got []string
		for range 100 {
			if got = append(got, released.take()...); strings.Join(got, ",") == tc.want {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if s := strings.Join(got, ","); s != tc.want {
			t.Errorf("%s: released %q, want %q", tc.path, s, tc.want)
		}
	}
}

// TestHandlerReleasedBeforeDownload: a handler whose response is a file the
// engine sends by itself goes back to its module once the head is out,
// while the client has not read the body yet, so a long download keeps no
// handler; the file still arrives whole.
func TestHandlerReleasedBeforeDownload(t *testing.T) {
	const size = 32 << 20 // more than the sockets' buffers take at once
	releaseFile = filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(releaseFile, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	// A real socket: only those can have their file sent by the engine.
	port := freeTestPort(t)
	srv := NewServer(mustCompile(t, fmt.Sprintf(`server.document-root = "/nonexistent"
server.bind = "127.0.0.1"
server.port = %d
server.modules = ("mod_test_release")
`, port)), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	released.take()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, "GET /file HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	br := bufio.NewReaderSize(c, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.ContentLength != size {
		t.Fatalf("status %d, length %d", resp.StatusCode, resp.ContentLength)
	}
	var got []string
	for range 200 {
		if got = append(got, released.take()...); len(got) > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if s := strings.Join(got, ","); s != "/file" {
		t.Fatalf("released %q before the body was read, want \"/file\"", s)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != size {
		t.Fatalf("body: %d bytes, %v; want %d", n, err, size)
	}
	// Ending the request releases nothing more (no second release).
	time.Sleep(50 * time.Millisecond)
	if more := released.take(); len(more) != 0 {
		t.Fatalf("released again at the end: %q", more)
	}
}
