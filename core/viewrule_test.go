package core

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golighty/golighty/core/bufpoison"
)

// TestCGIVarNameKeepsNoView is the regression test of a cache that kept a
// header name viewing the read buffer. Once the buffer was reused, the map
// held a key whose bytes had changed under it: lookups of the name missed
// and added entry after entry, and when another connection happened to
// write the old bytes back mid-insert, sync.Map panicked ("ran out of hash
// bits") on every later request carrying that header. The panic needs that
// race; the broken keys do not, and poisoning makes them visible at once.
func TestCGIVarNameKeepsNoView(t *testing.T) {
	name := fmt.Sprintf("X-View-Rule-%d", time.Now().UnixNano())
	want := "HTTP_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	buf := []byte(name)
	if got := cgiVarName(bytesView(buf), true); got != want {
		t.Fatalf("cgiVarName = %q", got)
	}
	for i := range buf { // the request ended: its buffer is reused
		buf[i] = bufpoison.Byte
	}
	if got := cgiVarName(strings.Clone(name), true); got != want {
		t.Fatalf("after reuse cgiVarName = %q", got)
	}
	checkVarNameCache(t, name)
}

// checkVarNameCache fails when a cached key reads as poison or name is
// cached other than exactly once.
func checkVarNameCache(t *testing.T, name string) {
	t.Helper()
	n := 0
	for i := range cgiVarNames {
		cgiVarNames[i].m.Range(func(key, _ string) bool {
			if strings.IndexByte(key, bufpoison.Byte) >= 0 {
				t.Errorf("cache key %q views a reused buffer", key)
			}
			if key == name {
				n++
			}
			return true
		})
	}
	if n != 1 {
		t.Errorf("%s cached %d times, want once", name, n)
	}
}

// serveModule is a test handler for every request of its config: it answers
// from fn, so a test decides what serving a request does.
type serveModule struct{ fn func(rc *Request) Result }

var serveFn = map[string]func(rc *Request) Result{}

func (m *serveModule) Setup(sc *SetupContext) error {
	m.fn = serveFn[sc.Module()]
	return nil
}
func (m *serveModule) URIClean(rc *Request) Result {
	rc.SetHandler("test", m)
	return GoOn
}
func (m *serveModule) Serve(rc *Request) Result { return m.fn(rc) }

func registerServe(name string, fn func(rc *Request) Result) {
	serveFn[name] = fn
	Register(ModuleInfo{Name: name, New: func() Module { return &serveModule{} }})
}

func init() {
	registerServe("mod_test_cgienv", func(rc *Request) Result {
		var env envList
		rc.CGIEnv(&env, &CGIOptions{})
		var b strings.Builder
		for _, kv := range env {
			if strings.HasPrefix(kv[0], "HTTP_X_") {
				b.WriteString(kv[0] + "=" + kv[1] + "\n")
			}
		}
		rc.Resp.Status = 200
		rc.Resp.SetBody([]byte(b.String()))
		return Finished
	})
	registerServe("mod_test_panic", func(rc *Request) Result {
		switch rc.URI.Path {
		case "/buffered": // head buffered, nothing sent: still a 500
			w, _ := rc.StartStream(-1)
			w.Write([]byte("partial"))
		case "/sent": // head and some body on the wire: cut, never completed
			w, _ := rc.StartStream(-1)
			w.Write([]byte("partial"))
			rc.FlushStream()
		}
		var m map[string]int
		m[rc.URI.Path]++ // a nil map write: a runtime panic
		return Finished
	})
}

// testServer serves conf on an in-memory connection and returns the client
// side; logs go to the returned buffer.
func testServer(t testing.TB, conf string) (*Server, func() net.Conn, *syncBuf) {
	t.Helper()
	snap := mustCompile(t, conf)
	logs := &syncBuf{}
	srv := NewServer(snap, slog.New(slog.NewTextHandler(logs, nil)))
	dial := func() net.Conn {
		client, server := net.Pipe()
		go srv.ServeConn(server, ":80")
		t.Cleanup(func() { client.Close() })
		return client
	}
	return srv, dial, logs
}

type syncBuf struct {
	mu chan struct{}
	b  bytes.Buffer
}

func (s *syncBuf) lock() {
	if s.mu == nil {
		s.mu = make(chan struct{}, 1)
	}
	s.mu <- struct{}{}
}
func (s *syncBuf) Write(p []byte) (int, error) {
	s.lock()
	defer func() { <-s.mu }()
	return s.b.Write(p)
}
func (s *syncBuf) String() string { s.lock(); defer func() { <-s.mu }(); return s.b.String() }

// TestPoisonedBuffersCatchKeptViews runs the regression through the engine
// with poisoning on: requests of varied layouts carry the same header on one
// connection, and the name must be cached once, as a copy.
func TestPoisonedBuffersCatchKeptViews(t *testing.T) {
	bufpoison.Enable()
	_, dial, logs := testServer(t, `server.document-root = "/tmp"
server.modules = ("mod_test_cgienv")`)
	c := dial()
	br := bufio.NewReader(c)
	hdr := fmt.Sprintf("X-Kept-%d", time.Now().UnixNano())
	for i := 0; i < 20; i++ {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET /env?%s HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n%s: v%d\r\n\r\n",
			strings.Repeat("q", (i*37)%200), strings.Repeat("p", 1+(i*53)%300), hdr, i)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v (log: %s)", i, err, logs)
		}
		body, _ := io.ReadAll(resp.Body)
		want := fmt.Sprintf("HTTP_X_PAD=%s\nHTTP_%s=v%d\n", strings.Repeat("p", 1+(i*53)%300), strings.ToUpper(strings.ReplaceAll(hdr, "-", "_")), i)
		if resp.StatusCode != 200 || string(body) != want {
			t.Fatalf("request %d: %d %q, want %q (log: %s)", i, resp.StatusCode, body, want, logs)
		}
	}
	checkVarNameCache(t, hdr)
}

// TestPanicAnswers500 checks that a panicking request is answered (500, or a
// cut connection once bytes went out), counted, and logged with its stack
// only the first time its site is seen.
func TestPanicAnswers500(t *testing.T) {
	srv, dial, logs := testServer(t, `server.document-root = "/tmp"
server.modules = ("mod_test_panic")`)
	for i := 1; i <= 3; i++ {
		c := dial()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("panic %d: no response: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 500 || !resp.Close || !strings.Contains(string(body), "500 Internal Server Error") {
			t.Fatalf("panic %d: %d close=%v %q", i, resp.StatusCode, resp.Close, body)
		}
	}
	if n := srv.Stats().Panics.Load(); n != 3 {
		t.Fatalf("Panics = %d, want 3", n)
	}
	sites := srv.Stats().PanicSites()
	if len(sites) != 1 {
		t.Fatalf("sites %v", sites)
	}
	for site, n := range sites {
		if !strings.Contains(site, "viewrule_test.go:") || n != 3 {
			t.Fatalf("site %s hit %d times", site, n)
		}
	}
	if got := strings.Count(logs.String(), "stack="); got != 1 {
		t.Fatalf("stack logged %d times, want once:\n%s", got, logs)
	}
	if !strings.Contains(logs.String(), "times=3") {
		t.Fatalf("repeat count not logged:\n%s", logs)
	}

	t.Run("head buffered", func(t *testing.T) {
		c := dial()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET /buffered HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 500 {
			t.Fatalf("got %v %v", resp, err)
		}
	})
	t.Run("body sent", func(t *testing.T) {
		c := dial()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET /sent HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("got %v %v", resp, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err == nil {
			t.Fatalf("a cut stream read as complete: %q", body)
		}
	})
}
