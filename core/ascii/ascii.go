// Package ascii compares text the way HTTP and lighttpd do: field names,
// tokens and schemes match ignoring the case of ASCII letters only
// (lighttpd's buffer_eq_icase_ssn). strings.EqualFold also folds Unicode
// (the Kelvin sign matches k), which no HTTP name should.
package ascii

// EqualFold reports whether a and b are equal ignoring ASCII case. The
// lengths are compared first: a lookup walks a dozen names, and most
// differ in length.
func EqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if x, y := a[i], b[i]; x != y {
			if l := x | 0x20; l != y|0x20 || l < 'a' || l > 'z' {
				return false
			}
		}
	}
	return true
}
