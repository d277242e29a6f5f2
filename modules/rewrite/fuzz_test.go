package rewrite_test

import (
	"bufio"
	"bytes"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golighty/golighty/core/coretest"
	_ "github.com/golighty/golighty/modules/redirect"
)

// FuzzRewriteTarget sends hostile targets through rules that copy captures
// raw, decoded from base64 and percent-encoded into the new target and into
// Location: whatever the target, the server answers with a well-formed
// response or drops the connection, never serves the file beside the
// document root, and never writes a control character into a header.
func FuzzRewriteTarget(f *testing.F) {
	h := coretest.New(f, `
server.document-root = "@DIR@/www"
server.modules = ("mod_rewrite", "mod_redirect", "mod_staticfile")
url.rewrite-once = (
	"^/raw/(.*)" => "/$1",
	"^/b64/([^?]*)" => "/${decb64u:1}",
	"^/esc/(.*)" => "/${esc:1}/${noesc:1}",
	"^/qs/([^?]*)\?(.*)" => "/$2/$1${qsa}",
)
url.rewrite-repeat = ("^/rep/(.)(.*)" => "/rep/$2$1$1")
url.redirect = ("^/go/(.*)" => "http://x/${decb64u:1}$1", "^/www/(.*)" => "$1")
`)
	h.WriteFile("www/a.txt", "a")
	h.WriteFile("secret.txt", "SECRET")
	for _, s := range []string{
		"/raw/a.txt", "/raw/../secret.txt", "/raw/%2e%2e/secret.txt", "/b64/Li4vc2VjcmV0LnR4dA",
		"/b64/YQ0KYg", "/b64/YQBi", "/esc/%00", "/qs/a?b", "/rep/abcdef", "/go/YQ0KU2V0LUNvb2tpZTogeA",
		"/www/%0d%0ax", "/raw/" + strings.Repeat("%41", 200), "/b64/" + strings.Repeat("Li4v", 40) + "c2VjcmV0LnR4dA",
	} {
		f.Add(s)
	}
	secret := filepath.Join(h.Dir, "secret.txt")
	f.Fuzz(func(t *testing.T, target string) {
		if strings.ContainsAny(target, " \r\n") || len(target) > 4000 {
			return // not one request line
		}
		ht := *h // the harness reports to this run, not to the F
		ht.T = t
		raw := ht.Raw("GET " + target + " HTTP/1.0\r\nHost: x\r\n\r\n")
		if len(raw) == 0 {
			return // dropped: loop, invalid result, overlong result
		}
		head, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
		if !ok {
			t.Fatalf("truncated response %q", raw)
		}
		for _, line := range bytes.Split(head, []byte("\r\n")) {
			if bytes.ContainsAny(line, "\x00\r\n") {
				t.Fatalf("control character in header line %q", line)
			}
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
		if err != nil {
			t.Fatalf("%v: %q", err, raw)
		}
		if resp.StatusCode == 200 && bytes.Contains(body, []byte("SECRET")) {
			t.Fatalf("%s served for %q", secret, target)
		}
	})
}
