package fcgi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
)

// readAll reads the header block and the body.
func readAll(t *testing.T, resp *Response) (string, string, error) {
	t.Helper()
	hdr, err := resp.ReadHeader()
	if err != nil {
		return string(hdr), "", err
	}
	body, err := io.ReadAll(resp)
	return string(hdr), string(body), err
}

func TestRoundTripGoBackend(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			checkNoLeak(t)
			d, _ := goBackend(t, network)
			tests := []struct {
				name     string
				uri      string
				body     io.Reader
				clen     int64
				wantBody string
				wantHdr  string
			}{
				{name: "get", uri: "/big?n=5", wantBody: "01234", wantHdr: "Content-Type: text/plain; charset=utf-8"},
				{name: "small post", uri: "/echo", body: strings.NewReader("hello"), clen: 5, wantBody: "hello", wantHdr: "Content-Type: application/octet-stream"},
				{name: "post 1 MiB", uri: "/sum", body: &patternReader{n: 1 << 20}, clen: 1 << 20, wantBody: fmt.Sprintf("%d %s", 1<<20, patternSum(1<<20))},
				{name: "chunked upload", uri: "/sum", body: iotest.OneByteReader(strings.NewReader("chunked body")), clen: -1,
					wantBody: "12 " + hexSum("chunked body")},
				{name: "body longer than content length", uri: "/echo", body: strings.NewReader("hello world"), clen: 5, wantBody: "hello"},
				{name: "missing path", uri: "/nope", wantHdr: "Status: 404 Not Found"},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					p := cgiParams("POST", tc.uri, tc.clen)
					resp, err := d.Do(context.Background(), &Request{Params: p, Stdin: tc.body, ContentLength: tc.clen})
					p.Release()
					if err != nil {
						t.Fatal(err)
					}
					defer resp.Close()
					hdr, body, err := readAll(t, resp)
					if err != nil {
						t.Fatalf("read: %v", err)
					}
					if !strings.Contains(hdr, tc.wantHdr) {
						t.Errorf("header block %q lacks %q", hdr, tc.wantHdr)
					}
					if tc.wantBody != "" && body != tc.wantBody {
						t.Errorf("body = %.80q, want %.80q", body, tc.wantBody)
					}
				})
			}
		})
	}
}

func hexSum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestParamsEncoding(t *testing.T) {
	checkNoLeak(t)
	d, _ := goBackend(t, "tcp")
	long := strings.Repeat("v", 300)     // 4-byte value length
	longName := strings.Repeat("N", 200) // 4-byte name length
	huge := strings.Repeat("x", 150000)  // forces three PARAMS records
	p := cgiParams("GET", "/env", 0)
	p.Add("SHORT", "s")
	p.Add("LONGVAL", long)
	p.Add(longName, "n")
	p.Add("EMPTY", "")
	p.Add("HUGE", huge)
	if p.Len() <= 2*MaxRecordContent {
		t.Fatalf("params too small to need splitting: %d", p.Len())
	}
	resp, err := d.Do(context.Background(), &Request{Params: p})
	p.Release()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Close()
	_, body, err := readAll(t, resp)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SHORT=s\n", "LONGVAL=" + long + "\n", longName + "=n\n", "EMPTY=\n", "HUGE=" + huge + "\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("backend did not see %.40q…", want)
		}
	}
}

