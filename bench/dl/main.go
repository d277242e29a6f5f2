// Command dl is bench/'s download client: N keep-alive connections fetch
// one URL for a fixed time, reading the body 1 MiB per read(2) so the
// client is not what limits a large-file benchmark (wrk reads 8 KiB per
// call and tops out near 1.3 GB/s here). With -rate each connection is
// paced to simulate clients on slow links. Given the server's pid it
// reports the server's CPU time (utime+stime from /proc/<pid>/stat, over
// exactly the measured interval) per request and per GiB, and its peak RSS,
// so client-bound runs can still be compared by what they cost the server.
//
//	dl -c 8 -d 5s -pid 1234 http://127.0.0.1:8080/big.bin
//	dl -c 1000 -rate 256k -d 15s -pid 1234 http://127.0.0.1:8080/xs.php
//	dl -idle 8000 -pid 1234 http://127.0.0.1:8080/1k.txt
//
// The last line of output is machine-readable (key=value pairs); the
// lines before it are for people.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

type options struct {
	url      *url.URL
	conns    int
	dur      time.Duration
	bufSize  int
	rate     int64 // bytes per second per connection, 0 = unpaced
	close    bool  // Connection: close, one connection per request
	etag     bool  // revalidate with the first ETag received (304 case)
	hdrs     headers
	pid      int
	idle     int     // -idle mode: connections to hold open
	idleFrac float64 // share of -idle connections that make one request first
	ramp     time.Duration
	settle   time.Duration
	warm     time.Duration
}

func main() {
	var o options
	var rate, buf string
	flag.IntVar(&o.conns, "c", 8, "connections")
	flag.DurationVar(&o.dur, "d", 5*time.Second, "how long to measure")
	flag.StringVar(&buf, "buf", "1m", "bytes per read(2) of a body")
	flag.StringVar(&rate, "rate", "0", "pace each connection to this many bytes per second (k, m suffixes; 0: unpaced)")
	flag.BoolVar(&o.close, "close", false, "one connection per request (Connection: close)")
	flag.BoolVar(&o.etag, "etag", false, "send If-None-Match with the first ETag received")
	flag.Var(&o.hdrs, "H", "extra request header line (repeatable)")
	flag.IntVar(&o.pid, "pid", 0, "server process to report CPU time and RSS of")
	flag.IntVar(&o.idle, "idle", 0, "memory mode: hold this many connections open and report the server's RSS")
	flag.Float64Var(&o.idleFrac, "idle-active", 0.5, "with -idle: share of connections that make one request before idling")
	flag.DurationVar(&o.warm, "warm", 0, "run this long before measuring")
	flag.DurationVar(&o.ramp, "ramp", 0, "start the connections evenly over this time")
	flag.DurationVar(&o.settle, "settle", 2*time.Second, "with -idle: wait this long after the last connection opened before measuring")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: dl [flags] http://host:port/path")
		flag.PrintDefaults()
		os.Exit(2)
	}
	var err error
	if o.url, err = url.Parse(flag.Arg(0)); err != nil || o.url.Scheme != "http" {
		fatal("only http:// URLs: %v", flag.Arg(0))
	}
	r, err1 := parseSize(rate)
	b, err2 := parseSize(buf)
	if err := errors.Join(err1, err2); err != nil {
		fatal("%v", err)
	}
	o.rate, o.bufSize = r, int(b)
	if o.idle > 0 {
		runIdle(&o)
		return
	}
	runLoad(&o)
}

func fatal(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "dl: "+f+"\n", a...)
	os.Exit(1)
}

func parseSize(s string) (int64, error) {
	mul := int64(1)
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mul, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mul, s = 1<<20, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mul, nil
}

// totals are shared by all connections.
type totals struct {
	reqs, bytes, errs, reconnects atomic.Int64
	reads                         atomic.Int64    // body read(2) calls
	status                        [6]atomic.Int64 // by status class
	firstErr                      atomic.Pointer[string]
}

func (t *totals) fail(err error) {
	t.errs.Add(1)
	s := err.Error()
	t.firstErr.CompareAndSwap(nil, &s)
}

