package h1

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/golighty/golighty/core/filefd"
)

// randomFile writes n reproducible random bytes.
func randomFile(t testing.TB, dir string, n int) (string, []byte) {
	t.Helper()
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(n >> 16)})
	r.Read(b)
	p := filepath.Join(dir, fmt.Sprintf("r%d.bin", n))
	must(t, os.WriteFile(p, b, 0o644))
	return p, b
}

// holeFile makes dir/name a file of size bytes that are all a hole (no
// disk used, zeros when read).
func holeFile(t testing.TB, dir, name string, size int64) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name))
	must(t, err)
	must(t, f.Truncate(size))
	must(t, f.Close())
}

// evict drops path's pages from the page cache, so reading it would wait
// for the disk (on file systems that keep a page cache apart from storage).
func evict(t *testing.T, path string) bool {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	must(t, f.Sync())
	must(t, unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED))
	// Asked through mincore, not the probe: a preadv2(RWF_NOWAIT) that
	// finds the page missing starts reading it in before it returns.
	m, err := unix.Mmap(int(f.Fd()), 0, os.Getpagesize(), unix.PROT_READ, unix.MAP_SHARED)
	must(t, err)
	defer unix.Munmap(m)
	var vec [1]byte
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatalf("mincore: %v", e)
	}
	return vec[0]&1 == 0
}

// rangeHandler sends ?off=&n= of the file named by the path, with
// Content-Length n; ?shrink=k truncates the file to k bytes first.
func rangeHandler(root string) Handler {
	return HandlerFunc(func(w *ResponseWriter, r *Request) {
		path, query, _ := strings.Cut(string(r.Target), "?")
		q := map[string]int64{"off": 0, "n": -1, "shrink": -1}
		for _, kv := range strings.Split(query, "&") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				q[k], _ = strconv.ParseInt(v, 10, 64)
			}
		}
		name := filepath.Join(root, filepath.FromSlash(path))
		if q["shrink"] >= 0 {
			os.Truncate(name, q["shrink"])
		}
		f, err := os.Open(name)
		if err != nil {
			respondError(w, 404)
			return
		}
		defer f.Close()
		n := q["n"]
		if n < 0 {
			st, _ := f.Stat()
			n = st.Size() - q["off"]
		}
		w.AddHeader("Content-Type", "application/octet-stream")
		w.SendFile(filefd.Of(f), q["off"], n)
	})
}

func TestSendFileBodies(t *testing.T) {
	root := t.TempDir()
	_, data := randomFile(t, root, 3<<20+12345)
	sparse := filepath.Join(root, "sparse.bin")
	f, err := os.Create(sparse)
	must(t, err)
	const size = 8 << 30
	must(t, f.Truncate(size))
	marks := map[int64]string{}
	for _, off := range []int64{0, 1<<32 - 4, size - 8} {
		marks[off] = "MARK" + strconv.FormatInt(off%10000, 10)
		_, err := f.WriteAt([]byte(marks[off]), off)
		must(t, err)
	}
	f.Close()
	// sparseAt is what the sparse file holds at [off, off+n).
	sparseAt := func(off, n int64) []byte {
		b := make([]byte, n)
		for m, s := range marks {
			for i := range int64(len(s)) {
				if p := m + i - off; p >= 0 && p < n {
					b[p] = s[i]
				}
			}
		}
		return b
	}
	_, addr := startServer(t, testConfig(), rangeHandler(root))
	span := func(off, n int64) string { return fmt.Sprintf("/sparse.bin?off=%d&n=%d", off, n) }
	tests := []struct {
		name   string
		target string
		want   []byte
	}{
		{"whole file", "/r3158073.bin", data},
		{"odd offset and length", "/r3158073.bin?off=262143&n=1048577", data[262143 : 262143+1048577]},
		{"last byte", fmt.Sprintf("/r3158073.bin?off=%d&n=1", len(data)-1), data[len(data)-1:]},
		{"across 4 GiB of a sparse file", span(1<<32-300000, 600000), sparseAt(1<<32-300000, 600000)},
		{"end of an 8 GiB sparse file", span(size-700000, 700000), sparseAt(size-700000, 700000)},
		{"last bytes of an 8 GiB sparse file", span(size-8, 8), []byte(marks[size-8])},
	}
	c, br := dial(t, addr)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			send(t, c, "GET "+tc.target+" HTTP/1.1\r\nHost: a\r\n\r\n")
			r := read(t, br, false)
			if cl, _ := r.header("Content-Length"); r.status != 200 || cl != strconv.Itoa(len(tc.want)) {
				t.Fatalf("status %d Content-Length %q, want %d", r.status, cl, len(tc.want))
			}
			if !bytes.Equal(r.body, tc.want) {
				i := 0
				for i < len(r.body) && i < len(tc.want) && r.body[i] == tc.want[i] {
					i++
				}
				t.Fatalf("body differs from byte %d (%d bytes)", i, len(r.body))
			}
		})
	}
}

