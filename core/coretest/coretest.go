// Package coretest runs requests through a compiled config without opening
// listeners: a config string in, raw HTTP bytes out, over an in-memory
// connection served by the real HTTP/1.x engine and pipeline.
package coretest

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/lighttpdconf"
)

// Harness is a compiled config ready to serve requests.
type Harness struct {
	T      testing.TB
	Snap   *core.Snapshot
	Server *core.Server
	Dir    string // a temporary directory for the test's files
}

// New compiles conf. The string "@DIR@" in conf is replaced by a fresh
// temporary directory (available as h.Dir) so configs can name docroots.
func New(t testing.TB, conf string) *Harness {
	t.Helper()
	dir := t.TempDir()
	conf = strings.ReplaceAll(conf, "@DIR@", dir)
	path := filepath.Join(dir, "lighttpd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	parsed, err := lighttpdconf.ParseFile(path, &lighttpdconf.Options{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	snap, err := core.Compile(parsed, core.CompileOptions{}, nil)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return &Harness{T: t, Snap: snap, Server: core.NewServer(snap, nil), Dir: dir}
}

// WriteFile creates a file below h.Dir (directories as needed).
func (h *Harness) WriteFile(rel, content string) string {
	h.T.Helper()
	p := filepath.Join(h.Dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		h.T.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		h.T.Fatal(err)
	}
	return p
}

// Raw sends raw request bytes on a fresh connection and returns everything
// the server wrote until it closed the connection or went quiet (300 ms
// without a byte after the first; up to 10 s for the first).
func (h *Harness) Raw(req string) []byte {
	h.T.Helper()
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Server.ServeConn(server, ":80")
	}()
	go func() {
		io.WriteString(client, req)
	}()
	var out bytes.Buffer
	buf := make([]byte, 32<<10)
	for {
		// Quiet means 300 ms without a byte once the answer began; the
		// first byte may take long on a loaded machine (-race).
		wait := 300 * time.Millisecond
		if out.Len() == 0 {
			wait = 10 * time.Second
		}
		client.SetReadDeadline(time.Now().Add(wait))
		n, err := client.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	client.Close()
	<-done
	return out.Bytes()
}

// Do sends one request and parses the response (the body read whole).
func (h *Harness) Do(req string) (*http.Response, string) {
	h.T.Helper()
	raw := h.Raw(req)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		h.T.Fatalf("reading response to %q: %v\nraw: %q", req, err, raw)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// Get is Do for "GET path HTTP/1.0" with a Host header.
func (h *Harness) Get(path string) (*http.Response, string) {
	h.T.Helper()
	return h.Do("GET " + path + " HTTP/1.0\r\nHost: example.org\r\n\r\n")
}

// Sequence sends each request on one keep-alive connection only after the
// previous response was read whole, so the server reuses its read buffer
// for every request (what keeps the view rule honest: a module that kept a
// view of an earlier request would now see later bytes). The requests must
// keep the connection open; each response needs a known length.
func (h *Harness) Sequence(reqs ...string) []*http.Response {
	h.T.Helper()
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Server.ServeConn(server, ":80")
	}()
	defer func() {
		client.Close()
		<-done
	}()
	br := bufio.NewReader(client)
	var out []*http.Response
	for _, req := range reqs {
		client.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(client, req); err != nil {
			h.T.Fatalf("writing %q: %v", req, err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			h.T.Fatalf("reading response to %q: %v", req, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		out = append(out, resp)
	}
	return out
}
