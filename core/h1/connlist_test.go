package h1

import (
	"slices"
	"testing"
)

// TestConnList: connections leave the list from anywhere in it, and each
// sees exactly those still in.
func TestConnList(t *testing.T) {
	var l connList
	cs := make([]*conn, 5)
	for i := range cs {
		cs[i] = &conn{seq: i}
		l.add(cs[i])
	}
	in := func() []int {
		var seqs []int
		l.each(func(c *conn) { seqs = append(seqs, c.seq) })
		slices.Sort(seqs)
		return seqs
	}
	for _, tc := range []struct {
		remove int
		want   []int
	}{
		{2, []int{0, 1, 3, 4}}, // the middle
		{4, []int{0, 1, 3}},    // the head (added last)
		{0, []int{1, 3}},       // the tail
		{3, []int{1}},
		{1, nil},
	} {
		l.remove(cs[tc.remove])
		if got := in(); !slices.Equal(got, tc.want) || l.n != len(tc.want) {
			t.Fatalf("after removing %d: %v (n=%d), want %v", tc.remove, got, l.n, tc.want)
		}
	}
	l.add(cs[2]) // a pooled conn comes back
	if got := in(); !slices.Equal(got, []int{2}) || cs[2].prev != nil || cs[2].next != nil {
		t.Fatalf("re-added: %v", got)
	}
}
