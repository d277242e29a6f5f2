package allocsize

import (
	"testing"
	"unsafe"
)

type (
	noPointers  struct{ b [3456]byte }
	withPointer struct {
		p *int
		b [3456 - 8]byte
	}
	small struct {
		p *int
		b [100]byte
	}
)

func TestOf(t *testing.T) {
	for _, tc := range []struct {
		name  string
		alloc func() any
		want  uint64
	}{
		// A pointer-free object fills its class exactly.
		{"3456 bytes, no pointers", func() any { return new(noPointers) }, 3456},
		// The same size with a pointer needs the header: the next class.
		{"3456 bytes with a pointer", func() any { return new(withPointer) }, 4096},
		// Small objects keep their pointer bitmap in the span, no header.
		{"108 bytes with a pointer", func() any { return new(small) }, 112},
	} {
		if got := Of(tc.alloc); got != tc.want {
			t.Errorf("%s: Of = %d, want %d", tc.name, got, tc.want)
		}
	}
	if unsafe.Sizeof(withPointer{}) != 3456 {
		t.Fatal("test type has the wrong size")
	}
}
