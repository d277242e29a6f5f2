package lighttpdconf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: arbitrary bytes give an *Error or a Config that prints, never a
// panic, hang or stack overflow. Inputs that mention "include" are skipped:
// include_shell would run the fuzzer's bytes as shell commands and include
// could read any file (both are covered by TestIncludes).
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/live/*.conf")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	for _, tc := range errCases {
		f.Add([]byte(tc.src))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Contains(data, []byte("include")) {
			t.Skip()
		}
		c, err := ParseBytes("fuzz.conf", data, &Options{Getwd: "/w", PID: 1, Getenv: noEnv})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		var out bytes.Buffer
		if err := c.Print(&out); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(out.Bytes(), []byte("config {\n")) {
			t.Fatalf("bad output %q", out.Bytes())
		}
	})
}
