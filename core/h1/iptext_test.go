package h1

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"unsafe"
)

// TestIPTextOf: the text of an address seen last is reused, and any other
// address gets its own, right text.
func TestIPTextOf(t *testing.T) {
	var last atomic.Pointer[ipText]
	a := netip.MustParseAddr("192.0.2.7")
	first := ipTextOf(&last, a)
	if first != "192.0.2.7" {
		t.Fatalf("got %q", first)
	}
	if again := ipTextOf(&last, a); unsafe.StringData(again) != unsafe.StringData(first) {
		t.Error("the same address was formatted again")
	}
	for _, s := range []string{"2001:db8::1", "192.0.2.8", "192.0.2.7", "fe80::1%eth0"} {
		if got := ipTextOf(&last, netip.MustParseAddr(s)); got != s {
			t.Errorf("%s: got %q", s, got)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { ipTextOf(&last, a) }); allocs != 0 {
		t.Errorf("a repeated address: %v allocations", allocs)
	}
}
