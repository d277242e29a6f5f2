package core

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// upperFilter is a test BodyFilter: it upper-cases the body and counts
// its flushes; with fail set its Close fails.
type upperFilter struct {
	dst     io.Writer
	flushes *int
	fail    bool
}

func (u *upperFilter) Write(p []byte) (int, error) { return u.dst.Write(bytes.ToUpper(p)) }
func (u *upperFilter) Flush() error                { *u.flushes++; return nil }
func (u *upperFilter) Close() error {
	if u.fail {
		return errors.New("filter broke")
	}
	_, err := io.WriteString(u.dst, "<END>")
	return err
}

// filterModule installs upperFilter when the request asks (X-Filter), and
// records what the hook saw of the response.
type filterModule struct{}

var filterSeen struct {
	status  int
	bodyLen int64
	known   bool
	stream  bool
	whole   bool
	flushes int
}

func (filterModule) Setup(*SetupContext) error { return nil }
func (filterModule) ResponseStart(rc *Request) Result {
	filterSeen.status = rc.Resp.Status
	filterSeen.bodyLen, filterSeen.known = rc.Resp.BodyLen()
	filterSeen.stream = rc.Resp.Streaming()
	_, _, _, filterSeen.whole = rc.Resp.WholeFile()
	if v := rc.Header.Get("X-Filter"); v != "" {
		if rc.Header.Has("X-CE") {
			rc.Resp.Header.Set("Content-Encoding", "upper")
		}
		fail := v == "fail"
		rc.Resp.Filter(func(dst io.Writer) BodyFilter {
			return &upperFilter{dst: dst, flushes: &filterSeen.flushes, fail: fail}
		})
	}
	return GoOn
}

func init() {
	Register(ModuleInfo{Name: "mod_test_filter", New: func() Module { return filterModule{} }})
	registerServe("mod_test_body", func(rc *Request) Result {
		switch rc.URI.Path {
		case "/bytes":
			rc.Resp.Status = 200
			rc.Resp.Header.Set("Content-Type", "text/plain")
			rc.Resp.SetBody([]byte("hello body"))
		case "/big":
			rc.Resp.Status = 200
			rc.Resp.SetBody(bytes.Repeat([]byte("big body "), (filterMemMax/9)+1000))
		case "/stream":
			w, err := rc.StartStream(-1)
			if err != nil {
				return Finished
			}
			for i := 0; i < 3; i++ {
				fmt.Fprintf(w, "part %d;", i)
				rc.FlushStream()
			}
		case "/stream-length":
			w, _ := rc.StartStream(12)
			io.WriteString(w, "twelve bytes")
		default:
			return rc.SendFile(filepath.Join(rc.Conf.DocumentRoot, rc.URI.Path))
		}
		return Finished
	})
}

func filterServer(t *testing.T) (func(req string) (*http.Response, string), string) {
	t.Helper()
	dir := t.TempDir()
	tmp := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f.txt"), []byte("file content 0123456789"), 0o644)
	_, dial, logs := testServer(t, fmt.Sprintf(`server.document-root = %q
server.upload-dirs = (%q)
mimetype.assign = (".txt" => "text/plain")
server.modules = ("mod_test_body", "mod_test_filter")`, dir, tmp))
	do := func(req string) (*http.Response, string) {
		c := dial()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, req)
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: strings.Fields(req)[0]})
		if err != nil {
			t.Fatalf("%q: %v (log: %s)", req, err, logs)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	return do, tmp
}

func TestFilterCompleteBodies(t *testing.T) {
	do, tmp := filterServer(t)
	cases := []struct {
		name, req, body, cl string
	}{
		{"bytes", "GET /bytes HTTP/1.0\r\nX-Filter: 1\r\n\r\n", "HELLO BODY<END>", "15"},
		{"bytes unfiltered", "GET /bytes HTTP/1.0\r\n\r\n", "hello body", "10"},
		{"file", "GET /f.txt HTTP/1.0\r\nX-Filter: 1\r\n\r\n", "FILE CONTENT 0123456789<END>", "28"},
		{"filtered body, then Range", "GET /f.txt HTTP/1.1\r\nHost: x\r\nX-Filter: 1\r\nRange: bytes=0-3\r\nConnection: close\r\n\r\n", "FILE", "4"},
		{"encoded: no Range", "GET /f.txt HTTP/1.1\r\nHost: x\r\nX-Filter: 1\r\nX-CE: 1\r\nRange: bytes=0-3\r\nConnection: close\r\n\r\n", "FILE CONTENT 0123456789<END>", "28"},
		{"HEAD is not filtered", "HEAD /f.txt HTTP/1.0\r\nX-Filter: 1\r\n\r\n", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := do(c.req)
			if body != c.body || resp.Header.Get("Content-Length") != c.cl {
				t.Errorf("got %q (Content-Length %q), want %q (%q)", body, resp.Header.Get("Content-Length"), c.body, c.cl)
			}
		})
	}
	t.Run("over the memory bound", func(t *testing.T) {
		resp, body := do("GET /big HTTP/1.0\r\nX-Filter: 1\r\n\r\n")
		want := strings.Repeat("BIG BODY ", (filterMemMax/9)+1000) + "<END>"
		if body != want || resp.Header.Get("Content-Length") != fmt.Sprint(len(want)) {
			body = body[:min(len(body), 80)]
			t.Fatalf("%q... (Content-Length %s), want %d bytes", body, resp.Header.Get("Content-Length"), len(want))
		}
		if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
			t.Errorf("the spool file was left in server.upload-dirs: %v", ents)
		}
	})
	t.Run("filter failure", func(t *testing.T) {
		resp, body := do("GET /bytes HTTP/1.0\r\nX-Filter: fail\r\n\r\n")
		if resp.StatusCode != 500 || !strings.Contains(body, "500") {
			t.Errorf("got %d %.80q", resp.StatusCode, body)
		}
	})
}

