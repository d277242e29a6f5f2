package testconf

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// magnetConf runs the same Lua scripts in golighty and in Debian's
// lighttpd with mod_magnet (lighttpd-modules-lua).
const magnetConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.errorlog = "@ROOT@/@NAME@-error.log"
server.modules = ("mod_magnet", "mod_access", "mod_setenv")
index-file.names = ("index.html")
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html")
setenv.add-response-header = ("X-Setenv" => "1")
magnet.attract-raw-url-to = ("@ROOT@/lua/rewrite.lua")
magnet.attract-physical-path-to = ("@ROOT@/lua/access.lua", "@ROOT@/lua/generate.lua")
magnet.attract-response-start-to = ("@ROOT@/lua/respstart.lua")
$HTTP["url"] =^ "/restart/" {
	magnet.attract-raw-url-to = ("@ROOT@/lua/loop.lua")
}
$HTTP["url"] =^ "/broken/" {
	magnet.attract-physical-path-to = ("@ROOT@/lua/syntax.lua")
}
$HTTP["url"] =^ "/missing-script/" {
	magnet.attract-physical-path-to = ("@ROOT@/lua/nope.lua")
}
$HTTP["url"] =^ "/rewritten/" {
	setenv.add-response-header = ("X-Rewritten-Block" => "1")
}
$REQUEST_HEADER["X-Added"] == "yes" {
	url.access-deny = ("")
}
$HTTP["url"] =^ "/c/" {
	magnet.attract-physical-path-to = ("@ROOT@/lua/helpers.lua")
}
$HTTP["url"] =^ "/dl/" {
	magnet.attract-physical-path-to = ("@ROOT@/lua/secdownload.lua")
}
$HTTP["url"] =^ "/track/" {
	magnet.attract-raw-url-to = ("@ROOT@/lua/usertrack.lua")
}
$HTTP["url"] =^ "/evasive/" {
	magnet.attract-raw-url-to = ("@ROOT@/lua/evasive.lua")
}
`

var magnetScripts = map[string]string{
	// URL rewriting and restarts (raw-url stage).
	"lua/rewrite.lua": `
local r = lighty.r
local path = r.req_attr["uri.path"]
if path:match("^/old/") then
	r.req_attr["request.uri"] = "/rewritten/" .. path:sub(6)
	return lighty.RESTART_REQUEST
end
if path == "/pathraw/x" then
	r.req_attr["uri.path-raw"] = "/rewritten/b.txt"
	return lighty.RESTART_REQUEST
end
if path == "/legacy-env" then
	lighty.env["request.uri"] = "/rewritten/a.txt?from=legacy"
	return lighty.RESTART_REQUEST
end
if path == "/lost-path" then
	-- uri.path alone is lost on a restart: request.uri is parsed again.
	r.req_attr["uri.path"] = "/rewritten/a.txt"
	return lighty.RESTART_REQUEST
end
if path == "/add-header/" then
	r.req_header["X-Added"] = "yes"
end
if path == "/query" then
	local q = r.req_attr["uri.query"]
	r.resp_header["X-Query"] = (q == nil) and "nil" or ("[" .. q .. "]")
	r.resp_body.set({"query\n"})
	return 200
end
return 0
`,
	"lua/loop.lua": `return lighty.RESTART_REQUEST`,
	// Access decisions (physical stage).
	"lua/access.lua": `
local r = lighty.r
local path = r.req_attr["physical.path"]
if path and (path:match("~$") or path:match("%.inc$")) then
	return 403
end
if r.req_header["X-Block"] then
	r.resp_header["X-Lost"] = "dropped with the error page"
	return 403
end
if r.req_attr["uri.path"] == "/forbidden-with-body" then
	r.resp_header["Content-Type"] = "text/plain"
	r.resp_body.set("no, thanks\n")
	return 403
end
if r.req_attr["uri.path"] == "/swap" then
	r.req_attr["physical.path"] = r.req_attr["physical.doc-root"] .. "/b.txt"
end
if r.req_attr["uri.path"] == "/error" then
	error("deliberate failure")
