package testconf

import (
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// scgiResponder is an SCGI or uwsgi responder in Python (independent of
// golighty's encoder): it decodes the request, then answers by the query
// string, echoing the variables in the order received (ports masked, they
// differ between the two servers) and the body.
const scgiResponder = `import socket, sys
mode, port = sys.argv[1], int(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(64)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    f = c.makefile("rb")
    try:
        if mode == "scgi":
            n = b""
            while True:
                ch = f.read(1)
                if ch == b":" or not ch:
                    break
                n += ch
            block = f.read(int(n))
            comma = f.read(1)
            items = block.split(b"\0")[:-1]
            pairs = list(zip(items[0::2], items[1::2]))
            # (the length itself differs by golighty's extra variable)
            framing = "netstring ok" if comma == b"," and len(block) == int(n) else "netstring BAD"
        else:
            h = f.read(4)
            size = h[1] | (h[2] << 8)
            block = f.read(size)
            pairs, i = [], 0
            while i < len(block):
                kl = block[i] | (block[i + 1] << 8); k = block[i + 2:i + 2 + kl]; i += 2 + kl
                vl = block[i] | (block[i + 1] << 8); v = block[i + 2:i + 2 + vl]; i += 2 + vl
                pairs.append((k, v))
            framing = "uwsgi %d %s %d" % (h[0], "ok" if len(block) == size else "BAD", h[3])
        env = dict((k.decode(), v.decode("latin1")) for k, v in pairs)
        body = f.read(int(env.get("CONTENT_LENGTH", "0") or "0"))
        q = env.get("QUERY_STRING", "")
        if q == "nph":
            out = b"HTTP/1.1 299 Custom\r\nContent-Type: text/plain\r\nX-Nph: 1\r\n\r\nnph body\n"
        elif q == "nocolon":
            out = b"no header at all\n"
        elif q == "empty":
            out = b""
        elif q == "status":
            out = b"Status: 404 Gone Away\r\nContent-Type: text/plain\r\n\r\nmissing\n"
        elif q == "location":
            out = b"Location: /else\r\n\r\n"
        elif q.startswith("xs="):
            out = b"X-Sendfile: " + q[3:].encode() + b"\r\nContent-Type: text/x-sent\r\n\r\ndiscarded\n"
        elif q == "chunked":
            out = b"Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        else:
            lines = [framing]
            for k, v in pairs:
                k = k.decode()
                if k == "X_SEND_RESPONSE_BODY_SUPPORTED":
                    continue  # golighty's own (README), with x-sendfile
                if k in ("REMOTE_PORT", "SERVER_PORT"):
                    v = b"<port>"
                lines.append("%s=%s" % (k, v.decode("latin1")))
            lines.append("BODY=%s" % body.decode("latin1"))
            text = ("\n".join(lines) + "\n").encode("latin1")
            if mode == "uwsgi":
                out = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + text
            else:
                out = b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n" + text
        c.sendall(out)
    except Exception as e:
        sys.stderr.write("responder: %r\n" % e)
    f.close()
    c.close()
`

const scgiConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_scgi")
mimetype.assign = (".txt" => "text/plain")
scgi.protocol = "@PROTO@"
scgi.server = (
	"/app" => (( "host" => "127.0.0.1", "port" => @BPORT@, "check-local" => "disable", "x-sendfile" => "enable", "x-sendfile-docroot" => ( "@ROOT@/files" ) )),
	".scgi" => (( "host" => "127.0.0.1", "port" => @BPORT@, "docroot" => "/remote/root" )),
)
`

// scgiResponderStart runs the Python responder for mode on a free port.
func scgiResponderStart(t *testing.T, python, mode string) int {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "responder.py")
	writeTree(t, dir, map[string]string{"responder.py": scgiResponder})
	port := freePort(t)
	cmd := exec.Command(python, script, mode, strconv.Itoa(port))
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	buf := make([]byte, 6)
	if _, err := io.ReadFull(out, buf); err != nil {
		t.Fatalf("responder did not start: %v", err)
	}
	return port
}

// TestSideBySideSCGI runs the same requests through golighty and lighttpd
// to SCGI and uwsgi responders: the variables (names, order, values), the
// framing and the handling of every kind of response must match.
func TestSideBySideSCGI(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	python := requirePeer(t, "python3")
	for _, proto := range []string{"scgi", "uwsgi"} {
		t.Run(proto, func(t *testing.T) {
			bport := scgiResponderStart(t, python, proto)
			root := t.TempDir()
			writeTree(t, root, map[string]string{
				"www/x.scgi":     "local file\n",
				"www/static.txt": "static\n",
				"files/a.txt":    "sendfile content\n",
			})
			conf := strings.NewReplacer("@ROOT@", root, "@PROTO@", proto, "@BPORT@", strconv.Itoa(bport)).Replace(scgiConf)
			g := startServer(t, "golighty", golightyBin, root, conf)
			l := startServer(t, "lighttpd", lighttpd, root, conf)
			reqs := []string{
				"GET /app HTTP/1.0\r\n\r\n",
				"GET /app/extra/path?q=1 HTTP/1.1\r\nHost: Example.com\r\nX-Under_score: u\r\nProxy: evil\r\nCookie: a\r\nCookie: b\r\nConnection: close\r\n\r\n",
				"POST /app HTTP/1.0\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
				"POST /app HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
				"GET /x.scgi/pi HTTP/1.0\r\n\r\n",
				"GET /missing.scgi HTTP/1.0\r\n\r\n",
				"GET /static.txt HTTP/1.0\r\n\r\n",
				"GET /app?nph HTTP/1.0\r\n\r\n",
				"GET /app?nocolon HTTP/1.0\r\n\r\n",
				"GET /app?empty HTTP/1.0\r\n\r\n",
				"GET /app?status HTTP/1.0\r\n\r\n",
				"GET /app?location HTTP/1.0\r\n\r\n",
				"GET /app?chunked HTTP/1.0\r\n\r\n",
				"GET /app?xs=" + root + "/files/a.txt HTTP/1.0\r\n\r\n",
				"GET /app?xs=" + root + "/outside.txt HTTP/1.0\r\n\r\n",
				"HEAD /app HTTP/1.0\r\n\r\n",
			}
			compareSideBySide(t, g, l, reqs, nil, nil)
		})
	}
}

// TestSCGIDownAndHostile: an unreachable backend is a 503 on both servers;
// a uwsgi header block over 64 KiB a 431.
func TestSCGIDownAndHostile(t *testing.T) {
	lighttpd := requirePeer(t, "lighttpd")
	python := requirePeer(t, "python3")
	bport := scgiResponderStart(t, python, "uwsgi")
	root := t.TempDir()
	writeTree(t, root, map[string]string{"www/x": ""})
	conf := strings.NewReplacer("@ROOT@", root, "@PROTO@", "uwsgi", "@BPORT@", strconv.Itoa(bport)).Replace(scgiConf)
	g := startServer(t, "golighty", golightyBin, root, conf)
	l := startServer(t, "lighttpd", lighttpd, root, conf)
	var big strings.Builder
	for i := 0; i < 9; i++ {
		fmt.Fprintf(&big, "X-H%d: %s\r\n", i, strings.Repeat("v", 8000))
	}
	compareSideBySide(t, g, l, []string{"GET /app HTTP/1.1\r\nHost: x\r\n" + big.String() + "Connection: close\r\n\r\n"}, nil, nil)

	dead := freePort(t)
	conf = strings.NewReplacer("@ROOT@", root, "@PROTO@", "scgi", "@BPORT@", strconv.Itoa(dead)).Replace(scgiConf)
	g2 := startServer(t, "golighty", golightyBin, root, conf)
	l2 := startServer(t, "lighttpd", lighttpd, root, conf)
	compareSideBySide(t, g2, l2, []string{"GET /app HTTP/1.0\r\n\r\n"}, nil, nil)
}
