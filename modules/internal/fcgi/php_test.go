package fcgi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const phpCGI = "/usr/bin/php-cgi"

var phpScripts = map[string]string{
	"sum.php": `<?php
$h = hash_init('sha256'); $n = 0;
$f = fopen('php://input', 'rb');
while (!feof($f)) { $b = fread($f, 65536); $n += strlen($b); hash_update($h, $b); }
header('Content-Type: text/plain');
echo $n, ' ', hash_final($h);
`,
	"big.php": `<?php
$n = (int)$_GET['n']; $s = str_repeat('0123456789abcdef', 4096);
while ($n > 0) { $k = min($n, 65536); echo substr($s, 0, $k); $n -= $k; }
`,
	"err.php": `<?php
error_log("first message");
error_log("second message");
header('X-Long: ' . str_repeat('a', 2048));
echo "ok";
`,
	"hello.php": `<?php echo "hello";`,
}

// startPHP runs php-cgi -b on a free loopback port with two children. It
// skips without php-cgi unless GOLIGHTY_REQUIRE_PEERS=1.
func startPHP(t testing.TB) (*Dialer, string) {
	t.Helper()
	if _, err := os.Stat(phpCGI); err != nil {
		if os.Getenv("GOLIGHTY_REQUIRE_PEERS") == "1" {
			t.Fatalf("php-cgi required: %v", err)
		}
		t.Skip("php-cgi not installed")
	}
	dir := t.TempDir()
	for name, src := range phpScripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(phpCGI, "-n", "-d", "post_max_size=0", "-d", "log_errors=1", "-d", "display_errors=0", "-b", addr)
	cmd.Env = []string{"PHP_FCGI_CHILDREN=2", "PHP_FCGI_MAX_REQUESTS=0"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("php-cgi did not listen on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &Dialer{Network: "tcp", Address: addr, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}, dir
}

func phpParams(dir, script, query string, clen int64) *Params {
	p := NewParams()
	p.Add("CONTENT_LENGTH", fmt.Sprint(clen))
	p.Add("QUERY_STRING", query)
	p.Add("REQUEST_URI", "/"+script+"?"+query)
	p.Add("REDIRECT_STATUS", "200")
	p.Add("SCRIPT_NAME", "/"+script)
	p.Add("SCRIPT_FILENAME", filepath.Join(dir, script))
	p.Add("DOCUMENT_ROOT", dir)
	p.Add("REQUEST_METHOD", "POST")
	p.Add("SERVER_PROTOCOL", "HTTP/1.1")
	p.Add("GATEWAY_INTERFACE", "CGI/1.1")
	p.Add("CONTENT_TYPE", "application/octet-stream")
	return p
}

func TestPHP(t *testing.T) {
	d, dir := startPHP(t)
	t.Run("50 MB POST", func(t *testing.T) {
		if testing.Short() {
			t.Skip("large")
		}
		const n = 50 << 20
		p := phpParams(dir, "sum.php", "", n)
		resp, err := d.Do(context.Background(), &Request{Params: p, Stdin: &patternReader{n: n}, ContentLength: n})
		p.Release()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Close()
		_, body, err := readAll(t, resp)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%d %s", n, patternSum(n)); body != want {
			t.Fatalf("php saw %q, want %q", body, want)
		}
	})
	t.Run("large response", func(t *testing.T) {
		const n = 20 << 20
		p := phpParams(dir, "big.php", fmt.Sprint("n=", n), 0)
		resp, err := d.Do(context.Background(), &Request{Params: p})
		p.Release()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Close()
		if _, err := resp.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		got, err := io.Copy(h, resp)
		if err != nil || got != n {
			t.Fatalf("got %d bytes, err %v", got, err)
		}
		want := sha256.New()
		for left := n; left > 0; left -= 65536 {
			want.Write([]byte(strings.Repeat("0123456789abcdef", 4096)[:min(left, 65536)]))
		}
		if hex.EncodeToString(h.Sum(nil)) != hex.EncodeToString(want.Sum(nil)) {
			t.Fatal("large response content differs")
		}
	})
	t.Run("stderr and long header", func(t *testing.T) {
		var lines []string
		p := phpParams(dir, "err.php", "", 0)
		resp, err := d.Do(context.Background(), &Request{Params: p, Stderr: StderrFunc(func(l []byte) { lines = append(lines, string(l)) })})
		p.Release()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Close()
		hdr, body, err := readAll(t, resp)
		if err != nil {
			t.Fatal(err)
		}
		if body != "ok" || !strings.Contains(hdr, "X-Long: "+strings.Repeat("a", 2048)+"\r\n") {
			t.Errorf("body %q, header block %.100q", body, hdr)
		}
		if got := strings.Join(lines, "|"); !strings.Contains(got, "first message") || !strings.Contains(got, "second message") {
			t.Errorf("stderr lines %q", lines)
		}
	})
	t.Run("many requests with two children", func(t *testing.T) {
		checkNoLeak(t)
		errs := make(chan error, 20)
		for i := 0; i < 20; i++ {
			go func() {
				p := phpParams(dir, "hello.php", "", 0)
				resp, err := d.Do(context.Background(), &Request{Params: p})
				p.Release()
				if err != nil {
					errs <- err
					return
				}
				defer resp.Close()
				if _, err := resp.ReadHeader(); err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(resp)
				if err == nil && string(b) != "hello" {
					err = fmt.Errorf("body %q", b)
				}
				errs <- err
			}()
		}
		for i := 0; i < 20; i++ {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	})
}
