package rrdtool

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/coretest"
	"github.com/golighty/golighty/lighttpdconf"
	_ "github.com/golighty/golighty/modules/staticfile"
)

// rrdBinary is Debian's rrdtool: missing, the tests skip, or fail under
// GOLIGHTY_REQUIRE_PEERS=1 (CI).
func rrdBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("rrdtool")
	if err != nil {
		if os.Getenv("GOLIGHTY_REQUIRE_PEERS") == "1" {
			t.Fatal("rrdtool is required (GOLIGHTY_REQUIRE_PEERS=1) but not installed")
		}
		t.Skip("rrdtool not installed")
	}
	return p
}

// fastWrites makes the writer run every second for the test.
func fastWrites(t *testing.T) {
	old := interval
	interval = time.Second
	t.Cleanup(func() { interval = old })
}

func rrd(t *testing.T, bin string, args ...string) string {
	t.Helper()
	for try := 0; ; try++ {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err == nil {
			return string(out)
		}
		// The server's rrdtool may hold the file's lock for an update.
		if try < 50 && strings.Contains(string(out), "could not lock RRD") {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		t.Fatalf("rrdtool %v: %v\n%s", args, err, out)
	}
}

// lastUpdate is the values of the last update of an rrd ("in out requests").
func lastUpdate(t *testing.T, bin, path string) string {
	t.Helper()
	out := rrd(t, bin, "lastupdate", path)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	_, vals, _ := strings.Cut(lines[len(lines)-1], ": ")
	return vals
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestWrites drives a real rrdtool: the databases are created with
// lighttpd's layout, the figures of each database's requests arrive, and
// counters start again from zero after an update.
func TestWrites(t *testing.T) {
	bin := rrdBinary(t)
	fastWrites(t)
	h := coretest.New(t, `server.document-root = "@DIR@/www"
server.modules = ("mod_rrdtool")
rrdtool.binary = "`+bin+`"
rrdtool.db-name = "@DIR@/all.rrd"
$HTTP["url"] =^ "/b/" { rrdtool.db-name = "@DIR@/b.rrd" }
$HTTP["url"] =^ "/b/blank" { rrdtool.db-name = "" }
`)
	defer h.Server.Close()
	h.WriteFile("www/a.txt", strings.Repeat("a", 100))
	h.WriteFile("www/b/b.txt", strings.Repeat("b", 50))
	var in, out [2]int
	for i, path := range []string{"/a.txt", "/a.txt", "/missing", "/b/b.txt", "/b/blank"} {
		req := "GET " + path + " HTTP/1.0\r\n\r\n"
		raw := h.Raw(req)
		db := 0
		if i >= 3 {
			db = 1
		}
		in[db] += len(req)
		out[db] += len(raw)
	}
	all, b := filepath.Join(h.Dir, "all.rrd"), filepath.Join(h.Dir, "b.rrd")
	want := map[string]string{all: strconv.Itoa(in[0]) + " " + strconv.Itoa(out[0]) + " 3", b: strconv.Itoa(in[1]) + " " + strconv.Itoa(out[1]) + " 2"}
	for path, vals := range want {
		waitFor(t, "an update of "+path, func() bool {
			_, err := os.Stat(path)
			return err == nil && lastUpdate(t, bin, path) != "U U U"
		})
		if got := lastUpdate(t, bin, path); got != vals {
			t.Errorf("%s: last update %q, want %q", filepath.Base(path), got, vals)
		}
	}
	info := rrd(t, bin, "info", all)
	for _, line := range []string{"step = 60", "ds[InOctets].type = \"ABSOLUTE\"", "ds[Requests].minimal_heartbeat = 600",
		"rra[11].cf = \"MIN\"", "rra[11].rows = 797", "rra[4].cf = \"MAX\"", "rra[1].pdp_per_row = 6"} {
		if !strings.Contains(info, line+"\n") {
			t.Errorf("layout: no %q in\n%s", line, info)
		}
	}
	// Nothing new: the next update sends zeros.
	waitFor(t, "a zero update", func() bool { return lastUpdate(t, bin, all) == "0 0 0" })
}

// TestRestart: an rrdtool that dies is started again at the next write.
func TestRestart(t *testing.T) {
	bin := rrdBinary(t)
	fastWrites(t)
	h := coretest.New(t, `server.document-root = "@DIR@"
server.modules = ("mod_rrdtool")
rrdtool.binary = "`+bin+`"
rrdtool.db-name = "@DIR@/r.rrd"
`)
	defer h.Server.Close()
	m, _ := h.Snap.Module("mod_rrdtool")
	w := m.(*Module).w
	w.mu.Lock()
	w.cmd.Process.Signal(syscall.SIGKILL)
	w.mu.Unlock()
	h.Get("/")
	waitFor(t, "a new rrdtool writing", func() bool {
		_, err := os.Stat(filepath.Join(h.Dir, "r.rrd"))
		return err == nil && lastUpdate(t, bin, filepath.Join(h.Dir, "r.rrd")) != "U U U"
	})
}

// TestNotAFile: a database name that is a directory is logged, not fatal.
func TestNotAFile(t *testing.T) {
	bin := rrdBinary(t)
	fastWrites(t)
	h := coretest.New(t, `server.document-root = "@DIR@"
server.modules = ("mod_rrdtool")
rrdtool.binary = "`+bin+`"
rrdtool.db-name = "@DIR@/dir.rrd"
`)
	defer h.Server.Close()
	os.Mkdir(filepath.Join(h.Dir, "dir.rrd"), 0o755)
	time.Sleep(1500 * time.Millisecond)
	if resp, _ := h.Get("/"); resp.StatusCode != 403 && resp.StatusCode != 404 && resp.StatusCode != 200 {
		t.Errorf("status %d", resp.StatusCode)
	}
}

// TestMissingBinary: a binary that cannot start fails the load, as in
// lighttpd; -tt (preflight) starts nothing and so passes.
func TestMissingBinary(t *testing.T) {
	dir := t.TempDir()
	conf := `server.document-root = "` + dir + `"
server.modules = ("mod_rrdtool")
rrdtool.binary = "` + dir + `/no-such-rrdtool"
rrdtool.db-name = "` + dir + `/x.rrd"
`
	if _, err := compileConf(t, conf, false); err == nil || !strings.Contains(err.Error(), "fork/exec") {
		t.Errorf("load: %v", err)
	}
	if _, err := compileConf(t, conf, true); err != nil {
		t.Errorf("preflight: %v", err)
	}
}

func compileConf(t *testing.T, conf string, preflight bool) (*core.Snapshot, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "l.conf")
	os.WriteFile(path, []byte(conf), 0o644)
	parsed, err := lighttpdconf.ParseFile(path, &lighttpdconf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return core.Compile(parsed, core.CompileOptions{Preflight: preflight}, nil)
}