// TestSendFileSlowReader: a client reading slowly through a small receive
// buffer gets every byte (short writes, waits for room).
func TestSendFileSlowReader(t *testing.T) {
	root := t.TempDir()
	_, data := randomFile(t, root, 2<<20+7)
	_, addr := startServer(t, testConfig(), rangeHandler(root))
	c, err := net.Dial("tcp", addr)
	must(t, err)
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(16 << 10)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	send(t, c, "GET /r2097159.bin HTTP/1.1\r\nHost: a\r\n\r\n")
	br := bufio.NewReaderSize(c, 4096)
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		must(t, err)
		if line == "\r\n" {
			break
		}
		head.WriteString(line)
	}
	got := make([]byte, 0, len(data))
	buf := make([]byte, 32<<10)
	for len(got) < len(data) {
		n, err := br.Read(buf[:min(len(buf), len(data)-len(got))])
		got = append(got, buf[:n]...)
		must(t, err)
		if len(got)%(256<<10) < n {
			time.Sleep(20 * time.Millisecond) // let the server fill the socket
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatal("body differs")
	}
}

// TestSendFileUncached: pages that are not in the page cache go through the
// ordinary system call; the bytes are the same.
func TestSendFileUncached(t *testing.T) {
	root := t.TempDir()
	path, data := randomFile(t, root, 1<<20+3)
	if !evict(t, path) {
		t.Skip("the file system keeps its pages cached")
	}
	_, addr := startServer(t, testConfig(), rangeHandler(root))
	r, _ := exchange(t, addr, "GET /r1048579.bin HTTP/1.0\r\n\r\n")
	if r.status != 200 || !bytes.Equal(r.body, data) {
		t.Fatalf("status %d, %d bytes, equal %v", r.status, len(r.body), bytes.Equal(r.body, data))
	}
}

// TestSendFileShrunk: a file that is shorter than the response promised
// ends the response where the file ends and closes the connection at once
// (not after max-write-idle), as lighttpd does ("file truncated").
func TestSendFileShrunk(t *testing.T) {
	for _, shrink := range []int{0, 1<<20 + 100, 3 << 20} {
		t.Run(strconv.Itoa(shrink), func(t *testing.T) {
			root := t.TempDir()
			_, data := randomFile(t, root, 4<<20)
			cfg := testConfig()
			cfg.MaxWriteIdle = 30 * time.Second
			_, addr := startServer(t, cfg, rangeHandler(root))
			c, err := net.Dial("tcp", addr)
			must(t, err)
			defer c.Close()
			start := time.Now()
			c.SetDeadline(start.Add(10 * time.Second))
			// Content-Length comes from the size before the truncation.
			send(t, c, fmt.Sprintf("GET /r4194304.bin?n=%d&shrink=%d HTTP/1.1\r\nHost: a\r\n\r\n", len(data), shrink))
			raw, err := io.ReadAll(c)
			must(t, err)
			_, body, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
			if len(body) > shrink || !bytes.Equal(body, data[:len(body)]) {
				t.Errorf("got %d body bytes (a prefix: %v), file shrank to %d", len(body), bytes.Equal(body, data[:min(len(body), len(data))]), shrink)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("connection closed after %v", el)
			}
		})
	}
}

// TestProbeCached: the page-cache probe that chooses the raw sendfile.
func TestProbeCached(t *testing.T) {
	root := t.TempDir()
	path, _ := randomFile(t, root, 64<<10)
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	fd := int(f.Fd())
	if !probeCached(fd, 100) {
		t.Error("just written page not reported cached")
	}
	if probeCached(fd, 64<<10) {
		t.Error("byte past the end reported")
	}
	if evict(t, path) && probeCached(fd, 100) {
		t.Error("evicted page reported cached")
	}
}

// BenchmarkSendFile8MiB: keep-alive downloads of an 8 MiB file over
// loopback, read 1 MiB at a time (bench/dl's way).
func BenchmarkSendFile8MiB(b *testing.B) {
	root := b.TempDir()
	randomFile(b, root, 8<<20)
	cfg := DefaultConfig()
	cfg.MaxKeepAliveRequests = 1 << 30
	_, addr := startServer(b, cfg, rangeHandler(root))
	c, err := net.Dial("tcp", addr)
	must(b, err)
	defer c.Close()
	br := bufio.NewReaderSize(c, 64<<10)
	buf := make([]byte, 1<<20)
	req := []byte("GET /r8388608.bin HTTP/1.1\r\nHost: a\r\n\r\n")
	b.SetBytes(8 << 20)
	b.ReportAllocs()
	for b.Loop() {
		c.Write(req)
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if len(line) == 2 {
				break
			}
		}
		for left := 8 << 20; left > 0; {
			n, err := br.Read(buf[:min(len(buf), left)])
			if err != nil {
				b.Fatal(err)
			}
			left -= n
		}
	}
}