func TestParamsEach(t *testing.T) {
	var p Params
	pairs := [][2]string{{"A", "1"}, {strings.Repeat("n", 128), "x"}, {"B", strings.Repeat("v", 127)}, {"C", strings.Repeat("w", 70000)}}
	for _, kv := range pairs {
		p.Add(kv[0], kv[1])
	}
	p.AddBytes("D", []byte("bytes"))
	pairs = append(pairs, [2]string{"D", "bytes"})
	var got [][2]string
	p.Each(func(n, v []byte) bool { got = append(got, [2]string{string(n), string(v)}); return true })
	if len(got) != len(pairs) {
		t.Fatalf("got %d pairs, want %d", len(got), len(pairs))
	}
	for i := range pairs {
		if got[i] != pairs[i] {
			t.Errorf("pair %d = %.20q, want %.20q", i, got[i], pairs[i])
		}
	}
	// 1 + 4 + 1 (length bytes) for name 128 / value 1.
	if want := 2 + 2 + 4 + 1 + 128 + 1 + 1 + 1 + 1 + 127 + 1 + 4 + 1 + 70000 + 1 + 1 + 1 + 5; p.Len() != want {
		t.Errorf("Len = %d, want %d", p.Len(), want)
	}
}

// TestRequestWireFormat checks the bytes sent against lighttpd's framing.
func TestRequestWireFormat(t *testing.T) {
	tests := []struct {
		name     string
		role     Role
		keep     bool
		body     io.Reader
		clen     int64
		wantIn   int   // total STDIN bytes
		wantRecs []int // STDIN record sizes, terminator included
	}{
		{name: "no body", role: RoleResponder, wantRecs: []int{0}},
		{name: "authorizer keep-conn", role: RoleAuthorizer, keep: true, wantRecs: []int{0}},
		{name: "small body", body: strings.NewReader("abc"), clen: 3, wantIn: 3, wantRecs: []int{3, 0}},
		{name: "streamed body", body: &patternReader{n: 150000}, clen: 150000, wantIn: 150000, wantRecs: []int{65535, 65535, 18930, 0}},
		{name: "chunked body", body: strings.NewReader("xyz"), clen: -1, wantIn: 3, wantRecs: []int{3, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan received, 1)
			d := scriptBackend(t, true, func(c net.Conn, in received) {
				got <- in
				c.Write(append(stdout("\r\n"), endRequest(0, 0)...))
			})
			d.KeepConn = tc.keep
			p := NewParams()
			p.Add("A", "1")
			resp, err := d.Do(context.Background(), &Request{Role: tc.role, Params: p, Stdin: tc.body, ContentLength: tc.clen})
			p.Release()
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := readAll(t, resp); err != nil {
				t.Fatal(err)
			}
			resp.Close()
			d.CloseIdle()
			in := <-got
			if in.err != nil {
				t.Fatalf("backend read: %v", in.err)
			}
			recs := in.records
			if len(recs) < 3 || recs[0].typ != typeBeginRequest || recs[1].typ != typeParams || recs[2].typ != typeParams || len(recs[2].content) != 0 {
				t.Fatalf("want BEGIN, PARAMS, empty PARAMS first; got %+v", recs[:min(3, len(recs))])
			}
			role := tc.role
			if role == 0 {
				role = RoleResponder
			}
			wantFlags := byte(0)
			if tc.keep {
				wantFlags = 1
			}
			if b := recs[0].content; Role(binary.BigEndian.Uint16(b)) != role || b[2] != wantFlags {
				t.Errorf("BEGIN body = %v, want role %d flags %d", b, role, wantFlags)
			}
			var sizes []int
			total := 0
			for _, r := range recs {
				if r.id != 1 {
					t.Errorf("record type %d has id %d", r.typ, r.id)
				}
				if r.pad != 0 {
					t.Errorf("record type %d padded by %d", r.typ, r.pad)
				}
				if r.typ == typeStdin {
					sizes = append(sizes, len(r.content))
					total += len(r.content)
				}
			}
			if total != tc.wantIn {
				t.Errorf("STDIN total %d, want %d", total, tc.wantIn)
			}
			if fmt.Sprint(sizes) != fmt.Sprint(tc.wantRecs) {
				t.Errorf("STDIN records %v, want %v", sizes, tc.wantRecs)
			}
			for _, s := range sizes {
				if s > MaxRecordContent {
					t.Errorf("STDIN record of %d bytes", s)
				}
			}
		})
	}
}

