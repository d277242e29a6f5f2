package cgi

import (
	"os"
	"syscall"
	"testing"

	"github.com/golighty/golighty/core/rawpoll"
)

// openFDs counts this process's descriptors, but for epoll sets and the
// runtime's eventfd (the netpoller's, and core/rawpoll's pool of wait
// slots, made on first use and kept).
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	n := 0
	for _, e := range ents {
		switch l, _ := os.Readlink("/proc/self/fd/" + e.Name()); l {
		case "anon_inode:[eventpoll]", "anon_inode:[eventfd]":
		default:
			n++
		}
	}
	return n
}

// TestReap: a script's exit status and a death by a signal come back
// through the pidfd, and nothing of the child is left (no zombie, no
// descriptor).
func TestReap(t *testing.T) {
	sh := "/bin/sh"
	if _, err := os.Stat(sh); err != nil {
		t.Skip(err)
	}
	for _, tc := range []struct {
		name   string
		script string
		code   int
		signal syscall.Signal
	}{
		{"exit 0", "exit 0", 0, 0},
		{"exit 3", "sleep 0.05; exit 3", 3, 0},
		{"killed", "kill -KILL $$", 0, syscall.SIGKILL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := openFDs(t)
			proc, pidfd, err := startProcess([]string{sh, "-c", tc.script}, &os.ProcAttr{Files: []*os.File{nil, nil, os.Stderr}})
			if err != nil {
				t.Fatal(err)
			}
			if pidfd == nil {
				t.Skip("no pidfd from this kernel: reaped with os.Process.Wait")
			}
			ch := &child{proc: proc, pid: proc.Pid, pidfd: pidfd}
			ws, err := ch.wait()
			if err != nil {
				t.Fatal(err)
			}
			if ws.Signaled() != (tc.signal != 0) || tc.signal != 0 && ws.Signal() != tc.signal || tc.signal == 0 && ws.ExitStatus() != tc.code {
				t.Errorf("status %v (exit %d, signaled %v), want exit %d, signal %v", ws, ws.ExitStatus(), ws.Signaled(), tc.code, tc.signal)
			}
			if _, err := syscall.Wait4(proc.Pid, nil, syscall.WNOHANG, nil); err != syscall.ECHILD {
				t.Errorf("the child is still there to reap: %v", err)
			}
			if after := openFDs(t); after > before {
				t.Errorf("%d descriptors before, %d after", before, after)
			}
		})
	}
}

// TestReapUnpollable: when the pidfd cannot be watched (kernels before 5.3
// give pidfds that epoll refuses), the script is still reaped, by a
// blocking wait. A regular file stands in for such a pidfd.
func TestReapUnpollable(t *testing.T) {
	proc, pidfd, err := startProcess([]string{"/bin/sh", "-c", "sleep 0.05; exit 7"}, &os.ProcAttr{Files: []*os.File{nil, nil, os.Stderr}})
	if err != nil {
		t.Skip(err)
	}
	if pidfd != nil {
		pidfd.Close()
	}
	f, err := os.CreateTemp(t.TempDir(), "not-a-pidfd")
	if err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	ch := &child{proc: proc, pid: proc.Pid, pidfd: rawpoll.Open(fd, "regular file")}
	ws, err := ch.wait()
	if err != nil || ws.ExitStatus() != 7 {
		t.Fatalf("status %v, %v; want exit 7", ws, err)
	}
	if _, err := syscall.Wait4(proc.Pid, nil, syscall.WNOHANG, nil); err != syscall.ECHILD {
		t.Errorf("the child is still there to reap: %v", err)
	}
}
