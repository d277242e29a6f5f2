package fastcgi

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/coretest"
)

// TestPHPKeepConn runs the real php-cgi with "keep-conn" => "enable" in
// the cases where connection reuse goes wrong elsewhere: more concurrent
// requests than php-cgi children (kept connections must not pin every
// child while a new connection waits in the backlog: gofast failed 13 of
// 20 here), children that retire after PHP_FCGI_MAX_REQUESTS just as their
// connection is reused, and POSTs, which never go on a reused connection.
func TestPHPKeepConn(t *testing.T) {
	php := requirePHP(t)
	for _, tc := range []struct {
		name        string
		maxRequests string
	}{
		{"2 children, 20 clients", "0"},
		{"children retiring every 3 requests", "3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "php.sock")
			conf := `server.document-root = "@DIR@/www"
server.modules = ("mod_fastcgi", "mod_staticfile")
fastcgi.server = ( ".php" => (( "bin-path" => "` + php + `", "socket" => "` + sock + `", "max-procs" => 1,
  "keep-conn" => "enable",
  "bin-environment" => ( "PHP_FCGI_CHILDREN" => "2", "PHP_FCGI_MAX_REQUESTS" => "` + tc.maxRequests + `" ) )) )
`
			h, m := phpHarness(t, conf)
			host := m.table.Defaults().srv.Resp[0].Hosts[0]
			if host.Conf.KeepConn != 2 {
				t.Fatalf("keep-conn enable with PHP_FCGI_CHILDREN=2 gave a limit of %d", host.Conf.KeepConn)
			}
			h.WriteFile("www/n.php", `<?php echo "n=", $_GET["n"] ?? "", " m=", $_SERVER["REQUEST_METHOD"], " len=", strlen(file_get_contents("php://input"));`)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var failures []string
			for c := range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 10 {
						n := fmt.Sprint(c*100 + i)
						req := "GET /n.php?n=" + n + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
						want := "n=" + n + " m=GET len=0"
						if i%4 == 3 {
							req = "POST /n.php?n=" + n + " HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
							want = "n=" + n + " m=POST len=5"
						}
						resp, body := roundTrip(t, h, req)
						if resp.StatusCode != 200 || string(body) != want {
							mu.Lock()
							failures = append(failures, fmt.Sprintf("%s: %d %q", firstLine(req), resp.StatusCode, body))
							mu.Unlock()
						}
					}
				}()
			}
			wg.Wait()
			if len(failures) > 0 {
				t.Errorf("%d of 200 requests failed:\n%s", len(failures), strings.Join(failures[:min(len(failures), 10)], "\n"))
			}

			// Children killed while their kept connections are idle: the
			// master forks new ones, and the dead connections are noticed
			// before reuse, so no request fails.
			master := host.Spawner.Procs()[0].PID
			killed := 0
			for _, pid := range childrenOf(t, master) {
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					killed++
				}
			}
			if killed == 0 {
				t.Fatalf("no php-cgi child of %d to kill", master)
			}
			time.Sleep(200 * time.Millisecond)
			for i := range 20 {
				resp, body := roundTrip(t, h, get(fmt.Sprintf("/n.php?n=%d", i)))
				if want := fmt.Sprintf("n=%d m=GET len=0", i); resp.StatusCode != 200 || string(body) != want {
					t.Fatalf("after killing %d children: %d %q", killed, resp.StatusCode, body)
				}
			}
		})
	}
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(t *testing.T, pid int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut at ')'.
		f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

// TestPHPKeepConnAcrossReload: a reload with the same backend goes on with
// the kept connections of the running config. With one php-cgi process
// (PHP_FCGI_CHILDREN=0) the old config's idle connection holds it: a second
// pool would dial behind it and wait until the old config retired.
func TestPHPKeepConnAcrossReload(t *testing.T) {
	php := requirePHP(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "www"), 0o755)
	os.WriteFile(filepath.Join(dir, "www", "pid.php"), []byte(`<?php echo getmypid();`), 0o644)
	confText := `server.document-root = "` + dir + `/www"
server.modules = ("mod_fastcgi")
fastcgi.server = ( ".php" => (( "bin-path" => "` + php + `", "socket" => "` + dir + `/php.sock", "max-procs" => 1,
  "keep-conn" => "enable", "bin-environment" => ( "PHP_FCGI_CHILDREN" => "0" ) )) )
`
	shared := core.NewSharedPool()
	load := func() (*coretest.Harness, *Module) { return loadShared(t, dir, confText, shared) }
	h1, m1 := load()
	defer m1.Close()
	if resp, body := roundTrip(t, h1, get("/pid.php")); resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	h2, m2 := load()
	defer m2.Close()
	done := make(chan int, 1)
	start := time.Now()
	go func() {
		resp, _ := roundTrip(t, h2, get("/pid.php"))
		done <- resp.StatusCode
	}()
	select {
	case st := <-done:
		t.Logf("answered after the reload in %v", time.Since(start))
		if st != 200 {
			t.Fatalf("status %d after the reload", st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("after a reload the request waited behind the old config's kept connection")
	}
}
