package dirlisting

import (
	"fmt"
	"testing"

	"github.com/golighty/golighty/core/coretest"
)

func TestBusyLimit(t *testing.T) {
	tests := []struct {
		name, maxConns string
		want           int32
	}{
		{"unset", "", 1},
		{"small", "server.max-connections = 20", 1},
		{"integer", "server.max-connections = 1024", 64},
		{"string", `server.max-connections = "100"`, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := coretest.New(t, "server.document-root = \"@DIR@\"\ndir-listing.activate = \"enable\"\n"+tt.maxConns+"\n")
			mod, ok := h.Snap.Module("mod_dirlisting")
			if !ok {
				t.Fatal("mod_dirlisting not loaded")
			}
			if got := mod.(*Module).maxBusy; got != tt.want {
				t.Fatalf("maxBusy %d, want %d", got, tt.want)
			}
		})
	}
}

func TestBusyRefusal(t *testing.T) {
	h := coretest.New(t, "server.document-root = \"@DIR@/www\"\ndir-listing.activate = \"enable\"\n")
	for i := range batch {
		h.WriteFile(fmt.Sprintf("www/big/f%02d", i), "")
	}
	h.WriteFile("www/small/f", "")
	mod, _ := h.Snap.Module("mod_dirlisting")
	m := mod.(*Module)

	m.busy.Store(m.maxBusy)
	resp, _ := h.Get("/small/")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "" {
		t.Fatalf("while busy: status %d, Retry-After %q; want 503 without it", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	m.busy.Store(0)
	for _, p := range []string{"/small/", "/big/"} {
		if resp, _ := h.Get(p); resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", p, resp.StatusCode)
		}
		if n := m.busy.Load(); n != 0 {
			t.Fatalf("%s: %d listings still counted as busy", p, n)
		}
	}
}
