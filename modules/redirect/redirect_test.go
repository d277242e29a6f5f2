package redirect_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/golighty/golighty/core/coretest"
	"github.com/golighty/golighty/modules/redirect"
	_ "github.com/golighty/golighty/modules/rewrite"
	_ "github.com/golighty/golighty/modules/staticfile"
)

const testConf = `
server.document-root = "@DIR@"
server.modules = ("mod_rewrite", "mod_redirect")
url.rewrite-once = ("^/rw/(.*)" => "/moved/$1")
url.redirect = (
	"^/old/(.*)" => "http://example.org/new/$1",
	"^/moved/(.*)" => "/after-rewrite/$1",
	"^/stay$" => "",
	"^/stay(.*)" => "/left$1",
	"^/qsa/([^?]*)" => "/t/$1${qsa}",
	"^/self/(.*)" => "${url.scheme}://${url.authority}/$1",
	"^/enc/([^?]*)" => "/e?d=${1}&e=${esc:1}",
	"^/b64/(.*)" => "/${decb64u:1}",
	"^/code/" => "/coded",
)
$HTTP["url"] =^ "/code/302" { url.redirect-code = 302 }
$HTTP["url"] =^ "/code/303" { url.redirect-code = 303 }
$HTTP["url"] =^ "/code/307" { url.redirect-code = 307 }
$HTTP["url"] =^ "/code/308" { url.redirect-code = 308 }
$HTTP["url"] =^ "/code/0" { url.redirect-code = 0 }
$HTTP["url"] =^ "/code/410" { url.redirect-code = 410 }
$HTTP["host"] =~ "^(\w+)\.example\.org$" {
	url.redirect = ("^/(.*)" => "https://%1.example.net/$1")
}
$HTTP["url"] =^ "/blk/" {
	url.redirect = ("^/blk/only" => "/only")
}
`

func TestRedirect(t *testing.T) {
	h := coretest.New(t, testConf)
	tests := []struct {
		name, target, host string
		status             int
		location           string
	}{
		{"absolute target with the query", "/old/x?y=1", "", 301, "http://example.org/new/x?y=1"},
		{"matches the rewritten target", "/rw/p?q", "", 301, "/after-rewrite/p?q"},
		{"empty target stops the list", "/stay", "", 404, ""},
		{"rule after the stopper", "/stay/x", "", 301, "/left/x"},
		{"qsa", "/qsa/a?b=1", "", 301, "/t/a?b=1"},
		{"qsa with a bare ?", "/qsa/a?", "", 301, "/t/a?"},
		{"scheme and authority", "/self/z", "h.test:8080", 301, "http://h.test:8080/z"},
		{"encodings", "/enc/a%20b%2Fc+d", "", 301, "/e?d=a%20b/c%2Bd&e=a%2520b%2Fc%2Bd"},
		{"302", "/code/302", "", 302, "/coded"},
		{"303", "/code/303", "", 303, "/coded"},
		{"307", "/code/307", "", 307, "/coded"},
		{"308", "/code/308", "", 308, "/coded"},
		{"out of range is 301", "/code/0", "", 301, "/coded"},
		{"error code gets the error page, no Location", "/code/410", "", 410, ""},
		{"default code", "/code/x", "", 301, "/coded"},
		{"%1 of the host condition", "/p?x", "www.example.org", 301, "https://www.example.net/p?x"},
		{"block list replaces the global one", "/blk/old/x", "", 404, ""},
		{"block rule", "/blk/only", "", 301, "/only"},
		{"CR LF from a capture is encoded", "/b64/" + base64.RawURLEncoding.EncodeToString([]byte("a\r\nSet-Cookie: x=1")), "", 301, "/a%0D%0ASet-Cookie: x=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := tt.host
			if host == "" {
				host = "example.com"
			}
			resp, body := h.Do("GET " + tt.target + " HTTP/1.0\r\nHost: " + host + "\r\n\r\n")
			if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location {
				t.Fatalf("got %d Location %q, want %d %q", resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.location)
			}
			if tt.location != "" && (body != "" || resp.Header.Get("Content-Length") != "0") {
				t.Fatalf("redirect body %q, Content-Length %q", body, resp.Header.Get("Content-Length"))
			}
			if resp.Header.Get("Set-Cookie") != "" {
				t.Fatal("header injected")
			}
		})
	}
}

func TestSafeLocation(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/plain?a=b", "/plain?a=b"},
		{"/a\r\nb", "/a%0D%0Ab"},
		{"/\x00\x01\x1f\x7f", "/%00%01%1F%7F"},
		{"/sp ace\ttab", "/sp ace%09tab"},
		{"/utf-8 \xc3\xa9", "/utf-8 \xc3\xa9"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(strings.ToValidUTF8(tt.in, "?"), func(t *testing.T) {
			if got := redirect.SafeLocation([]byte(tt.in)); got != tt.want {
				t.Fatalf("SafeLocation(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
