package testconf

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const cgiConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_alias", "mod_cgi")
index-file.names = ("index.pl")
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html")
cgi.assign = (".pl" => "@PERL@", ".py" => "@PYTHON@", ".cgi" => "", ".nointerp" => "/nonexistent/interp")
alias.url = ("/aliased/" => "@ROOT@/other/")
$HTTP["url"] =^ "/redir/" { cgi.local-redir = "enable" }
$HTTP["url"] =^ "/xs/" {
	cgi.x-sendfile = "enable"
	cgi.x-sendfile-docroot = ("@ROOT@/files")
}
$HTTP["url"] =^ "/xonly/" { cgi.execute-x-only = "enable" }
$HTTP["url"] =^ "/limits/" { cgi.limits = ("read-timeout" => 1) }
$HTTP["url"] =^ "/ws/" { cgi.upgrade = "enable" }
$HTTP["url"] =^ "/stream/" { server.stream-request-body = 1 server.stream-response-body = 1 }
`

// cgiEnvPerl prints the environment a script sees, sorted, with the
// connection's ports masked (they differ between the two servers), then
// its stdin.
const cgiEnvPerl = `#!/usr/bin/perl
print "Content-Type: text/plain\r\n\r\n";
for my $k (sort keys %ENV) {
	my $v = $ENV{$k};
	$v = "<port>" if $k eq "REMOTE_PORT" || $k eq "SERVER_PORT";
	print "$k=$v\n";
}
binmode STDIN; local $/; my $b = <STDIN>; print "STDIN=", (defined $b ? $b : ""), "\n";
`

const cgiEnvPython = `import os, sys
sys.stdout.write("Content-Type: text/plain\n\n")
for k in sorted(os.environ):
    v = os.environ[k]
    if k in ("REMOTE_PORT", "SERVER_PORT"):
        v = "<port>"
    sys.stdout.write("%s=%s\n" % (k, v))
