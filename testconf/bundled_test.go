package testconf

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// bundledStart runs golighty on the bundled config the README's command
// runs (testconf/lighttpd.conf, from the repository root), on a free port
// instead of 8080: a wrapper includes it and replaces server.port.
func bundledStart(t *testing.T) (addr string, stop func()) {
	t.Helper()
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	dir := t.TempDir()
	// lighttpd resolves a relative include against the directory of the
	// main config file, here the wrapper's: the bundled mime.conf goes along.
	mime, err := os.ReadFile("mime.conf")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mime.conf"), mime, 0o644); err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(dir, "wrapper.conf")
	conf := fmt.Sprintf("include %q\nserver.port := %d\n", filepath.Join(repo, "testconf", "lighttpd.conf"), port)
	if err := os.WriteFile(wrapper, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(golightyBin, "-D", "-f", wrapper, "--no-watch")
	cmd.Dir = repo
	log := &syncLog{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.WaitDelay = 3 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	t.Cleanup(stop)
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, stop
		}
	}
	t.Fatalf("golighty did not start on the bundled config: %s", log.String())
	return "", nil
}

// bundledGet fetches a URL path without following redirects.
func bundledGet(t *testing.T, addr, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestBundledConfig follows the README's run command: the index page of the
// download application, its X-Sendfile and X-send-response-body handoffs
// (with Range), refused and forged links, the mod_secdownload links the
// page prints, the static file and the denied area.
func TestBundledConfig(t *testing.T) {
	addr, stop := bundledStart(t)
	resp, page := bundledGet(t, addr, "/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("index: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), page)
	}
	links := regexp.MustCompile(`href="([^"]+)"`).FindAllStringSubmatch(page, -1)
	var sendfile, responseBody, secure []string
	for _, m := range links {
		l := strings.ReplaceAll(m[1], "&amp;", "&")
		switch {
		case strings.HasPrefix(l, "/app/download?") && strings.Contains(l, "via=X-send-response-body"):
			responseBody = append(responseBody, l)
		case strings.HasPrefix(l, "/app/download?"):
			sendfile = append(sendfile, l)
		case strings.HasPrefix(l, "/secure/"):
			secure = append(secure, l)
		}
	}
	files, _ := os.ReadDir("downloads")
	if len(files) == 0 || len(sendfile) != len(files) || len(responseBody) != len(files) || len(secure) != len(files) {
		t.Fatalf("%d files, links: %d X-Sendfile, %d X-send-response-body, %d secdownload\n%s", len(files), len(sendfile), len(responseBody), len(secure), page)
	}
	want := func(link string) []byte {
		u, _ := url.Parse(link)
		name := u.Query().Get("file")
		if name == "" {
			name = u.Path[strings.LastIndexByte(u.Path, '/')+1:]
		}
		b, err := os.ReadFile(filepath.Join("downloads", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, group := range [][]string{sendfile, responseBody, secure} {
		for _, link := range group {
			t.Run("download "+link[:min(len(link), 50)], func(t *testing.T) {
				body := want(link)
				resp, got := bundledGet(t, addr, link)
				if resp.StatusCode != 200 || got != string(body) {
					t.Fatalf("status %d, %d bytes, want 200 and %d bytes", resp.StatusCode, len(got), len(body))
				}
				if resp.Header.Get("Content-Length") != strconv.Itoa(len(body)) || resp.Header.Get("Accept-Ranges") != "bytes" || resp.Header.Get("ETag") == "" {
					t.Errorf("headers %v", resp.Header)
				}
				for k := range resp.Header {
					if strings.HasPrefix(strings.ToLower(k), "x-send") {
						t.Errorf("handoff header %s reached the client", k)
					}
				}
				if strings.HasPrefix(link, "/app/") && resp.Header.Get("Content-Disposition") == "" {
					t.Error("the application's Content-Disposition is missing")
				}
				resp, got = bundledGet(t, addr, link, "Range", "bytes=5-14")
				if resp.StatusCode != 206 || got != string(body[5:15]) {
					t.Errorf("range: status %d, %q", resp.StatusCode, got)
				}
			})
		}
	}
	// The demo secret of the bundled config signs links the test makes up.
	confText, _ := os.ReadFile("lighttpd.conf")
	secret := regexp.MustCompile(`var\.download_secret\s*=\s*"([^"]+)"`).FindSubmatch(confText)
	if secret == nil {
		t.Fatal("no var.download_secret in the bundled config")
	}
	ticket := func(name string, exp int64) string {
		m := hmac.New(sha256.New, secret[1])
		fmt.Fprintf(m, "%s\n%d", name, exp)
		return "/app/download?" + url.Values{"file": {name}, "expires": {strconv.FormatInt(exp, 10)}, "ticket": {hex.EncodeToString(m.Sum(nil))}}.Encode()
	}
	future := time.Now().Add(time.Hour).Unix()
	for _, tc := range []struct {
		name, path string
		status     int
	}{
		{"forged ticket", strings.Replace(sendfile[0], "ticket=", "ticket=00", 1), 403},
		{"expired ticket", ticket(files[0].Name(), time.Now().Add(-time.Minute).Unix()), 403},
		{"valid ticket, traversal", ticket("../lighttpd.conf", future), 403},
		{"valid ticket, missing file", ticket("missing.txt", future), 404},
		{"forged secdownload MAC", "/secure/" + strings.Repeat("A", 43) + secure[0][len("/secure/")+43:], 403},
		{"secdownload traversal", secure[0][:strings.LastIndexByte(secure[0], '/')] + "/../lighttpd.conf", 404},
		{"static file", "/hello.txt", 200},
		{"denied area", "/private/secret.txt", 403},
		{"unknown app path", "/app/nothing", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := bundledGet(t, addr, tc.path)
			if resp.StatusCode != tc.status {
				t.Errorf("%s: status %d, want %d: %.200s", tc.path, resp.StatusCode, tc.status, body)
			}
			if strings.Contains(body, "var.download_secret") {
				t.Error("the config file leaked")
			}
		})
	}
	// The application is a child of the server and goes with it.
	pid := bundledAppPID(t)
	stop()
	for i := 0; i < 100; i++ {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("download-app pid %d outlived the server", pid)
}

// bundledAppPID finds the running download-app of this test's server.
func bundledAppPID(t *testing.T) int {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if strings.HasPrefix(string(cmdline), golightyBin+"\x00download-app") {
			return pid
		}
	}
	t.Fatal("no download-app process")
	return 0
}
