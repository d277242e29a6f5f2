package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/golighty/golighty/core"
)

// buildLine says what this binary was built from: the module version
// (a tag or pseudo-version when installed with `go install ...@version`,
// "(devel)" for a local build), the VCS commit and its time when the build
// had them, and the Go release.
func buildLine() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "build information unavailable"
	}
	var rev, when, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	line := "version " + bi.Main.Version
	if rev != "" {
		line += ", commit " + rev
		if when != "" || modified != "" {
			line += " (" + strings.TrimPrefix(when+modified, ", ") + ")"
		}
	}
	return line + ", " + bi.GoVersion
}

// version prints -v: lighttpd's first line, then the build and the modules
// built in.
func version(w io.Writer) {
	fmt.Fprintln(w, versionLine())
	fmt.Fprintln(w, buildLine())
	fmt.Fprintln(w, "modules: "+strings.Join(core.Registered(), " "))
}
