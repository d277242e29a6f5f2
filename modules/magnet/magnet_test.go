package magnet

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golighty/golighty/core/bufpoison"
	"github.com/golighty/golighty/core/coretest"
	_ "github.com/golighty/golighty/modules/staticfile"
)

const testConf = `
server.document-root = "@DIR@/www"
server.modules = ("mod_magnet")
mimetype.assign = (".txt" => "text/plain")
magnet.attract-physical-path-to = ("@DIR@/s.lua")
`

func newHarness(t *testing.T, script string) *coretest.Harness {
	t.Helper()
	h := coretest.New(t, testConf)
	h.WriteFile("s.lua", script)
	h.WriteFile("www/a.txt", "a\n")
	return h
}

// TestRunawayScripts: a script that would run or grow without end is
// stopped and the request answered 500 (lighttpd would hang its worker);
// the next request is served normally by a fresh state.
func TestRunawayScripts(t *testing.T) {
	saved := maxInstructions
	maxInstructions = 200_000 // quicker under the race detector
	t.Cleanup(func() { maxInstructions = saved })
	for _, tt := range []struct{ name, script string }{
		{"endless loop", `while true do end`},
		{"endless recursion", `local function f(n) return 1 + f(n+1) end return f(1)`},
		{"huge string.rep", `local s = string.rep("x", 1e12) return 200`},
		{"growing table", `local t = {} local i = 0 while true do i = i + 1 t[i] = i end`},
		{"error in a callback", `lighty.r.req_attr["nope.key"] = "x"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, "if lighty.r.req_attr[\"uri.query\"] == \"run\" then\n"+tt.script+"\nend\nreturn 0\n")
			start := time.Now()
			if raw := slowGet(t, h, "/a.txt?run"); !strings.HasPrefix(raw, "HTTP/1.0 500 ") {
				t.Fatalf("answer %q, want 500", raw)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Fatalf("took %v to stop", d)
			}
			if resp, body := doSlow(t, h, "GET /a.txt HTTP/1.0\r\n\r\n"); resp.StatusCode != 200 || body != "a\n" {
				t.Fatalf("after the runaway: %d %q", resp.StatusCode, body)
			}
		})
	}
}

// doSlow is coretest's Do without its 300 ms patience.
func doSlow(t *testing.T, h *coretest.Harness, req string) (*http.Response, string) {
	t.Helper()
	raw := slowRaw(h, req)
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("reading response to %q: %v\nraw: %q", req, err, raw)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// slowGet is a GET that waits as long as the server takes.
func slowGet(t *testing.T, h *coretest.Harness, path string) string {
	return slowRaw(h, "GET "+path+" HTTP/1.0\r\n\r\n")
}

// slowRaw sends an HTTP/1.0 request and reads until the server closes.
func slowRaw(h *coretest.Harness, req string) string {
	client, server := net.Pipe()
	go h.Server.ServeConn(server, ":80")
	go io.WriteString(client, req)
	client.SetReadDeadline(time.Now().Add(30 * time.Second))
	b, _ := io.ReadAll(client)
	client.Close()
	return string(b)
}

// TestScriptReload: a changed script is compiled again (lighttpd checks
// size and mtime through its stat cache), and a script deleted meanwhile
// answers 500 until it is back.
func TestScriptReload(t *testing.T) {
	h := newHarness(t, `lighty.r.resp_body.set("one") return 200`)
	if _, body := doSlow(t, h, "GET /a.txt HTTP/1.0\r\n\r\n"); body != "one" {
		t.Fatalf("first version: %q", body)
	}
	h.WriteFile("s.lua", `lighty.r.resp_body.set("two, longer") return 200`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := doSlow(t, h, "GET /a.txt HTTP/1.0\r\n\r\n")
		if body == "two, longer" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("changed script not picked up: %q", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	os.Remove(filepath.Join(h.Dir, "s.lua"))
	time.Sleep(1100 * time.Millisecond)
	if resp, _ := doSlow(t, h, "GET /a.txt HTTP/1.0\r\n\r\n"); resp.StatusCode != 500 {
		t.Fatalf("deleted script: %d, want 500", resp.StatusCode)
	}
}

// TestStatesKeepNoRequestStrings stores request strings in a script's
// global table, which outlives the request in the pooled state; with
// reused buffers poisoned the next request must still read them intact.
func TestStatesKeepNoRequestStrings(t *testing.T) {
	bufpoison.Enable()
	h := newHarness(t, `
local r = lighty.r
local prev = _G.prev or "none"
_G.prev = r.req_attr["uri.path"] .. "|" .. r.req_header["X-Token"] .. "|" .. r.req_attr["request.uri"]
r.resp_body.set(prev)
return 200
`)
	var last string
	for i := 0; i < 20; i++ {
		p := "/p" + strings.Repeat("x", i)
		resp, body := doSlow(t, h, "GET "+p+"?q="+p+" HTTP/1.0\r\nX-Token: t"+p+"\r\n\r\n")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if i > 0 && body != last {
			t.Fatalf("request %d read %q, stored %q", i, body, last)
		}
		last = p + "|t" + p + "|" + p + "?q=" + p
	}
}

// TestConcurrentRequests runs one script from many goroutines at once:
// each request sees its own request through its own state.
func TestConcurrentRequests(t *testing.T) {
	h := newHarness(t, `
local r = lighty.r
local n = 0
for i = 1, 2000 do n = n + i end
r.resp_body.set(r.req_header["X-N"] .. ":" .. n)
return 200
`)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 8; i++ {
				n := string(rune('a'+g)) + strings.Repeat("z", i)
				raw := slowRaw(h, "GET /a.txt HTTP/1.0\r\nX-N: "+n+"\r\n\r\n")
				if !strings.HasSuffix(raw, "\r\n\r\n"+n+":2001000") {
					errs <- raw
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("wrong answer: %q", e)
	}
}

// TestRestartLimit: a script that restarts every time ends in a dropped
// connection after lighttpd's 10 restarts.
func TestRestartLimit(t *testing.T) {
	h := coretest.New(t, `
server.document-root = "@DIR@/www"
server.modules = ("mod_magnet")
magnet.attract-raw-url-to = ("@DIR@/s.lua")
`)
	h.WriteFile("s.lua", `
local n = tonumber(lighty.r.req_env["_L_MAGNET_RESTART"] or "0")
if lighty.r.req_attr["uri.path"] == "/nine" and n >= 9 then
	lighty.r.resp_body.set("restarted " .. n)
	return 200
end
return lighty.RESTART_REQUEST
`)
	if raw := slowRaw(h, "GET /ten HTTP/1.0\r\n\r\n"); len(raw) != 0 {
		t.Fatalf("endless restarts answered %q, want a dropped connection", raw)
	}
	if _, body := doSlow(t, h, "GET /nine HTTP/1.0\r\n\r\n"); body != "restarted 9" {
		t.Fatalf("nine restarts: %q", body)
	}
}