end
return 0
`,
	// Generated responses (physical stage, after access.lua).
	"lua/generate.lua": `
local r = lighty.r
local path = r.req_attr["uri.path"]
if path == "/gen/hello" then
	r.resp_header["Content-Type"] = "text/plain"
	r.resp_header["X-Gen"] = "1"
	r.resp_body.set({"hello ", r.req_attr["request.method"], " ", path, "\n"})
	r.resp_body.add("more\n")
	return 200
elseif path == "/gen/file" then
	r.resp_header["Content-Type"] = "text/html"
	r.resp_body.set({"<pre>", { filename = r.req_attr["physical.doc-root"] .. "/a.txt", offset = 2, length = 5 }, "</pre>\n"})
	return 200
elseif path == "/gen/legacy" then
	lighty.header["Content-Type"] = "text/html"
	lighty.content = { "<pre>", { filename = lighty.env["physical.doc-root"] .. "/a.txt", offset = 1, length = 4 }, "</pre>\n" }
	return 200
elseif path == "/gen/redirect" then
	lighty.header["Location"] = "https://" .. lighty.env["uri.authority"] .. lighty.env["request.uri"]
	return 302
elseif path == "/gen/notfound" then
	r.resp_header["X-Lost"] = "1"
	return 404
elseif path == "/gen/empty" then
	return 204
elseif path == "/gen/stat" then
	local st = lighty.c.stat(r.req_attr["physical.doc-root"] .. "/a.txt")
	local missing = lighty.c.stat(r.req_attr["physical.doc-root"] .. "/none")
	r.resp_body.set({"size=", tostring(st.st_size), " file=", tostring(st.is_file), " dir=", tostring(st.is_dir),
		" type=", st["content-type"], " missing=", tostring(missing), "\n"})
	return 200
elseif path == "/gen/sendfile" then
	local st = lighty.c.stat(r.req_attr["physical.doc-root"] .. "/b.txt")
	return st["http-response-send-file"]
elseif path == "/gen/item" then
	r.resp_body.set({"status=", tostring(r.req_item.http_status), " ka=", tostring(r.req_item.keep_alive),
		" count=", tostring(r.req_item.req_count), "\n"})
	return 200
