package h1

import (
	"testing"
)

func TestWireCases(t *testing.T) {
	_, addr := startServer(t, testConfig(), testHandler(testDocroot(t)))
	for _, tc := range wireCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, closed := exchange(t, addr, tc.raw)
			if resp.status != tc.status {
				t.Errorf("status %d, want %d\n%s", resp.status, tc.status, resp.head)
			}
			if closed != tc.closes {
				t.Errorf("closed=%v, want %v\n%s", closed, tc.closes, resp.head)
			}
		})
	}
}