// TestMisbehavingBackend covers the failure modes that made gofast unfit.
func TestMisbehavingBackend(t *testing.T) {
	twoK := "X-Long: " + strings.Repeat("a", 2048)
	bigHdr := strings.Repeat("X-Fill: "+strings.Repeat("b", 1000)+"\r\n", 70)
	tests := []struct {
		name       string
		reply      []byte
		hangup     bool // close without END_REQUEST
		wantHdr    string
		wantBody   string
		wantErr    error // from ReadHeader or the body read
		wantStatus uint32
	}{
		{name: "normal with app status", reply: cat(stdout("Status: 201\r\n\r\nok"), endRequest(3, 0)), wantHdr: "Status: 201\r\n", wantBody: "ok", wantStatus: 3},
		{name: "LF-only header", reply: cat(stdout("A: 1\nB: 2\n\nbody"), endRequest(0, 0)), wantHdr: "A: 1\nB: 2\n", wantBody: "body"},
		{name: "empty header block", reply: cat(stdout("\r\nbody"), endRequest(0, 0)), wantHdr: "", wantBody: "body"},
		{name: "header split across records", reply: cat(stdout("A: 1\r"), stdout("\n\r"), stdout("\nrest"), endRequest(0, 0)), wantHdr: "A: 1\r\n", wantBody: "rest"},
		{name: "2 KiB header line", reply: cat(stdout(twoK+"\r\n\r\nb"), endRequest(0, 0)), wantHdr: twoK + "\r\n", wantBody: "b"},
		{name: "header block over 64 KiB", reply: cat(stdout(bigHdr[:60000]), stdout(bigHdr[60000:]+"\r\n"), endRequest(0, 0)), wantErr: ErrHeaderTooLarge},
		{name: "dies mid-body", reply: stdout("A: 1\r\n\r\npartial"), hangup: true, wantHdr: "A: 1\r\n", wantBody: "partial", wantErr: io.ErrUnexpectedEOF},
		{name: "dies inside a record", reply: stdout("A: 1\r\n\r\npartial")[:15], hangup: true, wantErr: io.ErrUnexpectedEOF},
		{name: "dies before any output", hangup: true, wantErr: io.ErrUnexpectedEOF},
		{name: "garbage", reply: []byte("HTTP/1.1 200 OK\r\n\r\n"), wantErr: ErrMalformed},
		{name: "wrong request id", reply: rawRecord(typeStdout, 7, []byte("x"), 0), wantErr: ErrMalformed},
		{name: "short END_REQUEST", reply: rawRecord(typeEndRequest, 1, []byte{0, 0}, 0), wantErr: ErrMalformed},
		{name: "overloaded", reply: endRequest(0, statusOverloaded), wantErr: ErrOverloaded},
		{name: "cannot multiplex", reply: endRequest(0, statusCantMpxConn), wantErr: ErrCantMpxConn},
		{name: "unknown role", reply: endRequest(0, statusUnknownRole), wantErr: ErrUnknownRole},
		{name: "END_REQUEST without output", reply: endRequest(0, 0), wantErr: ErrHeaderIncomplete},
		{name: "unknown and management records skipped",
			reply: cat(rawRecord(typeGetValuesResult, 0, []byte{1, 1, 'A', '1'}, 0), rawRecord(typeUnknownType, 0, make([]byte, 8), 0),
				rawRecord(99, 1, []byte("junk"), 3), stdout("A: 1\r\n\r\n"), rawRecord(typeStdout, 1, []byte("padded"), 5), stdout(""), endRequest(0, 0)),
			wantHdr: "A: 1\r\n", wantBody: "padded"},
		{name: "padded END_REQUEST", reply: cat(stdout("\r\nz"), rawRecord(typeEndRequest, 1, make([]byte, 8), 7)), wantBody: "z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkNoLeak(t)
			d := scriptBackend(t, true, func(c net.Conn, in received) {
				c.Write(tc.reply)
				if !tc.hangup {
					// Keep the connection open: the client must stop at
					// END_REQUEST (or at its own error), not at EOF.
					io.Copy(io.Discard, c)
				}
			})
			resp, err := d.Do(context.Background(), &Request{Params: cgiParams("GET", "/", 0)})
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Close()
			hdr, body, err := readAll(t, resp)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != ErrHeaderTooLarge && hdr != tc.wantHdr {
				t.Errorf("header = %.60q, want %.60q", hdr, tc.wantHdr)
			}
			if body != tc.wantBody {
				t.Errorf("body = %q, want %q", body, tc.wantBody)
			}
			if err == nil && resp.AppStatus() != tc.wantStatus {
				t.Errorf("AppStatus = %d, want %d", resp.AppStatus(), tc.wantStatus)
			}
		})
	}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestStderrLines(t *testing.T) {
	checkNoLeak(t)
	longLine := strings.Repeat("L", 20000)
	var reply []byte
	reply = append(reply, stderrRec("first\r\nsecond part")...)
	reply = append(reply, stderrRec(" joined\n\nafter empty\n")...)
	for i := 0; i < 200; i++ { // ~1.3 MB of stderr in full records
		reply = append(reply, stderrRec(strings.Repeat(fmt.Sprintf("line %04d\n", i), 650))...)
	}
	reply = append(reply, stderrRec(longLine+"\n")...)
	reply = append(reply, stdout("\r\nok")...)
	reply = append(reply, stderrRec("unterminated")...)
	reply = append(reply, endRequest(0, 0)...)
	d := scriptBackend(t, true, func(c net.Conn, in received) { c.Write(reply) })
	var lines []string
	resp, err := d.Do(context.Background(), &Request{
		Params: cgiParams("GET", "/", 0),
		Stderr: StderrFunc(func(l []byte) { lines = append(lines, string(l)) }),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Close()
	if _, body, err := readAll(t, resp); err != nil || body != "ok" {
		t.Fatalf("body %q err %v", body, err)
	}
	if want := []string{"first", "second part joined", "", "after empty"}; fmt.Sprint(lines[:4]) != fmt.Sprint(want) {
		t.Errorf("first lines = %q, want %q", lines[:4], want)
	}
	if n := len(lines); n < 4+200*650+3 || lines[n-1] != "unterminated" {
		t.Fatalf("got %d lines, last %.30q", n, lines[len(lines)-1])
	}
	// The 20000-byte line arrives in pieces of bounded size, losslessly.
	var joined strings.Builder
	for _, l := range lines[4+200*650 : len(lines)-1] {
		if len(l) > maxStderrLine+512 {
			t.Errorf("stderr piece of %d bytes exceeds the bound", len(l))
		}
		joined.WriteString(l)
	}
	if joined.String() != longLine {
		t.Errorf("long line reassembled to %d bytes, want %d", joined.Len(), len(longLine))
	}
}

func TestTimeoutsAndCancel(t *testing.T) {
	silent := func(c net.Conn, in received) { io.Copy(io.Discard, c) }
	t.Run("read timeout", func(t *testing.T) {
		checkNoLeak(t)
		d := scriptBackend(t, true, silent)
		d.ReadTimeout = 150 * time.Millisecond
		resp, err := d.Do(context.Background(), &Request{Params: cgiParams("GET", "/", 0)})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Close()
		start := time.Now()
		_, err = resp.ReadHeader()
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("timeout took %v", el)
		}
	})
	t.Run("context cancel", func(t *testing.T) {
		checkNoLeak(t)
		d := scriptBackend(t, true, silent)
		ctx, cancel := context.WithCancel(context.Background())
		resp, err := d.Do(ctx, &Request{Params: cgiParams("GET", "/", 0)})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Close()
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, err = resp.ReadHeader()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("cancel took %v", el)
		}
	})
	t.Run("write timeout", func(t *testing.T) {
		checkNoLeak(t)
		// The backend reads only the params and then nothing: the body
		// write stalls once the socket buffers are full.
		block := make(chan struct{})
		d := scriptBackend(t, false, func(c net.Conn, in received) { <-block })
		t.Cleanup(func() { close(block) })
		d.WriteTimeout = 200 * time.Millisecond
		resp, err := d.Do(context.Background(), &Request{Params: cgiParams("POST", "/", 64<<20), Stdin: &patternReader{n: 64 << 20}, ContentLength: 64 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Close()
		start := time.Now()
		_, err = resp.ReadHeader()
		if !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "request body") {
			t.Fatalf("err = %v, want write deadline on the request body", err)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("write timeout took %v", el)
		}
	})
	t.Run("connect refused", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		d := &Dialer{Address: addr, ConnectTimeout: time.Second}
		if _, err := d.Do(context.Background(), &Request{}); err == nil || !strings.Contains(err.Error(), "connect") {
			t.Fatalf("err = %v, want connect error", err)
		}
	})
	t.Run("unix socket missing", func(t *testing.T) {
		d := &Dialer{Address: t.TempDir() + "/none.sock"}
		if _, err := d.Do(context.Background(), &Request{}); err == nil || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err = %v, want ENOENT", err)
		}
	})
}

