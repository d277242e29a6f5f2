package core

import "testing"

// TestHeadersFirstAllocation: a new list of up to eight fields, however
// they are added, costs one allocation (growing from one field cost four
// for five fields).
func TestHeadersFirstAllocation(t *testing.T) {
	names := []string{"Content-Type", "X-Powered-By", "Set-Cookie", "Cache-Control", "Vary", "ETag", "Expires", "Link"}
	for _, tc := range []struct {
		name string
		add  func(h *Headers, name, value string)
	}{
		{"Append", (*Headers).Append},
		{"Set", (*Headers).Set},
		{"Add", (*Headers).Add},
	} {
		var h *Headers
		allocs := testing.AllocsPerRun(50, func() {
			h = new(Headers) // (its own allocation)
			for _, n := range names {
				tc.add(h, n, "v")
			}
		})
		if allocs != 2 {
			t.Errorf("%s: %.0f allocations for a list of %d fields, want 2 (the list and its array)", tc.name, allocs, len(names))
		}
		if h.Len() != len(names) || h.Get("Link") != "v" {
			t.Errorf("%s: %d fields, Link %q", tc.name, h.Len(), h.Get("Link"))
		}
	}
}
