package testconf

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// reloadSite lays out two docroots whose files name their version.
func reloadSite(t *testing.T) string {
	root := t.TempDir()
	for _, v := range []string{"A", "B"} {
		os.MkdirAll(filepath.Join(root, v, "deny"), 0o755)
		os.WriteFile(filepath.Join(root, v, "v.txt"), []byte(v), 0o644)
		os.WriteFile(filepath.Join(root, v, "v.dat"), []byte(v), 0o644)
		os.WriteFile(filepath.Join(root, v, "deny", "x.txt"), []byte(v), 0o644)
	}
	os.MkdirAll(filepath.Join(root, "conf.d"), 0o755)
	return root
}

// reloadConf is a config for version v: docroot, mimetype and a conditional
// all change with it, so a response mixing two snapshots is detectable.
func reloadConf(root string, port int, v string, extra string) string {
	return fmt.Sprintf(`server.document-root = "%[1]s/%[3]s"
server.bind = "127.0.0.1"
server.port = %[2]d
server.modules = ("mod_access")
mimetype.assign = (".txt" => "text/version-%[3]s", ".dat" => "application/x-%[3]s")
include "conf.d/*.conf"
%[4]s
`, root, port, v, extra)
}

// writeByRename replaces a file the way editors and config managers do.
func writeByRename(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp~"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func writeInPlace(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(content)
	f.Close()
}

func get(addr, path string) (int, string, string, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Content-Type"), err
}

