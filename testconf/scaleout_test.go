package testconf

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Two golighty instances behind Debian's haproxy, which balances requests
// over them and sends a PROXY v2 header on each backend connection. Clients
// connect from distinct loopback addresses; both access logs must name
// them (never haproxy), and a rolling config change (one instance edited
// and hot-reloaded at a time) must not fail a single request under load.

const scaleoutConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.modules = ("mod_extforward", "mod_setenv", "mod_accesslog")
mimetype.assign = (".txt" => "text/plain")
extforward.forwarder = ("127.0.0.1" => "trust")
extforward.hap-PROXY = "enable"
accesslog.filename = "@ROOT@/@NAME@-access.log"
accesslog.format = "%h %{X-Instance}o %{X-Version}o %U %s"
setenv.add-response-header = ("X-Instance" => "@NAME@", "X-Version" => "@VERSION@")
`

const scaleoutHAProxy = `
global
	maxconn 2000
defaults
	mode http
	retries 0
	timeout connect 2s
	timeout client 20s
	timeout server 20s
	timeout http-keep-alive 20s
frontend fe
	bind 127.0.0.1:@FE@
	default_backend be
backend be
	balance roundrobin
	option httpchk GET /health.txt
	server g1 127.0.0.1:@G1@ send-proxy-v2 check inter 100ms
	server g2 127.0.0.1:@G2@ send-proxy-v2 check inter 100ms
