package logsink

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func newTestLogger(t *testing.T, opts ...HandlerOption) (*slog.Logger, func() []string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "error.log")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	opts = append([]HandlerOption{WithLocation(time.UTC)}, opts...)
	return slog.New(NewErrorLogHandler(s, opts...)), func() []string {
		data := readFile(t, path)
		if data == "" {
			return nil
		}
		if !strings.HasSuffix(data, "\n") {
			t.Fatalf("log does not end in a newline: %q", data)
		}
		return strings.Split(strings.TrimSuffix(data, "\n"), "\n")
	}
}

func TestErrorLogLineFormat(t *testing.T) {
	const stamp = `\d{4}-\d\d-\d\d \d\d:\d\d:\d\d: `
	tests := []struct {
		name string
		log  func(*slog.Logger)
		want []string // regular expressions, one per line
	}{
		{"plain message with caller location",
			func(l *slog.Logger) { l.Error("server started (golighty/1.0)") },
			[]string{`^` + stamp + `\(handler_test\.go\.\d+\) server started \(golighty/1\.0\)$`}},
		{"source override",
			func(l *slog.Logger) { l.Info("server started (lighttpd/1.4.69)", Source("server.c.1704")) },
			[]string{`^` + stamp + `\(server\.c\.1704\) server started \(lighttpd/1\.4\.69\)$`}},
		{"attributes text style",
			func(l *slog.Logger) {
				l.Warn("backend down", "host", "127.0.0.1", "port", 9000, "why", "conn refused", "ok", false)
			},
			[]string{`\) backend down host=127\.0\.0\.1 port=9000 why="conn refused" ok=false$`}},
		{"control bytes and non-ASCII escaped",
			func(l *slog.Logger) { l.Error("bad\tline\r\nx\x01\xffé") },
			[]string{`\) bad\\tline\\r\\nx\\x01\\xff\\xc3\\xa9$`}},
		{"multiline payload, one line each, CR dropped",
			func(l *slog.Logger) { l.Error("FastCGI-stderr:", Multiline("PHP Warning: a\r\nsecond\n")) },
			[]string{`\) FastCGI-stderr:PHP Warning: a$`, `\) FastCGI-stderr:second$`}},
		{"empty multiline payload logs nothing",
			func(l *slog.Logger) { l.Error("FastCGI-stderr:", Multiline("")) },
			nil},
		{"groups and WithAttrs",
			func(l *slog.Logger) {
				l.With("conn", 7).WithGroup("req").Info("done", "status", 200, slog.Group("t", "ms", 3))
			},
			[]string{`\) done conn=7 req\.status=200 req\.t\.ms=3$`}},
		{"error value",
			func(l *slog.Logger) { l.Error("open failed", "err", errors.New("no such file")) },
			[]string{`\) open failed err="no such file"$`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, lines := newTestLogger(t)
			tc.log(l)
			got := lines()
			if len(got) != len(tc.want) {
				t.Fatalf("got %d lines %q, want %d", len(got), got, len(tc.want))
			}
			for i, re := range tc.want {
				if !regexp.MustCompile(re).MatchString(got[i]) {
					t.Errorf("line %d = %q, want match for %s", i, got[i], re)
				}
			}
		})
	}
}

func TestErrorLogTimestamp(t *testing.T) {
	zone := time.FixedZone("X", -7*3600)
	at := time.Date(2026, 11, 25, 19, 2, 13, 5, time.UTC)
	tests := []struct {
		name string
		opts []HandlerOption
		want string
	}{
		{"local time, seconds", []HandlerOption{WithLocation(zone)}, "2026-11-25 12:02:13: (a.c.1) m"},
		{"high precision", []HandlerOption{WithLocation(time.UTC), WithHighPrecision(true)}, "2026-11-25 19:02:13.000000005: (a.c.1) m"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "e.log")
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			h := NewErrorLogHandler(s, tc.opts...)
			for i := 0; i < 2; i++ { // the second line comes from the cache
				r := slog.NewRecord(at, slog.LevelError, "m", 0)
				r.AddAttrs(Source("a.c.1"))
				if err := h.Handle(t.Context(), r); err != nil {
					t.Fatal(err)
				}
			}
			if got, want := readFile(t, path), tc.want+"\n"+tc.want+"\n"; got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}

func TestErrorLogLevel(t *testing.T) {
	l, lines := newTestLogger(t, WithLevel(slog.LevelWarn))
	l.Info("dropped")
	l.Warn("kept")
	got := lines()
	if len(got) != 1 || !strings.HasSuffix(got[0], ") kept") {
		t.Fatalf("lines %q", got)
	}
	l2, lines2 := newTestLogger(t)
	l2.Debug("debug is logged by default")
	if got := lines2(); len(got) != 1 {
		t.Fatalf("default level dropped debug: %q", got)
	}
}

func TestErrorLogSyslogHasNoTimestamp(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log.sock")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Skipf("unix datagram sockets unavailable: %v", err)
	}
	defer ln.Close()
	s, err := Open(SyslogSpec("daemon", SeverityErr), WithSyslogAddr(sock))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	slog.New(NewErrorLogHandler(s)).Error("boom", Source("server.c.1"))
	ln.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 512)
	n, err := ln.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b[:n])
	if want := "]: (server.c.1) boom"; !strings.HasSuffix(got, want) || !strings.HasPrefix(got, "<27>") {
		t.Fatalf("datagram %q, want <27>...%q", got, want)
	}
}

func BenchmarkErrorLogLine(b *testing.B) {
	s, err := Open(os.DevNull)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	l := slog.New(NewErrorLogHandler(s))
	b.ReportAllocs()
	for b.Loop() {
		l.Error("establishing connection failed", "socket", "tcp:127.0.0.1:9000")
	}
}

// FuzzErrorLogLine feeds hostile text (request data ends up in messages)
// through the handler: every record must stay one printable-ASCII line
// per physical payload line.
func FuzzErrorLogLine(f *testing.F) {
	f.Add("msg", "value", "")
	f.Add("a\nb\r\x00\xff", "\"=\\", "l1\r\nl2\n\nl3")
	f.Add("", "", "\n")
	path := filepath.Join(f.TempDir(), "fuzz.log")
	s, err := Open(path)
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	l := slog.New(NewErrorLogHandler(s))
	f.Fuzz(func(t *testing.T, msg, val, multi string) {
		if err := s.f.Truncate(0); err != nil {
			t.Fatal(err)
		}
		wantLines := 1
		if multi != "" {
			wantLines = strings.Count(strings.TrimSuffix(multi, "\n"), "\n") + 1
			l.Error(msg, "k", val, Multiline(multi))
		} else {
			l.Error(msg, "k", val)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(data), "\n"); n != wantLines || data[len(data)-1] != '\n' {
			t.Fatalf("%d lines for %d expected: %q", n, wantLines, data)
		}
		for _, c := range data {
			if c != '\n' && (c < ' ' || c > '~') {
				t.Fatalf("unescaped byte %#x in %q", c, data)
			}
		}
	})
}
