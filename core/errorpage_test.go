package core

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// TestErrorPage checks the shared built-in pages: each code's page is
// built once and returned again, with no room to append into, and codes
// outside 100-999 get a page of their own each time.
func TestErrorPage(t *testing.T) {
	for _, st := range []int{404, 500, 403, 999, 100} {
		p := errorPage(st)
		want := buildErrorPage(st)
		if !bytes.Equal(p, want) {
			t.Fatalf("%d: page %q, want %q", st, p, want)
		}
		if !strings.Contains(string(p), "<title>"+strconv.Itoa(st)+" "+StatusText(st)+"</title>") {
			t.Errorf("%d: no title in %q", st, p)
		}
		if cap(p) != len(p) {
			t.Errorf("%d: shared page has room to append into (len %d, cap %d)", st, len(p), cap(p))
		}
		q := errorPage(st)
		if &q[0] != &p[0] {
			t.Errorf("%d: page built again", st)
		}
		_ = append(q, "appended"...)
		if !bytes.Equal(errorPage(st), want) {
			t.Errorf("%d: an append changed the shared page", st)
		}
	}
	for _, st := range []int{99, 1000} {
		a, b := errorPage(st), errorPage(st)
		if !bytes.Equal(a, buildErrorPage(st)) || &a[0] == &b[0] {
			t.Errorf("%d: want a page of its own each time", st)
		}
	}
}
