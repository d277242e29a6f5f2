// Command gwbench is the gateway side of bench/compare.sh:
//
//	gwbench backend -http ADDR -echo ADDR   an HTTP backend (GET /1k, GET /1m)
//	                                        and a raw TCP echo (mod_wstunnel's backend)
//	gwbench ws -url ws://HOST:PORT/PATH -c N -d DURATION
//	                                        WebSocket echo round trips on N connections;
//	                                        prints "round-trips/s total"
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gwbench backend|ws ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "backend":
		err = backend(os.Args[2:])
	case "ws":
		err = wsClient(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func backend(args []string) error {
	fs := flag.NewFlagSet("backend", flag.ExitOnError)
	httpAddr := fs.String("http", "127.0.0.1:18090", "HTTP listen address")
	echoAddr := fs.String("echo", "127.0.0.1:18091", "echo listen address")
	fs.Parse(args)
	k1 := bytes.Repeat([]byte("k"), 1024)
	m1 := bytes.Repeat([]byte("m"), 1<<20)
	mux := http.NewServeMux()
	serve := func(b []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", fmt.Sprint(len(b)))
			w.Write(b)
		}
	}
	for _, prefix := range []string{"", "/px"} {
		mux.HandleFunc(prefix+"/1k", serve(k1))
		mux.HandleFunc(prefix+"/1m", serve(m1))
	}
	ln, err := net.Listen("tcp", *echoAddr)
	if err != nil {
		return err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return http.ListenAndServe(*httpAddr, mux)
}

func wsClient(args []string) error {
	fs := flag.NewFlagSet("ws", flag.ExitOnError)
	raw := fs.String("url", "ws://127.0.0.1:18080/ws/", "WebSocket URL")
	conns := fs.Int("c", 16, "connections")
	dur := fs.Duration("d", 5*time.Second, "duration")
	size := fs.Int("s", 64, "message size")
	fs.Parse(args)
	u, err := url.Parse(*raw)
	if err != nil {
		return err
	}
	var total atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, *conns)
	stop := time.Now().Add(*dur)
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := roundTrips(u, *size, stop)
			total.Add(n)
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Printf("%.0f %d\n", float64(total.Load())/dur.Seconds(), total.Load())
	return nil
}

// roundTrips sends a masked text frame and waits for its echo, until stop.
func roundTrips(u *url.URL, size int, stop time.Time) (int64, error) {
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		u.RequestURI(), u.Host, base64.StdEncoding.EncodeToString(key))
	br := bufio.NewReaderSize(c, 64<<10)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 101 ") {
		return 0, fmt.Errorf("handshake: %q %v", status, err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return 0, err
		}
		if line == "\r\n" {
			break
		}
	}
	payload := bytes.Repeat([]byte("p"), size)
	frame := []byte{0x81}
	if size < 126 {
		frame = append(frame, 0x80|byte(size))
	} else {
		frame = append(frame, 0x80|126, byte(size>>8), byte(size))
	}
	frame = append(frame, 0, 0, 0, 0) // a zero mask: the payload goes as is
	frame = append(frame, payload...)
	var n int64
	for time.Now().Before(stop) {
		if _, err := c.Write(frame); err != nil {
			return n, err
		}
		got := 0
		for got < size {
			var h [2]byte
			if _, err := io.ReadFull(br, h[:]); err != nil {
				return n, err
			}
			l := int(h[1] & 0x7f)
			if l == 126 {
				var x [2]byte
				io.ReadFull(br, x[:])
				l = int(x[0])<<8 | int(x[1])
			} else if l == 127 {
				return n, errors.New("frame too large")
			}
			if _, err := br.Discard(l); err != nil {
				return n, err
			}
			got += l
		}
		n++
	}
	return n, nil
}
