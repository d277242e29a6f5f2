package gw

import (
	"testing"

	"github.com/golighty/golighty/core"
)

// TestReadBodyBodiless: a request without a body gets an empty Body that
// reads as none, without an allocation (every GET to a backend asks).
func TestReadBodyBodiless(t *testing.T) {
	rc := &core.Request{}
	b, err := ReadBody(rc, 0)
	if err != nil || b.N != 0 || b.Reader() != nil || !b.InMemory() || b.Streamed() || b.File() != nil {
		t.Fatalf("ReadBody of a bodiless request: %+v, %v", b, err)
	}
	b.Close()
	if allocs := testing.AllocsPerRun(100, func() {
		b, _ := ReadBody(rc, 0)
		b.Close()
	}); allocs != 0 {
		t.Errorf("ReadBody of a bodiless request allocates %.0f times", allocs)
	}
}