// TestReadBufferSizes: heads that fit the small inline buffer are served
// from it; longer ones, and chunked bodies behind a long head, move to a
// full buffer; pipelined requests cross from one to the other.
func TestReadBufferSizes(t *testing.T) {
	pad := func(n int) string { return "X-Pad: " + strings.Repeat("p", n) + "\r\n" }
	// The second chunk-size line is long (lighttpd takes up to 1023 bytes).
	chunkedHead := "Transfer-Encoding: chunked\r\n\r\n"
	chunks := "5\r\nhello\r\n6;ext=" + strings.Repeat("e", 1000) + "\r\n world\r\n0\r\n\r\n"
	tests := []struct {
		name string
		raw  string
		then string   // sent after the server has read raw
		want []string // bodies in order
	}{
		{"small head", "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n", "", []string{fileBody}},
		{"head just below the small buffer", "GET /f.txt HTTP/1.1\r\nHost: a\r\n" + pad(1950) + "\r\n", "", []string{fileBody}},
		{"head above the small buffer", "GET /f.txt HTTP/1.1\r\nHost: a\r\n" + pad(5000) + "\r\n", "", []string{fileBody}},
		{"chunked body behind a small head", "POST /echo HTTP/1.1\r\nHost: a\r\n" + chunkedHead, chunks, []string{"hello world"}},
		{"chunked body behind a long head", "POST /echo HTTP/1.1\r\nHost: a\r\n" + pad(1500) + chunkedHead, chunks, []string{"hello world"}},
		{"pipelined past the small buffer", strings.Repeat("GET /f.txt HTTP/1.1\r\nHost: a\r\n"+pad(100)+"\r\n", 30), "",
			strings.Split(strings.Repeat(fileBody+"|", 30)[:len(fileBody)*30+29], "|")},
	}
	_, addr := startServer(t, testConfig(), testHandler(testDocroot(t)))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, br := dial(t, addr)
			send(t, c, tc.raw)
			if tc.then != "" {
				time.Sleep(30 * time.Millisecond)
				send(t, c, tc.then)
			}
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			for i, want := range tc.want {
				if r := read(t, br, false); r.status != 200 || string(r.body) != want {
					t.Fatalf("response %d: %d %q, want %q", i, r.status, r.body, want)
				}
			}
		})
	}
}

// TestStalledDownloadNoLeak: a client that stops reading is cut off at
// max-write-idle, and its goroutine and descriptor go with it.
func TestStalledDownloadNoLeak(t *testing.T) {
	root := t.TempDir()
	holeFile(t, root, "huge.bin", 1<<30)
	cfg := testConfig()
	cfg.MaxWriteIdle = 300 * time.Millisecond
	s, addr := startServer(t, cfg, rangeHandler(root))
	// The idle poller (started by the first connection parked, which may
	// be a new one whose request is late) stays: start it before counting.
	waitFor(t, "the idle poller", func() bool { return s.poller() != nil })
	// netyield's pooled eventfds (one per download yielding at once) stay.
	fds := func() int {
		e, _ := os.ReadDir("/proc/self/fd")
		n := 0
		for _, d := range e {
			if l, _ := os.Readlink("/proc/self/fd/" + d.Name()); l != "anon_inode:[eventfd]" {
				n++
			}
		}
		return n
	}
	baseG, baseFD := runtime.NumGoroutine(), fds()
	var conns []net.Conn
	for range 4 {
		c, err := net.Dial("tcp", addr)
		must(t, err)
		c.(*net.TCPConn).SetReadBuffer(8 << 10)
		send(t, c, "GET /huge.bin HTTP/1.1\r\nHost: a\r\n\r\n")
		conns = append(conns, c)
	}
	waitFor(t, "the downloads to start", func() bool { return s.OpenConns() == 4 })
	start := time.Now()
	waitFor(t, "the stalled downloads to be cut off", func() bool { return s.OpenConns() == 0 })
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Errorf("cut off after %v, max-write-idle is 300ms", el)
	}
	for _, c := range conns {
		c.Close()
	}
	waitFor(t, "goroutines and descriptors to go", func() bool {
		return runtime.NumGoroutine() <= baseG && fds() <= baseFD
	})
}

