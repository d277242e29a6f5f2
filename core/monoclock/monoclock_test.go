package monoclock

import (
	"testing"
	"time"
)

// TestNow: the deadline clock agrees with time.Now and moves forward.
func TestNow(t *testing.T) {
	a := Now()
	now := time.Now()
	time.Sleep(2 * time.Millisecond)
	b := Now()
	if d := now.Sub(a); d < 0 || d > 50*time.Millisecond {
		t.Errorf("Now is %v behind time.Now", d)
	}
	if d := b.Sub(a); d < 2*time.Millisecond {
		t.Errorf("Now advanced %v over a 2 ms sleep", d)
	}
	if d := time.Until(b.Add(time.Second)); d <= 0 || d > time.Second {
		t.Errorf("a deadline a second after Now is %v away", d)
	}
}

// TestSeconds: the second clock starts near 0 and counts whole seconds of
// the monotonic clock.
func TestSeconds(t *testing.T) {
	s := Seconds()
	if want := int64(time.Since(base) / time.Second); s < 0 || s > want {
		t.Errorf("Seconds = %d, %d whole seconds since base", s, want)
	}
}

func BenchmarkNow(b *testing.B) {
	for b.Loop() {
		Now()
	}
}
