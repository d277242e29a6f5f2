package h1

import (
	"strings"
	"testing"
)

// TestSafeValue checks the response-splitting guard: CR, LF and NUL at any
// position are refused, other bytes below 0x20 and high bytes are not.
func TestSafeValue(t *testing.T) {
	for n := 1; n <= 12; n++ {
		for pos := 0; pos < n; pos++ {
			for _, c := range []byte{0, '\n', '\r', '\t', 0x01, 0x0b, 0x0c, 0x0e, 0x7f, 0x80, 0xff} {
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