func runLoad(o *options) {
	var t totals
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var etag atomic.Pointer[string]
	// The measurement starts once every connection has been started, so
	// a ramp does not dilute the figures.
	for i := 0; i < o.conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWorker(o, &t, &etag)
			w.loop(ctx)
		}()
		if o.ramp > 0 {
			time.Sleep(o.ramp / time.Duration(o.conns))
		}
	}
	time.Sleep(o.warm)
	before, self0 := readProc(o.pid), selfCPU()
	r0, b0, n0, start := t.reqs.Load(), t.bytes.Load(), t.reads.Load(), time.Now()
	time.Sleep(o.dur)
	after, self1 := readProc(o.pid), selfCPU()
	reqs, bytes, reads, elapsed := t.reqs.Load()-r0, t.bytes.Load()-b0, t.reads.Load()-n0, time.Since(start)
	cancel()
	wg.Wait()

	secs := elapsed.Seconds()
	fmt.Printf("%d connections, %s, %s\n", o.conns, elapsed.Round(time.Millisecond), o.url)
	fmt.Printf("  %d requests (%.0f/s), %.1f MiB (%.1f MiB/s), %d errors, %d reconnects\n",
		reqs, float64(reqs)/secs, float64(bytes)/(1<<20), float64(bytes)/(1<<20)/secs, t.errs.Load(), t.reconnects.Load())
	fmt.Printf("  status 2xx %d, 3xx %d, 4xx %d, 5xx %d\n", t.status[2].Load(), t.status[3].Load(), t.status[4].Load(), t.status[5].Load())
	if e := t.firstErr.Load(); e != nil {
		fmt.Printf("  first error: %s\n", *e)
	}
	kv := []string{
		fmt.Sprintf("reqs=%d", reqs),
		fmt.Sprintf("rps=%.1f", float64(reqs)/secs),
		fmt.Sprintf("mibps=%.1f", float64(bytes)/(1<<20)/secs),
		fmt.Sprintf("errors=%d", t.errs.Load()),
	}
	if bytes > 0 {
		kv = append(kv, fmt.Sprintf("client_ms_gib=%.1f", (self1-self0).Seconds()*1e3/(float64(bytes)/(1<<30))),
			fmt.Sprintf("kib_per_read=%.0f", float64(bytes)/1024/float64(max(reads, 1))))
	}
	if o.pid > 0 {
		cpu := after.cpu - before.cpu
		if run := after.run - before.run; run > 0 && (cpu-run).Abs() < 30*time.Millisecond+cpu/10 {
			// Same quantity at nanosecond precision when no thread came
			// or went in a way that makes the two disagree.
			cpu = run
		}
		perReq, perGiB := "nan", "nan"
		if reqs > 0 {
			perReq = fmt.Sprintf("%.2f", cpu.Seconds()*1e6/float64(reqs))
		}
		if bytes > 0 {
			perGiB = fmt.Sprintf("%.1f", cpu.Seconds()*1e3/(float64(bytes)/(1<<30)))
		}
		fmt.Printf("  server: %.2f s CPU (%.0f%% of a core), %s µs per request, %s ms per GiB, peak RSS %.1f MB\n",
			cpu.Seconds(), 100*cpu.Seconds()/secs, perReq, perGiB, float64(after.hwmKB)/1024)
		kv = append(kv, "cpu_ms="+fmt.Sprintf("%.1f", cpu.Seconds()*1e3), "cpu_us_req="+perReq,
			"cpu_ms_gib="+perGiB, "hwm_kb="+strconv.Itoa(after.hwmKB), "rss_kb="+strconv.Itoa(after.rssKB))
	}
	fmt.Println(strings.Join(kv, " "))
}

// worker is one client connection (re-dialed when the server closes it).
type worker struct {
	o       *options
	t       *totals
	etag    *atomic.Pointer[string]
	nc      net.Conn
	br      *bufio.Reader
	buf     []byte
	req     []byte
	start   time.Time // pacing origin
	paced   int64     // bytes read since start
	chunk   int       // bytes per read when paced
	lastTag string
}

func newWorker(o *options, t *totals, etag *atomic.Pointer[string]) *worker {
	w := &worker{o: o, t: t, etag: etag, buf: make([]byte, o.bufSize), chunk: o.bufSize}
	if o.rate > 0 {
		// About 20 reads per second per connection: smooth enough that
		// the server sees a slow reader, not bursts.
		w.chunk = int(min(int64(o.bufSize), max(o.rate/20, 4096)))
		w.buf = w.buf[:w.chunk]
	}
	w.req = w.request("")
	return w
}

