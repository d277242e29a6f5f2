package testconf

import (
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// litmusConf is the share the conformance suite runs against: class 2
// (properties and locks in SQLite), as lighttpd's documentation sets it up.
const litmusConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.errorlog = "@ROOT@/error.log"
server.modules = ("mod_webdav")
$HTTP["url"] =~ "^/dav($|/)" {
	webdav.activate = "enable"
	webdav.sqlite-db-name = "@ROOT@/webdav.db"
}
`

// litmusLine is a result line: " 3. put_get............... pass".
var litmusLine = regexp.MustCompile(`^\s*(\d+)\.\s+(\S+?)\.*\s+(pass|FAIL|SKIPPED|WARNING)`)

// litmusRun runs Debian's litmus against s and returns each test's result
// keyed by suite, number and name.
func litmusRun(t *testing.T, bin string, s *server) (map[string]string, string) {
	t.Helper()
	cmd := exec.Command(bin, "-k", "http://"+s.addr+"/dav/")
	cmd.Dir = t.TempDir() // litmus writes debug.log and child.log here
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("litmus against %s did not finish:\n%s", s.name, out.String())
	}
	results := map[string]string{}
	suite := ""
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "-> running `") {
			suite = strings.TrimSuffix(strings.TrimPrefix(line, "-> running `"), "':")
			continue
		}
		// litmus redraws a test's line with a CR when it finishes.
		if i := strings.LastIndexByte(line, '\r'); i >= 0 {
			line = line[i+1:]
		}
		if m := litmusLine.FindStringSubmatch(line); m != nil {
			results[fmt.Sprintf("%s/%02s.%s", suite, m[1], m[2])] = m[3]
		}
	}
	return results, out.String()
}

func litmusScore(r map[string]string) (pass, run int) {
	for _, v := range r {
		if v != "SKIPPED" {
			run++
		}
		if v == "pass" {
			pass++
		}
	}
	return pass, run
}

// TestWebDAVLitmus runs the WebDAV conformance suite against golighty and
// against lighttpd 1.4.69 with mod_webdav on the same configuration:
// golighty must pass every test lighttpd passes.
func TestWebDAVLitmus(t *testing.T) {
	litmus := requirePeer(t, "litmus")
	g, l, _, _ := webdavStart(t, litmusConf, map[string]string{"www/dav/.keep": ""})
	gr, gout := litmusRun(t, litmus, g)
	lr, lout := litmusRun(t, litmus, l)
	if len(lr) < 90 {
		t.Fatalf("could not read lighttpd's litmus results (%d):\n%s", len(lr), lout)
	}
	for name, res := range lr {
		if res == "pass" && gr[name] != "pass" {
			t.Errorf("%s: lighttpd passes, golighty %q", name, gr[name])
		}
	}
	gp, gn := litmusScore(gr)
	lp, ln := litmusScore(lr)
	t.Logf("litmus: golighty %d/%d, lighttpd %d/%d", gp, gn, lp, ln)
	if t.Failed() {
		t.Logf("golighty's run:\n%s", gout)
	}
}
