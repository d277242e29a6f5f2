package secdownload

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// phpGenerator is written the way lighttpd's documentation shows a PHP
// application building links: md5($secret.$f.$t_hex) for md5, and
// base64url(hash_hmac(..., "/".$t_hex.$f, $secret, true)) for the HMACs. With
// hash-querystr the query is part of $f ("/file?query").
const phpGenerator = `<?php
$secret = $argv[1];
$uri_prefix = $argv[2];
$algorithm = $argv[3];
$f = $argv[4];
$t_hex = sprintf("%08x", (int)$argv[5]);
function base64url($bin) {
    return rtrim(strtr(base64_encode($bin), '+/', '-_'), '=');
}
switch ($algorithm) {
case 'md5':
    $m = md5($secret.$f.$t_hex);
    break;
case 'hmac-sha1':
    $m = base64url(hash_hmac('sha1', '/'.$t_hex.$f, $secret, true));
    break;
case 'hmac-sha256':
    $m = base64url(hash_hmac('sha256', '/'.$t_hex.$f, $secret, true));
    break;
default:
    fwrite(STDERR, "unknown algorithm\n");
    exit(1);
}
printf('%s%s/%s%s', $uri_prefix, $m, $t_hex, $f);
`

func TestPHPGenerator(t *testing.T) {
	php, err := exec.LookPath("php")
	if err != nil {
		if os.Getenv("GOLIGHTY_REQUIRE_PEERS") == "1" {
			t.Fatalf("php-cli required (GOLIGHTY_REQUIRE_PEERS=1): %v", err)
		}
		t.Skipf("php-cli not installed: %v", err)
	}
	script := t.TempDir() + "/gen.php"
	if err := os.WriteFile(script, []byte(phpGenerator), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tests := []struct {
		alg   Algorithm
		qs    bool
		f     string
		query string
	}{
		{MD5, false, "/secret-file.txt", ""},
		{MD5, true, "/dir/file.bin", "user=42&exp=1"},
		{HMACSHA1, false, "/index.html", ""},
		{HMACSHA1, false, "/ünïcode/ßpace file.txt", ""},
		{HMACSHA256, false, "/index.html", ""},
		{HMACSHA256, true, "/index.html", "qs=1"},
	}
	for _, tc := range tests {
		for _, secret := range []string{"verysecret", strings.Repeat("long-secret-", 12)} {
			t.Run(tc.alg.String()+tc.f+"?"+tc.query+"/"+secret[:4], func(t *testing.T) {
				f := tc.f
				if tc.query != "" {
					f += "?" + tc.query
				}
				out, err := exec.Command(php, script, secret, "/dl/", tc.alg.String(), f, strconv.FormatInt(now.Unix(), 10)).Output()
				if err != nil {
					t.Fatalf("php: %v", err)
				}
				urlPath, query, _ := strings.Cut(string(out), "?")
				c := &Config{Secret: []byte(secret), DocumentRoot: "/srv", URIPrefix: "/dl/", Timeout: DefaultTimeout, Algorithm: tc.alg, HashQueryString: tc.qs}
				rel, status, handled, reason := c.Verify(urlPath, query, now)
				if !handled || status != 0 || rel != tc.f {
					t.Fatalf("Verify(%q, %q) = %q %d %v %q", urlPath, query, rel, status, handled, reason)
				}
				if got := c.Sign(f, now); got != string(out) {
					t.Errorf("Sign(%q) = %q, php printed %q", f, got, out)
				}
			})
		}
	}
}