func TestShortRequestBody(t *testing.T) {
	checkNoLeak(t)
	got := make(chan received, 1)
	d := scriptBackend(t, true, func(c net.Conn, in received) { got <- in })
	const clen = 200000
	resp, err := d.Do(context.Background(), &Request{Params: cgiParams("POST", "/", clen), Stdin: &patternReader{n: clen / 2}, ContentLength: clen})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Close()
	_, err = resp.ReadHeader()
	if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "request body ended after 100000 of 200000") {
		t.Fatalf("err = %v", err)
	}
	in := <-got
	for _, r := range in.records {
		if r.typ == typeStdin && len(r.content) == 0 {
			t.Fatal("backend saw the end of STDIN for a truncated body")
		}
	}
	t.Run("small body", func(t *testing.T) {
		_, err := d.Do(context.Background(), &Request{Stdin: strings.NewReader("ab"), ContentLength: 5})
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err = %v, want unexpected EOF", err)
		}
	})
}

func TestKeepConnPool(t *testing.T) {
	checkNoLeak(t)
	d, cl := goBackend(t, "tcp")
	d.KeepConn = true
	defer d.CloseIdle()
	do := func() string {
		t.Helper()
		resp, err := d.Do(context.Background(), &Request{Params: cgiParams("POST", "/echo", 3), Stdin: strings.NewReader("abc"), ContentLength: 3})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Close()
		_, body, err := readAll(t, resp)
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	for i := 0; i < 10; i++ {
		if b := do(); b != "abc" {
			t.Fatalf("body %q", b)
		}
	}
	if n := cl.accepted.Load(); n != 1 {
		t.Errorf("10 sequential keep-conn requests used %d connections, want 1", n)
	}
	// The backend drops its idle connection: the next request must notice
	// before sending and dial anew.
	cl.closeConns()
	time.Sleep(50 * time.Millisecond)
	if b := do(); b != "abc" {
		t.Fatalf("after backend close: body %q", b)
	}
	if n := cl.accepted.Load(); n != 2 {
		t.Errorf("connections = %d, want 2", n)
	}
	// A response abandoned mid-body must not be pooled.
	resp, err := d.Do(context.Background(), &Request{Params: cgiParams("GET", "/big?n=1000000", 0)})
	if err != nil {
		t.Fatal(err)
	}
	resp.ReadHeader()
	resp.Close()
	if b := do(); b != "abc" {
		t.Fatalf("after abandoned response: body %q", b)
	}
	// The abandoned request ran on the pooled connection #2, which was
	// then closed; so the last request dials #3.
	if n := cl.accepted.Load(); n != 3 {
		t.Errorf("connections = %d, want 3 (abandoned one not reused)", n)
	}
}

func TestWithoutKeepConnEachRequestDials(t *testing.T) {
	checkNoLeak(t)
	d, cl := goBackend(t, "unix")
	for i := 0; i < 5; i++ {
		resp, err := d.Do(context.Background(), &Request{Params: cgiParams("GET", "/big?n=3", 0)})
		if err != nil {
			t.Fatal(err)
		}
		if _, b, err := readAll(t, resp); err != nil || b != "012" {
			t.Fatalf("body %q err %v", b, err)
		}
		resp.Close()
	}
	if n := cl.accepted.Load(); n != 5 {
		t.Errorf("connections = %d, want 5", n)
	}
}

// TestLargeEcho streams 50 MB up and the same 50 MB back through one
// connection; without concurrent STDIN writing both socket buffers fill
// and the request deadlocks.
func TestLargeEcho(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB echo")
	}
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			checkNoLeak(t)
			d, _ := goBackend(t, network)
			d.ReadTimeout, d.WriteTimeout = 20*time.Second, 20*time.Second
			const n = 50 << 20
			resp, err := d.Do(context.Background(), &Request{Params: cgiParams("POST", "/echo", n), Stdin: &patternReader{n: n}, ContentLength: n})
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Close()
			if _, err := resp.ReadHeader(); err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			got, err := io.Copy(h, resp)
			if err != nil {
				t.Fatal(err)
			}
			if got != n || hex.EncodeToString(h.Sum(nil)) != patternSum(n) {
				t.Fatalf("echoed %d bytes, checksum match %v", got, hex.EncodeToString(h.Sum(nil)) == patternSum(n))
			}
		})
	}
}

