package main

import (
	"io"

	"github.com/golighty/golighty/modules/secdownload"
)

// secdownloadURL prints a signed mod_secdownload link (see -h of the
// subcommand), so operators and tests make links without writing code.
func secdownloadURL(args []string, stdout, stderr io.Writer) int {
	return secdownload.GenerateURLCommand(args, stdout, stderr)
}
