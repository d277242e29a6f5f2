package fcgi

import (
	"bytes"
	"strconv"
	"testing"
)

// TestAddIntAllocs: AddInt encodes a number as Add encodes its decimal
// string, without making the string.
func TestAddIntAllocs(t *testing.T) {
	for _, n := range []int64{0, 7, 200, 50810, -1, 1 << 40} {
		var a, b Params
		a.Add("REMOTE_PORT", strconv.FormatInt(n, 10))
		b.AddInt("REMOTE_PORT", n)
		if !bytes.Equal(a.buf, b.buf) {
			t.Errorf("%d: AddInt wrote %q, Add %q", n, b.buf, a.buf)
		}
	}
	p := Params{buf: make([]byte, 0, 1024)}
	if n := testing.AllocsPerRun(100, func() {
		p.Reset()
		p.AddInt("REMOTE_PORT", 50810)
	}); n != 0 {
		t.Errorf("%.1f allocations per AddInt, want 0", n)
	}
}
