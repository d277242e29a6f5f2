package downloadapp

import (
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golighty/golighty/modules/secdownload"
)

func testApp(t *testing.T, now time.Time) *App {
	t.Helper()
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "a.txt"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(root, ".hidden"), []byte("h"), 0o644)
	return &App{Root: root, Secret: []byte("k"), Now: func() time.Time { return now }, ScriptName: "/app",
		SecDL: secdownload.Config{Secret: []byte("s"), URIPrefix: "/secure/", Algorithm: secdownload.HMACSHA256}}
}

func TestDownload(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a := testApp(t, now)
	good := a.DownloadURL("a.txt", "X-Sendfile")
	body := a.DownloadURL("a.txt", "X-send-response-body")
	// A link made an hour and a second ago has expired.
	old := testApp(t, now.Add(-ticketLife-time.Second))
	old.Root, old.Secret = a.Root, a.Secret
	expired := old.DownloadURL("a.txt", "X-Sendfile")
	forged := strings.Replace(good, "ticket=", "ticket=0", 1)
	other := strings.Replace(good, "file=a.txt", "file=b.txt", 1) // ticket of another file
	traversal := a.DownloadURL("../a.txt", "X-Sendfile")
	hidden := a.DownloadURL(".hidden", "X-Sendfile")
	for _, tc := range []struct {
		name, url, header string
		status            int
	}{
		{"x-sendfile", good, "X-Sendfile", 200},
		{"x-send-response-body", body, "X-send-response-body", 200},
		{"expired", expired, "", 403},
		{"forged ticket", forged, "", 403},
		{"ticket of another file", other, "", 403},
		{"traversal with a valid ticket", traversal, "", 403},
		{"hidden file", hidden, "", 403},
		{"no ticket", "/app/download?file=a.txt", "", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			a.ServeHTTP(w, httptest.NewRequest("GET", tc.url, nil))
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			for _, h := range []string{"X-Sendfile", "X-send-response-body"} {
				got := w.Header().Get(h)
				if want := map[bool]string{true: filepath.Join(a.Root, "a.txt")}[h == tc.header]; got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			if tc.status == 200 && w.Body.Len() != 0 {
				t.Errorf("the app sent a body with the handoff: %q", w.Body)
			}
		})
	}
}

func TestIndexLinks(t *testing.T) {
	now := time.Now()
	a := testApp(t, now)
	w := httptest.NewRecorder()
	a.ServeHTTP(w, httptest.NewRequest("GET", "/app/", nil))
	page := w.Body.String()
	if w.Code != 200 || strings.Contains(page, ".hidden") {
		t.Fatalf("status %d, page %s", w.Code, page)
	}
	for _, want := range []string{
		strings.ReplaceAll(a.DownloadURL("a.txt", "X-Sendfile"), "&", "&amp;"),
		strings.ReplaceAll(a.DownloadURL("a.txt", "X-send-response-body"), "&", "&amp;"),
		a.SecDL.Sign("/a.txt", now),
	} {
		if !strings.Contains(page, want) {
			t.Errorf("index lacks %s", want)
		}
	}
	// The secdownload link verifies with the module's own check.
	link := a.SecDL.Sign("/a.txt", now)
	p, _ := url.PathUnescape(link)
	check := a.SecDL
	check.DocumentRoot = a.Root
	if rel, status, _, reason := check.Verify(p, "", now); status != 0 || rel != "/a.txt" {
		t.Errorf("secdownload link %s: status %d (%s)", link, status, reason)
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("DOWNLOAD_ROOT", "")
	if _, err := FromEnv(); err == nil {
		t.Error("no error without DOWNLOAD_ROOT")
	}
	t.Setenv("DOWNLOAD_ROOT", "/srv")
	t.Setenv("DOWNLOAD_SECRET", "k")
	t.Setenv("SECDOWNLOAD_ALGORITHM", "rot13")
	if _, err := FromEnv(); err == nil {
		t.Error("no error for an unknown algorithm")
	}
	t.Setenv("SECDOWNLOAD_ALGORITHM", "")
	a, err := FromEnv()
	if err != nil || a.SecDL.URIPrefix != "/secure/" || a.SecDL.Algorithm != secdownload.HMACSHA256 {
		t.Errorf("defaults: %+v, %v", a, err)
	}
}
