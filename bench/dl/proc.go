package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procSample is a server's CPU time and memory at one moment.
type procSample struct {
	cpu          time.Duration // utime+stime, all threads (exited ones too)
	run          time.Duration // on-CPU time of the live threads (schedstat, ns precision)
	rssKB, hwmKB int
}

// userHZ is the unit of /proc/<pid>/stat times (fixed at 100 in Linux's ABI).
const userHZ = 100

func readProc(pid int) procSample {
	var s procSample
	if pid <= 0 {
		return s
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		fatal("server pid %d: %v", pid, err)
	}
	// Fields after the command name, which is in parentheses and may
	// hold spaces: state is field 3, utime 14, stime 15.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	s.cpu = time.Duration(ut+st) * time.Second / userHZ
	s.run = threadRunTime(pid)
	st2, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		fatal("server pid %d: %v", pid, err)
	}
	for _, line := range strings.Split(string(st2), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		switch k {
		case "VmRSS":
			s.rssKB = kb
		case "VmHWM":
			s.hwmKB = kb
		}
	}
	return s
}

// threadRunTime sums the on-CPU time of pid's threads from schedstat, in
// nanoseconds: finer than stat's 10 ms ticks, but blind to threads that
// exited (the runtime rarely ends threads).
func threadRunTime(pid int) time.Duration {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var sum time.Duration
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) > 0 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			sum += time.Duration(ns)
		}
	}
	return sum
}

// selfCPU is this client's own CPU time, to show where a loopback transfer
// spends its kernel work (a sender's data can be pushed out from the
// receiver's context when its acknowledgements arrive).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
