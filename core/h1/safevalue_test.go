package h1

import (
	"strings"
	"testing"
)

// TestSafeValue checks the word-at-a-time test against the byte loop: every
// forbidden byte (and harmless bytes below 0x0e) at every position of values
// around the 8-byte boundaries.
func TestSafeValue(t *testing.T) {
	for n := 0; n <= 25; n++ {
		for pos := 0; pos < n; pos++ {
			for _, c := range []byte{0, '\n', '\r', '\t', 0x01, 0x0b, 0x0c, 0x0d, 0x0e, 0x7f, 0x80, 0xff} {
				b := []byte(strings.Repeat("a", n))
				b[pos] = c
				want := c != 0 && c != '\n' && c != '\r'
				if got := safeValue(b); got != want {
					t.Errorf("safeValue(%q) = %v, want %v", b, got, want)
				}
				if got := safeValue(string(b)); got != want {
					t.Errorf("safeValue(string %q) = %v, want %v", b, got, want)
				}
			}
		}
	}
}

func BenchmarkSafeValue(b *testing.B) {
	v := `"3842917360-1024-1733526000"`
	for b.Loop() {
		if !safeValue(v) {
			b.Fatal("unsafe")
		}
	}
}