func (w *worker) request(etag string) []byte {
	var b bytes.Buffer
	path := w.o.url.RequestURI()
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", path, w.o.url.Host)
	if w.o.close {
		b.WriteString("Connection: close\r\n")
	}
	if etag != "" {
		fmt.Fprintf(&b, "If-None-Match: %s\r\n", etag)
	}
	for _, h := range w.o.hdrs {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

func (w *worker) loop(ctx context.Context) {
	go func() { // unblock a read in progress when the time is up
		<-ctx.Done()
		if nc := w.conn(); nc != nil {
			nc.SetDeadline(time.Unix(1, 0))
		}
	}()
	for ctx.Err() == nil {
		if err := w.one(); err != nil {
			if ctx.Err() == nil {
				w.t.fail(err)
				time.Sleep(10 * time.Millisecond)
			}
			w.drop()
		}
	}
	w.drop()
}

var connMu sync.Mutex

func (w *worker) conn() net.Conn {
	connMu.Lock()
	defer connMu.Unlock()
	return w.nc
}

func (w *worker) drop() {
	connMu.Lock()
	if w.nc != nil {
		w.nc.Close()
		w.nc = nil
	}
	connMu.Unlock()
}

// one makes one request and reads the whole response.
func (w *worker) one() error {
	if w.nc == nil {
		nc, err := net.Dial("tcp", w.o.url.Host)
		if err != nil {
			return err
		}
		connMu.Lock()
		w.nc = nc
		connMu.Unlock()
		if w.br == nil {
			w.br = bufio.NewReaderSize(nc, 64<<10)
		} else {
			w.br.Reset(nc)
		}
		w.t.reconnects.Add(1)
	}
	if w.o.etag {
		if e := w.etag.Load(); e != nil && *e != w.lastTag {
			w.lastTag = *e
			w.req = w.request(*e)
		}
	}
	if _, err := w.nc.Write(w.req); err != nil {
		return err
	}
	status, length, chunked, keep, err := w.readHead()
	if err != nil {
		return err
	}
	if status/100 < len(w.t.status) {
		w.t.status[status/100].Add(1)
	}
	switch {
	case status == 304 || status == 204 || status/100 == 1:
	case chunked:
		err = w.readChunked()
	case length >= 0:
		err = w.readN(length)
	default:
		err = w.readN(-1)
		keep = false
	}
	if err != nil {
		return err
	}
	w.t.reqs.Add(1)
	if !keep || w.o.close {
		w.drop()
	}
	return nil
}

func (w *worker) readHead() (status int, length int64, chunked, keep bool, err error) {
	length, keep = -1, true
	line, err := w.br.ReadSlice('\n')
	if err != nil {
		return 0, 0, false, false, err
	}
	f := strings.Fields(string(line))
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/1.") {
		return 0, 0, false, false, fmt.Errorf("bad status line %q", line)
	}
	status, _ = strconv.Atoi(f[1])
	keep = f[0] == "HTTP/1.1"
	for {
		line, err = w.br.ReadSlice('\n')
		if err != nil {
			return 0, 0, false, false, err
		}
		s := strings.TrimRight(string(line), "\r\n")
		if s == "" {
			return status, length, chunked, keep, nil
		}
		name, val, _ := strings.Cut(s, ":")
		val = strings.TrimSpace(val)
		switch strings.ToLower(name) {
		case "content-length":
			length, _ = strconv.ParseInt(val, 10, 64)
		case "transfer-encoding":
			chunked = strings.EqualFold(val, "chunked")
		case "connection":
			keep = strings.EqualFold(val, "keep-alive") || (keep && !strings.EqualFold(val, "close"))
		case "etag":
			if w.o.etag && w.etag.Load() == nil {
				v := val
				w.etag.CompareAndSwap(nil, &v)
			}
		}
	}
}

// readN reads n body bytes (n < 0: until EOF) in large reads, pacing them
// when asked.
func (w *worker) readN(n int64) error {
	for n != 0 {
		p := w.buf
		if n > 0 && int64(len(p)) > n {
			p = p[:n]
		}
		m, err := w.br.Read(p)
		w.t.bytes.Add(int64(m))
		w.t.reads.Add(1)
		w.pace(m)
		if n > 0 {
			n -= int64(m)
		}
		if err != nil {
			if n < 0 && err == io.EOF {
				return nil
			}
			if n != 0 {
				return err
			}
		}
	}
	return nil
}

func (w *worker) readChunked() error {
	for {
		line, err := w.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		hexLen, _, _ := strings.Cut(strings.TrimSpace(string(line)), ";")
		n, err := strconv.ParseInt(hexLen, 16, 64)
		if err != nil {
			return fmt.Errorf("bad chunk line %q", line)
		}
		if n == 0 {
			for { // trailers, then the empty line
				line, err = w.br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimSpace(line)) == 0 {
					return nil
				}
			}
		}
		if err := w.readN(n); err != nil {
			return err
		}
		if _, err := w.br.Discard(2); err != nil {
			return err
		}
	}
}

