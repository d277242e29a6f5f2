package core

import (
	"bufio"
	"io"
	"net/http"
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
