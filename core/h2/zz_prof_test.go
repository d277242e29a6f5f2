package h2

import (
	"bytes"
	"os"
	"os/exec"
	"runtime/pprof"
	"testing"
)

func TestZZProf(t *testing.T) {
	if os.Getenv("H2PROF") == "" {
		t.Skip()
	}
	body := bytes.Repeat([]byte("x"), 1024)
	e := startEngine(t, HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.AddHeader("Content-Type", "text/plain")
		w.AddHeader("ETag", `"123456"`)
		w.AddHeader("Content-Length", "1024")
		w.WriteHead(int64(len(body)), body)
	}), nil)
	f, _ := os.Create("/tmp/h2cpu.out")
	pprof.StartCPUProfile(f)
	out, _ := exec.Command("taskset", "-c", "1", "h2load", "-D", "4", "-c", "16", "-m", "8", "http://"+e.addr+"/x").CombinedOutput()
	pprof.StopCPUProfile()
	t.Log(string(out[len(out)-700:]))
}
