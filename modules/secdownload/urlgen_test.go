package secdownload

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func runGenerate(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = GenerateURLCommand(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestGenerateURLCommand(t *testing.T) {
	// 0x5f5e1000 = 1600000000.
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"md5 default algorithm", []string{"-secret", "verysecret", "-prefix", "/dl/", "-timestamp", "1600000000", "/index.html"},
			"/dl/13e0d7099522937aa2a38247798b4362/5f5e1000/index.html"},
		{"hex timestamp", []string{"-secret", "verysecret", "-algorithm", "md5", "-prefix", "/dl/", "-timestamp", "0x5f5e1000", "/index.html"},
			"/dl/13e0d7099522937aa2a38247798b4362/5f5e1000/index.html"},
		{"hmac-sha1", []string{"-secret", "verysecret", "-algorithm", "hmac-sha1", "-prefix", "/dl/", "-timestamp", "1600000000", "/index.html"},
			"/dl/oLcy41qqRUJzYZiq89ei9IkqnHE/5f5e1000/index.html"},
		{"hmac-sha256 hash-querystr", []string{"-secret", "verysecret", "-algorithm", "hmac-sha256", "-hash-querystr", "-prefix", "/dl/", "-timestamp", "1600000000", "/index.html?qs=1"},
			"/dl/Q9Z0HjPSAdfj0Q1_gsthKOB_qmb_F3EruZCd8j9z7Tg/5f5e1000/index.html?qs=1"},
		{"hmac-sha256 path-segments", []string{"-secret", "verysecret", "-algorithm", "hmac-sha256", "-path-segments", "1", "-prefix", "/dl/", "-timestamp", "1600000000", "/a/b/c.txt"},
			"/dl/IXDZxnq8Vzhb5N7_TGxbX0-xHF0BBk9eJaGg4TwTvZ8/5f5e1000/a/b/c.txt"},
		{"query not hashed by default", []string{"-secret", "verysecret", "-algorithm", "hmac-sha1", "-prefix", "/dl/", "-timestamp", "1600000000", "/index.html?a=b"},
			"/dl/oLcy41qqRUJzYZiq89ei9IkqnHE/5f5e1000/index.html?a=b"},
		{"escaped path", []string{"-secret", "verysecret", "-algorithm", "hmac-sha256", "-prefix", "/dl/", "-timestamp", "1600000000", "/my file 100%#1+ü.txt"},
			"/dl/" + hmacToken(sha256.New, "verysecret", "/5f5e1000/my file 100%#1+ü.txt") + "/5f5e1000/my%20file%20100%25%231+%C3%BC.txt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runGenerate(t, tc.args...)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if stdout != tc.want+"\n" {
				t.Fatalf("stdout %q, want %q", stdout, tc.want+"\n")
			}
		})
	}
}

// TestGenerateURLRoundTrip decodes the printed URL the way the server does
// (percent-decoding only; '+' stays) and checks that Verify accepts it.
func TestGenerateURLRoundTrip(t *testing.T) {
	now := time.Now()
	for _, alg := range allAlgorithms {
		for _, p := range []string{"/plain.txt", "/dir/sp ace/%41?x=1", "/ünï/cödé+plus&;=.bin", "/a/b/c/d"} {
			t.Run(alg.String()+p, func(t *testing.T) {
				stdout, stderr, code := runGenerate(t, "-secret", "s3cr3t", "-algorithm", alg.String(), "-prefix", "/get/", "-hash-querystr", "-path-segments", "2", p)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, stderr)
				}
				printed := strings.TrimSuffix(stdout, "\n")
				rawPath, query, _ := strings.Cut(printed, "?")
				decoded, err := url.PathUnescape(rawPath)
				if err != nil {
					t.Fatalf("printed path %q does not decode: %v", rawPath, err)
				}
				c := &Config{Secret: []byte("s3cr3t"), DocumentRoot: "/srv", URIPrefix: "/get/", Timeout: DefaultTimeout, Algorithm: alg, PathSegments: 2, HashQueryString: true}
				wantRel, _, _ := strings.Cut(p, "?")
				rel, status, handled, reason := c.Verify(decoded, query, now)
				if !handled || status != 0 || rel != wantRel {
					t.Fatalf("Verify(%q, %q) = %q %d %v %q", decoded, query, rel, status, handled, reason)
				}
			})
		}
	}
}

func TestGenerateURLSecretFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte("verysecret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runGenerate(t, "-secret-file", file, "-algorithm", "hmac-sha1", "-prefix", "/dl/", "-timestamp", "1600000000", "/index.html")
	want := "/dl/" + hmacToken(sha1.New, "verysecret", "/5f5e1000/index.html") + "/5f5e1000/index.html\n"
	if code != 0 || stdout != want {
		t.Fatalf("exit %d stdout %q stderr %q, want %q", code, stdout, stderr, want)
	}
}

func TestGenerateURLErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	base := []string{"-secret", "x", "-prefix", "/dl/"}
	tests := []struct {
		name    string
		args    []string
		code    int
		message string
	}{
		{"no path", base, 2, "exactly one PATH"},
		{"two paths", append(base[:4:4], "/a", "/b"), 2, "exactly one PATH"},
		{"unknown algorithm", append(base[:4:4], "-algorithm", "sha512", "/a"), 2, "invalid secdownload.algorithm: sha512"},
		{"no secret", []string{"-prefix", "/dl/", "/a"}, 2, "-secret"},
		{"both secrets", append(base[:4:4], "-secret-file", missing, "/a"), 2, "mutually exclusive"},
		{"unreadable secret file", []string{"-secret-file", missing, "-prefix", "/dl/", "/a"}, 1, "reading secret"},
		{"no prefix", []string{"-secret", "x", "/a"}, 2, "-prefix must start with /"},
		{"relative path", append(base[:4:4], "a.txt"), 2, "must start with /"},
		{"dot-dot segment", append(base[:4:4], "/a/../b"), 2, `".." segment`},
		{"dot segment", append(base[:4:4], "/a/./b"), 2, `"." segment`},
		{"double slash", append(base[:4:4], "/a//b"), 2, "//"},
		{"control character", append(base[:4:4], "/a\tb"), 2, "control character"},
		{"invalid utf-8", append(base[:4:4], "/a\xffb"), 2, "UTF-8"},
		{"negative timestamp", append(base[:4:4], "-timestamp", "-5", "/a"), 2, "invalid -timestamp"},
		{"garbage timestamp", append(base[:4:4], "-timestamp", "soon", "/a"), 2, "invalid -timestamp"},
		{"path-segments out of range", append(base[:4:4], "-path-segments", "70000", "/a"), 2, "-path-segments"},
		{"unknown flag", append(base[:4:4], "-bogus", "/a"), 2, "flag provided but not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runGenerate(t, tc.args...)
			if code != tc.code || stdout != "" || !strings.Contains(stderr, tc.message) {
				t.Fatalf("exit %d stdout %q stderr %q; want exit %d and %q", code, stdout, stderr, tc.code, tc.message)
			}
		})
	}
	t.Run("help", func(t *testing.T) {
		_, stderr, code := runGenerate(t, "-h")
		if code != 0 || !strings.Contains(stderr, "usage: golighty secdownload-url") {
			t.Fatalf("exit %d stderr %q", code, stderr)
		}
	})
}
