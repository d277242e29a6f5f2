package testconf

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReloadFastCGI changes the config of a running golighty with a
// php-cgi backend: an edit elsewhere keeps the PHP processes (same pid),
// a changed fastcgi.server entry gets new ones with the new settings.
func TestReloadFastCGI(t *testing.T) {
	php := requirePeer(t, "php-cgi")
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "www"), 0o755)
	os.WriteFile(filepath.Join(root, "www", "env.php"), []byte(`<?php echo getmypid(), " ", getenv("GEN"), "\n";`), 0o644)
	os.WriteFile(filepath.Join(root, "www", "a.txt"), []byte("a"), 0o644)
	port := freePort(t)
	confPath := filepath.Join(root, "lighttpd.conf")
	write := func(gen, mime string) {
		writeByRename(t, confPath, fmt.Sprintf(`server.document-root = "%s/www"
server.bind = "127.0.0.1"
server.port = %d
server.modules = ("mod_fastcgi")
mimetype.assign = (".txt" => "%s")
fastcgi.server = (".php" => ((
    "bin-path" => "%s",
    "socket" => "%s/php.sock",
    "max-procs" => 1,
    "bin-environment" => ("PHP_FCGI_CHILDREN" => "1", "GEN" => "%s", "GOLIGHTY_TEST_MARK" => "%s/reload"),
)))
`, root, port, mime, php, root, gen, root))
	}
	write("one", "text/plain")
	startWatching(t, confPath)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var first string
	waitFor(t, "php answers", func() bool {
		_, b, _, err := get(addr, "/env.php")
		first = b
		return err == nil && strings.HasSuffix(b, " one\n")
	})
	pid1 := strings.Fields(first)[0]

	write("one", "text/x-changed")
	waitFor(t, "mimetype change", func() bool { _, _, ct, _ := get(addr, "/a.txt"); return ct == "text/x-changed" })
	if _, b, _, _ := get(addr, "/env.php"); strings.Fields(b)[0] != pid1 {
		t.Fatalf("an unchanged backend was restarted: %q, was pid %s", b, pid1)
	}

	write("two", "text/x-changed")
	var second string
	waitFor(t, "new backend settings", func() bool {
		_, b, _, _ := get(addr, "/env.php")
		second = b
		return strings.HasSuffix(b, " two\n")
	})
	if strings.Fields(second)[0] == pid1 {
		t.Fatalf("a changed backend kept its process %s", pid1)
	}
	waitFor(t, "old backend stopped", func() bool {
		return syscall.Kill(atoi(pid1), 0) != nil
	})
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}
