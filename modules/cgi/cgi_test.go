package cgi

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/coretest"
	"github.com/golighty/golighty/lighttpdconf"
	_ "github.com/golighty/golighty/modules/dirlisting"
	_ "github.com/golighty/golighty/modules/indexfile"
	_ "github.com/golighty/golighty/modules/staticfile"
)

func TestSniff(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		want      outputKind
	}{
		{"header block", "Content-Type: text/plain\n\nbody", outHeaders},
		{"crlf header block", "Content-Type: text/plain\r\n\r\nbody", outHeaders},
		{"mixed line ends", "A: 1\n\r\nbody", outHeaders},
		{"empty header block", "\nbody", outHeaders},
		{"empty crlf header block", "\r\nbody", outHeaders},
		{"nph", "HTTP/1.0 200 OK\r\n\r\nx", outHeaders},
		{"nph without a reason", "HTTP/1.0 200\n\nx", outHeaders},
		{"short HTTP/ line is no status line", "HTTP/1.0\n\nx", outBody},
		{"no colon in the first line", "hello world\nA: b\n\n", outBody},
		{"colon later in the body", "hello\nA: b\n\n", outBody},
		{"ends inside the head", "Content-Type: text/plain\nX: 1\n", outBody},
		{"no line end at all", "Content-Type: text/plain", outBody},
		{"nothing", "", outEmpty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One byte per read: the classification must not depend on
			// how the output arrives.
			for _, r := range []io.Reader{strings.NewReader(tc.out), iotest.OneByteReader(strings.NewReader(tc.out))} {
				br := bufio.NewReaderSize(r, core.MaxBackendHead+1024)
				got, err := sniff(br)
				if err != nil || got != tc.want {
					t.Fatalf("got %d, %v; want %d", got, err, tc.want)
				}
				rest, _ := io.ReadAll(br)
				if string(rest) != tc.out {
					t.Fatalf("sniff consumed output: %q left", rest)
				}
			}
		})
	}
	t.Run("head larger than the limit", func(t *testing.T) {
		br := bufio.NewReaderSize(strings.NewReader("X: "+strings.Repeat("a", core.MaxBackendHead+10)+"\n\n"), core.MaxBackendHead+1024)
		if got, err := sniff(br); got != outHeaders || err != nil {
			t.Fatalf("got %d, %v; want the header parser to refuse it", got, err)
		}
	})
}

// FuzzSniff: any output is classified without panicking or consuming it,
// also when it arrives a byte at a time.
func FuzzSniff(f *testing.F) {
	for _, s := range []string{"A: b\n\nc", "x\n", "HTTP/1.1 200 OK\r\n\r\n", "\r\n", "A: b\r\n", "\n\n\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		a, errA := sniff(bufio.NewReaderSize(strings.NewReader(string(out)), core.MaxBackendHead+1024))
		br := bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(string(out))), core.MaxBackendHead+1024)
		b, errB := sniff(br)
		if a != b || (errA == nil) != (errB == nil) {
			t.Fatalf("whole: %d %v, bytewise: %d %v", a, errA, b, errB)
		}
		if rest, _ := io.ReadAll(br); string(rest) != string(out) {
			t.Fatal("output consumed")
		}
	})
}

func TestLimitsAndKeys(t *testing.T) {
	h := coretest.New(t, `
server.document-root = "@DIR@"
server.modules = ("mod_cgi")
cgi.assign = (".pl" => "/usr/bin/perl")
cgi.limits = ("read-timeout" => 3, "Write-Timeout" => "4", "tcp-fin-propagate" => "sighup", "bogus" => 1)
$HTTP["url"] =^ "/x/" { cgi.limits = ("tcp-fin-propagate" => "nosuch") }
`)
	m, ok := h.Snap.Module("mod_cgi")
	if !ok {
		t.Fatal("mod_cgi not loaded")
	}
	def := m.(*Module).table.Defaults()
	l := def.limits
	if l == nil || l.readTimeout != 3*time.Second || l.writeTimeout != 4*time.Second || l.signalFin != syscall.SIGHUP {
		t.Fatalf("limits = %+v", l)
	}
	var warned bool
	for _, w := range h.Snap.Warnings {
		warned = warned || strings.Contains(w.Msg, "unrecognized cgi.limits param: bogus")
	}
	if !warned {
		t.Errorf("no warning for the unknown param: %+v", h.Snap.Warnings)
	}
	if sig := signalByName("NOSUCH"); sig != syscall.SIGTERM {
		t.Errorf("unknown signal name: %v, want SIGTERM", sig)
	}
}

func TestXSendfileDocrootMustBeAbsolute(t *testing.T) {
	err := compileErr(t, `
server.document-root = "/tmp"
server.modules = ("mod_cgi")
cgi.x-sendfile-docroot = ("relative/dir")
`)
	if err == nil || !strings.Contains(err.Error(), "cgi.x-sendfile-docroot paths must begin with '/'; invalid: \"relative/dir\"") {
		t.Fatalf("err = %v", err)
	}
}

// compileErr compiles conf and returns the error.
func compileErr(t *testing.T, conf string) error {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lighttpd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	parsed, err := lighttpdconf.ParseFile(path, &lighttpdconf.Options{})
	if err != nil {
		return err
	}
	_, err = core.Compile(parsed, core.CompileOptions{Preflight: true}, nil)
	return err
}

// TestWaitingScriptsHoldNoReadBuffer: requests whose scripts work a while
// before writing hold no read buffer (64 KiB each) meanwhile, and each gets
// its script's output once it comes.
func TestWaitingScriptsHoldNoReadBuffer(t *testing.T) {
	const n = 10
	dir := t.TempDir()
	release := filepath.Join(dir, "release")
	script := "started=$(mktemp " + dir + "/started.XXXXXX)\n" +
		"while [ ! -e " + release + " ]; do sleep 0.02; done\n" +
		"printf 'Content-Type: text/plain\\r\\n\\r\\n%s' \"$REQUEST_URI\"\n"
	addr := coretest.BenchServer(t, `server.document-root = "@DIR@"
server.modules = ("mod_cgi")
server.bind = "127.0.0.1"
server.port = @PORT@
cgi.assign = (".sh" => "/bin/sh")
`, map[string]string{"wait.sh": script})
	paths := make([]string, n)
	for i := range paths {
		paths[i] = "/wait.sh?" + strconv.Itoa(i)
	}
	results := coretest.GetAll(addr, paths)
	coretest.WaitFor(t, "every script to start", func() bool {
		started, _ := filepath.Glob(filepath.Join(dir, "started.*"))
		return len(started) == n
	})
	time.Sleep(50 * time.Millisecond) // their requests wait for output
	if out := readers.Out(); out != 0 {
		t.Errorf("%d read buffers held by %d requests whose scripts have not written yet, want none", out, n)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	coretest.ExpectOwnAnswers(t, results, n)
}
