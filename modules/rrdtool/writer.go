package rrdtool

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// writer is the rrdtool process and the databases it updates, shared by
// every snapshot that names the same binary.
type writer struct {
	binary  string
	started time.Time

	mu      sync.Mutex // the pipe and the process
	cmd     *exec.Cmd
	in      io.WriteCloser
	out     *bufio.Reader
	running bool

	dbMu sync.Mutex
	dbs  map[string]*dbEntry

	quit chan struct{}
	done chan struct{}
}

type dbEntry struct {
	c    *counters
	refs int
}

// interval is how often the figures are written (lighttpd: on each full
// minute of the clock); tests shorten it.
var interval = time.Minute

// log is the error log (the process's default logger is lighttpd's error
// log once the server runs).
func logf(format string, args ...any) { slog.Default().Error(fmt.Sprintf(format, args...)) }

func startWriter(binary string) (*writer, error) {
	w := &writer{binary: binary, started: time.Now(), dbs: map[string]*dbEntry{}, quit: make(chan struct{}), done: make(chan struct{})}
	if err := w.exec(); err != nil {
		return nil, err
	}
	go w.loop()
	return w, nil
}

// exec starts `rrdtool -`, which reads commands on stdin and answers each
// with a line starting "OK" or "ERROR".
func (w *writer) exec() error {
	cmd := exec.Command(w.binary, "-")
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("fork/exec(%s): %w", w.binary, err)
	}
	w.cmd, w.in, w.out, w.running = cmd, in, bufio.NewReader(out), true
	return nil
}

// register returns the counters of database path, shared by snapshots.
func (w *writer) register(path string) *counters {
	w.dbMu.Lock()
	defer w.dbMu.Unlock()
	e := w.dbs[path]
	if e == nil {
		e = &dbEntry{c: &counters{path: path}}
		w.dbs[path] = e
	}
	e.refs++
	return e.c
}

func (w *writer) unregister(c *counters) {
	w.dbMu.Lock()
	defer w.dbMu.Unlock()
	if e := w.dbs[c.path]; e != nil && e.c == c {
		if e.refs--; e.refs == 0 {
			delete(w.dbs, c.path)
		}
	}
}

// loop writes on every interval boundary of the clock until stopped.
func (w *writer) loop() {
	defer close(w.done)
	for {
		now := time.Now()
		t := time.NewTimer(now.Truncate(interval).Add(interval).Sub(now))
		select {
		case <-w.quit:
			t.Stop()
			return
		case <-t.C:
			w.writeAll()
		}
	}
}

// writeAll updates every database; a dead rrdtool is started again first
// (at most once per interval, as in lighttpd).
func (w *writer) writeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.running {
		w.reap()
		if err := w.exec(); err != nil {
			logf("%v", err)
			return
		}
	}
	w.dbMu.Lock()
	dbs := make([]*counters, 0, len(w.dbs))
	for _, e := range w.dbs {
		dbs = append(dbs, e.c)
	}
	w.dbMu.Unlock()
	for _, c := range dbs {
		if !w.update(c) {
			return
		}
	}
}

// update creates the database if needed and sends the figures; false means
// rrdtool failed and is to be restarted.
func (w *writer) update(c *counters) bool {
	if !w.create(c.path) {
		return w.running
	}
	reqs, in, out := c.requests.Load(), c.in.Load(), c.out.Load()
	cmd := fmt.Sprintf("update %s N:%d:%d:%d\n", c.path, in, out, reqs)
	resp, err := w.command(cmd)
	if err != nil {
		logf("rrdtool-write: failed: %v", err)
		w.fatal()
		return false
	}
	switch {
	case strings.HasPrefix(resp, "OK"):
		// Only what was sent is taken off: requests that ended meanwhile
		// count in the next update.
		c.requests.Add(-reqs)
		c.in.Add(-in)
		c.out.Add(-out)
	case strings.Contains(resp, "(minimum one second step)") && time.Since(w.started) < 3*time.Second:
		// Just started: the previous process may have updated this second.
	default:
		logf("rrdtool-response: %s %s", strings.TrimSuffix(cmd, "\n"), resp)
		w.fatal()
		return false
	}
	return true
}

// rrdLayout is the database lighttpd creates: a 60 s step, the three
// counters as ABSOLUTE data sources, averages, maxima and minima over four
// resolutions.
const rrdLayout = " --step 60 " +
	"DS:InOctets:ABSOLUTE:600:U:U DS:OutOctets:ABSOLUTE:600:U:U DS:Requests:ABSOLUTE:600:U:U " +
	"RRA:AVERAGE:0.5:1:600 RRA:AVERAGE:0.5:6:700 RRA:AVERAGE:0.5:24:775 RRA:AVERAGE:0.5:288:797 " +
	"RRA:MAX:0.5:1:600 RRA:MAX:0.5:6:700 RRA:MAX:0.5:24:775 RRA:MAX:0.5:288:797 " +
	"RRA:MIN:0.5:1:600 RRA:MIN:0.5:6:700 RRA:MIN:0.5:24:775 RRA:MIN:0.5:288:797\n"

// create makes the database unless a non-empty regular file is there.
func (w *writer) create(path string) bool {
	if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			logf("not a regular file: %s", path)
			return false
		}
		if st.Size() > 0 {
			return true
		}
	}
	cmd := "create " + path + rrdLayout
	resp, err := w.command(cmd)
	if err != nil {
		logf("rrdtool-write: failed: %v", err)
		w.fatal()
		return false
	}
	if !strings.HasPrefix(resp, "OK") {
		logf("rrdtool-response: %s %s", strings.TrimSuffix(cmd, "\n"), resp)
		return false
	}
	return true
}

// command sends one line and reads rrdtool's answer: "OK ..." or
// "ERROR: ..." (a bounded wait, so a hung rrdtool cannot stall the writer).
func (w *writer) command(cmd string) (string, error) {
	if _, err := io.WriteString(w.in, cmd); err != nil {
		return "", err
	}
	type answer struct {
		s   string
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		s, err := w.out.ReadString('\n')
		ch <- answer{strings.TrimRight(s, "\n"), err}
	}()
	select {
	case a := <-ch:
		return a.s, a.err
	case <-time.After(30 * time.Second):
		w.cmd.Process.Kill()
		return "", fmt.Errorf("no answer from %s", w.binary)
	}
}

// fatal marks rrdtool dead; the next interval starts a new one.
func (w *writer) fatal() {
	w.running = false
	w.in.Close()
	w.cmd.Process.Kill()
}

// reap collects an exited rrdtool.
func (w *writer) reap() {
	if w.cmd != nil {
		w.cmd.Wait()
		w.cmd = nil
	}
}

// stop ends the writer: rrdtool sees end of input and exits.
func (w *writer) stop() {
	close(w.quit)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running {
		w.in.Close()
		w.running = false
	}
	w.reap()
}