func TestHeaderEnd(t *testing.T) {
	tests := []struct {
		in        string
		end, next int
		found     bool
	}{
		{"\n", 0, 1, true},
		{"\r\nX", 0, 2, true},
		{"A: 1\n\n", 5, 6, true},
		{"A: 1\r\n\r\nB", 6, 8, true},
		{"A: 1\r\nB: 2\r\n", 0, 0, false},
		{"A: 1\r\n\r", 0, 0, false},
		{"A: 1\n\r\n", 5, 7, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			end, next, ok := headerEnd([]byte(tc.in), 0)
			if ok != tc.found || end != tc.end || next != tc.next {
				t.Errorf("headerEnd = %d,%d,%v want %d,%d,%v", end, next, ok, tc.end, tc.next, tc.found)
			}
		})
	}
}

// TestEarlyReply: the backend answers before reading the body (PHP does so
// for a rejected upload). The response must complete and Close must stop
// the body copier, whether the backend drains the rest or not.
func TestEarlyReply(t *testing.T) {
	for _, drain := range []bool{true, false} {
		t.Run(fmt.Sprintf("drain=%v", drain), func(t *testing.T) {
			checkNoLeak(t)
			block := make(chan struct{})
			d := scriptBackend(t, false, func(c net.Conn, in received) {
				c.Write(cat(stdout("Status: 413\r\n\r\ntoo big"), endRequest(0, 0)))
				if drain {
					io.Copy(io.Discard, c)
				}
				<-block
			})
			t.Cleanup(func() { close(block) })
			const n = 32 << 20
			resp, err := d.Do(context.Background(), &Request{Params: cgiParams("POST", "/", n), Stdin: &patternReader{n: n}, ContentLength: n})
			if err != nil {
				t.Fatal(err)
			}
			hdr, body, err := readAll(t, resp)
			if err != nil || hdr != "Status: 413\r\n" || body != "too big" {
				t.Fatalf("hdr %q body %q err %v", hdr, body, err)
			}
			resp.Close()
		})
	}
}