// pace sleeps until the bytes read so far fit the per-connection rate.
func (w *worker) pace(n int) {
	if w.o.rate <= 0 {
		return
	}
	if w.start.IsZero() {
		w.start = time.Now()
	}
	w.paced += int64(n)
	due := w.start.Add(time.Duration(float64(w.paced) / float64(w.o.rate) * float64(time.Second)))
	if d := time.Until(due); d > 0 {
		time.Sleep(d)
	}
}

// runIdle opens o.idle connections, lets a share of them make one request
// (they then sit in keep-alive), leaves the rest without a request, and
// reports the server's RSS before and after: memory per idle connection.
func runIdle(o *options) {
	before := readProc(o.pid)
	active := int(float64(o.idle) * o.idleFrac)
	conns := make([]net.Conn, o.idle)
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Pointer[string]
	sem := make(chan struct{}, 64)
	req := []byte(fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", o.url.RequestURI(), o.url.Host))
	start := time.Now()
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			nc, err := net.Dial("tcp", o.url.Host)
			if err == nil && i < active {
				err = idleRequest(nc, req)
			}
			if err != nil {
				failed.Add(1)
				s := err.Error()
				firstErr.CompareAndSwap(nil, &s)
				return
			}
			conns[i] = nc
		}()
	}
	wg.Wait()
	setup := time.Since(start)
	time.Sleep(o.settle) // let the server settle
	after := readProc(o.pid)
	open := 0
	for _, nc := range conns {
		if nc != nil {
			open++
		}
	}
	// Check the connections are still open: a server that closed them
	// would look cheap.
	alive := 0
	for _, nc := range conns {
		if nc == nil {
			continue
		}
		nc.SetReadDeadline(time.Now().Add(time.Millisecond))
		var b [1]byte
		if _, err := nc.Read(b[:]); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				alive++
			}
		}
		nc.Close()
	}
	fmt.Printf("%d connections (%d after one request), opened in %s, %d failed, %d still open when measured\n",
		o.idle, active, setup.Round(time.Millisecond), failed.Load(), alive)
	if e := firstErr.Load(); e != nil {
		fmt.Printf("  first error: %s\n", *e)
	}
	if o.pid == 0 {
		return
	}
	per := float64(after.rssKB-before.rssKB) * 1024 / float64(max(alive, 1))
	total := float64(after.rssKB) * 1024 / float64(max(alive, 1))
	fmt.Printf("  server RSS %.1f MB before, %.1f MB with the connections open: %.2f KB more per connection, %.2f KB per connection in all\n",
		float64(before.rssKB)/1024, float64(after.rssKB)/1024, per/1000, total/1000)
	fmt.Printf("conns=%d alive=%d rss0_kb=%d rss_kb=%d per_conn_b=%.0f total_per_conn_b=%.0f\n",
		o.idle, alive, before.rssKB, after.rssKB, per, total)
}

func idleRequest(nc net.Conn, req []byte) error {
	if _, err := nc.Write(req); err != nil {
		return err
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer nc.SetReadDeadline(time.Time{})
	br := bufio.NewReaderSize(nc, 4096)
	w := &worker{br: br, o: &options{}}
	_, length, _, _, err := w.readHead()
	if err != nil {
		return err
	}
	if length < 0 {
		return errors.New("no Content-Length")
	}
	_, err = br.Discard(int(length))
	return err
}