func TestFilterStreams(t *testing.T) {
	do, _ := filterServer(t)
	filterSeen.flushes = 0
	resp, body := do("GET /stream HTTP/1.1\r\nHost: x\r\nX-Filter: 1\r\nConnection: close\r\n\r\n")
	if body != "PART 0;PART 1;PART 2;<END>" || len(resp.TransferEncoding) == 0 {
		t.Errorf("streamed: %q %v", body, resp.TransferEncoding)
	}
	if filterSeen.flushes != 3 || !filterSeen.stream || filterSeen.known {
		t.Errorf("hook saw %+v", filterSeen)
	}
	resp, body = do("GET /stream-length HTTP/1.1\r\nHost: x\r\nX-Filter: 1\r\nConnection: close\r\n\r\n")
	if body != "TWELVE BYTES<END>" || resp.Header.Get("Content-Length") != "" {
		t.Errorf("announced length: %q, Content-Length %q", body, resp.Header.Get("Content-Length"))
	}
	if filterSeen.bodyLen != 12 || !filterSeen.known {
		t.Errorf("hook saw %+v", filterSeen)
	}
	resp, body = do("GET /stream-length HTTP/1.0\r\n\r\n")
	if body != "twelve bytes" || resp.Header.Get("Content-Length") != "12" {
		t.Errorf("unfiltered: %q, Content-Length %q", body, resp.Header.Get("Content-Length"))
	}
}

// TestRangeAfterResponseStart: the file sender's Range is applied after
// the hooks, which see the whole file with status 200, as in lighttpd.
func TestRangeAfterResponseStart(t *testing.T) {
	do, _ := filterServer(t)
	cases := []struct {
		name, rng string
		status    int
		body      string
	}{
		{"single", "bytes=0-3", 206, "file"},
		{"multipart", "bytes=0-1,5-6", 206, ""},
		{"unsatisfiable", "bytes=900-", 416, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := do("GET /f.txt HTTP/1.1\r\nHost: x\r\nRange: " + c.rng + "\r\nConnection: close\r\n\r\n")
			if resp.StatusCode != c.status || (c.body != "" && body != c.body) {
				t.Errorf("got %d %q", resp.StatusCode, body)
			}
			if filterSeen.status != 200 || !filterSeen.whole || filterSeen.bodyLen != 23 {
				t.Errorf("hook saw %+v", filterSeen)
			}
		})
	}
}

func TestStatsCount(t *testing.T) {
	srv, dial, _ := testServer(t, fmt.Sprintf(`server.document-root = %q
server.modules = ("mod_test_body")`, t.TempDir()))
	var got int
	for _, req := range []string{"GET /bytes HTTP/1.0\r\n\r\n", "GET /missing HTTP/1.0\r\n\r\n", "HEAD /bytes HTTP/1.0\r\n\r\n", "BREW /bytes HTTP/1.0\r\n\r\n"} {
		c := dial()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, req)
		b, _ := io.ReadAll(c)
		got += len(b)
	}
	st := srv.Stats()
	counts := map[string]uint64{}
	st.EachRequestCount(func(m string, code int, n uint64) { counts[fmt.Sprintf("%s %d", m, code)] = n })
	want := map[string]uint64{"GET 200": 1, "GET 404": 1, "HEAD 200": 1, "other 501": 1}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("counts %v, want %v", counts, want)
	}
	if st.Requests() != 4 || st.BytesOut() != uint64(got) || st.InFlight() != 0 {
		t.Errorf("requests %d, bytes out %d (client got %d), in flight %d", st.Requests(), st.BytesOut(), got, st.InFlight())
	}
	cum, n, sum := st.Durations()
	if n != 4 || cum[len(cum)-1] > n || sum <= 0 {
		t.Errorf("durations %v %d %v", cum, n, sum)
	}
	st.RecordReload(false)
	st.RecordReload(true)
	if ok, failed, last := st.Reloads(); ok != 1 || failed != 1 || time.Since(last) > time.Minute {
		t.Errorf("reloads %d %d %v", ok, failed, last)
	}
}

// BenchmarkStatsRecord is what the counters add to a request (the
// in-flight count, a clock read, the counts): compare with
// BenchmarkKeepAlive1KiB (modules/staticfile), the whole keep-alive
// request they are part of.
func BenchmarkStatsRecord(b *testing.B) {
	var st Stats
	start := time.Now()
	b.ReportAllocs()
	b.Run("serial", func(b *testing.B) {
		for range b.N {
			st.inFlight.Add(1)
			st.inFlight.Add(-1)
			st.record("GET", 200, 80, 1300, time.Since(start))
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				st.inFlight.Add(1)
				st.inFlight.Add(-1)
				st.record("GET", 200, 80, 1300, time.Since(start))
			}
		})
	})
}
