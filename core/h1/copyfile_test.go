package h1

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/golighty/golighty/core/filefd"
)

// TestCopyFile checks the read-and-write path used where sendfile(2)
// cannot be (TLS): offsets across chunk boundaries, and a file that
// shrinks under the response ends it with an error.
func TestCopyFile(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 3*copyBufSize+777)
	for i := range data {
		data[i] = byte(i * 7)
	}
	path := filepath.Join(dir, "f")
	must(t, os.WriteFile(path, data, 0o644))
	for _, tc := range []struct {
		name     string
		off, n   int64
		truncate int64 // shrink the file to this size before sending (-1: no)
		wantErr  bool
	}{
		{"whole", 0, int64(len(data)), -1, false},
		{"unaligned middle", 12345, 2*copyBufSize + 3, -1, false},
		{"shrunk", 0, int64(len(data)), copyBufSize + 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.truncate >= 0 {
				must(t, os.WriteFile(path, data[:tc.truncate], 0o644))
				defer os.WriteFile(path, data, 0o644)
			}
			f, err := os.Open(path)
			must(t, err)
			defer f.Close()
			cli, srv := net.Pipe()
			defer cli.Close()
			c := &conn{rwc: srv, cfg: &Config{}}
			errc := make(chan error, 1)
			go func() { errc <- c.copyFile(filefd.Of(f), tc.off, tc.n); srv.Close() }()
			got, _ := io.ReadAll(cli)
			err = <-errc
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error for a shrunk file")
				}
				return
			}
			must(t, err)
			if !bytes.Equal(got, data[tc.off:tc.off+tc.n]) {
				t.Fatalf("got %d bytes, want %d (content differs)", len(got), tc.n)
			}
		})
	}
}
