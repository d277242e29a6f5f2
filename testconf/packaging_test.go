package testconf

import (
	"bufio"
	"debug/elf"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	packagingUnitBin  = "/usr/local/bin/golighty"
	packagingUnitConf = "/etc/lighttpd/lighttpd.conf"
)

// packagingUnit reads dist/golighty.service as KEY -> values (in order).
func packagingUnit(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open("../dist/golighty.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("unit line without '=': %q", line)
			}
			keys[section+"."+k] = append(keys[section+"."+k], v)
		}
	}
	return keys
}

// packagingCommand turns a unit command line into argv for this test:
// the installed paths become the test's binary and config.
func packagingCommand(line, conf string, mainPID int) []string {
	line = strings.NewReplacer(packagingUnitBin, golightyBin, packagingUnitConf, conf, "$MAINPID", strconv.Itoa(mainPID)).Replace(line)
	return strings.Fields(line)
}

const packagingConf = `
server.document-root = "@ROOT@"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "@TAG@"
`

// TestPackagingSystemdUnit checks the unit's commands (the -tt check before
// start and before the reload signal, the SIGUSR1 reload) and, with
// systemd-analyze, that systemd accepts the unit without a warning.
func TestPackagingSystemdUnit(t *testing.T) {
	u := packagingUnit(t)
	want := map[string][]string{
		"Service.Type":         {"notify"},
		"Service.ExecStartPre": {packagingUnitBin + " -tt -f " + packagingUnitConf},
		"Service.ExecStart":    {packagingUnitBin + " -D -f " + packagingUnitConf},
		"Service.ExecReload":   {packagingUnitBin + " -tt -f " + packagingUnitConf, "/bin/kill -USR1 $MAINPID"},
	}
	for k, v := range want {
		if strings.Join(u[k], "\n") != strings.Join(v, "\n") {
			t.Errorf("%s = %q, want %q", k, u[k], v)
		}
	}
	for _, k := range []string{"NoNewPrivileges", "ProtectSystem", "PrivateTmp", "CapabilityBoundingSet", "SystemCallFilter", "RestrictAddressFamilies"} {
		if len(u["Service."+k]) == 0 {
			t.Errorf("hardening option %s missing", k)
		}
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	os.WriteFile(good, []byte(strings.NewReplacer("@ROOT@", dir, "@PORT@", "8080", "@TAG@", "x").Replace(packagingConf)), 0o644)
	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(bad, []byte("server.port = \n"), 0o644)
	for _, tc := range []struct {
		conf string
		ok   bool
	}{{good, true}, {bad, false}} {
		for _, k := range []string{"Service.ExecStartPre", "Service.ExecReload"} {
			argv := packagingCommand(u[k][0], tc.conf, 0)
			err := exec.Command(argv[0], argv[1:]...).Run()
			if (err == nil) != tc.ok {
				t.Errorf("%s on %s: %v, want success %v", k, filepath.Base(tc.conf), err, tc.ok)
			}
		}
	}

	analyze := requirePeer(t, "systemd-analyze")
	unit, _ := os.ReadFile("../dist/golighty.service")
	path := filepath.Join(dir, "golighty.service")
	os.WriteFile(path, []byte(strings.NewReplacer(packagingUnitBin, golightyBin, packagingUnitConf, good).Replace(string(unit))), 0o644)
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// packagingNotify is a NOTIFY_SOCKET the way systemd listens on it.
type packagingNotify struct {
	conn *net.UnixConn
	path string
}

func newPackagingNotify(t *testing.T) *packagingNotify {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &packagingNotify{conn: c, path: path}
}

// next returns the next message's fields.
func (n *packagingNotify) next(t *testing.T) map[string]string {
	t.Helper()
	buf := make([]byte, 4096)
	n.conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	k, err := n.conn.Read(buf)
	if err != nil {
		t.Fatalf("no notify message: %v", err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(buf[:k]), "\n") {
		if key, v, ok := strings.Cut(line, "="); ok {
			m[key] = v
		}
	}
	return m
}

// TestPackagingNotifyReload runs the unit's ExecStart with a NOTIFY_SOCKET
// and its ExecReload commands: READY=1 once serving; around a good reload
// RELOADING=1 (with MONOTONIC_USEC) then READY=1 when the new config already
// answers; a config refused by the -tt step never reaches the server, one
// refused by the server itself ends in READY=1 with the refusal as STATUS
// while the previous config serves on; STOPPING=1 at the end.
func TestPackagingNotifyReload(t *testing.T) {
	u := packagingUnit(t)
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "lighttpd.conf")
	write := func(tag string) {
		os.WriteFile(conf, []byte(strings.NewReplacer("@ROOT@", dir, "@PORT@", strconv.Itoa(port), "@TAG@", tag).Replace(packagingConf)), 0o644)
	}
	write("first")
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("hi"), 0o644)
	notify := newPackagingNotify(t)
	argv := append(packagingCommand(u["Service.ExecStart"][0], conf, 0), "--no-watch")
	srv := exec.Command(argv[0], argv[1:]...)
	srv.Env = append(os.Environ(), "NOTIFY_SOCKET="+notify.path)
	log := &syncLog{}
	srv.Stdout, srv.Stderr = log, log
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	tag := func() string {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			return err.Error()
		}
		resp.Body.Close()
		return resp.Header.Get("Server")
	}
	if m := notify.next(t); m["READY"] != "1" {
		t.Fatalf("first message %v, want READY=1", m)
	}
	if got := tag(); got != "first" {
		t.Fatalf("READY=1 before serving: %q", got)
	}
	reload := func() error {
		for _, line := range u["Service.ExecReload"] {
			argv := packagingCommand(line, conf, srv.Process.Pid)
			if err := exec.Command(argv[0], argv[1:]...).Run(); err != nil {
				return err // systemd stops at the first failing command
			}
		}
		return nil
	}

	t.Run("good reload", func(t *testing.T) {
		write("second")
		if err := reload(); err != nil {
			t.Fatal(err)
		}
		m := notify.next(t)
		if m["RELOADING"] != "1" || m["MONOTONIC_USEC"] == "" {
			t.Fatalf("%v, want RELOADING=1 with MONOTONIC_USEC", m)
		}
		if usec, err := strconv.ParseInt(m["MONOTONIC_USEC"], 10, 64); err != nil || usec <= 0 {
			t.Errorf("MONOTONIC_USEC=%q", m["MONOTONIC_USEC"])
		}
		if m = notify.next(t); m["READY"] != "1" || m["STATUS"] != "serving" {
			t.Fatalf("%v, want READY=1, STATUS=serving", m)
		}
		if got := tag(); got != "second" {
			t.Errorf("after READY=1 the server answers as %q, want the new config", got)
		}
	})
	t.Run("refused by -tt", func(t *testing.T) {
		os.WriteFile(conf, []byte("server.port = \n"), 0o644)
		if err := reload(); err == nil {
			t.Fatal("ExecReload accepted a broken config")
		}
		notify.conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := notify.conn.Read(make([]byte, 512)); err == nil {
			t.Error("the server was signalled although -tt refused the config")
		}
	})
	t.Run("refused by the server", func(t *testing.T) {
		// Valid for -tt now, broken when the signal arrives (an edit in
		// between): the server refuses it itself.
		srv.Process.Signal(syscall.SIGUSR1)
		if m := notify.next(t); m["RELOADING"] != "1" {
			t.Fatalf("%v, want RELOADING=1", m)
		}
		m := notify.next(t)
		if m["READY"] != "1" || !strings.HasPrefix(m["STATUS"], "reload refused") {
			t.Fatalf("%v, want READY=1 with the refusal", m)
		}
		if got := tag(); got != "second" {
			t.Errorf("after a refused reload the server answers as %q, want the previous config", got)
		}
	})
	srv.Process.Signal(os.Interrupt)
	if m := notify.next(t); m["STOPPING"] != "1" {
		t.Errorf("%v, want STOPPING=1", m)
	}
	srv.Wait()
}

