package secdownload_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golighty/golighty/core/coretest"
	"github.com/golighty/golighty/modules/secdownload"
	_ "github.com/golighty/golighty/modules/staticfile"
)

const e2eConf = `
server.document-root = "@DIR@/www"
server.modules = ("mod_secdownload")
mimetype.assign = (".bin" => "application/x-test", ".txt" => "text/plain")
secdownload.secret = "verysecret"
secdownload.document-root = "@DIR@/protected/"
secdownload.uri-prefix = "/dl/"
secdownload.timeout = 120
secdownload.algorithm = "md5"
$HTTP["url"] =^ "/hmac/" {
    secdownload.uri-prefix = "/hmac/"
    secdownload.algorithm = "hmac-sha256"
}
`

// link computes an md5 link the way lighttpd's documentation shows:
// md5(secret + rel-path + hex(timestamp)).
func link(prefix, rel string, ts int64) string {
	hexTS := fmt.Sprintf("%08x", ts)
	sum := md5.Sum([]byte("verysecret" + rel + hexTS))
	return prefix + hex.EncodeToString(sum[:]) + "/" + hexTS + rel
}

func TestSignedLinksThroughTheServer(t *testing.T) {
	h := coretest.New(t, e2eConf)
	h.WriteFile("protected/file.bin", strings.Repeat("0123456789", 100))
	h.WriteFile("protected/dir/a.txt", "inner\n")
	h.WriteFile("www/index.txt", "public\n")
	now := time.Now().Unix()

	good := link("/dl/", "/file.bin", now)
	tests := []struct {
		name   string
		path   string
		status int
		body   string
	}{
		{"valid link", good, 200, strings.Repeat("0123456789", 100)},
		{"nested path", link("/dl/", "/dir/a.txt", now), 200, "inner\n"},
		{"expired", link("/dl/", "/file.bin", now-1000), 410, ""},
		{"future", link("/dl/", "/file.bin", now+1000), 410, ""},
		{"tampered digit", "/dl/" + flipHex(good[len("/dl/")]) + good[len("/dl/")+1:], 403, ""},
		{"tampered path", strings.Replace(good, "file.bin", "file.biN", 1), 403, ""},
		{"missing file with valid mac", link("/dl/", "/none.bin", now), 404, ""},
		// The core resolves ".." before the module sees the path: the link no
		// longer parses, falls through, and nothing outside the root is served.
		{"dot-dot is resolved before the check", link("/dl/", "/../www/index.txt", now), 404, ""},
		{"outside prefix served normally", "/index.txt", 200, "public\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := h.Get(tt.path)
			if resp.StatusCode != tt.status {
				t.Fatalf("GET %s: %d, want %d", tt.path, resp.StatusCode, tt.status)
			}
			if tt.body != "" && body != tt.body {
				t.Fatalf("body %q", body)
			}
		})
	}

	// Range, ETag and 304 come from the core's file sender.
	resp, body := h.Do("GET " + good + " HTTP/1.1\r\nHost: x\r\nRange: bytes=10-19\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != 206 || body != "0123456789" {
		t.Fatalf("range: %d %q", resp.StatusCode, body)
	}
	etag := resp.Header.Get("ETag")
	resp, _ = h.Do("GET " + good + " HTTP/1.1\r\nHost: x\r\nIf-None-Match: " + etag + "\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != 304 {
		t.Fatalf("revalidation: %d", resp.StatusCode)
	}

	// A link printed by `golighty secdownload-url` is served.
	var out, errb bytes.Buffer
	code := secdownload.GenerateURLCommand([]string{"-secret", "verysecret", "-algorithm", "hmac-sha256", "-prefix", "/hmac/", "/file.bin"}, &out, &errb)
	if code != 0 {
		t.Fatalf("secdownload-url: %d %s", code, errb.String())
	}
	resp, _ = h.Get(strings.TrimSpace(out.String()))
	if resp.StatusCode != 200 {
		t.Fatalf("generated link %q: %d", out.String(), resp.StatusCode)
	}
}

// flipHex returns a hex digit other than c, so a tampered link always
// differs from the good one.
func flipHex(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}
