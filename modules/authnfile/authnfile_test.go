package authnfile

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCheckHtpasswd verifies every hash kind on lines written by Apache's
// htpasswd at test time (openssl for md5-crypt), plus lighttpd's rules for
// values it does not hash.
func TestCheckHtpasswd(t *testing.T) {
	bin, err := exec.LookPath("htpasswd")
	if err != nil {
		t.Skip("htpasswd (apache2-utils) not installed")
	}
	gen := func(args ...string) string {
		out, err := exec.Command(bin, append([]string{"-nb"}, args...)...).Output()
		if err != nil {
			t.Fatalf("htpasswd %v: %v", args, err)
		}
		return strings.TrimSpace(strings.SplitN(string(out), ":", 2)[1])
	}
	for _, c := range []struct{ name, hash, pw string }{
		{"apr1", gen("-m", "u", "pw-apr1"), "pw-apr1"},
		{"bcrypt", gen("-B", "-C", "4", "u", "pw-bcrypt"), "pw-bcrypt"},
		{"sha1", gen("-s", "u", "pw-sha"), "pw-sha"},
		{"sha256-crypt", gen("-2", "u", "pw-256"), "pw-256"},
		{"sha256-crypt rounds", gen("-2", "-r", "1234", "u", "pw-256r"), "pw-256r"},
		{"sha512-crypt", gen("-5", "u", "pw-512"), "pw-512"},
		{"des", gen("-d", "u", "pw-des"), "pw-des"},
		{"apr1 empty password", gen("-m", "u", ""), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !checkHtpasswd(c.hash, c.pw) {
				t.Errorf("%q does not verify %q", c.hash, c.pw)
			}
			if checkHtpasswd(c.hash, c.pw+"x") {
				t.Errorf("%q verifies a wrong password", c.hash)
			}
		})
	}
	if out, err := exec.Command("openssl", "passwd", "-1", "pw-md5").Output(); err == nil {
		h := strings.TrimSpace(string(out))
		if !checkHtpasswd(h, "pw-md5") || checkHtpasswd(h, "pw-md6") {
			t.Errorf("md5-crypt %q", h)
		}
	}
	bc := gen("-B", "-C", "4", "u", strings.Repeat("b", 72))
	if !checkHtpasswd(bc, strings.Repeat("b", 72)+"ignored") {
		t.Error("bcrypt: bytes past 72 must not count, as with crypt()")
	}
	for _, c := range []struct{ name, hash, pw string }{
		{"plain text", "secret", "secret"},
		{"13 chars of plain text", "plaintextpass", "plaintextpass"},
		{"yescrypt", "$y$j9T$abcdefghijklmnopqrstu$0123456789012345678901234567890123456789012", "x"},
		{"bad SHA base64", "{SHA}!!!!", ""},
		{"empty", "", ""},
	} {
		if checkHtpasswd(c.hash, c.pw) {
			t.Errorf("%s: %q matched", c.name, c.hash)
		}
	}
}

func TestParse(t *testing.T) {
	var logged []string
	logf := func(f string, a ...any) { logged = append(logged, f) }
	data := "a:1\r\n#c:2\n\n\rx:3\nnocolon\n" + "long:" + strings.Repeat("x", 1024) + "\nb:2:extra\nc:3\x00d:4\n"
	lines := parse(data, "f", false, logf)
	want := []line{{"a", "1"}, {"b", "2:extra"}, {"c", "3"}}
	if len(lines) != len(want) {
		t.Fatalf("lines %q", lines)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d: %q, want %q", i, lines[i], want[i])
		}
	}
	if len(logged) != 1 {
		t.Errorf("logged %q", logged)
	}
	if v, ok := lookup([]line{{"u", "1"}, {"u", "2"}}, "u"); !ok || v != "1" {
		t.Errorf("the first line of a user wins: %q", v)
	}
}
