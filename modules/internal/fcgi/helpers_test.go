package fcgi

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener counts accepted connections and can cut them all, to
// simulate a backend that closes idle keep-alive connections.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
	mu       sync.Mutex
	conns    []net.Conn
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *countingListener) closeConns() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}

// goBackend is net/http/fcgi serving testHandler on network ("tcp" on
// 127.0.0.1:0, or "unix" in a temp dir).
func goBackend(t testing.TB, network string) (*Dialer, *countingListener) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "fcgi.sock")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fcgi.Serve(cl, http.HandlerFunc(testHandler))
	}()
	t.Cleanup(func() {
		ln.Close()
		cl.closeConns()
		<-done
	})
	return &Dialer{Network: network, Address: ln.Addr().String()}, cl
}

// testHandler: /echo copies the body back, /big?n=N writes N bytes, /env
// lists the FastCGI params, /sum answers "length sha256" of the body.
func testHandler(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/echo":
		w.Header().Set("Content-Type", "application/octet-stream")
		io.Copy(w, r.Body)
	case "/big":
		var n int
		fmt.Sscan(r.URL.Query().Get("n"), &n)
		buf := []byte(strings.Repeat("0123456789abcdef", 4096))
		for n > 0 {
			k := min(n, len(buf))
			w.Write(buf[:k])
			n -= k
		}
	case "/env":
		env := fcgi.ProcessEnv(r)
		keys := make([]string, 0, len(env))
		for k := range env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "%s=%s\n", k, env[k])
		}
		fmt.Fprintf(w, "HOST=%s\n", r.Host)
	case "/sum":
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%d %s", n, hex.EncodeToString(h.Sum(nil)))
	default:
		http.NotFound(w, r)
	}
}

// cgiParams builds the params net/http/fcgi needs to form a request.
func cgiParams(method, uri string, contentLength int64) *Params {
	p := NewParams()
	if contentLength >= 0 {
		p.Add("CONTENT_LENGTH", fmt.Sprint(contentLength))
	}
	p.Add("REQUEST_METHOD", method)
	p.Add("REQUEST_URI", uri)
	p.Add("SERVER_PROTOCOL", "HTTP/1.1")
	p.Add("HTTP_HOST", "www.example.com")
	p.Add("SERVER_NAME", "www.example.com")
	p.Add("SERVER_PORT", "80")
	p.Add("REMOTE_ADDR", "127.0.0.1")
	p.Add("REMOTE_PORT", "40000")
	return p
}

// record is one FastCGI record as parsed by the scripted test backend.
type record struct {
	typ     uint8
	id      uint16
	content []byte
	pad     int
}

func readRecord(br *bufio.Reader) (record, error) {
	var h [8]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return record{}, err
	}
	rec := record{typ: h[1], id: binary.BigEndian.Uint16(h[2:]), pad: int(h[6])}
	rec.content = make([]byte, binary.BigEndian.Uint16(h[4:]))
	if _, err := io.ReadFull(br, rec.content); err != nil {
		return record{}, err
	}
	if _, err := br.Discard(rec.pad); err != nil {
		return record{}, err
	}
	return rec, nil
}

// rawRecord encodes a record for scripted backends (any version/id/padding).
func rawRecord(typ uint8, id uint16, content []byte, pad int) []byte {
	b := []byte{1, typ, byte(id >> 8), byte(id), byte(len(content) >> 8), byte(len(content)), byte(pad), 0}
	b = append(b, content...)
	return append(b, make([]byte, pad)...)
}

func stdout(s string) []byte { return rawRecord(typeStdout, 1, []byte(s), 0) }
func stderrRec(s string) []byte {
	return rawRecord(typeStderr, 1, []byte(s), 0)
}
func endRequest(app uint32, proto uint8) []byte {
	body := make([]byte, 8)
	binary.BigEndian.PutUint32(body, app)
	body[4] = proto
	return rawRecord(typeEndRequest, 1, body, 0)
}

// received is what a scripted backend read from the client.
type received struct {
	records []record
	err     error
}

// scriptBackend accepts connections and runs script on each after reading
// the request up to the empty STDIN record (or, with readAll false, right
// after the empty PARAMS record).
func scriptBackend(t testing.TB, readAll bool, script func(c net.Conn, in received)) *Dialer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				var in received
				for {
					rec, err := readRecord(br)
					if err != nil {
						in.err = err
						break
					}
					in.records = append(in.records, rec)
					if len(rec.content) == 0 && (rec.typ == typeStdin || (!readAll && rec.typ == typeParams)) {
						break
					}
				}
				script(c, in)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return &Dialer{Network: "tcp", Address: ln.Addr().String()}
}

// fdCount counts this process's open descriptors, except epoll sets:
// core/rawpoll keeps a bounded pool of them for waiting connections.
func fdCount(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	n := 0
	for _, e := range ents {
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); l != "anon_inode:[eventpoll]" {
			n++
		}
	}
	return n
}

// checkNoLeak records goroutine and fd counts and, at cleanup, waits
// briefly for them to return to that level.
func checkNoLeak(t *testing.T) {
	t.Helper()
	g0, f0 := runtime.NumGoroutine(), fdCount(t)
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		deadline := time.Now().Add(3 * time.Second)
		for {
			g, f := runtime.NumGoroutine(), fdCount(t)
			if g <= g0 && f <= f0 {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				n := runtime.Stack(buf, true)
				t.Errorf("leak: goroutines %d -> %d, fds %d -> %d\n%s", g0, g, f0, f, buf[:n])
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// patternReader yields n deterministic bytes without holding them.
type patternReader struct {
	n, off int64
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n-r.off)]
	for i := range p {
		p[i] = byte((r.off + int64(i)) * 7 % 251)
	}
	r.off += int64(len(p))
	return len(p), nil
}

func patternSum(n int64) string {
	h := sha256.New()
	io.Copy(h, &patternReader{n: n})
	return hex.EncodeToString(h.Sum(nil))
}
