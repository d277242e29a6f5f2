package fastcgi

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golighty/golighty/core/coretest"
)

// rawReq is a FastCGI request as a test backend received it.
type rawReq struct {
	role   int
	params [][2]string
	stdin  []byte
}

func (r *rawReq) param(name string) (string, bool) {
	for _, p := range r.params {
		if p[0] == name {
			return p[1], true
		}
	}
	return "", false
}

// readRawRequest reads BEGIN_REQUEST, PARAMS and STDIN up to the empty
// STDIN record (authorizers get no STDIN from lighttpd, but an empty one).
func readRawRequest(br *bufio.Reader) (*rawReq, error) {
	req := &rawReq{}
	var params []byte
	for {
		var h [8]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return nil, err
		}
		n := int(binary.BigEndian.Uint16(h[4:]))
		content := make([]byte, n+int(h[6]))
		if _, err := io.ReadFull(br, content); err != nil {
			return nil, err
		}
		content = content[:n]
		switch h[1] {
		case 1:
			req.role = int(binary.BigEndian.Uint16(content))
		case 4:
			if n == 0 {
				req.params = decodeParams(params)
			}
			params = append(params, content...)
		case 5:
			if n == 0 {
				return req, nil
			}
			req.stdin = append(req.stdin, content...)
		default:
			return nil, fmt.Errorf("unexpected record type %d", h[1])
		}
	}
}

func decodeParams(b []byte) [][2]string {
	var out [][2]string
	readLen := func() int {
		if b[0] < 128 {
			n := int(b[0])
			b = b[1:]
			return n
		}
		n := int(binary.BigEndian.Uint32(b) &^ (1 << 31))
		b = b[4:]
		return n
	}
	for len(b) > 0 {
		nl := readLen()
		vl := readLen()
		out = append(out, [2]string{string(b[:nl]), string(b[nl : nl+vl])})
		b = b[nl+vl:]
	}
	return out
}

func writeRecord(w io.Writer, typ byte, content []byte) error {
	for {
		n := min(len(content), 65535)
		h := [8]byte{1, typ, 0, 1, byte(n >> 8), byte(n), 0, 0}
		if _, err := w.Write(append(h[:], content[:n]...)); err != nil {
			return err
		}
		content = content[n:]
		if len(content) == 0 {
			return nil
		}
	}
}

// writeResponse sends STDOUT (if any), an empty STDOUT and END_REQUEST.
func writeResponse(w io.Writer, stdout string) error {
	if stdout != "" {
		if err := writeRecord(w, 6, []byte(stdout)); err != nil {
			return err
		}
	}
	if err := writeRecord(w, 6, nil); err != nil {
		return err
	}
	return writeRecord(w, 3, make([]byte, 8))
}

// rawBackend is a scripted FastCGI backend: serve gets each request and
// the connection to answer on (it may also misbehave: close early, hang).
type rawBackend struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	reqs []*rawReq
}

func startRaw(t testing.TB, network string, serve func(req *rawReq, c net.Conn)) *rawBackend {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "raw.sock")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	b := &rawBackend{ln: ln}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				defer c.Close()
				req, err := readRawRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				b.mu.Lock()
				b.reqs = append(b.reqs, req)
				b.mu.Unlock()
				serve(req, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		b.wg.Wait()
	})
	return b
}

func (b *rawBackend) last() *rawReq {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.reqs) == 0 {
		return nil
	}
	return b.reqs[len(b.reqs)-1]
}

// hostOpt is the fastcgi.server host/socket option pair for a listener.
func hostOpt(ln net.Listener) string {
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		return fmt.Sprintf(`"host" => "127.0.0.1", "port" => %d`, a.Port)
	}
	return fmt.Sprintf(`"socket" => "%s"`, ln.Addr().String())
}

// goBackend serves h with Go's net/http/fcgi on a fresh listener.
func goBackend(t testing.TB, network string, h http.Handler) net.Listener {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "go.sock")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fcgi.Serve(ln, h)
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln
}

// roundTrip sends one raw request and parses the response as soon as it is
// complete (coretest's Raw waits for a quiet spell of 300ms, too short for
// the timeout tests).
func roundTrip(t testing.TB, h *coretest.Harness, req string) (*http.Response, []byte) {
	t.Helper()
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Server.ServeConn(server, "127.0.0.1:80")
	}()
	go io.WriteString(client, req)
	client.SetReadDeadline(time.Now().Add(20 * time.Second))
	method := strings.Fields(req)[0]
	resp, err := http.ReadResponse(bufio.NewReader(client), &http.Request{Method: method})
	if err != nil {
		client.Close()
		<-done
		t.Fatalf("reading response to %q: %v", firstLine(req), err)
	}
	body, err := io.ReadAll(resp.Body)
	client.Close()
	<-done
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("reading body of %q: %v", firstLine(req), err)
	}
	return resp, body
}

func firstLine(s string) string {
	if i := strings.Index(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

func get(path string) string {
	return "GET " + path + " HTTP/1.0\r\nHost: example.org\r\n\r\n"
}

// leakCheck fails the test if goroutines or file descriptors outlive it.
func leakCheck(t *testing.T) {
	t.Helper()
	g0, fd0 := runtime.NumGoroutine(), countFDs()
	t.Cleanup(func() {
		var g, fd int
		for i := 0; i < 100; i++ {
			g, fd = runtime.NumGoroutine(), countFDs()
			if g <= g0 && fd <= fd0 {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		buf := make([]byte, 1<<16)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("leak: goroutines %d -> %d, fds %d -> %d\n%s", g0, g, fd0, fd, bytes.TrimSpace(buf))
	})
}

// countFDs counts this process's descriptors, but for eventfds and epoll
// sets: core's netyield keeps a pool of eventfds (one per download
// yielding at once) and rawpoll one of epoll sets (one per backend read
// that waited at once), both made on first use.
func countFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		switch l, _ := os.Readlink("/proc/self/fd/" + e.Name()); l {
		case "anon_inode:[eventfd]", "anon_inode:[eventpoll]":
		default:
			n++
		}
	}
	return n
}