// BenchmarkSendFile100KiB: keep-alive downloads of a 100 KiB file (one
// sendfile chunk, head sent with MSG_MORE).
func BenchmarkSendFile100KiB(b *testing.B) {
	root := b.TempDir()
	randomFile(b, root, 100<<10)
	cfg := DefaultConfig()
	cfg.MaxKeepAliveRequests = 1 << 30
	_, addr := startServer(b, cfg, rangeHandler(root))
	c, err := net.Dial("tcp", addr)
	must(b, err)
	defer c.Close()
	br := bufio.NewReaderSize(c, 256<<10)
	req := []byte("GET /r102400.bin HTTP/1.1\r\nHost: a\r\n\r\n")
	b.SetBytes(100 << 10)
	b.ReportAllocs()
	for b.Loop() {
		c.Write(req)
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if len(line) == 2 {
				break
			}
		}
		if _, err := br.Discard(100 << 10); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSegmentAligned: a chunk that is not the body's last ends where a TCP
// segment of the response does.
func TestSegmentAligned(t *testing.T) {
	for _, tc := range []struct {
		name           string
		pos, want, mss int64
		out            int64
	}{
		{"loopback, first chunk after a 234-byte head", 234, 256 << 10, 65483, 4*65483 - 234},
		{"loopback, later chunk", 234 + 4*65483 - 234, 256 << 10, 65483, 4 * 65483},
		{"ethernet", 0, 256 << 10, 1448, 181 * 1448},
		{"ethernet, mid-segment", 1000, 256 << 10, 1448, 181*1448 - 1000},
		{"already aligned", 1448, 2 * 1448, 1448, 2 * 1448},
		{"segment larger than the chunk", 0, 1000, 1448, 1000},
		{"no segment size", 7, 256 << 10, -1, 256 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := segmentAligned(tc.pos, tc.want, tc.mss)
			if got != tc.out {
				t.Fatalf("segmentAligned(%d, %d, %d) = %d, want %d", tc.pos, tc.want, tc.mss, got, tc.out)
			}
			if tc.mss > 0 && tc.mss < tc.want && (tc.pos+got)%tc.mss != 0 {
				t.Fatalf("ends %d bytes into a segment", (tc.pos+got)%tc.mss)
			}
		})
	}
}

// TestTCPMSS: a TCP socket reports its segment size, a Unix socket none (-1).
func TestTCPMSS(t *testing.T) {
	c, _ := tcpPair(t)
	rc, err := c.SyscallConn()
	must(t, err)
	var mss int64
	must(t, rc.Control(func(fd uintptr) { mss = tcpMSS(fd) }))
	if mss < 536 || mss > 1<<16 {
		t.Errorf("loopback TCP MSS %d", mss)
	}
	uln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	must(t, err)
	defer uln.Close()
	u, err := net.Dial("unix", uln.Addr().String())
	must(t, err)
	defer u.Close()
	ua, err := u.(*net.UnixConn).SyscallConn()
	must(t, err)
	must(t, ua.Control(func(fd uintptr) { mss = tcpMSS(fd) }))
	if mss != -1 {
		t.Errorf("Unix socket MSS %d, want -1", mss)
	}
}

// TestMSSCache: the segment size is asked per chunk until four readings
// agree, then every 64th chunk; a change starts the count again.
func TestMSSCache(t *testing.T) {
	var m mssCache
	readings := []int64{32768, 65483, 65483, 65483, 65483} // loopback's growth, then settled
	asked := 0
	next := func() int64 {
		if m.due() {
			v := readings[min(asked, len(readings)-1)]
			asked++
			m.record(v)
		}
		return m.v
	}
	for i := range 5 {
		if v := next(); v != readings[i] {
			t.Fatalf("chunk %d aligned to %d, want %d", i, v, readings[i])
		}
	}
	if asked != 5 {
		t.Fatalf("asked %d times for the first 5 chunks, want 5", asked)
	}
	for range mssRecheck {
		next()
	}
	if asked != 5 {
		t.Fatalf("asked %d times once settled, want none in %d chunks", asked-5, mssRecheck)
	}
	next() // the re-check
	if asked != 6 {
		t.Fatalf("no re-check after %d chunks", mssRecheck)
	}
	// The path MTU shrinks: the next re-check sees it, and readings resume
	// per chunk until they agree again.
	readings = []int64{1448}
	asked = 0
	for range mssRecheck + 1 {
		next()
	}
	if asked != 1 || m.v != 1448 {
		t.Fatalf("after a change: asked %d, MSS %d; want 1, 1448", asked, m.v)
	}
	for range 3 {
		next()
	}
	if asked != 4 {
		t.Fatalf("asked %d times after a change, want one per chunk until %d agree", asked, mssSettled)
	}
	next()
	if asked != 4 {
		t.Fatalf("asked again once %d readings agreed", mssSettled)
	}
}
