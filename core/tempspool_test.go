package core

import (
	"bytes"
	"io"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestTempFilesSent: a read-ahead spool gives sent space back (holes, then
// an empty file once everything went out) and keeps one descriptor.
func TestTempFilesSent(t *testing.T) {
	var tf tempFiles
	tf.init(&ServerSettings{UploadDirs: []string{t.TempDir()}})
	defer tf.closeAll()
	chunk := bytes.Repeat([]byte("x"), 512<<10)
	for i := 0; i < 6; i++ { // 3 MiB
		if err := tf.write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if len(tf.segs) != 1 || tf.size() != 3<<20 {
		t.Fatalf("%d files, %d bytes", len(tf.segs), tf.size())
	}
	f := tf.segs[0].f
	blocks := func() int64 {
		var st unix.Stat_t
		unix.Fstat(int(f.Fd()), &st)
		return st.Blocks * 512
	}
	before := blocks()
	tf.sent(2<<20 + 100)
	if got := tf.segs[0].punched; got != 2<<20 {
		t.Errorf("punched %d, want %d", got, 2<<20)
	}
	if after := blocks(); after > before-(2<<20)+(64<<10) {
		t.Logf("no hole punching on this file system: %d -> %d bytes allocated", before, after)
	}
	// The rest is still there to send.
	rest := make([]byte, 10)
	if _, err := f.ReadAt(rest, 2<<20+100); err != nil || string(rest) != "xxxxxxxxxx" {
		t.Errorf("unsent bytes: %q, %v", rest, err)
	}
	tf.sent(tf.size())
	if st, _ := f.Stat(); st.Size() != 0 || tf.size() != 0 || len(tf.segs) != 1 {
		t.Errorf("after everything was sent: file %d bytes, spool %d bytes, %d files", st.Size(), tf.size(), len(tf.segs))
	}
	// The emptied file takes new data from its start.
	tf.write([]byte("again"))
	got, _ := io.ReadAll(io.NewSectionReader(f, 0, 5))
	if string(got) != "again" {
		t.Errorf("reused file holds %q", got)
	}
}

// TestTempFilesDirs: the first upload dir that works takes the spool; none
// working is an error naming lighttpd's message.
func TestTempFilesDirs(t *testing.T) {
	missing := t.TempDir() + "/missing"
	var tf tempFiles
	tf.init(&ServerSettings{UploadDirs: []string{missing, t.TempDir()}})
	if err := tf.write([]byte("x")); err != nil || len(tf.segs) != 1 {
		t.Fatalf("%v, %d files", err, len(tf.segs))
	}
	tf.closeAll()
	tf.init(&ServerSettings{UploadDirs: []string{missing}})
	if err := tf.write([]byte("x")); err == nil || !bytes.Contains([]byte(err.Error()), []byte("opening temp-file failed")) {
		t.Errorf("error %v", err)
	}
	// Unset upload-dirs: $TMPDIR, else /var/tmp.
	t.Setenv("TMPDIR", "/somewhere")
	if d := (&ServerSettings{}).tempDirs(); len(d) != 1 || d[0] != "/somewhere" {
		t.Errorf("tempDirs %v", d)
	}
	os.Unsetenv("TMPDIR")
	if d := (&ServerSettings{}).tempDirs(); len(d) != 1 || d[0] != "/var/tmp" {
		t.Errorf("tempDirs %v", d)
	}
}