sys.stdout.write("STDIN=%s\n" % sys.stdin.read())
`

// cgiScripts cover the response rules lighttpd applies to script output.
var cgiScripts = map[string]string{
	"www/env.pl":           cgiEnvPerl,
	"www/env.py":           cgiEnvPython,
	"www/index.pl":         "print \"Content-Type: text/html\\n\\n<p>index</p>\\n\";",
	"www/noheader.pl":      "print \"just a body, no header block\\n\";",
	"www/incomplete.pl":    "print \"Content-Type: text/plain\\nX-A: 1\\n\"; # no empty line\n",
	"www/empty.pl":         "exit 0;",
	"www/blankfirst.pl":    "print \"\\r\\nbody after an empty header block\\n\";",
	"www/nph.pl":           "print \"HTTP/1.0 299 Whatever\\r\\nContent-Type: text/plain\\r\\nX-Nph: 1\\r\\n\\r\\nnph body\\n\";",
	"www/nph2.pl":          "print \"HTTP/2.0 203 X\\r\\n\\r\\nh2 nph\\n\";",
	"www/nphbad.pl":        "print \"HTTP/1.1 2x0 Bad\\r\\n\\r\\nbody\\n\";",
	"www/status.pl":        "print \"Status: 404 Not Here\\nContent-Type: text/plain\\nX-App: a\\n\\nmissing\\n\";",
	"www/status2.pl":       "print \"Status: 299\\n\\ncustom\\n\";",
	"www/badstatus.pl":     "print \"Status: abc\\n\\nx\\n\";",
	"www/loc.pl":           "print \"Location: http://example.org/x?y=1\\n\\n\";",
	"www/loc200.pl":        "print \"Status: 200\\nLocation: /stay\\n\\nstay\\n\";",
	"www/js.pl":            "print \"Content-Type: application/javascript; charset=utf-8\\n\\nf();\\n\";",
	"www/spaced.pl":        "print \"X-Good: g\\nX-Bad : b\\nContent-Type: text/plain\\n\\nbody\\n\";",
	"www/cl.pl":            "print \"Content-Type: text/plain\\nContent-Length: 5\\n\\n0123456789\\n\";",
	"www/chunked.pl":       "print \"Content-Type: text/plain\\nTransfer-Encoding: chunked\\n\\n5\\r\\nhello\\r\\n0\\r\\n\\r\\n\";",
	"www/big.pl":           "print \"Content-Type: text/plain\\n\\n\"; print \"x\" x 3000000;",
	"www/stderr.pl":        "print STDERR \"to stderr\\n\"; print \"Content-Type: text/plain\\n\\nout\\n\";",
	"www/cwd.pl":           "use Cwd; print \"Content-Type: text/plain\\n\\n\", getcwd(), \"\\n\";",
	"www/die.pl":           "print \"Content-Type: text/plain\\n\\npartial\"; kill 'KILL', $$;",
	"www/diehead.pl":       "kill 'KILL', $$;",
	"www/conn.pl":          "print \"Connection: close\\nContent-Type: text/plain\\n\\nclose\\n\";",
	"www/post.py":          "import sys\nsys.stdout.write('Content-Type: text/plain\\n\\n')\nd=sys.stdin.read()\nsys.stdout.write('%d:%s\\n' % (len(d), d[:20]))\n",
	"www/direct.cgi":       "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\ndirect %s\\n' \"$QUERY_STRING\"\n",
	"www/noexec.cgi":       "#!/bin/sh\necho never\n",
	"www/x.nointerp":       "never",
	"www/static.txt":       "static file\n",
	"www/target.txt":       "redirect target\n",
	"www/redir/to.pl":      "print \"Location: /target.txt\\n\\n\";",
	"www/redir/toq.pl":     "print \"Location: /env.pl?from=redir\\n\\n\";",
	"www/redir/self.pl":    "print \"Location: /redir/self.pl/below\\n\\n\";",
	"www/redir/status.pl":  "print \"Status: 302\\nLocation: /target.txt\\n\\n\";",
	"www/redir/extra.pl":   "print \"Location: /target.txt\\nX-Extra: 1\\n\\n\";",
	"www/redir/body.pl":    "print \"Location: /target.txt\\n\\nbody\";",
	"www/redir/abs.pl":     "print \"Location: http://example.org/target.txt\\n\\n\";",
	"www/redir/loop.pl":    "print \"Location: /redir/loop2.pl\\n\\n\";",
	"www/redir/loop2.pl":   "print \"Location: /redir/loop.pl\\n\\n\";",
	"www/redir/missing.pl": "print \"Location: /nothing-here\\n\\n\";",
	"www/xs/send.pl":       "print \"X-Sendfile: $ENV{QUERY_STRING}\\nContent-Type: text/x-sent\\nX-Other: keep\\n\\ndiscarded\\n\";",
	"www/plain/xs.pl":      "print \"X-Sendfile: /etc/hostname\\nX-LIGHTTPD-send-file: /etc/hostname\\nContent-Type: text/plain\\n\\nnot handed off\\n\";",
	"www/xonly/run.cgi":    "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nx\\n'\n",
	"www/xonly/noexec.pl":  "print \"Content-Type: text/plain\\n\\nran\\n\";",
	"www/limits/slow.pl":   "sleep 5; print \"Content-Type: text/plain\\n\\nlate\\n\";",
	"www/limits/fast.pl":   "print \"Content-Type: text/plain\\n\\nfast\\n\";",
	"www/stream/post.pl":   "print \"Content-Type: text/plain\\n\\n\"; local $/; my $b = <STDIN>; print length($b), \"\\n\";",
	"other/alias.pl":       "print \"Content-Type: text/plain\\n\\n$ENV{DOCUMENT_ROOT} $ENV{SCRIPT_FILENAME} $ENV{SCRIPT_NAME}\\n\";",
	"files/a.txt":          "sendfile content 0123456789\n",
	"outside/s.txt":        "secret\n",
}

// cgiTree writes the scripts and makes the directly executed ones
// executable.
func cgiTree(t *testing.T, root string) {
	t.Helper()
	writeTree(t, root, cgiScripts)
	for _, p := range []string{"www/direct.cgi", "www/xonly/run.cgi"} {
		if err := os.Chmod(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func cgiConfFor(root, perl, python string) string {
	return strings.NewReplacer("@ROOT@", root, "@PERL@", perl, "@PYTHON@", python).Replace(cgiConf)
}

// cgiPeers starts golighty and lighttpd on the CGI config.
func cgiPeers(t *testing.T) (g, l *server, root string) {
	lighttpd := requirePeer(t, "lighttpd")
	perl := requirePeer(t, "perl")
	python := requirePeer(t, "python3")
	// The scripts' environment holds no PATH: interpreters are named by
	// their absolute path, the one Debian installs.
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		python = "/usr/bin/python3"
	}
	root = t.TempDir()
	cgiTree(t, root)
	conf := cgiConfFor(root, perl, python)
	g = startServer(t, "golighty", golightyBin, root, conf)
	l = startServer(t, "lighttpd", lighttpd, root, conf)
	return g, l, root
}

// TestSideBySideCGI sends the same requests to golighty and lighttpd
// running perl, python and shell scripts: status, headers, bodies and the
// environment each script sees must match.
func TestSideBySideCGI(t *testing.T) {
	g, l, root := cgiPeers(t)
	files := filepath.Join(root, "files")
	big := strings.Repeat("b", 100000)
	reqs := []string{
		"GET /env.pl HTTP/1.0\r\n\r\n",
		"GET /env.pl/path/info?q=1&r=%20 HTTP/1.1\r\nHost: Example.COM:8080\r\nX-Under_score: u\r\nX-Dot.ted: d\r\nProxy: http://evil/\r\nAuthorization: Basic dTpw\r\nCookie: a=1\r\nCookie: b=2\r\nX-Multi: 1\r\nX-Multi: 2\r\nConnection: close\r\n\r\n",
		"POST /env.pl HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\n\r\nhello=world",
		"POST /env.py?py=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
		"GET /env.py/a%20b/c%2Fd HTTP/1.0\r\n\r\n",
		"GET /%65nv.pl HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"HEAD /index.pl HTTP/1.0\r\n\r\n",
		"GET /noheader.pl HTTP/1.0\r\n\r\n",
		"GET /empty.pl HTTP/1.0\r\n\r\n",
		"GET /blankfirst.pl HTTP/1.0\r\n\r\n",
		"GET /nph.pl HTTP/1.0\r\n\r\n",
		"GET /nph2.pl HTTP/1.0\r\n\r\n",
		"GET /nphbad.pl HTTP/1.0\r\n\r\n",
		"GET /status.pl HTTP/1.0\r\n\r\n",
		"GET /status2.pl HTTP/1.0\r\n\r\n",
		"GET /badstatus.pl HTTP/1.0\r\n\r\n",
		"GET /loc.pl HTTP/1.0\r\n\r\n",
		"GET /loc200.pl HTTP/1.0\r\n\r\n",
		"GET /js.pl HTTP/1.0\r\n\r\n",
		"GET /spaced.pl HTTP/1.0\r\n\r\n",
		"GET /cl.pl HTTP/1.0\r\n\r\n",
		"GET /chunked.pl HTTP/1.0\r\n\r\n",
		"GET /stderr.pl HTTP/1.0\r\n\r\n",
		"GET /cwd.pl HTTP/1.0\r\n\r\n",
		"GET /die.pl HTTP/1.0\r\n\r\n",
		"GET /diehead.pl HTTP/1.0\r\n\r\n",
		"GET /conn.pl HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /post.py HTTP/1.0\r\nContent-Length: 100000\r\n\r\n" + big,
		"GET /direct.cgi?d=1 HTTP/1.0\r\n\r\n",
		"GET /noexec.cgi HTTP/1.0\r\n\r\n",
		"GET /x.nointerp HTTP/1.0\r\n\r\n",
		"GET /missing.pl HTTP/1.0\r\n\r\n",
		"GET /static.txt HTTP/1.0\r\n\r\n",
		"GET /aliased/alias.pl HTTP/1.0\r\n\r\n",
		"GET /index.pl HTTP/1.1\r\nHost: x\r\nRange: bytes=3-8\r\nConnection: close\r\n\r\n",
		"GET /redir/to.pl HTTP/1.0\r\n\r\n",
		"POST /redir/toq.pl HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
		"GET /redir/self.pl HTTP/1.0\r\n\r\n",
		"GET /redir/status.pl HTTP/1.0\r\n\r\n",
		"GET /redir/extra.pl HTTP/1.0\r\n\r\n",
		"GET /redir/abs.pl HTTP/1.0\r\n\r\n",
		"GET /redir/loop.pl HTTP/1.0\r\n\r\n",
		"GET /redir/missing.pl HTTP/1.0\r\n\r\n",
		"GET /loc.pl HTTP/1.0\r\n\r\n",
		"GET /xs/send.pl?" + files + "/a.txt HTTP/1.0\r\n\r\n",
		"GET /xs/send.pl?" + files + "/../outside/s.txt HTTP/1.0\r\n\r\n",
		"GET /xs/send.pl?" + files + "/nothing.txt HTTP/1.0\r\n\r\n",
		"GET /xs/send.pl?" + files + "/a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-3\r\nConnection: close\r\n\r\n",
		"GET /plain/xs.pl HTTP/1.0\r\n\r\n",
		"GET /xonly/run.cgi HTTP/1.0\r\n\r\n",
		"GET /xonly/noexec.pl HTTP/1.0\r\n\r\n",
		"GET /limits/fast.pl HTTP/1.0\r\n\r\n",
	}
	compareSideBySide(t, g, l, reqs, nil, nil)

	t.Run("streamed bodies", func(t *testing.T) {
		// With server.stream-response-body lighttpd streams (chunked) or
		// not (Content-Length), depending on whether the script's output
		// and its end arrive together: compare status and decoded body.
		for _, req := range []string{
			"POST /stream/post.pl HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello",
			"POST /stream/post.pl HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		} {
			ge, le := g.raw(t, req, false), l.raw(t, req, false)
			if ge.resp == nil || le.resp == nil || ge.resp.StatusCode != le.resp.StatusCode || string(ge.body) != string(le.body) || string(ge.body) != "5\n" {
				t.Fatalf("golighty %q\nlighttpd %q", ge.raw, le.raw)
			}
		}
	})

	t.Run("output ending inside its header block is the body", func(t *testing.T) {
		// lighttpd answers this with the output as body or with 500,
		// depending on whether it sees the script's exit apart from its
		// last output; golighty always sends the body.
		ex := g.raw(t, "GET /incomplete.pl HTTP/1.0\r\n\r\n", false)
		if ex.resp == nil || ex.resp.StatusCode != 200 || string(ex.body) != "Content-Type: text/plain\nX-A: 1\n" {
			t.Fatalf("got %q", ex.raw)
		}
	})
	t.Run("big body streamed", func(t *testing.T) {
		req := "GET /big.pl HTTP/1.0\r\n\r\n"
		ge, le := g.raw(t, req, false), l.raw(t, req, false)
		if ge.resp == nil || le.resp == nil || len(ge.body) != 3000000 || len(le.body) != 3000000 {
			t.Fatalf("bodies: golighty %d bytes, lighttpd %d bytes", len(ge.body), len(le.body))
		}
		if ge.resp.StatusCode != le.resp.StatusCode {
			t.Fatalf("status %d vs %d", ge.resp.StatusCode, le.resp.StatusCode)
		}
	})
}

// TestCGIReadTimeout: cgi.limits read-timeout answers 504 and kills the
// script, on both servers.
func TestCGIReadTimeout(t *testing.T) {
	g, l, _ := cgiPeers(t)
	for _, s := range []*server{g, l} {
		start := time.Now()
		ex := s.raw(t, "GET /limits/slow.pl HTTP/1.0\r\n\r\n", false)
		if ex.resp == nil || ex.resp.StatusCode != 504 {
			t.Fatalf("%s: want 504, got %q", s.name, ex.raw)
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("%s: 504 after %v, want about 1-2 s", s.name, d)
		}
	}
	if !cgiWaitLog(g, "read timeout on CGI:") {
		t.Errorf("no read-timeout line in golighty's log:\n%s", g.log.String())
	}
}

// TestCGIClientGone: a client that resets its connection while the script
// runs gets the script killed (no zombie, no process left behind), and a
// script that ignores its stdin cannot block the server.
func TestCGIClientGone(t *testing.T) {
	perl := requirePeer(t, "perl")
	root := t.TempDir()
	cgiTree(t, root)
	marker := filepath.Join(root, "ran-to-end")
	writeTree(t, root, map[string]string{
		"www/sleep.pl": "$| = 1; sleep 3; open(my $f, '>', '" + marker + "'); print \"Content-Type: text/plain\\n\\nlate\\n\";",
	})
	conf := cgiConfFor(root, perl, "/usr/bin/python3")
	g := startServer(t, "golighty", golightyBin, root, conf)
	before := cgiChildren(t, g.cmd.Process.Pid)
	c, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /sleep.pl HTTP/1.0\r\n\r\n")
	time.Sleep(300 * time.Millisecond)
	if n := len(cgiChildren(t, g.cmd.Process.Pid)); n != len(before)+1 {
		t.Fatalf("want the script running (%d children before, %d now)", len(before), n)
	}
	c.(*net.TCPConn).SetLinger(0) // RST
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && len(cgiChildren(t, g.cmd.Process.Pid)) > len(before) {
		time.Sleep(50 * time.Millisecond)
	}
	if kids := cgiChildren(t, g.cmd.Process.Pid); len(kids) > len(before) {
		t.Fatalf("script still there after the client reset: %v", kids)
	}
	time.Sleep(3 * time.Second)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the script ran to its end after its client was gone")
	}
}

// cgiChildren lists the child processes of pid (zombies included: a zombie
// is a leak too).
func cgiChildren(t *testing.T, pid int) []string {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		st, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(st)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 2 && f[1] == strconv.Itoa(pid) {
			out = append(out, e.Name()+":"+f[0])
		}
	}
	return out
}

// cgiOpenFDs counts the server's open descriptors.
func cgiOpenFDs(t *testing.T, pid int) int {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		// Epoll sets are not counted: core/rawpoll keeps a bounded pool
		// of them for waiting backend connections.
		if l, _ := os.Readlink(dir + "/" + e.Name()); l != "anon_inode:[eventpoll]" {
			n++
		}
	}
	return n
}

// TestCGIHostileScripts: scripts that inject header lines, send oversized
// heads, never end their body, trickle, or die are answered without a
// crash, each with a log line, and leave no process or descriptor behind.
func TestCGIHostileScripts(t *testing.T) {
	perl := requirePeer(t, "perl")
	root := t.TempDir()
	cgiTree(t, root)
	writeTree(t, root, map[string]string{
		"www/h/inject.pl":     "print \"Content-Type: text/plain\\nX-Evil: a\\rSet-Cookie: x=1\\n\\nbody\\n\";",
		"www/h/nul.pl":        "print \"X-Evil: a\\0b\\nContent-Type: text/plain\\n\\nbody\\n\";",
		"www/h/huge.pl":       "print \"X-Big: \", \"a\" x 70000, \"\\n\\nbody\\n\";",
		"www/h/many.pl":       "for (1..20000) { print \"X-$_: v\\n\"; } print \"\\nbody\\n\";",
		"www/h/endless.pl":    "$| = 1; print \"Content-Type: text/plain\\n\\n\"; while (1) { print \"x\" x 65536; }",
		"www/h/trickle.pl":    "$| = 1; for (1..20) { print \"X\"; select(undef,undef,undef,0.05); } print \"-A: 1\\n\\nslow\\n\";",
		"www/h/fork.pl":       "if (fork() == 0) { close STDOUT; sleep 30; exit 0; } print \"Content-Type: text/plain\\n\\nparent\\n\";",
		"www/h/exitnohead.pl": "exit 3;",
	})
	// An endless body can only be streamed: buffered (stream-response-body
	// 0, as in lighttpd) it would fill server.upload-dirs.
	conf := cgiConfFor(root, perl, "/usr/bin/python3") + "$HTTP[\"url\"] == \"/h/endless.pl\" { server.stream-response-body = 2 }\n"
	g := startServer(t, "golighty", golightyBin, root, conf)
	pid := g.cmd.Process.Pid
	fdsBefore := cgiOpenFDs(t, pid)
	for _, tc := range []struct {
		name, path string
		status     int
		log        string
	}{
		{"CR in a value", "/h/inject.pl", 502, "control character"},
		{"NUL in a value", "/h/nul.pl", 502, "control character"},
		{"oversized header", "/h/huge.pl", 502, "too large"},
		{"too many header lines", "/h/many.pl", 502, "too large"},
		{"slow trickle", "/h/trickle.pl", 200, ""},
		{"no output, exit code 3", "/h/exitnohead.pl", 500, ""},
		{"grandchild keeps nothing open", "/h/fork.pl", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex := g.raw(t, "GET "+tc.path+" HTTP/1.0\r\n\r\n", false)
			if ex.resp == nil || ex.resp.StatusCode != tc.status {
				t.Fatalf("want %d, got %q", tc.status, cut(ex.raw))
			}
			if tc.log != "" && !cgiWaitLog(g, tc.log) {
				t.Errorf("no %q in the log:\n%s", tc.log, g.log.String())
			}
		})
	}
	t.Run("endless body, client stops reading", func(t *testing.T) {
		c, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET /h/endless.pl HTTP/1.0\r\n\r\n")
		br := bufio.NewReader(c)
		if _, err := io.ReadFull(br, make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
		c.Close()
	})
	// Everything spawned is gone again (the forked grandchild belongs to
	// init once its parent exited, it is not the server's child).
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && (len(cgiChildren(t, pid)) > 0 || cgiOpenFDs(t, pid) > fdsBefore) {
		time.Sleep(100 * time.Millisecond)
	}
	if kids := cgiChildren(t, pid); len(kids) > 0 {
		t.Errorf("children left: %v", kids)
	}
	if n := cgiOpenFDs(t, pid); n > fdsBefore {
		t.Errorf("descriptors: %d before, %d after", fdsBefore, n)
	}
	if err := g.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("server died: %v", err)
	}
}

// cgiWaitLog waits up to 3 s for s's log to contain sub (log lines may be
// written after the response).
func cgiWaitLog(s *server, sub string) bool {
	for i := 0; i < 60; i++ {
		if strings.Contains(s.log.String(), sub) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func cut(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}
