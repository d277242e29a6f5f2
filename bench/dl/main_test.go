package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{"0", 0, false}, {"4096", 4096, false}, {"256k", 256 << 10, false}, {"1M", 1 << 20, false},
		{"", 0, true}, {"-1", 0, true}, {"1g", 0, true}, {"k", 0, true},
	} {
		got, err := parseSize(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("parseSize(%q) = %d, %v", tc.in, got, err)
		}
	}
}

// TestWorkerCounts: the client frames Content-Length, chunked and
// close-delimited bodies and counts every body byte.
func TestWorkerCounts(t *testing.T) {
	body := strings.Repeat("0123456789", 100000) // 1,000,000 bytes
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cl":
			w.Header().Set("Content-Length", "1000000")
		case "/close":
			w.Header().Set("Connection", "close")
		}
		w.Write([]byte(body)) // no Content-Length on /chunked: chunked
	}))
	defer srv.Close()
	for _, path := range []string{"/cl", "/chunked", "/close"} {
		t.Run(path, func(t *testing.T) {
			u, _ := url.Parse(srv.URL + path)
			o := &options{url: u, bufSize: 64 << 10}
			var tot totals
			var etag atomic.Pointer[string]
			w := newWorker(o, &tot, &etag)
			for range 3 {
				if err := w.one(); err != nil {
					t.Fatal(err)
				}
			}
			w.drop()
			if tot.reqs.Load() != 3 || tot.bytes.Load() != 3*int64(len(body)) || tot.status[2].Load() != 3 {
				t.Errorf("reqs %d bytes %d 2xx %d", tot.reqs.Load(), tot.bytes.Load(), tot.status[2].Load())
			}
		})
	}
	t.Run("paced", func(t *testing.T) {
		u, _ := url.Parse(srv.URL + "/cl")
		o := &options{url: u, bufSize: 1 << 20, rate: 4 << 20}
		var tot totals
		var etag atomic.Pointer[string]
		w := newWorker(o, &tot, &etag)
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
		defer cancel()
		w.loop(ctx)
		// 4 MiB/s for 0.6 s: about 2.5 MB, certainly not the 100+ MB an
		// unpaced loopback client would fetch.
		if b := tot.bytes.Load(); b > 4<<20 || b < 1<<20 {
			t.Errorf("%d bytes in %v at 4 MiB/s", b, time.Since(start))
		}
	})
}
