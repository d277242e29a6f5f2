package core

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// TestReloadNoLeak reloads 1,000 times (good and bad configs) while the
// server runs, and checks that goroutines and descriptors stay flat and the
// server keeps answering from the newest config.
func TestReloadNoLeak(t *testing.T) {
	dir := t.TempDir()
	port := freeTestPort(t)
	os.WriteFile(filepath.Join(dir, "v.txt"), []byte("x"), 0o644)
	conf := filepath.Join(dir, "lighttpd.conf")
	write := func(i int) {
		os.WriteFile(conf, []byte(fmt.Sprintf("server.document-root = %q\nserver.bind = \"127.0.0.1\"\nserver.port = %d\nserver.tag = \"v%d\"\n", dir, port, i)), 0o644)
	}
	write(0)
	_, r := startReloadable(t, conf)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	check := func(want string) {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/v.txt", port))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if got := resp.Header.Get("Server"); got != want {
			t.Fatalf("Server %q, want %q", got, want)
		}
	}
	check("v0")
	runtime.GC()
	g0, f0 := runtime.NumGoroutine(), openFDs(t)
	start := time.Now()
	for i := 1; i <= 1000; i++ {
		if i%10 == 0 {
			os.WriteFile(conf, []byte("server.document-root = ("), 0o644)
			if ok, err := r.Reload("test", false); ok || err == nil {
				t.Fatalf("reload %d: a bad config must fail and change nothing", i)
			}
			continue
		}
		write(i)
		if ok, err := r.Reload("test", false); !ok || err != nil {
			t.Fatalf("reload %d: %v %v", i, ok, err)
		}
	}
	elapsed := time.Since(start)
	check("v999")
	runtime.GC()
	time.Sleep(50 * time.Millisecond)
	g1, f1 := runtime.NumGoroutine(), openFDs(t)
	t.Logf("1000 reloads in %v (%.2f ms each); goroutines %d -> %d, fds %d -> %d", elapsed, float64(elapsed.Microseconds())/1000/1000, g0, g1, f0, f1)
	if g1 > g0+2 {
		t.Fatalf("goroutines grew from %d to %d", g0, g1)
	}
	if f1 > f0+2 {
		t.Fatalf("descriptors grew from %d to %d", f0, f1)
	}
}

// TestReloadComparesEffectiveConfig: a comment-only edit is not swapped in,
// and include_shell output that changed is (the periodic check relies on
// this, since no file event announces it).
func TestReloadComparesEffectiveConfig(t *testing.T) {
	dir := t.TempDir()
	port := freeTestPort(t)
	shellOut := filepath.Join(dir, "shell-output")
	os.WriteFile(shellOut, []byte(`server.tag = "one"`+"\n"), 0o644)
	conf := filepath.Join(dir, "lighttpd.conf")
	base := fmt.Sprintf("server.document-root = %q\nserver.bind = \"127.0.0.1\"\nserver.port = %d\ninclude_shell \"cat %s\"\n", dir, port, shellOut)
	os.WriteFile(conf, []byte(base), 0o644)
	srv, r := startReloadable(t, conf)

	os.WriteFile(conf, []byte("# only a comment changed\n"+base), 0o644)
	if ok, err := r.Reload("test", false); ok || err != nil {
		t.Fatalf("comment-only edit reloaded: %v %v", ok, err)
	}
	os.WriteFile(shellOut, []byte(`server.tag = "two"`+"\n"), 0o644)
	if ok, err := r.Reload("periodic check", false); !ok || err != nil {
		t.Fatalf("changed include_shell output not reloaded: %v %v", ok, err)
	}
	if got := srv.Runtime().Current().Core.Table.Defaults().ServerTag; got != "two" {
		t.Fatalf("server.tag %q after reload", got)
	}
}

// freeTestPort returns a loopback port that is free now.
func freeTestPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startReloadable loads conf, starts a server on it and returns it with a
// primed Reloader; the server stops when the test ends.
func startReloadable(t *testing.T, conf string) (*Server, *Reloader) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	loader := &Loader{Path: conf, Shared: NewSharedPool()}
	snap, err := loader.Load()
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(snap, log)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	r := &Reloader{Loader: loader, Server: srv, Log: log}
	r.Prime(snap.Conf)
	return srv, r
}