// waitFor polls until check passes, returning how long it took.
func waitFor(t *testing.T, what string, check func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < 10*time.Second {
		if check() {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
	return 0
}

// startWatching runs golighty with its config watcher on.
func startWatching(t *testing.T, confPath string) *os.Process {
	t.Helper()
	p, err := os.StartProcess(golightyBin, []string{golightyBin, "-D", "-f", confPath}, &os.ProcAttr{Files: []*os.File{nil, nil, nil}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Signal(syscall.SIGTERM)
		p.Wait()
	})
	return p
}

func TestReloadFollowsEdits(t *testing.T) {
	root := reloadSite(t)
	port := freePort(t)
	confPath := filepath.Join(root, "lighttpd.conf")
	os.WriteFile(confPath, []byte(reloadConf(root, port, "A", "")), 0o644)
	logPath := filepath.Join(root, "error.log")
	os.WriteFile(filepath.Join(root, "conf.d", "00-log.conf"), []byte(fmt.Sprintf("server.errorlog = %q\n", logPath)), 0o644)
	proc := startWatching(t, confPath)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitFor(t, "start", func() bool { _, b, _, err := get(addr, "/v.txt"); return err == nil && b == "A" })

	t.Run("document root by rename", func(t *testing.T) {
		writeByRename(t, confPath, reloadConf(root, port, "B", ""))
		waitFor(t, "docroot B", func() bool { _, b, ct, _ := get(addr, "/v.txt"); return b == "B" && ct == "text/version-B" })
	})
	t.Run("conditional in place", func(t *testing.T) {
		writeInPlace(t, confPath, reloadConf(root, port, "B", `$HTTP["url"] =^ "/deny/" { url.access-deny = ("") }`))
		waitFor(t, "deny 403", func() bool { st, _, _, _ := get(addr, "/deny/x.txt"); return st == 403 })
	})
	t.Run("bad config keeps the running one", func(t *testing.T) {
		writeInPlace(t, confPath, reloadConf(root, port, "A", `$HTTP["url"] =^ "/deny/" { url.access-deny = ("") `))
		waitFor(t, "error logged", func() bool {
			b, _ := os.ReadFile(logPath)
			return strings.Contains(string(b), confPath+":") && strings.Contains(string(b), "keeping the running config")
		})
		if st, b, _, _ := get(addr, "/v.txt"); st != 200 || b != "B" {
			t.Fatalf("after a bad config: %d %q", st, b)
		}
	})
	t.Run("new include matched by glob", func(t *testing.T) {
		writeInPlace(t, confPath, reloadConf(root, port, "B", ""))
		waitFor(t, "fixed config", func() bool { st, _, _, _ := get(addr, "/deny/x.txt"); return st == 200 })
		writeByRename(t, filepath.Join(root, "conf.d", "50-deny.conf"), `url.access-deny = (".dat")`+"\n")
		waitFor(t, ".dat denied", func() bool { st, _, _, _ := get(addr, "/v.dat"); return st == 403 })
		os.Remove(filepath.Join(root, "conf.d", "50-deny.conf"))
		waitFor(t, ".dat allowed again", func() bool { st, _, _, _ := get(addr, "/v.dat"); return st == 200 })
	})
	t.Run("socket added and removed", func(t *testing.T) {
		extra := freePort(t)
		writeByRename(t, confPath, reloadConf(root, port, "B", fmt.Sprintf(`$SERVER["socket"] == "127.0.0.1:%d" { server.document-root = "%s/A" }`, extra, root)))
		extraAddr := fmt.Sprintf("127.0.0.1:%d", extra)
		waitFor(t, "new socket", func() bool { _, b, _, err := get(extraAddr, "/v.txt"); return err == nil && b == "A" })
		if _, b, _, _ := get(addr, "/v.txt"); b != "B" {
			t.Fatalf("main socket serves %q", b)
		}
		writeByRename(t, confPath, reloadConf(root, port, "B", ""))
		waitFor(t, "socket closed", func() bool {
			c, err := net.DialTimeout("tcp", extraAddr, 200*time.Millisecond)
			if err == nil {
				c.Close()
			}
			return err != nil
		})
	})
	t.Run("SIGUSR1 reloads unchanged files", func(t *testing.T) {
		// lighttpd's graceful restart: a reload even though no file changed.
		proc.Signal(syscall.SIGUSR1)
		waitFor(t, "reload logged", func() bool {
			b, _ := os.ReadFile(logPath)
			return strings.Contains(string(b), "config reloaded (SIGUSR1)")
		})
		if st, b, _, _ := get(addr, "/v.txt"); st != 200 || b != "B" {
			t.Fatalf("after SIGUSR1: %d %q", st, b)
		}
	})
}

// TestReloadUnderLoad rewrites the config 50 times (good and bad
// alternately, by rename and in place) while 64 clients keep requesting.
// No request may fail, and every response must come from one complete
// snapshot: body and Content-Type of the same version.
func TestReloadUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	root := reloadSite(t)
	port := freePort(t)
	confPath := filepath.Join(root, "lighttpd.conf")
	os.WriteFile(confPath, []byte(reloadConf(root, port, "A", "")), 0o644)
	startWatching(t, confPath)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitFor(t, "start", func() bool { _, b, _, err := get(addr, "/v.txt"); return err == nil && b == "A" })

	var failures, mixed, total atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get("http://" + addr + "/v.txt")
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				total.Add(1)
				if err != nil || resp.StatusCode != 200 {
					failures.Add(1)
					continue
				}
				if resp.Header.Get("Content-Type") != "text/version-"+string(b) {
					mixed.Add(1)
				}
			}
		}()
	}
	// Baseline: how long a probe request takes under this load without any
	// reload, so the reload latency below can be read against it.
	var baseline []time.Duration
	for i := 0; i < 25; i++ {
		start := time.Now()
		get(addr, "/v.txt")
		baseline = append(baseline, time.Since(start))
		time.Sleep(20 * time.Millisecond)
	}
	var latencies []time.Duration
	versions := []string{"B", "A"}
	loadStart := time.Now()
	for i := 0; i < 50; i++ {
		// 50 rewrites spread over 20 s of load.
		time.Sleep(time.Until(loadStart.Add(time.Duration(i) * 400 * time.Millisecond)))
		if i%2 == 1 {
			// A bad config: must change nothing.
			writeInPlace(t, confPath, reloadConf(root, port, "B", "broken = ("))
			time.Sleep(100 * time.Millisecond)
			continue
		}
		v := versions[(i/2)%2]
		start := time.Now()
		if i%4 == 0 {
			writeByRename(t, confPath, reloadConf(root, port, v, ""))
		} else {
			writeInPlace(t, confPath, reloadConf(root, port, v, ""))
		}
		for time.Since(start) < 10*time.Second {
			if _, b, _, _ := get(addr, "/v.txt"); b == v {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		latencies = append(latencies, time.Since(start))
	}
	close(stop)
	wg.Wait()
	quantile := func(d []time.Duration, q float64) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[int(q*float64(len(d)-1))]
	}
	t.Logf("requests %d, failed %d, mixed %d; reload latency (file written -> new config serving) median %v p99 %v (n=%d); a probe request alone under the same load: median %v p99 %v",
		total.Load(), failures.Load(), mixed.Load(), quantile(latencies, 0.5), quantile(latencies, 0.99), len(latencies),
		quantile(baseline, 0.5), quantile(baseline, 0.99))
	if failures.Load() != 0 {
		t.Fatalf("%d requests failed (first: %v)", failures.Load(), firstErr.Load())
	}
	if mixed.Load() != 0 {
		t.Fatalf("%d responses mixed two snapshots", mixed.Load())
	}
	if total.Load() == 0 {
		t.Fatal("no request completed")
	}
}
