package lighttpdconf

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const lighttpdBin = "/usr/sbin/lighttpd"

var update = flag.Bool("update", false, "rewrite testdata/live/*.golden from lighttpd -p")

// lighttpdPeer returns the reference binary or skips (fails with
// GOLIGHTY_REQUIRE_PEERS=1).
func lighttpdPeer(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(lighttpdBin); err != nil {
		if os.Getenv("GOLIGHTY_REQUIRE_PEERS") == "1" {
			t.Fatalf("%s missing and GOLIGHTY_REQUIRE_PEERS=1", lighttpdBin)
		}
		t.Skipf("%s not installed", lighttpdBin)
	}
	return lighttpdBin
}

var pidLine = regexp.MustCompile(`(?m)^    var\.PID( *) = (\d+)$`)

// TestLiveCrossCheck runs `lighttpd -p` on every testdata/live/*.conf and
// compares golighty's Print byte for byte (var.PID forced to lighttpd's).
func TestLiveCrossCheck(t *testing.T) {
	bin := lighttpdPeer(t)
	dir, err := filepath.Abs("testdata/live")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.conf"))
	if len(files) < 24 {
		t.Fatalf("only %d live snippets", len(files))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".conf"), func(t *testing.T) {
			cmd := exec.Command(bin, "-p", "-f", f)
			cmd.Dir = dir
			cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent"}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			want, err := cmd.Output()
			if err != nil {
				t.Fatalf("lighttpd -p failed: %v\n%s", err, stderr.String())
			}
			if got := printSnippet(t, f, want); !bytes.Equal(got, want) {
				t.Errorf("output differs\n--- lighttpd\n%s\n--- golighty\n%s", want, got)
			}
			golden := f + ".golden"
			norm := bytes.ReplaceAll(want, []byte(dir), []byte("@DIR@"))
			if *update {
				if err := os.WriteFile(golden, norm, 0o644); err != nil {
					t.Fatal(err)
				}
			} else if _, err := os.Stat(golden); err != nil {
				t.Errorf("%s missing; rerun with -update", golden)
			}
		})
	}
}

// printSnippet parses file f (PID taken from the reference want) and returns
// golighty's -p output.
func printSnippet(t *testing.T, f string, want []byte) []byte {
	t.Helper()
	m := pidLine.FindSubmatch(want)
	if m == nil {
		t.Fatalf("no var.PID in reference output:\n%s", want)
	}
	pid, _ := strconv.Atoi(string(m[2]))
	src, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseBytes(f, src, &Options{
		Getwd:  filepath.Dir(f),
		PID:    pid,
		Getenv: func(k string) (string, bool) { return map[string]string{"HOME": "/nonexistent"}[k], k == "HOME" },
	})
	if err != nil {
		t.Fatalf("golighty: %v", err)
	}
	var got bytes.Buffer
	if err := cfg.Print(&got); err != nil {
		t.Fatal(err)
	}
	return got.Bytes()
}

// TestGoldenSnippets compares against the stored lighttpd -p outputs, so the
// snippets are checked even where lighttpd is not installed.
func TestGoldenSnippets(t *testing.T) {
	dir, err := filepath.Abs("testdata/live")
	if err != nil {
		t.Fatal(err)
	}
	goldens, _ := filepath.Glob(filepath.Join(dir, "*.conf.golden"))
	if len(goldens) < 24 {
		t.Fatalf("only %d golden files; run go test -run TestLiveCrossCheck -update", len(goldens))
	}
	for _, g := range goldens {
		f := strings.TrimSuffix(g, ".golden")
		t.Run(strings.TrimSuffix(filepath.Base(f), ".conf"), func(t *testing.T) {
			raw, err := os.ReadFile(g)
			if err != nil {
				t.Fatal(err)
			}
			want := bytes.ReplaceAll(raw, []byte("@DIR@"), []byte(dir))
			if got := printSnippet(t, f, want); !bytes.Equal(got, want) {
				t.Errorf("output differs\n--- lighttpd\n%s\n--- golighty\n%s", want, got)
			}
		})
	}
}
