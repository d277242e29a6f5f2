package fastcgi

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/coretest"
	"github.com/golighty/golighty/lighttpdconf"
)

// requirePHP returns php-cgi's path, skipping without it unless
// GOLIGHTY_REQUIRE_PEERS=1.
func requirePHP(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("php-cgi")
	if err != nil {
		if os.Getenv("GOLIGHTY_REQUIRE_PEERS") == "1" {
			t.Fatal("php-cgi is required (GOLIGHTY_REQUIRE_PEERS=1) but not installed")
		}
		t.Skip("php-cgi not installed")
	}
	return p
}

// phpHarness compiles conf and stops the spawned php-cgi processes when
// the test ends (coretest never retires its snapshot).
func phpHarness(t *testing.T, conf string) (*coretest.Harness, *Module) {
	t.Helper()
	h := coretest.New(t, conf)
	mi, ok := h.Snap.Module("mod_fastcgi")
	if !ok {
		t.Fatal("mod_fastcgi not loaded")
	}
	m := mi.(*Module)
	t.Cleanup(func() { m.Close() })
	return h, m
}

// streamTrip is roundTrip for large bodies: the body goes to w.
func streamTrip(t *testing.T, h *coretest.Harness, req string, body io.Reader, w io.Writer) *http.Response {
	t.Helper()
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Server.ServeConn(server, "127.0.0.1:80")
	}()
	go func() {
		io.WriteString(client, req)
		if body != nil {
			io.Copy(client, body)
		}
	}()
	client.SetReadDeadline(time.Now().Add(60 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(client), &http.Request{Method: strings.Fields(req)[0]})
	if err != nil {
		client.Close()
		<-done
		t.Fatalf("reading response to %q: %v", firstLine(req), err)
	}
	_, err = io.Copy(w, resp.Body)
	client.Close()
	<-done
	if err != nil {
		t.Fatalf("body of %q: %v", firstLine(req), err)
	}
	return resp
}

const phpScript = `<?php
if (getenv('FCGI_ROLE') === 'AUTHORIZER' || (isset($_SERVER['FCGI_ROLE']) && $_SERVER['FCGI_ROLE'] === 'AUTHORIZER')) {
  if (($_SERVER['HTTP_X_TOKEN'] ?? '') === 'letmein') {
    header('Variable-Download-User: alice');
    exit;
  }
  header('Status: 401 Unauthorized');
  header('WWW-Authenticate: Token');
  echo "no token\n";
  exit;
}
if (($_SERVER['DOWNLOAD_USER'] ?? '') !== 'alice') {
  header('Status: 500');
  echo "authorizer variable missing\n";
  exit;
}
header('Content-Type: application/octet-stream');
header('X-Sendfile: ' . getenv('BIGFILE'));
echo "this body is discarded\n";
`

const phpInfo = `<?php
header('Content-Type: text/plain');
foreach (['SCRIPT_NAME','PATH_INFO','SCRIPT_FILENAME','DOCUMENT_ROOT','REQUEST_URI','QUERY_STRING',
          'REQUEST_METHOD','SERVER_PROTOCOL','GATEWAY_INTERFACE','X_SEND_RESPONSE_BODY_SUPPORTED','HTTP_X_PROBE'] as $k) {
  echo $k, '=', $_SERVER[$k] ?? '(unset)', "\n";
}
`

const phpPost = `<?php
$in = fopen('php://input', 'rb');
$ctx = hash_init('md5');
$n = 0;
while (!feof($in)) { $b = fread($in, 1 << 16); $n += strlen($b); hash_update($ctx, $b); }
echo $n, ' ', hash_final($ctx);
`

