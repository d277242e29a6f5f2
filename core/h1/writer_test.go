package h1

import (
	"strconv"
	"testing"
)

// TestAppendStatus: every code lighttpd names gets its reason phrase, any
// other code (however large or small) "CODE ".
func TestAppendStatus(t *testing.T) {
	for code := -1; code <= 1000; code++ {
		want := strconv.Itoa(code) + " " + statusText[code]
		if got := string(appendStatus([]byte("x"), code)); got != "x"+want {
			t.Fatalf("%d: %q, want %q", code, got, want)
		}
	}
	if got := string(appendStatus(nil, 304)); got != "304 Not Modified" {
		t.Errorf("304: %q", got)
	}
}
