package main

import (
	"expvar"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
)

func init() {
	if os.Getenv("GOLIGHTY_DEBUG_ADDR") == "" {
		// Nothing will read a heap profile: no stack walk per sampled
		// allocation, no bucket table (1.4 MB reserved, touched at
		// random). Set before main runs, as runtime.MemProfileRate asks.
		runtime.MemProfileRate = 0
	}
}

// startDebug serves the Go runtime's counters and profiles on the address
// in GOLIGHTY_DEBUG_ADDR (e.g. 127.0.0.1:6060), for soak tests and leak
// hunting: /debug/goroutines (the count), /debug/vars (memstats) and
// /debug/pprof/. Off unless the variable is set; it has no access control,
// so give it a loopback address.
func startDebug(logger *slog.Logger) {
	addr := os.Getenv("GOLIGHTY_DEBUG_ADDR")
	if addr == "" {
		return
	}
	os.Unsetenv("GOLIGHTY_DEBUG_ADDR") // not for the backends spawned later
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/goroutines", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, runtime.NumGoroutine())
	})
	mux.Handle("/debug/vars", expvar.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() {
		if err := http.ListenAndServe(addr, mux); err != nil {
			logger.Error("debug listener: " + err.Error())
		}
	}()
}
