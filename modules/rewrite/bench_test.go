package rewrite_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/coretest"
	"github.com/golighty/golighty/lighttpdconf"
)

// benchRules are 20 rewrite and 20 redirect rules of the usual shape
// (anchored prefixes, captures, ${qsa}); only /r19/ matches a rewrite.
func benchRules() string {
	var b strings.Builder
	b.WriteString("url.rewrite-once = (\n")
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&b, "\t\"^/r%d/([^?]*)(?:\\?(.*))?$\" => \"/1k.txt?page=$1&${qsa}\",\n", i)
	}
	b.WriteString(")\nurl.redirect = (\n")
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&b, "\t\"^/old%d/(.*)\" => \"http://example.org/new/$1\",\n", i)
	}
	b.WriteString(")\n")
	return b.String()
}

// pipeline is a server on loopback with one keep-alive client connection.
type pipeline struct {
	srv  *core.Server
	conn net.Conn
	br   *bufio.Reader
	req  []byte
	resp []byte // one response; every later one has the same size
}

func startPipeline(tb testing.TB, modules, rules, target string) *pipeline {
	tb.Helper()
	dir := tb.TempDir()
	os.WriteFile(filepath.Join(dir, "1k.txt"), []byte(strings.Repeat("x", 1024)), 0o644)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	src := fmt.Sprintf("server.document-root = %q\nserver.bind = \"127.0.0.1\"\nserver.port = %d\n"+
		"server.max-keep-alive-requests = 65535\nmimetype.assign = (\".txt\" => \"text/plain\")\n"+
		"server.modules = (%s)\n%s", dir, port, modules, rules)
	conf, err := lighttpdconf.ParseBytes(filepath.Join(dir, "b.conf"), []byte(src), &lighttpdconf.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	snap, err := core.Compile(conf, core.CompileOptions{}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	p := &pipeline{srv: core.NewServer(snap, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	if err := p.srv.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.srv.Close() })
	if p.conn, err = net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.conn.Close() })
	p.br = bufio.NewReaderSize(p.conn, 64<<10)
	p.req = []byte("GET " + target + " HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n")
	p.conn.Write(p.req)
	n, status := readOne(tb, p.br)
	if status != "200" {
		tb.Fatalf("%s answered %s", target, status)
	}
	p.resp = make([]byte, n)
	return p
}

// readOne reads one response and returns its size and status code.
func readOne(tb testing.TB, br *bufio.Reader) (int, string) {
	n, cl, status := 0, 0, ""
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			tb.Fatal(err)
		}
		if status == "" && len(line) > 12 {
			status = line[9:12]
		}
		n += len(line)
		if strings.HasPrefix(line, "Content-Length: ") {
			cl, _ = strconv.Atoi(strings.TrimSpace(line[len("Content-Length: "):]))
		}
		if line == "\r\n" {
			break
		}
	}
	if _, err := br.Discard(cl); err != nil {
		tb.Fatal(err)
	}
	return n + cl, status
}

// do runs one request; the client side allocates nothing.
func (p *pipeline) do(tb testing.TB) {
	if _, err := p.conn.Write(p.req); err != nil {
		tb.Fatal(err)
	}
	if _, err := io.ReadFull(p.br, p.resp); err != nil {
		tb.Fatal(err)
	}
	if p.resp[9] != '2' {
		tb.Fatalf("response %q", p.resp[:20])
	}
}

// BenchmarkPipeline is a keep-alive GET of a 1 KiB file over loopback:
// without the modules, with them loaded and 40 rules that do not match,
// and rewritten by the last of 20 rules (a second pass through the
// pipeline).
func BenchmarkPipeline(b *testing.B) {
	for _, tc := range []struct{ name, modules, rules, target string }{
		{"no-modules", "", "", "/1k.txt"},
		{"loaded-no-match", `"mod_rewrite", "mod_redirect"`, benchRules(), "/1k.txt"},
		{"rewrite-last-of-20", `"mod_rewrite", "mod_redirect"`, benchRules(), "/r19/some/page?x=1"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p := startPipeline(b, tc.modules, tc.rules, tc.target)
			b.SetBytes(1024)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%60000 == 59999 {
					b.StopTimer() // stay below max-keep-alive-requests
					p = startPipeline(b, tc.modules, tc.rules, tc.target)
					b.StartTimer()
				}
				p.do(b)
			}
		})
	}
}

// TestNoMatchAllocs: with both modules loaded and rules that do not match,
// a request allocates nothing (client and server together).
func TestNoMatchAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	p := startPipeline(t, `"mod_rewrite", "mod_redirect"`, benchRules(), "/1k.txt")
	for i := 0; i < 100; i++ { // warm pools and caches
		p.do(t)
	}
	if n := testing.AllocsPerRun(500, func() { p.do(t) }); n != 0 {
		t.Fatalf("%v allocations per request", n)
	}
}

// BenchmarkHooks is the modules' own work on one pass without the network:
// mod_rewrite's uri_raw and physical hooks and mod_redirect's uri_clean
// hook, for a request none of the 40 rules matches.
func BenchmarkHooks(b *testing.B) {
	h := coretest.New(b, "server.document-root = \"@DIR@\"\nserver.modules = (\"mod_rewrite\", \"mod_redirect\")\n"+benchRules())
	rw, _ := h.Snap.Module("mod_rewrite")
	rd, _ := h.Snap.Module("mod_redirect")
	raw, phys, clean := rw.(core.URIRawHook), rw.(core.PhysicalHook), rd.(core.URICleanHook)
	rc := &core.Request{Snap: h.Snap, Method: "GET", Target: "/static/style.css?v=3"}
	rc.URI = core.URI{Scheme: "http", Authority: "bench", Target: rc.Target, PathRaw: "/static/style.css", Path: "/static/style.css", Query: "v=3"}
	b.ReportAllocs()
	for b.Loop() {
		if raw.URIRaw(rc) != core.GoOn || clean.URIClean(rc) != core.GoOn || phys.Physical(rc) != core.GoOn {
			b.Fatal("a rule matched")
		}
	}
}
