package testconf

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const viewRuleConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.modules = ("mod_fastcgi")
mimetype.assign = (".txt" => "text/plain")
fastcgi.server = ( ".php" => ( "php" => (
	"bin-path" => "@PHP@",
	"socket" => "@ROOT@/php.sock",
	"max-procs" => 1,
	"bin-environment" => ( "PHP_FCGI_CHILDREN" => "4", "GOLIGHTY_TEST_MARK" => "@ROOT@" ),
	"x-sendfile" => "enable",
	"x-sendfile-docroot" => ( "@ROOT@/files" )
)))
`

// TestPoisonedStress sends many requests with varied header names, targets
// and layouts, on new, reused and pipelined connections, to PHP, X-Sendfile
// and static files, with the server's buffers poisoned as each request ends
// (core/bufpoison). Every response must be well-formed and carry what its
// own request sent, and nothing may panic: a view of a reused buffer kept
// anywhere on these paths would show up as garbage or a panic here.
func TestPoisonedStress(t *testing.T) {
	php := requirePeer(t, "php-cgi")
	t.Setenv("GOLIGHTY_POISON_BUFFERS", "1")
	root := t.TempDir()
	big := strings.Repeat("0123456789abcdef", 4096) // 64 KiB: sendfile, not inlined
	writeTree(t, root, map[string]string{
		"www/echo.php": `<?php header("Content-Type: text/plain");
foreach ($_SERVER as $k => $v) if (strncmp($k, "HTTP_X_", 7) == 0) echo "$k=$v\n";
echo "URI=", $_SERVER["REQUEST_URI"], "\n";`,
		"www/xs.php":     `<?php header("X-Sendfile: " . $_GET["f"]); echo "discarded";`,
		"www/static.txt": "static body\n",
		"files/big.bin":  big,
	})
	conf := strings.NewReplacer("@ROOT@", root, "@PHP@", php).Replace(viewRuleConf)
	g := startServer(t, "golighty", golightyBin, root, conf)
	t.Cleanup(func() { stopWithChildren(t, g, root) })

	const workers, perWorker = 6, 120
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 7))
			var c net.Conn
			var br *bufio.Reader
			for i := 0; i < perWorker; i++ {
				if c == nil || r.IntN(3) == 0 { // a new connection now and then
					if c != nil {
						c.Close()
					}
					var err error
					if c, err = net.Dial("tcp", g.addr); err != nil {
						errs <- err
						return
					}
					br = bufio.NewReader(c)
				}
				batch := 1 + r.IntN(3) // pipelined requests
				var raw bytes.Buffer
				checks := make([]func(*http.Response, []byte) error, batch)
				for b := range checks {
					checks[b] = stressRequest(r, &raw, filepath.Join(root, "files/big.bin"), big)
				}
				c.SetDeadline(time.Now().Add(20 * time.Second))
				if _, err := c.Write(raw.Bytes()); err != nil {
					errs <- err
					return
				}
				for b, check := range checks {
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						errs <- fmt.Errorf("worker %d request %d.%d: %v", seed, i, b, err)
						return
					}
					body, err := io.ReadAll(resp.Body)
					if err == nil {
						err = check(resp, body)
					}
					if err != nil {
						errs <- fmt.Errorf("worker %d request %d.%d: %v", seed, i, b, err)
						return
					}
				}
			}
			c.Close()
		}(uint64(w))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if strings.Contains(g.log.String(), "panic") {
		t.Errorf("the server panicked:\n%s", g.log.String())
	}
}

// stressRequest appends one random request to raw and returns the check of
// its response.
func stressRequest(r *rand.Rand, raw *bytes.Buffer, bigPath, big string) func(*http.Response, []byte) error {
	pad := strings.Repeat("q", r.IntN(300))
	var hdrs []string
	for n := r.IntN(6); n > 0; n-- {
		hdrs = append(hdrs, fmt.Sprintf("X-%s-%d: %s", strings.Repeat("N", 1+r.IntN(20)), r.IntN(1000), strings.Repeat("v", 1+r.IntN(200))))
	}
	head := func(method, target string) {
		fmt.Fprintf(raw, "%s %s HTTP/1.1\r\nHost: h%d.example\r\n%s", method, target, r.IntN(50), strings.Join(append(hdrs, ""), "\r\n"))
	}
	switch r.IntN(4) {
	case 0: // PHP echoes the headers it got
		target := "/echo.php?" + pad
		head("GET", target)
		raw.WriteString("\r\n")
		return func(resp *http.Response, body []byte) error {
			if resp.StatusCode != 200 {
				return fmt.Errorf("echo: status %d", resp.StatusCode)
			}
			got := string(body)
			for _, h := range hdrs {
				name, value, _ := strings.Cut(h, ": ")
				if !strings.Contains(got, "HTTP_"+strings.ReplaceAll(strings.ToUpper(name), "-", "_")+"="+value+"\n") {
					return fmt.Errorf("echo lost %s:\n%s", name, got)
				}
			}
			if !strings.Contains(got, "URI="+target+"\n") {
				return fmt.Errorf("echo: wrong REQUEST_URI:\n%s", got)
			}
			return nil
		}
	case 1: // X-Sendfile, whole or a range
		start := r.IntN(len(big))
		head("GET", "/xs.php?f="+bigPath+"&"+pad)
		if r.IntN(2) == 0 {
			fmt.Fprintf(raw, "Range: bytes=%d-\r\n\r\n", start)
			return func(resp *http.Response, body []byte) error {
				if resp.StatusCode != 206 || string(body) != big[start:] {
					return fmt.Errorf("x-sendfile range: %d, %d bytes", resp.StatusCode, len(body))
				}
				return nil
			}
		}
		raw.WriteString("\r\n")
		return func(resp *http.Response, body []byte) error {
			if resp.StatusCode != 200 || string(body) != big {
				return fmt.Errorf("x-sendfile: %d, %d bytes", resp.StatusCode, len(body))
			}
			return nil
		}
	case 2: // static file
		head("GET", "/static.txt?"+pad)
		raw.WriteString("\r\n")
		return func(resp *http.Response, body []byte) error {
			if resp.StatusCode != 200 || string(body) != "static body\n" {
				return fmt.Errorf("static: %d %q", resp.StatusCode, body)
			}
			return nil
		}
	default: // a POST to PHP with a body, or a missing file
		if r.IntN(2) == 0 {
			head("GET", "/missing-"+pad)
			raw.WriteString("\r\n")
			return func(resp *http.Response, _ []byte) error {
				if resp.StatusCode != 404 {
					return fmt.Errorf("missing: %d", resp.StatusCode)
				}
				return nil
			}
		}
		body := strings.Repeat("b", r.IntN(3000))
		head("POST", "/echo.php")
		fmt.Fprintf(raw, "Content-Length: %d\r\n\r\n%s", len(body), body)
		return func(resp *http.Response, _ []byte) error {
			if resp.StatusCode != 200 {
				return fmt.Errorf("post: %d", resp.StatusCode)
			}
			return nil
		}
	}
}
