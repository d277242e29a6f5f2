package testconf

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The soak test runs only when asked: GOLIGHTY_SOAK=20m (any Go duration)
// runs mixed traffic against one golighty for that long. See the README.
const soakConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "soak"
server.max-read-idle = 5
server.upload-dirs = ("@ROOT@/spool")
server.modules = ("mod_access", "mod_setenv", "mod_fastcgi")
url.access-deny = (".inc")
mimetype.assign = (".txt" => "text/plain", ".bin" => "application/octet-stream")
setenv.add-response-header = ("X-Generation" => "@GEN@")
fastcgi.server = ( ".php" => ( "php" => (
	"bin-path" => "@PHP@",
	"socket" => "@ROOT@/php.sock",
	"max-procs" => 1,
	"bin-environment" => ( "PHP_FCGI_CHILDREN" => "4", "PHP_FCGI_MAX_REQUESTS" => "500", "GOLIGHTY_TEST_MARK" => "@ROOT@/soak" ),
	"x-sendfile" => "enable",
	"x-sendfile-docroot" => ( "@ROOT@/files" )
)))
`

var soakScripts = map[string]string{
	"www/hello.php": `<?php echo "hello ", $_GET["n"] ?? "", "\n";`,
	// n bytes of the soak pattern: past 64 KiB it is spooled to a file.
	"www/big.php": `<?php $n = (int)$_GET["n"]; $b = "";
