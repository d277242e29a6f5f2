package h1

import "testing"

func TestParkTable(t *testing.T) {
	var tb parkTable
	a, b := &parkedConn{parkedSock: &parkedSock{seq: 1}}, &parkedConn{parkedSock: &parkedSock{seq: 2}}
	idA := tb.add(a)
	idB := tb.add(b)
	if tb.n != 2 || idA == idB {
		t.Fatalf("after two adds: n=%d ids %x %x", tb.n, idA, idB)
	}
	if got := tb.take(idA); got != a {
		t.Fatalf("take(a) = %v", got)
	}
	if got := tb.take(idA); got != nil {
		t.Fatalf("second take(a) = %v, want nil", got)
	}
	// The freed entry is reused with a new generation: the old id (an
	// event that was already queued for a) must not find the new tenant.
	c := &parkedConn{parkedSock: &parkedSock{seq: 3}}
	idC := tb.add(c)
	if uint32(idC) != uint32(idA) {
		t.Fatalf("entry not reused: %x after %x", idC, idA)
	}
	if got := tb.take(idA); got != nil {
		t.Fatalf("stale id found %v", got)
	}
	for _, id := range []uint64{idC | 0xffff, uint64(len(tb.ents)) + 5} {
		if got := tb.take(id); got != nil {
			t.Errorf("take(%x) = %v, want nil", id, got)
		}
	}
	taken := tb.takeIf(func(pc *parkedConn) bool { return pc.seq == 2 })
	if len(taken) != 1 || taken[0] != b || tb.n != 1 {
		t.Fatalf("takeIf = %v, n=%d", taken, tb.n)
	}
	if got := tb.take(idB); got != nil {
		t.Fatalf("take after takeIf = %v", got)
	}
	if got := tb.take(idC); got != c || tb.n != 0 {
		t.Fatalf("take(c) = %v, n=%d", got, tb.n)
	}
}

// A wake-up and its re-arm (take then add) allocate nothing once the table
// has grown.
func TestParkTableNoAllocs(t *testing.T) {
	var tb parkTable
	pcs := make([]*parkedConn, 64)
	ids := make([]uint64, len(pcs))
	for i := range pcs {
		pcs[i] = &parkedConn{}
		ids[i] = tb.add(pcs[i])
	}
	n := testing.AllocsPerRun(100, func() {
		for i, id := range ids {
			ids[i] = tb.add(tb.take(id))
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per round, want 0", n)
	}
}

func BenchmarkParkTableWake(b *testing.B) {
	var tb parkTable
	ids := make([]uint64, 1000)
	for i := range ids {
		ids[i] = tb.add(&parkedConn{})
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := i % len(ids)
		ids[k] = tb.add(tb.take(ids[k]))
	}
}
