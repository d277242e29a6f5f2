package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golighty/golighty/core/filefd"
)

const fileBody = "hello, file\n"

// testCheckTarget stands in for core/urinorm: raw or encoded control
// characters and invalid UTF-8 lead bytes are refused (behaviors §2).
func testCheckTarget(t []byte) bool {
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c < 0x20 || c == 0x7f {
			return false
		}
		if c == '%' && i+2 < len(t) {
			v := unhex(t[i+1])<<4 | unhex(t[i+2])
			if v < 0x20 || v == 0x7f || v == 0xc0 || v == 0xc1 || v >= 0xf5 {
				return false
			}
		}
	}
	return true
}

func errorDoc(status int) []byte {
	st := strconv.Itoa(status) + " " + StatusText(status)
	return []byte(`<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
         "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>` + st + `</title>
 </head>
 <body>
  <h1>` + st + `</h1>
 </body>
</html>
`)
}

func respondError(w *ResponseWriter, status int) {
	w.SetStatus(status)
	w.AddHeader("Content-Type", "text/html")
	w.Respond(errorDoc(status))
}

// testHandler behaves like lighttpd with only mod_staticfile: files from
// root for GET/HEAD/POST, 405 for CONNECT, OPTIONS answered with Allow,
// 501 for other methods. /echo reads the body and returns it.
func testHandler(root string) Handler {
	return HandlerFunc(func(w *ResponseWriter, r *Request) {
		if r.Status != 0 {
			respondError(w, r.Status)
			return
		}
		switch r.Method {
		case "CONNECT":
			respondError(w, 405)
			return
		case "OPTIONS":
			w.AddHeader("Allow", "OPTIONS, GET, HEAD, POST")
			w.Respond(nil)
			return
		case "GET", "HEAD", "POST":
		default:
			respondError(w, 501)
			return
		}
		path := string(r.Target)
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if path == "/echo" {
			body, err := io.ReadAll(r.Body)
			var be *BodyError
			if errors.As(err, &be) {
				respondError(w, be.Status)
				return
			}
			if err != nil {
				return
			}
			w.AddHeader("Content-Type", "application/octet-stream")
			w.Respond(body)
			return
		}
		if path == "/stream" {
			w.AddHeader("Content-Type", "text/plain")
			w.Write([]byte("part1,"))
			w.Flush()
			w.Write([]byte("part2"))
			return
		}
		f, err := os.Open(filepath.Join(root, filepath.FromSlash(path)))
		if err != nil {
			respondError(w, 404)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil || st.IsDir() {
			respondError(w, 404)
			return
		}
		w.AddHeader("Content-Type", "text/plain")
		w.SendFile(filefd.Of(f), 0, st.Size())
	})
}

func testDocroot(t testing.TB) string {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "f.txt"), []byte(fileBody), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "a b.txt"), []byte(fileBody), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "big.bin"), bytes.Repeat([]byte("0123456789abcdef"), 64<<10), 0o644))
	return dir
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testConfig() Config {
	c := DefaultConfig()
	c.MaxRequestSize = 1024 // matches server.max-request-size = 1 in the lighttpd conf
	c.Parse.CheckTarget = testCheckTarget
	return c
}

// tcpPair returns both ends of a loopback TCP connection; the test's end
// closes them.
func tcpPair(t testing.TB) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	must(t, err)
	t.Cleanup(func() { c.Close() })
	sc, err := ln.Accept()
	must(t, err)
	t.Cleanup(func() { sc.Close() })
	return c.(*net.TCPConn), sc.(*net.TCPConn)
}

// startServer runs an engine on a loopback port; cleanup shuts it down.
func startServer(t testing.TB, cfg Config, h Handler) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	s := &Server{Handler: h}
	s.SetConfig(cfg)
	done := make(chan struct{})
	go func() { s.Serve(ln); close(done) }()
	t.Cleanup(func() {
		ln.Close()
		s.Close()
		<-done
	})
	return s, ln.Addr().String()
}

type response struct {
	status int
	proto  string
	head   string // status line and header lines, CRLF separated
	body   []byte
}

func (r *response) header(name string) (string, bool) {
	for _, l := range strings.Split(r.head, "\r\n")[1:] {
		if k, v, ok := strings.Cut(l, ": "); ok && strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// readResponse reads one response (head, then a Content-Length, chunked
// or close-delimited body; none for HEAD).
func readResponse(br *bufio.Reader, head bool) (*response, error) {
	var hb strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("reading head: %w (got %q)", err, hb.String()+line)
		}
		if line == "\r\n" {
			break
		}
		hb.WriteString(line)
	}
	r := &response{head: strings.TrimSuffix(hb.String(), "\r\n")}
	first, _, _ := strings.Cut(r.head, "\r\n")
	parts := strings.SplitN(first, " ", 3)
	if len(parts) < 2 {
		return nil, fmt.Errorf("bad status line %q", first)
	}
	r.proto = parts[0]
	r.status, _ = strconv.Atoi(parts[1])
	if head || r.status == 204 || r.status == 304 || r.status < 200 {
		return r, nil
	}
	if cl, ok := r.header("Content-Length"); ok {
		n, _ := strconv.Atoi(cl)
		r.body = make([]byte, n)
		_, err := io.ReadFull(br, r.body)
		return r, err
	}
	if te, ok := r.header("Transfer-Encoding"); ok && te == "chunked" {
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return r, err
			}
			n, err := strconv.ParseInt(strings.TrimSpace(line), 16, 64)
			if err != nil {
				return r, fmt.Errorf("chunk size %q", line)
			}
			if n == 0 {
				_, err = br.ReadString('\n')
				return r, err
			}
			buf := make([]byte, n+2)
			if _, err := io.ReadFull(br, buf); err != nil {
				return r, err
			}
			r.body = append(r.body, buf[:n]...)
		}
	}
	var err error
	r.body, err = io.ReadAll(br)
	return r, err
}

// isClosed reports whether the server closed the connection (EOF or reset
// within wait) rather than keeping it open.
func isClosed(c net.Conn, br *bufio.Reader, wait time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(wait))
	_, err := br.ReadByte()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return err != nil
}

// exchange sends raw on a fresh connection and returns the first response
// and whether the connection was then closed.
func exchange(t testing.TB, addr, raw string) (*response, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	must(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = io.WriteString(c, raw)
	must(t, err)
	br := bufio.NewReader(c)
	resp, err := readResponse(br, strings.HasPrefix(raw, "HEAD "))
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	return resp, isClosed(c, br, 300*time.Millisecond)
}
