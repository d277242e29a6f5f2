package ascii

import "testing"

// TestEqualFold: field names match ignoring ASCII case only, whatever
// their lengths, as lighttpd's buffer_eq_icase_ssn.
func TestEqualFold(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"Content-Type", "content-type", true},
		{"ETAG", "ETag", true},
		{"", "", true},
		{"Content-Type", "Content-Typ", false},
		{"X-A", "X-B", false},
		{"X[", "X{", false},    // '[' | 0x20 is '{': not letters
		{"X@", "X`", false},    // '@' | 0x20 is '`'
		{"K", "\u212a", false}, // Kelvin sign: strings.EqualFold's Unicode fold, not lighttpd's
		{"Vary", "vary", true},
	} {
		if got := EqualFold(tc.a, tc.b); got != tc.want {
			t.Errorf("EqualFold(%q, %q) = %v", tc.a, tc.b, got)
		}
		if got := EqualFold(tc.b, tc.a); got != tc.want {
			t.Errorf("EqualFold(%q, %q) = %v", tc.b, tc.a, got)
		}
	}
}
