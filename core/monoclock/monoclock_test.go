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

// TestTime: the request clock agrees with time.Now on both clocks, moves
// forward, and its readings survive Nanos and At.
func TestTime(t *testing.T) {
	a := Time()
	now := time.Now()
	time.Sleep(2 * time.Millisecond)
	b := Time()
	// Against time.Now's wall clock too: Round(0) drops the monotonic
	// reading, so Sub compares wall times.
	if d := now.Round(0).Sub(a.Round(0)); d < 0 || d > 50*time.Millisecond {
		t.Errorf("Time's wall clock is %v behind time.Now's", d)
	}
	if d := now.Sub(a); d < 0 || d > 50*time.Millisecond {
		t.Errorf("Time's monotonic clock is %v behind time.Now's", d)
	}
	if d := b.Sub(a); d < 2*time.Millisecond {
		t.Errorf("Time advanced %v over a 2 ms sleep", d)
	}
	if got := At(Nanos(b)); got.Sub(b) != 0 {
		t.Errorf("At(Nanos(b)) is %v from b", got.Sub(b))
	}
	if n := Nanos(b) - Nanos(a); n != int64(b.Sub(a)) {
		t.Errorf("Nanos differ by %d, the readings by %d", n, b.Sub(a))
	}
}

// TestTicking: Seconds and Unix follow the clocks to within a tick, and
// they advance when a second passes.
func TestTicking(t *testing.T) {
	s, u := Seconds(), Unix()
	for Seconds() != s { // a tick came between the two
		s, u = Seconds(), Unix()
	}
	if want := int64((time.Since(base) + time.Duration(base.Nanosecond())) / time.Second); s < want-1 || s > want {
		t.Errorf("Seconds = %d, want %d", s, want)
	}
	if now := time.Now().Unix(); u < now-1 || u > now {
		t.Errorf("Unix = %d, time.Now says %d", u, now)
	}
	deadline := time.Now().Add(3 * time.Second)
	for Unix() == u || Seconds() == s {
		if time.Now().After(deadline) {
			t.Fatalf("the clock did not tick in 3 s (Unix %d, Seconds %d)", Unix(), Seconds())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Both turn at the same tick (a stat stamp is a second old when the
	// Date header says so).
	if s2, u2 := Seconds(), Unix(); s2 == Seconds() && u2-s2 != u-s {
		t.Errorf("Unix and Seconds turned apart: %d-%d then %d-%d", u, s, u2, s2)
	}
	// A tick comes just after the wall second turns: within 100 ms of it
	// (a loaded machine delays the timer), Unix has the new second.
	for range 3 {
		now := time.Now()
		if ms := now.Nanosecond() / 1e6; ms >= 100 && ms < 900 && Unix() != now.Unix() {
			t.Errorf("at %d ms into second %d, Unix says %d", ms, now.Unix(), Unix())
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func BenchmarkNow(b *testing.B) {
	for b.Loop() {
		Now()
	}
}

func BenchmarkTime(b *testing.B) {
	for b.Loop() {
		Time()
	}
}

func BenchmarkTimeNow(b *testing.B) {
	for b.Loop() {
		time.Now()
	}
}

func BenchmarkUnix(b *testing.B) {
	for b.Loop() {
		Unix()
	}
}
