package lighttpdconf

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

type errCase struct {
	name string
	src  string
	msg  string // lighttpd's message; must appear in ours
	pos  string // "line:col" of the offending token
	hint string // extra text only golighty prints ("" = none)
	// peer is what `lighttpd -p` does with src: 'r' rejects with msg on
	// stderr, 'a' accepts (golighty is stricter, see hint), '-' not
	// comparable (checked only at startup, or an include_shell side effect).
	peer byte
}

var errCases = []errCase{
	{"single-quote", "x = 'a'\n", "invalid character in variable name", "1:5", "", 'r'},
	{"semicolon", "x = \"a\" ; y = 2\n", "invalid character in variable name", "1:9", "", 'r'},
	{"unterminated-string", "x = \"abc\n", "missing closing quote", "1:5", "", 'r'},
	{"backslash-before-quote", "x = \"end\\\\\"\ny = 1\n", "missing closing quote", "1:5", "", 'r'},
	{"lone-equal-in-array", "x = (1 = 2)\n", "use => for assignments in arrays", "1:8", "", 'r'},
	{"bad-cond-op", "$HTTP[\"url\"] = \"/a\" {}\n", "only == =~ =^ =$ are allowed in the condition", "1:14", "", 'r'},
	{"bad-cond-neg-op", "$HTTP[\"url\"] !! \"/a\" {}\n", "only !~ and != are allowed in the condition", "1:14", "", 'r'},
	{"exclamation", "x != 1\n", "unexpected exclamation-marks: !", "1:3", "", 'r'},
	{"colon", "x : 1\n", "unexpected character ':'", "1:3", "", 'r'},
	{"close-paren", "x = 1 )\n", "close-parens seen open-parens", "1:7", "", 'r'},
	{"cond-name-digit", "$HT1[\"url\"] == \"/\" {}\n", "invalid character in condition", "1:4", "", 'r'},
	{"name-at-eof", "x", "invalid character in variable name", "1:2", "name at end of input", 'r'},
	{"unclosed-brace", "$HTTP[\"url\"] == \"a\" { x = 1\n", "unclosed `{` opened at 1:21", "2:1", "", '-'},
	{"unclosed-paren", "x = (\"a\",\n", "unclosed `(` opened at 1:5", "2:1", "", '-'},
	{"undefined-var", "x = y\n", "Undefined config variable: var.y", "1:5", "", 'r'},
	{"undefined-dotted", "x = server.port\n", "Undefined config variable: server.port", "1:5", "", 'r'},
	{"undefined-env", "x = env.GOLIGHTY_NOPE_XYZ\n", "Undefined env variable: GOLIGHTY_NOPE_XYZ", "1:5", "", 'r'},
	{"set-env", "env.X = 1\n", "Setting env variable is not supported in conditional 0 global: env.X", "1:1", "", 'r'},
	{"force-env", "env.X := 1\n", "Setting env variable is not supported in conditional 0 global: env.X", "1:1", "", 'r'},
	{"append-env", "env.X += 1\n", "Appending env variable is not supported in conditional 0 global: env.X", "1:1", "", 'r'},
	{"duplicate", "x = 1\nx = 2\n", "Duplicate config variable in conditional 0 global: var.x", "2:1", "", 'r'},
	{"duplicate-case", "x = 1\nX = 2\n", "Duplicate config variable in conditional 0 global: var.X", "2:1", "", 'r'},
	{"duplicate-in-block", "$HTTP[\"url\"] == \"/a\" { x = 1 }\n$HTTP[\"url\"] == \"/a\" { x = 2 }\n",
		"Duplicate config variable in conditional 1 global / $HTTP[\"url\"] == \"/a\": var.x", "2:24", "", 'r'},
	{"duplicate-array-key", "x = (\"a\" => 1, \"A\" => 2)\n", "Error: duplicate array-key: A. Please get rid of the duplicate entry.", "1:16", "", 'r'},
	{"merge-duplicate-key", "x = (\"a\" => 1)\nx += (\"a\" => 2)\n", "Duplicate array-key 'a'", "2:1", "values differ", 'r'},
	{"merge-array-int", "x = (\"a\") + 1\n", "data type mismatch, cannot merge", "1:13", "", 'r'},
	{"merge-int-array", "x = 1 + (\"a\")\n", "data type mismatch, cannot merge", "1:9", "", 'r'},
	{"append-type", "x = (\"a\")\nx += \"b\"\n", "data type mismatch, cannot merge", "2:1", "", 'r'},
	{"rvalue-int", "$HTTP[\"url\"] == 1 {}\n", "rvalue must be string", "1:17", "", 'r'},
	{"array-key-array", "x = ((\"a\") => 1)\n", "operand must be string", "1:6", "", 'r'},
	{"include-array", "include (\"a\")\n", "operand must be string", "1:9", "", 'r'},
	{"include-not-found", "include \"golighty-no-such-file.conf\"\n", "include file not found:", "1:1", "golighty-no-such-file.conf", 'r'},
	{"include-shell-fails", "include_shell \"exit 3\"\n", "command \"exit 3\" exited non-zero: 3", "1:1", "", 'r'},
	{"physical-path", "$PHYSICAL[\"path\"] == \"x\" {}\n", "error comp_key $PHYSICAL[\"path\"] == \"x\"", "1:1", "1.4.69 supports", 'r'},
	{"remote-user", "$HTTP[\"remote-user\"] == \"x\" {}\n", "error comp_key $HTTP[\"remote-user\"] == \"x\"", "1:1", "", 'r'},
	{"server-other", "$SERVER[\"name\"] == \"x\" {}\n", "error comp_key $SERVER[\"name\"] == \"x\"", "1:1", "", 'r'},
	{"remoteip-simplified", "$HTTP[\"remoteip\"] =~ \"^127\" {}\n", "invalid IP addr: 127", "1:22", "", 'r'},
	{"remoteip-name", "$HTTP[\"remoteip\"] == \"localhost\" {}\n", "invalid IP addr: localhost", "1:22", "", 'r'},
	{"host-bad-port", "$HTTP[\"host\"] == \"a:99999\" {}\n", "invalid IP addr: a:99999", "1:18", "", 'r'},
	{"host-bad-ipv6", "$HTTP[\"host\"] == \"[zz]\" {}\n", "invalid IP addr: [zz]", "1:18", "", 'r'},
	{"socket-bad", "$SERVER[\"socket\"] == \"a:b\" {}\n", "invalid IP addr: a:b", "1:22", "", 'r'},
	{"socket-regex", "$SERVER[\"socket\"] =~ \"^:80$\" {}\n", "invalid IP addr: ^:80$", "1:22", "", 'r'},
	{"else-after-catch-all", "$HTTP[\"host\"] == \"a\" {} else {} else {}\n", "unreachable condition following else catch-all", "1:33", "", 'r'},
	{"else-same-cond", "$HTTP[\"host\"] == \"a\" {} else $HTTP[\"host\"] == \"a\" {}\n", "unreachable else condition", "1:25", "", 'r'},
	{"else-reuses-else", "$HTTP[\"host\"] == \"a\" {} else {}\n$HTTP[\"host\"] != \"a\" {} else {}\n",
		"unreachable condition following else catch-all", "2:25", "", 'r'},
	{"else-negated-exists", "$HTTP[\"host\"] != \"a\" {}\n$HTTP[\"host\"] == \"a\" {} else {}\n", "unreachable else condition", "2:25", "", 'r'},
	{"cond-in-global", "global { $HTTP[\"url\"] == \"/\" {} }\n", "Cannot use conditionals inside a global { ... } block", "1:10", "", 'r'},
	{"global-in-global", "global { global { } }\n", "Cannot use conditionals inside a global { ... } block", "1:10", "", 'r'},
	{"number-too-big", "x = 99999999999999999999\n", "error parsing number: '99999999999999999999'", "1:5", "", 'r'},
	{"hex", "x = 0x10\n", "expected = := or += after \"x10\"", "2:1", "", 'r'},
	{"typo-else", "$HTTP[\"host\"] == \"x\" { y = 1 }\nesle { y = 2 }\n", "expected = := or += after \"esle\"", "2:6", "did you mean the keyword \"else\"?", 'a'},
	{"typo-include", "inclde \"x.conf\"\n", "expected = := or += after \"inclde\"", "1:8", "did you mean the keyword \"include\"?", 'r'},
	{"key-junk", "foo $HTTP[\"url\"] == \"/\" { x = 1 }\n", "expected = := or += after \"foo\"", "1:1", "", 'a'},
	{"missing-value", "x =\n", "expected a string, integer, name or array, found end of input", "2:1", "", 'r'},
	{"regex-syntax", "$HTTP[\"url\"] =~ \"(\" {}\n", "missing closing parenthesis", "1:1", "", '-'},
	{"too-many-captures", "$HTTP[\"url\"] =~ \"(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\" {}\n", "Too many captures in regex, use (?:...) instead of (...)", "1:1", "", '-'},
	{"nesting", strings.Repeat("$HTTP[\"url\"] == \"/\" {\n", 70), "nesting deeper than 64 levels", "65:6", "", '-'},
	{"nesting-array", "x = " + strings.Repeat("(", 100) + strings.Repeat(")", 100) + "\n", "nesting deeper than 64 levels", "1:69", "", '-'},
}

