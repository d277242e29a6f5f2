package gw

import "testing"

// listed returns the watches on the waiting list, head first.
func listed() []*ClientWatch {
	waiting.mu.Lock()
	defer waiting.mu.Unlock()
	var ws []*ClientWatch
	for w := waiting.head; w != nil; w = w.next {
		ws = append(ws, w)
	}
	return ws
}

// TestClientWatchList: watches leave the waiting list in any order, a
// stopped watch can be started again, and Stop of an unstarted or stopped
// watch changes nothing.
func TestClientWatchList(t *testing.T) {
	var a, b, c ClientWatch
	abort := AbortFunc(func() { t.Error("abort called") })
	for _, order := range [][]*ClientWatch{{&a, &b, &c}, {&b, &a, &c}, {&c, &b, &a}, {&a, &c, &b}} {
		for _, w := range []*ClientWatch{&a, &b, &c} {
			w.Start(nil, abort)
		}
		if got := listed(); len(got) != 3 || got[0] != &c || got[2] != &a {
			t.Fatalf("after three starts the list is %v", got)
		}
		for i, w := range order {
			if w.Stop() {
				t.Fatal("Stop reports an abort that did not happen")
			}
			w.Stop()
			got := listed()
			if len(got) != 2-i {
				t.Fatalf("after %d stops the list has %d watches", i+1, len(got))
			}
			for _, g := range got {
				if g == w {
					t.Fatalf("stopped watch %p still listed", w)
				}
			}
		}
	}
	var never ClientWatch
	never.Stop()
	if got := listed(); len(got) != 0 {
		t.Fatalf("list not empty at the end: %d", len(got))
	}
}