`

// scaleoutInstance is one golighty behind haproxy.
type scaleoutInstance struct {
	name, conf string
	port       int
	srv        *server
}

// config is the instance's config for version; the port stays @PORT@
// until startServer chose it.
func (in *scaleoutInstance) config(root, version string) string {
	r := []string{"@ROOT@", root, "@NAME@", in.name, "@VERSION@", version}
	if in.port != 0 {
		r = append(r, "@PORT@", fmt.Sprint(in.port))
	}
	return strings.NewReplacer(r...).Replace(scaleoutConf)
}

// scaleoutClients are the loopback addresses the load comes from.
var scaleoutClients = []string{"127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14", "127.0.0.15", "127.0.0.16"}

// scaleoutResult tallies what the clients saw.
type scaleoutResult struct {
	mu       sync.Mutex
	ok       int
	failed   []string
	versions map[string]string // instance -> latest version served
	perInst  map[string]int
}

func (r *scaleoutResult) served(inst, version string) {
	r.mu.Lock()
	r.ok++
	r.versions[inst] = version
	r.perInst[inst]++
	r.mu.Unlock()
}

func (r *scaleoutResult) fail(what string) {
	r.mu.Lock()
	r.failed = append(r.failed, what)
	r.mu.Unlock()
}

func (r *scaleoutResult) version(inst string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.versions[inst]
}

func TestScaleOutBehindHAProxy(t *testing.T) {
	haproxy := requirePeer(t, "haproxy")
	root := t.TempDir()
	writeTree(t, root, map[string]string{"www/page.txt": "page\n", "www/health.txt": "ok\n"})
	insts := []*scaleoutInstance{{name: "g1"}, {name: "g2"}}
	for _, in := range insts {
		// Without --no-watch: each instance follows edits of its config.
		in.srv = startServer(t, in.name, golightyBin, root, in.config(root, "v1"))
		in.conf = filepath.Join(root, in.name+".conf")
		fmt.Sscanf(in.srv.addr[strings.LastIndexByte(in.srv.addr, ':')+1:], "%d", &in.port)
	}
	fe := freePort(t)
	cfg := strings.NewReplacer("@FE@", fmt.Sprint(fe), "@G1@", fmt.Sprint(insts[0].port), "@G2@", fmt.Sprint(insts[1].port)).Replace(scaleoutHAProxy)
	cfgPath := filepath.Join(root, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	scaleoutHAProxyStart(t, haproxy, cfgPath, fe)
	front := fmt.Sprintf("127.0.0.1:%d", fe)

	res := &scaleoutResult{versions: map[string]string{}, perInst: map[string]int{}}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var sent atomic.Int64
	for _, src := range scaleoutClients {
		wg.Add(1)
		go func(src string) {
			defer wg.Done()
			scaleoutLoad(ctx, front, src, res, &sent)
		}(src)
	}
	waitFor(t, "both instances serving v1", func() bool { return res.version("g1") == "v1" && res.version("g2") == "v1" })

	// The rolling change: one instance at a time, each edited and reloaded
	// by its own file watcher, the next only once the first serves v2.
	for _, in := range insts {
		writeByRename(t, in.conf, in.config(root, "v2"))
		took := waitFor(t, in.name+" serving v2", func() bool { return res.version(in.name) == "v2" })
		t.Logf("%s serves the new config %v after the edit", in.name, took.Round(time.Millisecond))
		time.Sleep(200 * time.Millisecond) // keep the load on the new config a while
	}
	stop()
	wg.Wait()

	res.mu.Lock()
	t.Logf("%d requests through haproxy: g1 %d, g2 %d", res.ok, res.perInst["g1"], res.perInst["g2"])
	if len(res.failed) > 0 {
		t.Errorf("%d of %d requests failed during the rolling change, first: %s", len(res.failed), res.ok+len(res.failed), res.failed[0])
	}
	if res.perInst["g1"] == 0 || res.perInst["g2"] == 0 {
		t.Errorf("haproxy did not balance: %v", res.perInst)
	}
	total := res.ok
	res.mu.Unlock()

	// Every request is in one of the two access logs, under the address of
	// the client that sent it; haproxy's own address appears only for its
	// health checks.
	logged, health := 0, 0
	perClient := map[string]map[string]int{}
	for _, in := range insts {
		lines := scaleoutLogLines(t, in, root)
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) != 5 {
				t.Fatalf("%s: odd access log line %q", in.name, l)
			}
			if f[3] == "/health.txt" { // haproxy's checks: PROXY v2 LOCAL
				health++
				if f[0] != "127.0.0.1" {
					t.Errorf("%s: a health check logged as %s", in.name, f[0])
				}
				continue
			}
			logged++
			if perClient[f[0]] == nil {
				perClient[f[0]] = map[string]int{}
			}
			perClient[f[0]][in.name]++
			if f[1] != in.name || f[4] != "200" {
				t.Errorf("%s logged %q", in.name, l)
			}
		}
	}
	if health == 0 {
		t.Error("no haproxy health check reached the instances")
	}
	if logged != total {
		t.Errorf("access logs hold %d requests, clients got %d answers", logged, total)
	}
	for src, by := range perClient {
		if !scaleoutIsClient(src) {
			t.Errorf("access logs name %s (%v requests), not a client address", src, by)
		}
	}
	for _, src := range scaleoutClients {
		if perClient[src]["g1"] == 0 || perClient[src]["g2"] == 0 {
			t.Errorf("client %s is not in both logs: %v", src, perClient[src])
		}
	}
}

func scaleoutIsClient(ip string) bool {
	for _, c := range scaleoutClients {
		if c == ip {
			return true
		}
	}
	return false
}

// scaleoutLoad sends requests from src over keep-alive connections to
// haproxy until ctx ends.
func scaleoutLoad(ctx context.Context, front, src string, res *scaleoutResult, sent *atomic.Int64) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 2}}
	defer client.CloseIdleConnections()
	for i := 0; ctx.Err() == nil; i++ {
		n := sent.Add(1)
		resp, err := client.Get(fmt.Sprintf("http://%s/page.txt?c=%s&n=%d", front, src, n))
		if err != nil {
			res.fail(err.Error())
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		inst, version := resp.Header.Get("X-Instance"), resp.Header.Get("X-Version")
		switch {
		case err != nil:
			res.fail(err.Error())
		case resp.StatusCode != 200 || string(body) != "page\n" || inst == "" || version == "":
			res.fail(fmt.Sprintf("%d %q from %q %q", resp.StatusCode, body, inst, version))
		default:
			res.served(inst, version)
		}
	}
}

// scaleoutHAProxyStart runs haproxy in the foreground until the test ends
// and waits for its frontend.
func scaleoutHAProxyStart(t *testing.T, bin, cfg string, port int) {
	t.Helper()
	cmd := exec.Command(bin, "-db", "-f", cfg)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	waitFor(t, "haproxy listening", func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// scaleoutLogLines flushes and reads an instance's access log once it
// stopped growing.
func scaleoutLogLines(t *testing.T, in *scaleoutInstance, root string) []string {
	t.Helper()
	path := filepath.Join(root, in.name+"-access.log")
	var last []string
	for i := 0; i < 50; i++ {
		in.srv.cmd.Process.Signal(syscall.SIGHUP)
		time.Sleep(100 * time.Millisecond)
		b, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(lines) == len(last) && len(lines) > 0 {
			return lines
		}
		last = lines
	}
	t.Fatalf("%s: access log still growing", in.name)
	return nil
}
