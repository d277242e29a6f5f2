package freelist

import (
	"sync"
	"testing"
)

func TestList(t *testing.T) {
	l := List[int]{Max: 2}
	if _, ok := l.Get(); ok {
		t.Fatal("Get on an empty list succeeded")
	}
	for i, want := range []bool{true, true, false} {
		if got := l.Put(i + 1); got != want {
			t.Fatalf("Put #%d = %v, want %v", i+1, got, want)
		}
	}
	if l.Len() != 2 {
		t.Fatalf("Len = %d, want 2", l.Len())
	}
	for _, want := range []int{2, 1} { // last in, first out
		if v, ok := l.Get(); !ok || v != want {
			t.Fatalf("Get = %d, %v; want %d", v, ok, want)
		}
	}
	if _, ok := l.Get(); ok || l.Len() != 0 {
		t.Fatal("values left after taking all")
	}
}

func TestListConcurrent(t *testing.T) {
	l := List[*int]{Max: 8}
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				v, ok := l.Get()
				if !ok {
					v = new(int)
				}
				l.Put(v)
			}
		}()
	}
	wg.Wait()
	if n := l.Len(); n < 1 || n > 8 {
		t.Fatalf("Len = %d, want 1..8", n)
	}
}
