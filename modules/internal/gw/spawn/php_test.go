package spawn

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golighty/golighty/modules/internal/fcgi"
)

// groupMembers lists the live processes of process group pgid.
func groupMembers(pgid int) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after "(comm)": state ppid pgrp ...
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 2 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func phpHello(t *testing.T, a Addr, script string) string {
	t.Helper()
	d := &fcgi.Dialer{Network: a.Network, Address: a.Address, ConnectTimeout: 2 * time.Second, ReadTimeout: 10 * time.Second}
	p := fcgi.NewParams()
	p.Add("REQUEST_METHOD", "GET")
	p.Add("SERVER_PROTOCOL", "HTTP/1.1")
	p.Add("REDIRECT_STATUS", "200")
	p.Add("SCRIPT_FILENAME", script)
	p.Add("SCRIPT_NAME", "/"+filepath.Base(script))
	resp, err := d.Do(context.Background(), &fcgi.Request{Params: p})
	p.Release()
	if err != nil {
		t.Fatalf("php request: %v", err)
	}
	defer resp.Close()
	if _, err := resp.ReadHeader(); err != nil {
		t.Fatalf("php response: %v", err)
	}
	b, err := io.ReadAll(resp)
	if err != nil {
		t.Fatalf("php response: %v", err)
	}
	return string(b)
}

// TestPHPCGIInheritedSocket runs real php-cgi the way lighttpd does: no -b,
// the listening socket is fd 0, PHP_FCGI_CHILDREN workers.
func TestPHPCGIInheritedSocket(t *testing.T) {
	const php = "/usr/bin/php-cgi"
	if _, err := os.Stat(php); err != nil {
		if os.Getenv("GOLIGHTY_REQUIRE_PEERS") == "1" {
			t.Fatalf("php-cgi required: %v", err)
		}
		t.Skip("php-cgi not installed")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "hello.php")
	if err := os.WriteFile(script, []byte(`<?php echo "hello";`), 0o644); err != nil {
		t.Fatal(err)
	}
	ev := newEvents()
	g, err := Start(Spec{
		BinPath:     php,
		Socket:      filepath.Join(dir, "php.sock"),
		MaxProcs:    1,
		Environment: []string{"PHP_FCGI_CHILDREN=2"},
		RestartMin:  50 * time.Millisecond,
		Notify:      ev.notify,
	}, func(s string) { t.Log(s) })
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop(context.Background())
	a := g.Addresses()[0]
	if got := phpHello(t, a, script); got != "hello" {
		t.Fatalf("php answered %q", got)
	}
	master := g.Procs()[0].PID
	// The master forks its workers asynchronously; wait for both.
	workers := groupMembers(master)
	for deadline := time.Now().Add(3 * time.Second); len(workers) < 3 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		workers = groupMembers(master)
	}
	if len(workers) != 3 { // master + PHP_FCGI_CHILDREN
		t.Errorf("process group %d has %v, want master and 2 workers", master, workers)
	}

	// SIGKILL leaves php's workers orphaned; the group kill must take them.
	t0 := time.Now()
	syscall.Kill(master, syscall.SIGKILL)
	ev.wait(t, false, 0)
	up := ev.wait(t, true, 0)
	waitGone(t, -master)
	t.Log("respawn", time.Since(t0))
	t0 = time.Now()
	if got := phpHello(t, a, script); got != "hello" {
		t.Fatalf("after respawn php answered %q", got)
	}

	if err := g.Stop(context.Background()); err != nil {
		t.Errorf("Stop: %v", err)
	}
	waitGone(t, -up.PID)
	t.Log("stop", time.Since(t0))
	if left, _ := filepath.Glob(filepath.Join(dir, "php.sock*")); len(left) != 0 {
		t.Errorf("socket files left: %v", left)
	}
}