// TestErrors checks message and position of every fatal error of the spec.
func TestErrors(t *testing.T) {
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseBytes("t.conf", []byte(tc.src), &Options{Getwd: "/w", PID: 1, Getenv: noEnv})
			if err == nil {
				t.Fatalf("no error for %q", tc.src)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error is %T, not *Error: %v", err, err)
			}
			if !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("message %q does not contain %q", e.Msg, tc.msg)
			}
			if tc.hint != "" && !strings.Contains(e.Msg, tc.hint) {
				t.Errorf("message %q lacks hint %q", e.Msg, tc.hint)
			}
			if want := "t.conf:" + tc.pos; e.Pos.String() != want {
				t.Errorf("position %s, want %s", e.Pos, want)
			}
			if !strings.HasPrefix(e.Error(), e.Pos.String()+": ") {
				t.Errorf("Error() = %q does not start with the position", e.Error())
			}
		})
	}
}

func noEnv(string) (string, bool) { return "", false }

// TestErrorsAgreeWithLighttpd runs lighttpd -p on each error case and checks
// that it rejects the same inputs with the same message (or accepts the ones
// golighty rejects on purpose).
func TestErrorsAgreeWithLighttpd(t *testing.T) {
	bin := lighttpdPeer(t)
	dir := t.TempDir()
	for _, tc := range errCases {
		if tc.peer == '-' {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(dir, tc.name+".conf")
			if err := os.WriteFile(f, []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "-p", "-f", f)
			cmd.Dir = dir
			cmd.Env = []string{"PATH=/usr/bin:/bin"}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			switch tc.peer {
			case 'r':
				if err == nil {
					t.Fatalf("lighttpd accepted %q", tc.src)
				}
				if !strings.Contains(stderr.String(), tc.msg) && !strings.HasPrefix(tc.msg, "expected") {
					t.Errorf("lighttpd's stderr lacks %q:\n%s", tc.msg, stderr.String())
				}
			case 'a':
				if err != nil {
					t.Fatalf("lighttpd rejected %q: %s", tc.src, stderr.String())
				}
			}
		})
	}
}