for ($i = 0; $i < 65536; $i++) { $b .= chr(97 + $i % 26); }
while ($n > 0) { $k = min($n, 65536); echo substr($b, 0, $k); $n -= $k; }`,
	"www/xs.php": `<?php header("X-Sendfile: " . __DIR__ . "/../files/dl.bin");`,
}

// soakPattern is big.php's output: byte i is 'a' + (i mod 65536) mod 26.
func soakPattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(97 + (i%65536)%26)
	}
	return b
}

// soakSample is one reading of the server's resources.
type soakSample struct {
	RSSKiB, FDs, Goroutines, PHP int
	HeapInuse                    uint64
}

func (s soakSample) String() string {
	return fmt.Sprintf("RSS %d KiB, Go heap in use %d KiB, fds %d, goroutines %d, php-cgi processes %d",
		s.RSSKiB, s.HeapInuse>>10, s.FDs, s.Goroutines, s.PHP)
}

type soak struct {
	t       *testing.T
	root    string
	srv     *server
	debug   string
	client  *http.Client
	big     []byte // www/big.bin
	dl      []byte // files/dl.bin
	small   []byte // www/small.txt
	ok      atomic.Int64
	fail    atomic.Int64
	hostile map[string]*atomic.Int64
	mu      sync.Mutex
	errs    []string
	reloads atomic.Int64
	refused atomic.Int64
}

func (s *soak) failf(format string, a ...any) {
	s.fail.Add(1)
	s.mu.Lock()
	if len(s.errs) < 20 {
		s.errs = append(s.errs, fmt.Sprintf(format, a...))
	}
	s.mu.Unlock()
}

// TestSoak: static files, PHP (small and spooled bodies), X-Sendfile, Range
// and reloads (good ones and refused ones) as well-formed traffic that must
// never fail, with hostile clients mixed in (slowloris, malformed and
// smuggling heads, resets mid-download, pipelined floods). Memory,
// descriptors, goroutines and php-cgi processes are read after a warm-up
// and at the end, both at a quiet moment, and must be flat.
func TestSoak(t *testing.T) {
	spec := os.Getenv("GOLIGHTY_SOAK")
	if spec == "" {
		t.Skip("set GOLIGHTY_SOAK=20m (a duration) to run the soak test")
	}
	dur, err := time.ParseDuration(spec)
	if err != nil {
		t.Fatalf("GOLIGHTY_SOAK=%q: %v", spec, err)
	}
	php := requirePeer(t, "php-cgi")
	root := t.TempDir()
	s := &soak{t: t, root: root, hostile: map[string]*atomic.Int64{}}
	for _, k := range []string{"slowloris cut", "malformed answered", "resets", "pipelined responses", "smuggling answered"} {
		s.hostile[k] = new(atomic.Int64)
	}
	writeTree(t, root, soakScripts)
	s.small = soakPattern(1024)
	s.big = soakPattern(4 << 20)
	s.dl = soakPattern(2<<20 + 17)
	writeTree(t, root, map[string]string{"www/small.txt": string(s.small), "www/big.bin": string(s.big), "files/dl.bin": string(s.dl), "www/secret.inc": "no"})
	os.Mkdir(filepath.Join(root, "spool"), 0o755)

	s.debug = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	os.Setenv("GOLIGHTY_DEBUG_ADDR", s.debug)
	conf := func(gen int) string {
		return strings.NewReplacer("@ROOT@", root, "@PHP@", php, "@GEN@", strconv.Itoa(gen)).Replace(soakConf)
	}
	s.srv = startServer(t, "golighty", golightyBin, root, conf(0))
	os.Unsetenv("GOLIGHTY_DEBUG_ADDR")
	t.Cleanup(func() { stopWithChildren(t, s.srv, root+"/soak") })
	confPath := filepath.Join(root, "golighty.conf")
	port := s.srv.addr[strings.LastIndexByte(s.srv.addr, ':')+1:]
	writeConf := func(text string) {
		os.WriteFile(confPath+".tmp", []byte(strings.ReplaceAll(text, "@PORT@", port)), 0o644)
		os.Rename(confPath+".tmp", confPath)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true}
	s.client = &http.Client{Transport: tr, Timeout: 60 * time.Second}

	run := func(d time.Duration) {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i := 0; i < 6; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); s.wellFormed(stop) }()
		}
		for _, h := range []func(<-chan struct{}){s.slowloris, s.slowloris, s.malformed, s.resets, s.pipelined, s.smuggling} {
			wg.Add(1)
			go func() { defer wg.Done(); h(stop) }()
		}
		// Reloads every 10 s; every third one is refused first.
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(10 * time.Second)
			defer tick.Stop()
			for gen := 1; ; gen++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				if gen%3 == 0 {
					writeConf("server.port = \n")
					s.srv.cmd.Process.Signal(syscall.SIGUSR1)
					time.Sleep(500 * time.Millisecond)
					s.refused.Add(1)
				}
				writeConf(conf(gen))
				s.srv.cmd.Process.Signal(syscall.SIGUSR1)
				s.reloads.Add(1)
			}
		}()
		// A reading per minute, for the log.
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Minute)
			defer tick.Stop()
			start := time.Now()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					t.Logf("%s: %s; %d ok, %d failed", time.Since(start).Round(time.Second), s.sample(false), s.ok.Load(), s.fail.Load())
				}
			}
		}()
		time.Sleep(d)
		close(stop)
		wg.Wait()
	}

	t.Logf("uptime at start: %s", soakUptime())
	run(min(30*time.Second, dur))
	before := s.quiet(tr)
	t.Logf("after warm-up: %s", before)
	start := time.Now()
	run(dur)
	after := s.quiet(tr)
	t.Logf("after %s: %s", time.Since(start).Round(time.Second), after)
	t.Logf("uptime at end: %s", soakUptime())
	t.Logf("well-formed requests: %d ok, %d failed; reloads %d (+%d refused)", s.ok.Load(), s.fail.Load(), s.reloads.Load(), s.refused.Load())
	for k, v := range s.hostile {
		t.Logf("hostile: %s %d", k, v.Load())
	}
	for _, e := range s.errs {
		t.Errorf("failed: %s", e)
	}
	if s.fail.Load() > 0 {
		t.Errorf("%d well-formed requests failed", s.fail.Load())
		lines := strings.Split(strings.TrimSpace(s.srv.log.String()), "\n")
		t.Logf("the server's log, last lines:\n%s", strings.Join(lines[max(0, len(lines)-40):], "\n"))
	}
	if after.FDs > before.FDs+4 || after.Goroutines > before.Goroutines+8 || after.PHP != before.PHP {
		t.Errorf("not flat: before %s; after %s", before, after)
	}
	if after.RSSKiB > before.RSSKiB+32<<10 || after.HeapInuse > 2*before.HeapInuse+8<<20 {
		t.Errorf("memory grew: before %s; after %s", before, after)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "spool")); len(ents) > 0 {
		t.Errorf("%d files left in the spool directory", len(ents))
	}
}

func soakUptime() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return "load average " + strings.Join(strings.Fields(string(b))[:3], " ")
}

// quiet waits until no client is connected (the head deadline ends the
// last slowloris) and reads the resources.
func (s *soak) quiet(tr *http.Transport) soakSample {
	tr.CloseIdleConnections()
	time.Sleep(7 * time.Second)
	return s.sample(true)
}

func (s *soak) sample(gc bool) soakSample {
	var out soakSample
	pid := strconv.Itoa(s.srv.cmd.Process.Pid)
	if gc {
		// A heap profile with gc=1 collects first, so the reading does not
		// depend on when the last collection ran.
		if resp, err := http.Get("http://" + s.debug + "/debug/pprof/heap?gc=1"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	if b, err := os.ReadFile("/proc/" + pid + "/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				out.RSSKiB, _ = strconv.Atoi(f[1])
			}
		}
	}
	fds, _ := os.ReadDir("/proc/" + pid + "/fd")
	out.FDs = len(fds)
	if resp, err := http.Get("http://" + s.debug + "/debug/goroutines"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out.Goroutines, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if resp, err := http.Get("http://" + s.debug + "/debug/vars"); err == nil {
		var v struct{ Memstats struct{ HeapInuse uint64 } }
		json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		out.HeapInuse = v.Memstats.HeapInuse
	}
	mark := []byte("GOLIGHTY_TEST_MARK=" + s.root + "/soak\x00")
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		st, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err == nil && bytes.Contains(env, mark) && !bytes.Contains(st, []byte(") Z ")) {
			out.PHP++
		}
	}
	return out
}

// wellFormed sends a random mix of valid requests and checks each answer.
func (s *soak) wellFormed(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		s.one(rand.IntN(9))
		time.Sleep(time.Duration(rand.IntN(4)) * time.Millisecond)
	}
}

func (s *soak) one(kind int) {
	base := "http://" + s.srv.addr
	var (
		path, rng string
		status    = 200
		want      []byte
		method    = "GET"
	)
	switch kind {
	case 0:
		path, want = "/small.txt", s.small
	case 1:
		path, want = "/big.bin", s.big
	case 2:
		a := rand.IntN(len(s.big) - 1000)
		path, rng, status, want = "/big.bin", fmt.Sprintf("bytes=%d-%d", a, a+999), 206, s.big[a:a+1000]
	case 3:
		n := strconv.Itoa(rand.IntN(1000))
		path, want = "/hello.php?n="+n, []byte("hello "+n+"\n")
	case 4:
		n := 100<<10 + rand.IntN(400<<10) // spooled to a temporary file
		path, want = "/big.php?n="+strconv.Itoa(n), soakPattern(n)
	case 5:
		n := 300 << 10
		a := rand.IntN(n - 5000)
		path, rng, status, want = "/big.php?n="+strconv.Itoa(n), fmt.Sprintf("bytes=%d-%d", a, a+4999), 206, soakPattern(n)[a:a+5000]
	case 6:
		path, want = "/xs.php", s.dl
	case 7:
		a := rand.IntN(len(s.dl) - 100)
		path, rng, status, want = "/xs.php", fmt.Sprintf("bytes=%d-", a), 206, s.dl[a:]
	case 8:
		path, method, want = "/big.bin", "HEAD", nil
	}
	req, _ := http.NewRequest(method, base+path, nil)
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.failf("%s %s: %v", method, path, err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		s.failf("%s %s %s: body: %v", method, path, rng, err)
	case resp.StatusCode != status:
		s.failf("%s %s %s: status %d, want %d", method, path, rng, resp.StatusCode, status)
	case sha256.Sum256(body) != sha256.Sum256(want):
		s.failf("%s %s %s: %d bytes, want %d", method, path, rng, len(body), len(want))
	case method == "HEAD" && resp.ContentLength != int64(len(s.big)):
		s.failf("HEAD %s: content-length %d", path, resp.ContentLength)
	default:
		s.ok.Add(1)
	}
}

func (s *soak) dial() net.Conn {
	c, err := net.DialTimeout("tcp", s.srv.addr, 5*time.Second)
	if err != nil {
		return nil
	}
	return c
}

// slowloris drips a request head one byte a second; the head deadline
// (server.max-read-idle = 5) must cut it off.
func (s *soak) slowloris(stop <-chan struct{}) {
	for {
		c := s.dial()
		if c == nil {
			return
		}
		io.WriteString(c, "GET /small.txt HTTP/1.1\r\nHost: x\r\n")
		cut := false
		for i := 0; i < 60 && !cut; i++ {
			select {
			case <-stop:
				c.Close()
				return
			case <-time.After(time.Second):
			}
			_, err := c.Write([]byte("X"))
			if err == nil {
				c.SetReadDeadline(time.Now().Add(time.Millisecond))
				var b [512]byte
				_, err = c.Read(b[:])
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					err = nil
				}
			}
			cut = err != nil
		}
		c.Close()
		if cut {
			s.hostile["slowloris cut"].Add(1)
		}
	}
}

// malformedHeads are requests lighttpd answers with an error (or drops).
var malformedHeads = []string{
	"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
	"GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /secret.inc HTTP/1.1\r\nHost: x\r\n\r\n",
	"GARBAGE\r\n\r\n",
	"GET / HTTP/9.9\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 70000) + "\r\n\r\n",
	"GET / HTTP/1.1\nHost: x\n\n",
	"GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
	"POST /hello.php HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
	"POST /hello.php HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	"GET /small.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=99999999-\r\n\r\n",
	"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
}

func (s *soak) malformed(stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
		c := s.dial()
		if c == nil {
			continue
		}
		io.WriteString(c, malformedHeads[i%len(malformedHeads)])
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
			resp.Body.Close()
			s.hostile["malformed answered"].Add(1)
		}
		c.Close()
	}
}

// smugglingHeads try to make one request read as two (CL/TE conflicts).
var smugglingHeads = []string{
	"POST /hello.php HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /secret.inc HTTP/1.1\r\nHost: x\r\n\r\n",
	"POST /hello.php HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\nhello",
	"POST /hello.php HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
	"POST /hello.php HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
	"GET /small.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 28\r\n\r\nGET /secret.inc HTTP/1.1\r\n\r\n",
}

func (s *soak) smuggling(stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(50 * time.Millisecond):
		}
		c := s.dial()
		if c == nil {
			continue
		}
		io.WriteString(c, smugglingHeads[i%len(smugglingHeads)])
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		n := 0
		for {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				break
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			n++
		}
		c.Close()
		s.hostile["smuggling answered"].Add(1)
		if n != 1 {
			// Each is one request (or one refused head): a second answer
			// means the embedded text was read as a request of its own.
			s.failf("%d responses to %q", n, smugglingHeads[i%len(smugglingHeads)])
		}
	}
}

// resets start downloads (static, spooled PHP, X-Sendfile) and reset the
// connection after the first bytes.
func (s *soak) resets(stop <-chan struct{}) {
	paths := []string{"/big.bin", "/big.php?n=3000000", "/xs.php"}
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(30 * time.Millisecond):
		}
		c := s.dial()
		if c == nil {
			continue
		}
		io.WriteString(c, "GET "+paths[i%len(paths)]+" HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.ReadFull(c, make([]byte, 32<<10))
		c.(*net.TCPConn).SetLinger(0) // close sends RST
		c.Close()
		s.hostile["resets"].Add(1)
	}
}

// pipelined writes 100 requests at once, then reads the answers (or stops
// reading half way and closes).
func (s *soak) pipelined(stop <-chan struct{}) {
	var reqs bytes.Buffer
	for i := 0; i < 100; i++ {
		reqs.WriteString("GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(100 * time.Millisecond):
		}
		c := s.dial()
		if c == nil {
			continue
		}
		go c.Write(reqs.Bytes())
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		limit := 100
		if i%2 == 1 {
			limit = 50
		}
		for j := 0; j < limit; j++ {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				break
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			s.hostile["pipelined responses"].Add(1)
		}
		c.Close()
	}
}
