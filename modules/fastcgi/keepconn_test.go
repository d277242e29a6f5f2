package fastcgi

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
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
			h, _ := phpHarness(t, conf)
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
		})
	}
}