elseif path == "/gen/env" then
	r.req_env["MY_VAR"] = "v1"
	local out = {}
	for _, k in ipairs({"uri.path", "uri.path-raw", "uri.scheme", "uri.authority", "uri.query",
		"request.method", "request.uri", "request.orig-uri", "request.protocol",
		"request.remote-addr", "physical.rel-path", "nope"}) do
		out[#out+1] = k .. "=" .. tostring(r.req_attr[k]) .. "\n"
	end
	out[#out+1] = "MY_VAR=" .. tostring(r.req_env["MY_VAR"]) .. "\n"
	out[#out+1] = "ua=" .. tostring(r.req_header["User-Agent"]) .. " cookie=" .. tostring(lighty.request["Cookie"]) .. "\n"
	r.resp_body.set(out)
	return 200
elseif path == "/gen/readonly" then
	lighty.r.resp_body = 1
	return 200
elseif path == "/gen/body" then
	if not r.req_body.collect() then
		return 0
	end
	r.resp_body.set({"len=", tostring(r.req_body.len), " body=", r.req_body.get(), "\n"})
	return 200
elseif path == "/gen/range" then
	r.resp_header["Content-Type"] = "text/plain"
	r.resp_body.set("0123456789abcdef")
	return 200
end
return 0
`,
	// Header edits at response start.
	"lua/respstart.lua": `
local r = lighty.r
r.resp_header["X-Magnet"] = "yes"
if r.req_attr["uri.path"] == "/nosetenv" then
	r.resp_header["X-Setenv"] = nil
end
if r.req_attr["uri.path"] == "/append" then
	r.resp_body.add("appended\n")
end
return 0
`,
	"lua/syntax.lua": `if then end`,
	// lighty.c helpers; table contents are printed sorted.
	"lua/helpers.lua": `
local c = lighty.c
local r = lighty.r
local function sorted(t)
	local keys = {}
	for k in pairs(t) do keys[#keys+1] = k end
	table.sort(keys)
	local out = {}
	for _, k in ipairs(keys) do out[#out+1] = k .. "=" .. t[k] end
	return table.concat(out, ",")
end
local out = {
	"md5=" .. c.md("md5", "abc"),
	"sha1=" .. c.md("sha1", "abc"),
	"sha256=" .. c.md("sha256", "abc"),
	"sha512=" .. c.md("sha512", "abc"),
	"nomd=" .. tostring(c.md("md4", "abc")),
	"hmac=" .. c.hmac("sha256", "secret", "data"),
	"hmacmd5=" .. c.hmac("md5", "k", ""),
	"deq=" .. tostring(c.digest_eq("ABCDEF", "abcdef")) .. tostring(c.digest_eq("ab", "abc")) .. tostring(c.digest_eq("zz", "zz")),
	"seq=" .. tostring(c.secret_eq("a", "a")) .. tostring(c.secret_eq("a", "ab")),
	"b64=" .. c.b64enc("hello?>") .. " " .. c.b64urlenc("hello?>") .. " " .. c.b64dec("aGVsbG8/Pg") .. " " .. c.b64urldec("aGVsbG8_Pg") .. " " .. tostring(c.b64dec("a")),
	"b64skip=" .. c.b64dec("aGVs\nbG8=") .. " " .. c.b64dec("aGVs!bG8") .. " " .. c.b64dec(""),
	"hex=" .. c.hexenc("\1\255Az") .. " " .. c.hexdec("41427a") .. " " .. tostring((c.hexdec("4"))) .. " " .. tostring((c.hexdec("zz"))),
	"xml=" .. c.xmlenc("<a href=\"x\">&'" .. string.char(96, 9, 127) .. "</a>"),
	"urldec=" .. c.urldec("/a%20b%2fc%00d+e%zz%"),
	"urlenc=" .. c.urlenc("/a b?c=d&e#f~!()*é"),
	"query=" .. sorted(c.urldec_query("a=1&b=x+y%21&c&&d=&a=2&e=%0a")),
	"qenc=" .. c.urlenc_query({["k y"] = "v=1 &2"}),
	"norm=" .. c.urlenc_normalize("/a/./b/../%7euser/%2f%41?x=a%20b&y=%2F"),
	"simplify=" .. c.fspath_simplify("/a//b/./c/../../d/"),
	"cookies=" .. sorted(c.cookie_tokens("a=1; b = \"two words\" ; c; d=; e=x=y")),
	"tokens=" .. table.concat(c.header_tokens("text/html; q=0.9, \"quoted, str\" ,x"), "|"),
	"qdec=" .. tostring(c.quoteddec("\"a\\\"b\"")) .. " " .. tostring(c.quoteddec("plain")) .. " " .. tostring((c.quoteddec("\"open"))),
	"qenc=" .. c.quotedenc("a\"b\\c"),
	"bsdec=" .. c.bsdec("\"a\\tb\\x41\\u00e9\\101\\q\""),
	"bsenc=" .. c.bsenc("a\"b\tc\1é") .. " " .. c.bsenc_json("a\"b\tc\1é"),
	"time=" .. tostring(c.time() > 1700000000),
}
r.resp_header["Content-Type"] = "text/plain"
r.resp_body.set(table.concat(out, "\n") .. "\n")
return 200
`,
	// A mod_secdownload-style check: /dl/<hex sha256 hmac>/<hex time>/<path>.
	"lua/secdownload.lua": `
local r = lighty.r
local secret = "verysecret"
local uri = r.req_attr["uri.path"]
local token, ts, rel = uri:match("^/dl/(%x+)/(%x+)(/.*)$")
if not token then
	return 403
end
local want = lighty.c.hmac("sha256", secret, rel .. ts)
if not lighty.c.digest_eq(want, token) then
	return 403
end
local t = tonumber(ts, 16)
local now = lighty.c.time()
if t > now + 60 or t < now - 60 then
	return 410
end
r.req_attr["physical.path"] = r.req_attr["physical.doc-root"] .. "/files" .. rel
return 0
`,
	// A mod_usertrack replacement: a tracking cookie for clients without one.
	"lua/usertrack.lua": `
local r = lighty.r
local name = "TRACKID"
local cookies = lighty.c.cookie_tokens(r.req_header["Cookie"])
if cookies[name] == nil then
	local id = lighty.c.md("md5", r.req_attr["request.remote-addr"] .. r.req_attr["uri.path"])
	r.resp_header["Set-Cookie"] = name .. "=" .. id .. "; Path=/; Max-Age=3600; HttpOnly"
end
return 0
`,
	// A mod_evasive replacement: refuse a client holding too many
	// connections.
	"lua/evasive.lua": `
local limit = 3
local r = lighty.r
local addr = r.req_attr["request.remote-addr"]
local n = 0
for ir in lighty.server.irequests() do
	if ir.req_attr["request.remote-addr"] == addr then
		n = n + 1
	end
end
if n > limit then
	r.req_item["keep_alive"] = 0
	return 403
end
r.resp_header["X-Conns"] = tostring(n)
return 0
`,
}

var magnetFiles = map[string]string{
	"www/a.txt":                 "0123456789\n",
	"www/b.txt":                 "bee\n",
	"www/x.inc":                 "inc",
	"www/rewritten/a.txt":       "rewritten a\n",
	"www/rewritten/b.txt":       "rewritten b\n",
	"www/add-header/index.html": "<p>x</p>\n",
	"www/files/doc.txt":         "secret document\n",
	"www/track/t.txt":           "t\n",
	"www/evasive/e.txt":         "e\n",
	"www/swap":                  "never served\n",
}

func magnetStart(t *testing.T) (g, l *server, root string) {
	t.Helper()
	lighttpd := requirePeer(t, "lighttpd")
	if _, err := os.Stat("/usr/lib/lighttpd/mod_magnet.so"); err != nil {
		if os.Getenv("GOLIGHTY_REQUIRE_PEERS") == "1" {
			t.Fatal("lighttpd-modules-lua is required (GOLIGHTY_REQUIRE_PEERS=1) but not installed")
		}
		t.Skip("lighttpd-modules-lua not installed")
	}
	root = t.TempDir()
	writeTree(t, root, magnetFiles)
	writeTree(t, root, magnetScripts)
	conf := strings.ReplaceAll(magnetConf, "@ROOT@", root)
	g = startServer(t, "golighty", golightyBin, root, strings.ReplaceAll(conf, "@NAME@", "golighty"))
	l = startServer(t, "lighttpd", lighttpd, root, strings.ReplaceAll(conf, "@NAME@", "lighttpd"))
	return g, l, root
}

func TestMagnetSideBySide(t *testing.T) {
	g, l, _ := magnetStart(t)
	get := func(path string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: magnet.test\r\nUser-Agent: t\r\nConnection: close\r\n\r\n"
	}
	compareSideBySide(t, g, l, []string{
		get("/a.txt"),
		get("/old/a.txt"),
		get("/old/b.txt?keep=1"),
		get("/pathraw/x?q=1"),
		get("/legacy-env"),
		get("/lost-path"),
		get("/add-header/"),
		get("/query"),
		get("/query?"),
		get("/query?a=b"),
		get("/x.inc"),
		"GET /a.txt HTTP/1.1\r\nHost: magnet.test\r\nX-Block: 1\r\nConnection: close\r\n\r\n",
		get("/forbidden-with-body"),
		get("/swap"),
		get("/error"),
		get("/gen/hello"),
		"HEAD /gen/hello HTTP/1.1\r\nHost: magnet.test\r\nConnection: close\r\n\r\n",
		"POST /gen/hello HTTP/1.1\r\nHost: magnet.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		get("/gen/file"),
		get("/gen/legacy"),
		get("/gen/redirect?x=1"),
		get("/gen/notfound"),
		get("/gen/empty"),
		get("/gen/stat"),
		get("/gen/sendfile"),
		get("/gen/item"),
		"GET /gen/env?x=%41 HTTP/1.1\r\nHost: magnet.test\r\nUser-Agent: ua/1\r\nCookie: a=1\r\nCookie: b=2\r\nConnection: close\r\n\r\n",
		"GET /gen/range HTTP/1.1\r\nHost: magnet.test\r\nRange: bytes=2-5\r\nConnection: close\r\n\r\n",
		get("/gen/readonly"),
		"POST /gen/body HTTP/1.1\r\nHost: magnet.test\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello=world",
		"POST /gen/body HTTP/1.1\r\nHost: magnet.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n3\r\n!!!\r\n0\r\n\r\n",
		get("/nosetenv"),
		get("/append"),
		get("/restart/x"),
		get("/broken/x"),
		get("/missing-script/x"),
		get("/c/helpers"),
		get("/track/t.txt"),
		"GET /track/t.txt HTTP/1.1\r\nHost: magnet.test\r\nCookie: TRACKID=abc\r\nConnection: close\r\n\r\n",
		get("/dl/00/00/doc.txt"),
		get("/dl/nothex/doc.txt"),
	}, nil, nil)
}

// TestMagnetSecdownload signs a link the way the mod_secdownload-style
// script checks it, with the current time: both servers serve the file;
// an expired or forged link is refused.
func TestMagnetSecdownload(t *testing.T) {
	g, l, _ := magnetStart(t)
	link := func(rel string, ts int64) string {
		return magnetSecLink("verysecret", rel, ts)
	}
	now := magnetNow()
	reqs := []string{}
	for _, p := range []string{
		link("/doc.txt", now),
		link("/doc.txt", now-3600),
		link("/other.txt", now),
		strings.Replace(link("/doc.txt", now), "/dl/", "/dl/0", 1),
	} {
		reqs = append(reqs, "GET "+p+" HTTP/1.1\r\nHost: magnet.test\r\nConnection: close\r\n\r\n")
	}
	compareSideBySide(t, g, l, reqs, nil, nil)
}

// TestMagnetEvasive holds connections open from this client and checks
// that the irequests-based script refuses the request that goes over the
// limit, on both servers.
func TestMagnetEvasive(t *testing.T) {
	g, l, _ := magnetStart(t)
	for _, s := range []*server{g, l} {
		t.Run(s.name, func(t *testing.T) {
			conns := magnetHold(t, s, 2)
			ex := s.raw(t, "GET /evasive/e.txt HTTP/1.1\r\nHost: magnet.test\r\nConnection: close\r\n\r\n", false)
			if ex.resp == nil || ex.resp.StatusCode != 200 || ex.resp.Header.Get("X-Conns") != "3" {
				t.Fatalf("with 3 connections: %q", ex.raw)
			}
			conns = append(conns, magnetHold(t, s, 1)...)
			ex = s.raw(t, "GET /evasive/e.txt HTTP/1.1\r\nHost: magnet.test\r\nConnection: close\r\n\r\n", false)
			if ex.resp == nil || ex.resp.StatusCode != 403 {
				t.Fatalf("with 4 connections: %q", ex.raw)
			}
			for _, c := range conns {
				c.Close()
			}
		})
	}
}

// magnetSecLink signs rel at time ts as secdownload.lua checks it.
func magnetSecLink(secret, rel string, ts int64) string {
	tsHex := fmt.Sprintf("%x", ts)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(rel + tsHex))
	return "/dl/" + hex.EncodeToString(m.Sum(nil)) + "/" + tsHex + rel
}

func magnetNow() int64 { return time.Now().Unix() }

// magnetHold opens n keep-alive connections to s, each past one request,
// so the server counts them.
func magnetHold(t *testing.T, s *server, n int) []net.Conn {
	t.Helper()
	var out []net.Conn
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET /a.txt HTTP/1.1\r\nHost: magnet.test\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		out = append(out, c)
	}
	return out
}
