package filefd

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
)

func TestFD(t *testing.T) {
	if (FD{}).Valid() || (FD{}).Int() != -1 || New(-1).Valid() || Of(nil).Valid() {
		t.Fatal("the zero FD, a negative descriptor and a nil file must be none")
	}
	if d := New(0); !d.Valid() || d.Int() != 0 {
		t.Fatalf("descriptor 0 (stdin) is a descriptor: %+v", d)
	}
	want := bytes.Repeat([]byte("0123456789"), 1000)
	f, err := os.CreateTemp(t.TempDir(), "f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(want); err != nil { // (moves the offset, not pread's)
		t.Fatal(err)
	}
	d := Of(f)
	if d.Int() != int(f.Fd()) {
		t.Fatalf("Of: %d, the file's descriptor is %d", d.Int(), f.Fd())
	}
	cases := []struct {
		name    string
		off     int64
		n       int
		wantN   int
		wantErr error
	}{
		{"whole", 0, len(want), len(want), nil},
		{"middle", 1234, 100, 100, nil},
		{"past the end", int64(len(want)) - 10, 20, 10, io.EOF},
		{"at the end", int64(len(want)), 5, 0, io.EOF},
		{"empty", 7, 0, 0, nil},
	}
	for _, c := range cases {
		p := make([]byte, c.n)
		n, err := d.ReadAt(p, c.off)
		if n != c.wantN || !errors.Is(err, c.wantErr) && err != c.wantErr {
			t.Errorf("%s: ReadAt = %d, %v; want %d, %v", c.name, n, err, c.wantN, c.wantErr)
			continue
		}
		if !bytes.Equal(p[:n], want[c.off:c.off+int64(n)]) {
			t.Errorf("%s: wrong bytes", c.name)
		}
	}
	if _, err := (FD{}).ReadAt(make([]byte, 1), 0); err == nil {
		t.Error("ReadAt of no descriptor must fail")
	}
}
