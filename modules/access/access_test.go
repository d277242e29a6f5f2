package access

import "testing"

func TestAllowed(t *testing.T) {
	tests := []struct {
		name     string
		c        conf
		path     string
		fold     bool
		expected bool
	}{
		{"no lists", conf{}, "/a.inc", false, true},
		{"deny suffix", conf{deny: []string{"~", ".inc"}}, "/file.inc", false, false},
		{"deny tilde", conf{deny: []string{"~", ".inc"}}, "/index.html~", false, false},
		{"deny other", conf{deny: []string{"~", ".inc"}}, "/index.html", false, true},
		{"deny empty denies all", conf{deny: []string{""}}, "/x", false, false},
		{"deny case sensitive", conf{deny: []string{".inc"}}, "/a.INC", false, true},
		{"deny case folded", conf{deny: []string{".inc"}}, "/a.INC", true, false},
		{"allow match", conf{allow: []string{".html"}}, "/a.html", false, true},
		{"allow miss", conf{allow: []string{".html"}}, "/a.php", false, false},
		{"allow wins over deny", conf{allow: []string{".html"}, deny: []string{".html"}}, "/a.html", false, true},
		{"suffix longer than path", conf{deny: []string{"/very/long/suffix"}}, "/x", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := allowed(tt.c, tt.path, tt.fold); got != tt.expected {
				t.Fatalf("allowed(%+v, %q) = %v, want %v", tt.c, tt.path, got, tt.expected)
			}
		})
	}
}
