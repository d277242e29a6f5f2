package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConf(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "lighttpd.conf")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(body, "@DIR@", dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCommandLine(t *testing.T) {
	good := writeConf(t, "server.document-root = \"@DIR@\"\nserver.port = 8080\n")
	noroot := writeConf(t, "server.port = 8080\n")
	badSyntax := writeConf(t, "server.port = 8080\nx = \"a\" ; y = 2\n")
	badBool := writeConf(t, "server.document-root = \"/srv\"\nserver.follow-symlink = \"perhaps\"\n")
	unwritableLog := writeConf(t, "server.document-root = \"@DIR@\"\nserver.modules = (\"mod_accesslog\")\naccesslog.filename = \"/nonexistent-dir/access.log\"\n")
	unknownKey := writeConf(t, "server.document-root = \"@DIR@\"\nurl.rewrite-once = (\"a\" => \"b\")\n")
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string // substring
		stderr     string // substring
		exactEmpty bool   // stdout must be empty
	}{
		{name: "version", args: []string{"-v"}, code: 0, stdout: "- a light and fast webserver"},
		{name: "version stops before -f", args: []string{"-v", "-f", "/nonexistent"}, code: 0, stdout: "a light and fast webserver"},
		{name: "features", args: []string{"-V"}, code: 0, stdout: "mod_staticfile"},
		{name: "help", args: []string{"-h"}, code: 0, stdout: "-tt        test config-file syntax, load and init modules, then exit"},
		{name: "invalid option", args: []string{"-x"}, code: 255, stderr: "invalid option -- 'x'", stdout: "usage:"},
		{name: "no config", args: []string{"-D"}, code: 255, stderr: "No configuration available. Try using -f option."},
		{name: "two configs", args: []string{"-f", good, "-f", good}, code: 255, stderr: "Can only read one config file."},
		{name: "missing file", args: []string{"-t", "-f", "/nonexistent/lighttpd.conf"}, code: 255, stderr: "/nonexistent/lighttpd.conf"},
		{name: "syntax ok", args: []string{"-t", "-f", good}, code: 0, stdout: "Syntax OK"},
		{name: "-t does not need document-root", args: []string{"-t", "-f", noroot}, code: 0, stdout: "Syntax OK"},
		{name: "-tt needs document-root", args: []string{"-tt", "-f", noroot}, code: 255, stderr: "server.document-root is not set"},
		{name: "-t -t is -tt", args: []string{"-t", "-t", "-f", noroot}, code: 255, stderr: "server.document-root is not set"},
		{name: "-tt silent when fine", args: []string{"-tt", "-f", good}, code: 0, exactEmpty: true},
		{name: "-tt opens no log file", args: []string{"-tt", "-f", unwritableLog}, code: 0, exactEmpty: true},
		{name: "-tt warns unknown keys", args: []string{"-tt", "-f", unknownKey}, code: 0, stderr: "WARNING: unknown config-key: url.rewrite-once (ignored)"},
		{name: "syntax error located", args: []string{"-t", "-f", badSyntax}, code: 255, stderr: badSyntax + ":2:"},
		{name: "-p checks core options", args: []string{"-p", "-f", badBool}, code: 255, stderr: "server.follow-symlink"},
		{name: "-p prints", args: []string{"-p", "-f", good}, code: 0, stdout: "server.port          = 8080"},
		{name: "combined flags", args: []string{"-tf", good}, code: 0, stdout: "Syntax OK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tt.args, strings.NewReader(""), &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), tt.stdout) {
				t.Fatalf("stdout %q lacks %q", out.String(), tt.stdout)
			}
			if !strings.Contains(errb.String(), tt.stderr) {
				t.Fatalf("stderr %q lacks %q", errb.String(), tt.stderr)
			}
			if tt.exactEmpty && out.Len() != 0 {
				t.Fatalf("stdout should be empty: %q", out.String())
			}
		})
	}
}

func TestConfigFromStdin(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-p", "-f", "-"}, strings.NewReader("server.port = 81\n"), &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "server.port = 81") {
		t.Fatalf("exit %d stdout %q stderr %q", code, out.String(), errb.String())
	}
}