// TestPackagingLogrotate runs dist/golighty.logrotate through logrotate on
// logs in a test directory (the postrotate command signals this test's
// server instead of the systemd unit): the old lines stay in .1, golighty
// writes to the new files at once.
func TestPackagingLogrotate(t *testing.T) {
	logrotate := requirePeer(t, "logrotate")
	orig, err := os.ReadFile("../dist/golighty.logrotate")
	if err != nil {
		t.Fatal(err)
	}
	// The shipped file as it is: logrotate accepts its syntax.
	if out, err := exec.Command(logrotate, "-d", "-s", filepath.Join(t.TempDir(), "state"), "../dist/golighty.logrotate").CombinedOutput(); err != nil {
		t.Fatalf("logrotate -d: %v\n%s", err, out)
	}
	root := t.TempDir()
	logs := filepath.Join(root, "log")
	os.Mkdir(logs, 0o755)
	os.WriteFile(filepath.Join(root, "index.html"), []byte("hi"), 0o644)
	conf := strings.NewReplacer("@ROOT@", root, "@TAG@", "x").Replace(packagingConf) +
		fmt.Sprintf("server.modules = (\"mod_accesslog\")\nserver.errorlog = %q\naccesslog.filename = %q\n", logs+"/error.log", logs+"/access.log")
	s := startServer(t, "golighty", golightyBin, root, conf)
	get := func() {
		resp, err := http.Get("http://" + s.addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get()
	rot := strings.Replace(string(orig), "/var/log/lighttpd/*.log", logs+"/*.log", 1)
	rot = strings.Replace(rot, "systemctl kill --kill-whom=main --signal=HUP golighty.service", "kill -HUP "+strconv.Itoa(s.cmd.Process.Pid), 1)
	if rot == string(orig) || !strings.Contains(rot, "kill -HUP") {
		t.Fatal("the logrotate file no longer has the expected path and postrotate command")
	}
	rotConf := filepath.Join(root, "golighty.logrotate")
	os.WriteFile(rotConf, []byte(rot), 0o644)
	if out, err := exec.Command(logrotate, "-f", "-s", filepath.Join(root, "state"), rotConf).CombinedOutput(); err != nil {
		t.Fatalf("logrotate: %v\n%s", err, out)
	}
	var fresh []byte
	for i := 0; i < 100 && len(fresh) == 0; i++ {
		get()
		fresh, _ = os.ReadFile(logs + "/access.log")
		time.Sleep(20 * time.Millisecond)
	}
	old, _ := os.ReadFile(logs + "/access.log.1")
	if len(fresh) == 0 || len(old) == 0 {
		t.Errorf("after rotation: access.log %d bytes, access.log.1 %d bytes", len(fresh), len(old))
	}
	if errlog, _ := os.ReadFile(logs + "/error.log"); !strings.Contains(string(errlog), "logfiles cycled") {
		t.Errorf("error.log after rotation: %q", errlog)
	}
}

// TestPackagingStaticBuild builds the binary the way dist/Containerfile and
// `go install` do (no cgo), checks that it is static and names its version
// and modules, and that the image's default config passes -tt. It also
// keeps `go install github.com/golighty/golighty/cmd/golighty@latest`
// possible: the module path is the repository's and go.mod has no replace
// or exclude directive (go install refuses those).
func TestPackagingStaticBuild(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(mod), "module github.com/golighty/golighty\n") {
		t.Errorf("go.mod module line: %q", strings.SplitN(string(mod), "\n", 2)[0])
	}
	for _, line := range strings.Split(string(mod), "\n") {
		if f := strings.Fields(line); len(f) > 0 && (f[0] == "replace" || f[0] == "exclude") {
			t.Errorf("go.mod has %q: go install ...@latest would refuse the module", line)
		}
	}
	cf, err := os.ReadFile("../dist/Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=0 go build", "USER 65532:65532", `VOLUME ["/etc/lighttpd", "/var/www"]`, `"-D", "-f", "/etc/lighttpd/lighttpd.conf"`} {
		if !strings.Contains(string(cf), want) {
			t.Errorf("Containerfile lacks %q", want)
		}
	}
	bin := filepath.Join(t.TempDir(), "golighty")
	// The Containerfile adds -trimpath and -ldflags=-s -w, which change
	// nothing here but would rebuild every package in a cold cache.
	build := exec.Command("go", "build", "-o", bin, "./cmd/golighty")
	build.Dir = ".."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("not a static binary: program header %v", p.Type)
		}
	}
	out, err := exec.Command(bin, "-v").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "golighty/") || !strings.HasPrefix(lines[1], "version ") ||
		!strings.Contains(lines[2], "mod_fastcgi") || !strings.Contains(lines[2], "mod_staticfile") {
		t.Errorf("-v:\n%s", out)
	}
	if out, err := exec.Command(bin, "-tt", "-f", "../dist/container/lighttpd.conf").CombinedOutput(); err != nil {
		t.Errorf("the image's config fails -tt: %v\n%s", err, out)
	}
}
