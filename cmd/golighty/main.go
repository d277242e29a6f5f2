// Command golighty runs lighttpd 1.4 configuration files unchanged.
//
// The command line follows lighttpd's (errors-and-logs.md §3): options are
// read left to right as getopt does, -f parses the config when it is seen,
// exit status 0 on success and 255 on any error.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/golighty/golighty/cmd/golighty/internal/downloadapp"
	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/memgov"
	"github.com/golighty/golighty/lighttpdconf"
	_ "github.com/golighty/golighty/modules/all"
)

const exitErr = 255

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// options collected from the command line.
type options struct {
	confFile   string
	conf       *lighttpdconf.Config
	test       int // 1 = -t, 2 = -tt
	print      bool
	foreground bool
	oneShot    bool
	idleSecs   int
	noWatch    bool
	memory     memgov.Mode
}

func versionLine() string { return core.ServerTag + " (ssl) - a light and fast webserver" }

func usage(w io.Writer) {
	fmt.Fprintf(w, `%s
usage:
 -f <name>  filename of the config-file
 -m <name>  module directory (accepted and ignored: modules are built in)
 -i <secs>  graceful shutdown after <secs> of inactivity
 -1         process single (one) request on stdin socket, then exit
 -p         print the parsed config-file in internal form, and exit
 -t         test config-file syntax, then exit
 -tt        test config-file syntax, load and init modules, then exit
 -D         don't go to background (default: go to background)
 -v         show version
 -V         show compile-time features
 -h         show this help
 --no-watch do not reload the config when its files change (SIGUSR1 still reloads)
 --memory=lean|fast
            lean (default): give memory back after bursts; fast: collect
            garbage less often (GOGC=400) and keep what was used

 golighty secdownload-url -h   print a signed mod_secdownload link

`, versionLine())
}

func features(w io.Writer) {
	fmt.Fprintf(w, "%s\n%s\n\nNetwork handler:\n\n\t+ linux-sendfile\n\t+ writev\n\nFeatures:\n\n", versionLine(), buildLine())
	fmt.Fprintf(w, "\t+ IPv6 support\n\t+ PCRE support (RE2, with a PCRE-compatible fallback)\n\t+ hot reload (fsnotify)\n\nModules:\n\n")
	for _, m := range core.Registered() {
		fmt.Fprintf(w, "\t+ %s\n", m)
	}
	fmt.Fprintln(w)
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "secdownload-url" {
		return secdownloadURL(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "download-app" {
		// Hidden: the bundled config's FastCGI application (bin-path).
		return downloadapp.Main()
	}
	// A config can start this very binary as a backend (the bundled one
	// does: "bin-path" => env.GOLIGHTY_BIN + " download-app").
	if exe, err := os.Executable(); err == nil {
		os.Setenv("GOLIGHTY_BIN", exe)
	}
	var o options
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, format+"\n", a...)
		return exitErr
	}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--no-watch" {
			o.noWatch = true
			continue
		}
		if v, ok := strings.CutPrefix(arg, "--memory="); ok {
			m, valid := memgov.ParseMode(v)
			if !valid {
				return fail("invalid --memory value %q (lean or fast)", v)
			}
			o.memory = m
			continue
		}
		if arg == "--" {
			break
		}
		if len(arg) < 2 || arg[0] != '-' {
			continue // getopt stops at non-options; lighttpd ignores them
		}
		for j := 1; j < len(arg); j++ {
			c := arg[j]
			switch c {
			case 'f', 'm', 'i':
				val := arg[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						fmt.Fprintf(stderr, "golighty: option requires an argument -- '%c'\n", c)
						usage(stdout)
						return exitErr
					}
					i++
					val = args[i]
				}
				j = len(arg)
				switch c {
				case 'f':
					if o.conf != nil {
						return fail("Can only read one config file. Use the include command to use multiple config files.")
					}
					conf, err := loadConfig(val, stdin, stderr)
					if err != nil {
						return fail("%s", err)
					}
					o.confFile, o.conf = val, conf
				case 'i':
					n, err := strconv.Atoi(val)
					if err != nil || n < 0 {
						return fail("Invalid idle timeout value: %s", val)
					}
					o.idleSecs = n
				}
			case 'h':
				usage(stdout)
				return 0
			case 'v':
				version(stdout)
				return 0
			case 'V':
				features(stdout)
				return 0
			case 'D':
				o.foreground = true
			case '1':
				o.oneShot = true
			case 'p':
				o.print = true
			case 't':
				o.test++
			default:
				fmt.Fprintf(stderr, "golighty: invalid option -- '%c'\n", c)
				usage(stdout)
				return exitErr
			}
		}
	}
	if o.conf == nil {
		return fail("No configuration available. Try using -f option.")
	}
	if o.print || o.test == 1 {
		// -p and -t check the core options only, as lighttpd does.
		if _, err := core.Compile(o.conf, core.CompileOptions{CoreOnly: true}, nil); err != nil {
			return fail("%s", err)
		}
		if o.print {
			if err := o.conf.Print(stdout); err != nil {
				return fail("%s", err)
			}
			return 0
		}
		fmt.Fprintln(stdout, "Syntax OK")
		return 0
	}
	shared := core.NewSharedPool()
	shared.SetContentBudget(o.memory.ContentBudget())
	snap, err := core.Compile(o.conf, core.CompileOptions{Preflight: o.test >= 2}, shared)
	if snap != nil {
		printWarnings(stderr, o.conf, snap.Warnings)
	}
	if err != nil {
		return fail("%s", err)
	}
	if o.test >= 2 {
		return 0
	}
	return serve(&o, snap, stderr)
}

// strerror spells a system error as C's strerror does ("No such file or
// directory"), which is what lighttpd users grep their logs for.
func strerror(err error) string {
	msg := err.Error()
	if msg == "" {
		return msg
	}
	return strings.ToUpper(msg[:1]) + msg[1:]
}

func printWarnings(w io.Writer, conf *lighttpdconf.Config, diags []core.Diagnostic) {
	for _, d := range conf.Warnings {
		fmt.Fprintf(w, "%s: %s\n", d.Pos, d.Msg)
	}
	for _, d := range diags {
		fmt.Fprintln(w, d.String())
	}
}

// loadConfig parses FILE ("-" = stdin) and reports parse errors as
// file:line:col: message.
func loadConfig(file string, stdin io.Reader, stderr io.Writer) (*lighttpdconf.Config, error) {
	opts := &lighttpdconf.Options{Stderr: stderr}
	if file == "-" {
		src, err := io.ReadAll(io.LimitReader(stdin, 32<<20))
		if err != nil {
			return nil, fmt.Errorf("reading config from stdin: %w", err)
		}
		return lighttpdconf.ParseBytes("-", src, opts)
	}
	conf, err := lighttpdconf.ParseFile(file, opts)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) && pe.Path == file {
			return nil, fmt.Errorf("opening configfile %s failed: %s", file, strerror(pe.Err))
		}
		var le *lighttpdconf.Error
		if errors.As(err, &le) && le.Pos.Line == 0 {
			// No position to show (the file itself could not be read).
			msg := le.Msg
			if i := strings.LastIndex(msg, ": "); i >= 0 {
				msg = msg[:i+2] + strerror(errors.New(msg[i+2:]))
			}
			return nil, errors.New(msg)
		}
		return nil, err
	}
	return conf, nil
}
