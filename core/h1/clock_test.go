package h1

import (
	"testing"
	"time"
)

// TestMonoNow: the deadline clock agrees with time.Now and moves forward.
func TestMonoNow(t *testing.T) {
	a := monoNow()
	now := time.Now()
	time.Sleep(2 * time.Millisecond)
	b := monoNow()
	if d := now.Sub(a); d < 0 || d > 50*time.Millisecond {
		t.Errorf("monoNow is %v behind time.Now", d)
	}
	if d := b.Sub(a); d < 2*time.Millisecond {
		t.Errorf("monoNow advanced %v over a 2 ms sleep", d)
	}
	if d := time.Until(b.Add(time.Second)); d <= 0 || d > time.Second {
		t.Errorf("a deadline a second after monoNow is %v away", d)
	}
}

func BenchmarkMonoNow(b *testing.B) {
	for b.Loop() {
		monoNow()
	}
}
