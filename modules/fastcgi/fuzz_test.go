package fastcgi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/golighty/golighty/core/coretest"
)

// FuzzBackendOutput sends hostile STDOUT from a backend through the module
// and the core: whatever the backend says, the client must get one
// well-formed response with a valid status and the handoff headers must
// never reach it.
func FuzzBackendOutput(f *testing.F) {
	for _, seed := range []string{
		"Status: 200\r\n\r\nok",
		"\r\n",
		"",
		"no colon\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"Status: 999\r\nContent-Length: 2\r\n\r\nabc",
		"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
		"X-Sendfile: /etc/passwd\r\n\r\n",
		"X-Sendfile2: %2Fetc%2Fpasswd 0-3\r\n\r\n",
		"Location: //evil\r\nStatus: 301\r\n\r\n",
		"Content-Length: 99999999999999999999\r\n\r\nx",
		"A:\x00b\r\n\r\n",
		" 00000:0\n\n",
		"0:\x01\n\n",
	} {
		f.Add([]byte(seed))
	}
	var out atomic.Pointer[[]byte]
	be := startRaw(f, "tcp", func(req *rawReq, c net.Conn) {
		writeResponse(c, string(*out.Load()))
	})
	h := coretest.New(f, confFor(".php", hostOpt(be.ln), `"check-local" => "disable", "x-sendfile" => "enable", "x-sendfile-docroot" => ( "/nonexistent" )`))
	f.Fuzz(func(t *testing.T, stdout []byte) {
		out.Store(&stdout)
		raw := rawTrip(t, h, get("/f.php"))
		if err := checkFraming(raw); err != nil {
			t.Fatalf("response %q to backend output %q: %v", raw, stdout, err)
		}
	})
}

// checkFraming verifies what a client relies on: a status line, header
// lines that are "token: value" without CR or LF, no handoff header, and a
// body as long as Content-Length says. (Control bytes inside values are
// passed on as lighttpd does; strict parsers such as net/http reject them,
// so net/http cannot be the oracle.)
func checkFraming(raw []byte) error {
	head, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		return errors.New("no end of head")
	}
	lines := strings.Split(string(head), "\r\n")
	var status int
	if _, err := fmt.Sscanf(lines[0], "HTTP/1.0 %d", &status); err != nil || status < 100 || status > 999 {
		return fmt.Errorf("status line %q", lines[0])
	}
	cl := -1
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ": ")
		if !ok || !isToken(name) || strings.ContainsAny(value, "\r\n") {
			return fmt.Errorf("header line %q", l)
		}
		switch strings.ToLower(name) {
		case "x-sendfile", "x-sendfile2", "x-lighttpd-send-file":
			return fmt.Errorf("handoff header leaked: %q", l)
		case "content-length":
			if cl >= 0 {
				return errors.New("two Content-Length fields")
			}
			n, err := strconv.Atoi(value)
			if err != nil {
				return fmt.Errorf("Content-Length %q", value)
			}
			cl = n
		}
	}
	if cl >= 0 && len(body) != cl && status != 304 && status != 204 && status >= 200 {
		return fmt.Errorf("body of %d bytes, Content-Length %d", len(body), cl)
	}
	return nil
}

// rawTrip returns everything the server wrote for one HTTP/1.0 request.
func rawTrip(t testing.TB, h *coretest.Harness, req string) []byte {
	t.Helper()
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Server.ServeConn(server, "127.0.0.1:80")
	}()
	go io.WriteString(client, req)
	raw, _ := io.ReadAll(client)
	client.Close()
	<-done
	return raw
}

// isToken reports whether s is an HTTP field name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