func TestPHP(t *testing.T) {
	php := requirePHP(t)
	sock := filepath.Join(t.TempDir(), "php.sock")
	big := filepath.Join(t.TempDir(), "big.bin")
	const bigSize = 100 << 20
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(bigSize) // sparse: zeros except the markers
	f.WriteAt([]byte("MARKER-MIDDLE"), bigSize/2)
	f.WriteAt([]byte("END"), bigSize-3)
	f.Close()

	bin := php + " -d post_max_size=0 -d upload_max_filesize=0 -d display_errors=stderr"
	// Two sockets: entries sharing socket and bin-path are one host whose
	// options come from the first entry (lighttpd's unixsocket_is_dup).
	backend := `"bin-path" => "` + bin + `", "max-procs" => 1,
      "bin-environment" => ( "PHP_FCGI_CHILDREN" => "2", "PHP_FCGI_MAX_REQUESTS" => "500", "BIGFILE" => "` + big + `" )`
	conf := `server.document-root = "@DIR@/www"
server.modules = ("mod_indexfile", "mod_fastcgi", "mod_staticfile")
fastcgi.server = (
  "/dl/" => (( ` + backend + `, "socket" => "` + sock + `-auth", "mode" => "authorizer", "check-local" => "disable" )),
  ".php" => (( ` + backend + `, "socket" => "` + sock + `", "x-sendfile" => "enable", "x-sendfile-docroot" => ( "` + filepath.Dir(big) + `" ) )) )
`
	h, m := phpHarness(t, conf)
	h.WriteFile("www/dl/get.php", phpScript)
	h.WriteFile("www/info.php", phpInfo)
	h.WriteFile("www/post.php", phpPost)

	t.Run("params", func(t *testing.T) {
		resp, body := roundTrip(t, h, "GET /info.php/a%20b/c?q=1 HTTP/1.1\r\nHost: x\r\nX-Probe: p\r\nConnection: close\r\n\r\n")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		www := filepath.Join(h.Dir, "www")
		for _, w := range []string{"SCRIPT_NAME=/info.php", "PATH_INFO=/a b/c", "SCRIPT_FILENAME=" + www + "/info.php",
			"DOCUMENT_ROOT=" + www, "REQUEST_URI=/info.php/a%20b/c?q=1", "QUERY_STRING=q=1", "REQUEST_METHOD=GET",
			"SERVER_PROTOCOL=HTTP/1.1", "GATEWAY_INTERFACE=CGI/1.1", "X_SEND_RESPONSE_BODY_SUPPORTED=1", "HTTP_X_PROBE=p"} {
			if !strings.Contains("\n"+string(body), "\n"+w+"\n") {
				t.Errorf("missing %q in\n%s", w, body)
			}
		}
	})

	t.Run("authorizer denies", func(t *testing.T) {
		resp, body := roundTrip(t, h, get("/dl/get.php"))
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != "Token" || string(body) != "no token\n" {
			t.Fatalf("got %d %v %q", resp.StatusCode, resp.Header, body)
		}
	})

	auth := "X-Token: letmein\r\n"
	t.Run("x-sendfile 100MB", func(t *testing.T) {
		hash := md5.New()
		resp := streamTrip(t, h, "GET /dl/get.php HTTP/1.1\r\nHost: x\r\n"+auth+"Connection: close\r\n\r\n", nil, hash)
		if resp.StatusCode != 200 || resp.ContentLength != bigSize {
			t.Fatalf("status %d, length %d", resp.StatusCode, resp.ContentLength)
		}
		want := md5.New()
		bf, _ := os.Open(big)
		io.Copy(want, bf)
		bf.Close()
		if !strings.EqualFold(hex.EncodeToString(hash.Sum(nil)), hex.EncodeToString(want.Sum(nil))) {
			t.Errorf("body differs from the file")
		}
		etag := resp.Header.Get("ETag")
		if etag == "" {
			t.Fatalf("no ETag: %v", resp.Header)
		}
		resp, body := roundTrip(t, h, fmt.Sprintf("GET /dl/get.php HTTP/1.1\r\nHost: x\r\n%sRange: bytes=%d-%d\r\nConnection: close\r\n\r\n", auth, bigSize/2, bigSize/2+12))
		if resp.StatusCode != 206 || string(body) != "MARKER-MIDDLE" {
			t.Errorf("range: %d %q", resp.StatusCode, body)
		}
		resp, body = roundTrip(t, h, "GET /dl/get.php HTTP/1.1\r\nHost: x\r\n"+auth+"Range: bytes=-3\r\nConnection: close\r\n\r\n")
		if resp.StatusCode != 206 || string(body) != "END" {
			t.Errorf("suffix range: %d %q", resp.StatusCode, body)
		}
		resp, body = roundTrip(t, h, "GET /dl/get.php HTTP/1.1\r\nHost: x\r\n"+auth+"If-None-Match: "+etag+"\r\nConnection: close\r\n\r\n")
		if resp.StatusCode != 304 || len(body) != 0 {
			t.Errorf("if-none-match: %d %q", resp.StatusCode, body)
		}
	})

	t.Run("50MB POST", func(t *testing.T) {
		const n = 50 << 20
		src := io.LimitReader(zeroReader{}, n)
		want := md5.New()
		io.Copy(want, io.LimitReader(zeroReader{}, n))
		var out strings.Builder
		resp := streamTrip(t, h, fmt.Sprintf("POST /post.php HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", n), src, &out)
		wantBody := fmt.Sprintf("%d %s", n, hex.EncodeToString(want.Sum(nil)))
		if resp.StatusCode != 200 || out.String() != wantBody {
			t.Fatalf("got %d %q, want %q", resp.StatusCode, out.String(), wantBody)
		}
	})

	t.Run("respawn after kill", func(t *testing.T) {
		var sp = m.table.Defaults().srv.Resp[0].Hosts[0].Spawner
		procs := sp.Procs()
		if len(procs) != 1 || procs[0].PID == 0 {
			t.Fatalf("procs %+v", procs)
		}
		old := procs[0].PID
		if err := syscall.Kill(-old, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			resp, body := roundTrip(t, h, get("/info.php"))
			if resp.StatusCode == 200 {
				break
			}
			if resp.StatusCode != 503 && resp.StatusCode != 500 {
				t.Fatalf("unexpected status %d while respawning: %s", resp.StatusCode, body)
			}
			if time.Now().After(deadline) {
				t.Fatalf("php-cgi not respawned: last status %d", resp.StatusCode)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if now := sp.Procs(); len(now) != 1 || now[0].PID == old || now[0].PID == 0 {
			t.Errorf("pid after respawn %+v (old %d)", now, old)
		}
	})
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestPHPSharedAcrossReload: a reload with the same backend settings keeps
// the running php-cgi; the processes stop when the last snapshot closes.
// loadShared compiles confText (written to dir/lighttpd.conf) as a reload
// would: a new snapshot over the shared pool of the running one.
func loadShared(t *testing.T, dir, confText string, shared *core.SharedPool) (*coretest.Harness, *Module) {
	t.Helper()
	path := filepath.Join(dir, "lighttpd.conf")
	os.WriteFile(path, []byte(confText), 0o644)
	parsed, err := lighttpdconf.ParseFile(path, &lighttpdconf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := core.Compile(parsed, core.CompileOptions{}, shared)
	if err != nil {
		t.Fatal(err)
	}
	mi, _ := snap.Module("mod_fastcgi")
	return &coretest.Harness{T: t, Snap: snap, Server: core.NewServer(snap, nil), Dir: dir}, mi.(*Module)
}

func TestPHPSharedAcrossReload(t *testing.T) {
	php := requirePHP(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "www"), 0o755)
	os.WriteFile(filepath.Join(dir, "www", "pid.php"), []byte(`<?php echo getmypid();`), 0o644)
	confText := `server.document-root = "` + dir + `/www"
server.modules = ("mod_fastcgi")
fastcgi.server = ( ".php" => (( "bin-path" => "` + php + `", "socket" => "` + dir + `/php.sock", "max-procs" => 1,
  "bin-environment" => ( "PHP_FCGI_CHILDREN" => "0" ) )) )
`
	shared := core.NewSharedPool()
	load := func() (*coretest.Harness, *Module) { return loadShared(t, dir, confText, shared) }
	pidOf := func(h *coretest.Harness) string {
		resp, body := roundTrip(t, h, get("/pid.php"))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		return string(body)
	}
	alive := func(pid string) bool {
		st, err := os.ReadFile("/proc/" + pid + "/stat")
		return err == nil && !strings.Contains(string(st), ") Z ")
	}

	h1, m1 := load()
	first := pidOf(h1)
	h2, m2 := load()
	m1.Close() // the old snapshot retires
	if !alive(first) {
		t.Fatalf("php-cgi %s stopped although the new snapshot uses it", first)
	}
	if second := pidOf(h2); second != first {
		t.Errorf("reload respawned php-cgi: pid %s -> %s", first, second)
	}
	m2.Close()
	deadline := time.Now().Add(10 * time.Second)
	for alive(first) {
		if time.Now().After(deadline) {
			t.Fatalf("php-cgi %s still running after the last snapshot closed", first)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(dir, "php.sock-0")); !os.IsNotExist(err) {
		t.Errorf("socket file left behind: %v", err)
	}
}