func TestContentLengthWithoutStdin(t *testing.T) {
	d := &Dialer{Address: "127.0.0.1:1"}
	if _, err := d.Do(context.Background(), &Request{ContentLength: 3}); err == nil || !strings.Contains(err.Error(), "without Stdin") {
		t.Fatalf("err = %v", err)
	}
}

// gateReader blocks every Read until release is closed, and records reads
// made after closed was set.
type gateReader struct {
	release chan struct{}
	closed  atomic.Bool
	late    atomic.Bool
}

func (g *gateReader) Read(p []byte) (int, error) {
	<-g.release
	if g.closed.Load() {
		g.late.Store(true)
	}
	return 0, io.ErrUnexpectedEOF
}

// TestCloseWaitsForStdin checks that Close does not return while the
// goroutine copying Stdin still reads it (a backend that answered before
// reading the body): the caller's body reader belongs to a request that
// ends when Close returns, and nothing may read it after that.
func TestCloseWaitsForStdin(t *testing.T) {
	checkNoLeak(t)
	d := scriptBackend(t, false, func(c net.Conn, in received) {
		c.Write(stdout("Status: 200\r\n\r\nearly"))
		c.Write(stdout(""))
		c.Write(endRequest(0, 0))
		time.Sleep(200 * time.Millisecond) // STDIN never read
	})
	g := &gateReader{release: make(chan struct{})}
	resp, err := d.Do(context.Background(), &Request{Params: cgiParams("POST", "/", 1<<20), Stdin: g, ContentLength: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if _, body, err := readAll(t, resp); err != nil || body != "early" {
		t.Fatalf("body %q, %v", body, err)
	}
	if !resp.StdinPending() {
		t.Fatal("StdinPending = false while the copy waits on Stdin")
	}
	closed := make(chan struct{})
	go func() {
		resp.Close()
		g.closed.Store(true)
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while Stdin was still being read")
	case <-time.After(100 * time.Millisecond):
	}
	close(g.release) // what the caller's interrupt does
	<-closed
	if g.late.Load() {
		t.Fatal("Stdin was read after Close returned")
	}
}

// TestWaitHoldsNoBuffer: a response waiting for its backend holds no read
// buffer (a thousand requests queued on a busy backend cost none), Wait
// returns once the answer starts and leaves it to Read, and a kept
// connection going idle gives its buffer back.
func TestWaitHoldsNoBuffer(t *testing.T) {
	answer := make(chan struct{})
	d := scriptBackend(t, true, func(c net.Conn, in received) {
		<-answer
		c.Write(cat(stdout("Status: 200\r\n\r\nhello"), rawRecord(typeStdout, 1, nil, 0), endRequest(0, 0)))
		io.Copy(io.Discard, c)
	})
	d.KeepConn, d.MaxConns = true, 1
	resp, err := d.Do(context.Background(), &Request{Params: cgiParams("GET", "/", 0)})
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- resp.Wait() }()
	select {
	case err := <-waited:
		t.Fatalf("Wait returned before the backend answered: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if resp.c.br != nil {
		t.Fatal("a waiting response holds a read buffer")
	}
	close(answer)
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	head, body, err := readAll(t, resp)
	if err != nil || !strings.Contains(head, "Status: 200") || body != "hello" {
		t.Fatalf("head %q body %q err %v", head, body, err)
	}
	c := resp.c
	resp.Close()
	if c.br != nil {
		t.Fatal("an idle kept connection holds a read buffer")
	}

	t.Run("read timeout", func(t *testing.T) {
		d := scriptBackend(t, true, func(c net.Conn, in received) { io.Copy(io.Discard, c) })
		d.ReadTimeout = 100 * time.Millisecond
		resp, err := d.Do(context.Background(), &Request{Params: cgiParams("GET", "/", 0)})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Close()
		if err := resp.Wait(); !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), d.Address) {
			t.Fatalf("err = %v, want the deadline, naming the backend", err)
		}
	})
}
