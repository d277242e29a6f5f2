package fastcgi

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golighty/golighty/core/coretest"
)

// TestEarlyAnswerWithPendingBody: the backend answers once it got the part
// of a large request body the client sent, while the client waits before
// sending the rest. The answer must reach the client at once (the
// copy of the body to the backend is interrupted and waited for, so nothing
// reads the client connection after the handler), and the connection closes
// afterwards because its body was not read whole.
func TestEarlyAnswerWithPendingBody(t *testing.T) {
	leakCheck(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const sent = 40000
	hold := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		stdin := 0
		for stdin < sent { // all the client sent: the copy now waits on it
			var h [8]byte
			if _, err := io.ReadFull(br, h[:]); err != nil {
				return
			}
			n := int(binary.BigEndian.Uint16(h[4:]))
			if _, err := io.CopyN(io.Discard, br, int64(n+int(h[6]))); err != nil {
				return
			}
			if h[1] == 5 {
				stdin += n
			}
		}
		writeResponse(c, "Status: 200\r\nContent-Type: text/plain\r\n\r\nanswered before the body")
		<-hold // STDIN is never read
	}()
	t.Cleanup(func() { close(hold); ln.Close() })

	h := coretest.New(t, confFor(".php", hostOpt(ln), ""))
	h.WriteFile("www/up.php", "")
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Server.ServeConn(server, "127.0.0.1:80")
	}()
	defer func() { client.Close(); <-done }()
	go io.WriteString(client, "POST /up.php HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n"+strings.Repeat("b", sent))
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(client), nil)
	if err != nil {
		t.Fatalf("no answer while the body is pending: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "answered before the body" || !resp.Close {
		t.Fatalf("got %d close=%v %q", resp.StatusCode, resp.Close, body)
	}
}
