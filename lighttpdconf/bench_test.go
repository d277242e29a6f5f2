package lighttpdconf

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkParseCorpusLargest parses+evaluates the largest corpus file,
// lighttpd-doc-1.4.69/conf.d/mime.conf (54 KB, ~1,400 lines, one big array).
func BenchmarkParseCorpusLargest(b *testing.B) {
	path := filepath.Join(corpusDir(b), "lighttpd-doc-1.4.69", "conf.d", "mime.conf")
	src, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	benchParse(b, path, src)
}

// BenchmarkParseCorpusMain parses the upstream sample lighttpd.conf with its
// includes resolved from the corpus (the /etc/lighttpd layout).
func BenchmarkParseCorpusMain(b *testing.B) {
	doc := filepath.Join(corpusDir(b), "lighttpd-doc-1.4.69")
	opts := &Options{Getwd: "/etc/lighttpd", PID: 1, Getenv: noEnv, MapDirs: map[string]string{"/etc/lighttpd": doc}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseFile("/etc/lighttpd/lighttpd.conf", opts); err != nil {
			b.Fatal(err)
		}
	}
}

// genVhosts builds an n-line config of typical virtual-host blocks.
func genVhosts(lines int) []byte {
	var sb strings.Builder
	sb.WriteString(`server.modules = ("mod_access", "mod_rewrite", "mod_redirect", "mod_fastcgi")
server.document-root = "/srv/www"
var.base = "/srv/vhosts"
`)
	n := 3
	for i := 0; n < lines; i++ {
		fmt.Fprintf(&sb, `$HTTP["host"] =~ "^(www\.)?site%d\.example\.org$" {
  server.document-root = base + "/site%d/htdocs"
  accesslog.filename = "/var/log/lighttpd/site%d.log"
  url.rewrite-once = ( "^/api/(.*)$" => "/index.php?q=$1", "^/static/(.*)" => "/s/$1" )
  $HTTP["url"] =^ "/admin/" {
    auth.require = ( "" => ( "method" => "basic", "realm" => "site%d", "require" => "valid-user" ) )
  }
  else $HTTP["url"] =~ "\.php$" {
    fastcgi.server = ( ".php" => (( "socket" => "/run/php-site%d.sock", "check-local" => "disable" )) )
  }
}
`, i, i, i, i, i)
		n += 11
	}
	return []byte(sb.String())
}

// BenchmarkParse1000Lines: goal < 10 ms per 1,000 lines on one core.
func BenchmarkParse1000Lines(b *testing.B) {
	benchParse(b, "/srv/vhosts.conf", genVhosts(1000))
}

// cpuNow is the process CPU time (user+sys): on this shared 2-core machine
// wall time per op mostly measures waiting, so benchmarks also report
// cpu-ns/op (run with -cpu 1 so it is one core's work).
func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchParse(b *testing.B, name string, src []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	start, n := cpuNow(), 0
	defer func() {
		if n > 0 {
			b.ReportMetric(float64(cpuNow()-start)/float64(n), "cpu-ns/op")
		}
	}()
	for b.Loop() {
		n++
		c, err := ParseBytes(name, src, &Options{Getwd: "/w", PID: 1, Getenv: noEnv})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Print(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func TestGenVhostsParses(t *testing.T) {
	src := genVhosts(1000)
	if n := strings.Count(string(src), "\n"); n < 1000 || n > 1020 {
		t.Fatalf("generated %d lines", n)
	}
	c := mustParse(t, string(src), nil)
	if len(c.Blocks) < 200 {
		t.Fatalf("only %d blocks", len(c.Blocks))
	}
}
