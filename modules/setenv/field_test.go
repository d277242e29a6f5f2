package setenv

import (
	"strings"
	"testing"

	"github.com/golighty/golighty/core"
)

func TestSetField(t *testing.T) {
	tests := []struct {
		name, set, value string
		want             string // written lines, "|"-separated
	}{
		{"replace repeated lines in first slot", "Set-Cookie", "z", "Set-Cookie: z|X: 1"},
		{"remove all lines", "set-cookie", "", "X: 1"},
		{"new field appended", "Y", "2", "Set-Cookie: a|X: 1|Set-Cookie: b|Y: 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h core.Headers
			h.Append("Set-Cookie", "a")
			h.Append("X", "1")
			h.Append("Set-Cookie", "b")
			setField(&h, tt.set, tt.value)
			var got []string
			h.Each(func(n, v string) { got = append(got, n+": "+v) })
			if strings.Join(got, "|") != tt.want {
				t.Fatalf("got %q, want %q", strings.Join(got, "|"), tt.want)
			}
		})
	}
}
