package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/lighttpdconf"
)

// TestCorpusPreflight runs `golighty -tt` (a preflight compile with every
// module of this binary) on each config of the shared corpus, laid out as
// the corpus's _tools/validate.py laid it out for `lighttpd -tt`: Debian
// fragments enabled in Debian's lighttpd.conf, upstream's doc config
// installed as /etc/lighttpd, the PLD and Pi-hole layouts, and so on. Every
// config that lighttpd accepts there and that loads only modules golighty
// has must pass; the counts are logged.
func TestCorpusPreflight(t *testing.T) {
	corpus := corpusPath(t)
	rows := corpusRows(t, corpus)
	res := corpusResults{shellCache: t.TempDir()}
	t.Run("configs", func(t *testing.T) {
		for _, r := range rows {
			t.Run(strings.ReplaceAll(r.path, "/", "_"), func(t *testing.T) {
				t.Parallel() // most of the time goes to include_shell helpers
				corpusPreflight(t, corpus, r, &res)
			})
		}
	})
	var missing []string
	needing := map[string]bool{}
	for m, files := range res.needs {
		missing = append(missing, fmt.Sprintf("%s (%d)", m, len(files)))
		for _, f := range files {
			needing[f] = true
		}
	}
	sort.Strings(missing)
	t.Logf("corpus: %d configs; %d load only modules golighty has and lighttpd accepts in their layout: %d pass -tt, %d fail; "+
		"%d load a module golighty lacks (first one missing: %s); %d are refused by lighttpd too; %d have no layout here",
		len(rows), len(res.loadable), len(res.passed), len(res.failed), len(needing), strings.Join(missing, ", "), len(res.refused), len(res.skipped))
	sort.Strings(res.failed)
	if len(res.failed) > 0 {
		t.Errorf("loadable configs that fail golighty -tt:\n  %s", strings.Join(res.failed, "\n  "))
	}
	if len(res.loadable) < 140 {
		t.Errorf("only %d loadable configs (143 when written): a layout broke", len(res.loadable))
	}
}

// corpusResults files each config under its outcome.
type corpusResults struct {
	mu                                         sync.Mutex
	loadable, passed, failed, refused, skipped []string
	needs                                      map[string][]string // missing module -> configs
	shellCache                                 string              // include_shell outputs (corpusMapShell)
}

func (r *corpusResults) add(list *[]string, path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*list = append(*list, path)
}

// corpusPreflight runs -tt on one corpus config in its layout.
func corpusPreflight(t *testing.T, corpus string, r corpusRow, res *corpusResults) {
	c, why := corpusContext(t, corpus, res.shellCache, r)
	if why != "" {
		res.add(&res.skipped, r.path)
		t.Skip(why)
	}
	var stderr bytes.Buffer
	conf, err := lighttpdconf.ParseFile(c.main, &lighttpdconf.Options{
		Getenv:  func(k string) (string, bool) { v, ok := c.env[k]; return v, ok },
		Getwd:   c.cwd,
		Stderr:  &stderr,
		MapDirs: c.dirs,
	})
	if err == nil {
		_, err = core.Compile(conf, core.CompileOptions{Preflight: true}, nil)
	}
	var um *core.UnavailableModuleError
	switch {
	case errors.As(err, &um):
		res.mu.Lock()
		if res.needs == nil {
			res.needs = map[string][]string{}
		}
		res.needs[um.Name] = append(res.needs[um.Name], r.path)
		res.mu.Unlock()
		t.Skipf("needs %s", um.Name)
	case !r.lighttpdOK:
		res.add(&res.refused, r.path)
		t.Skipf("lighttpd -tt fails here too (%.80s); golighty: %v", r.lighttpdTT, err)
	}
	res.add(&res.loadable, r.path)
	if err != nil {
		res.add(&res.failed, r.path)
		t.Fatalf("golighty -tt in %q: %v\nstderr: %s", r.context, err, stderr.String())
	}
	res.add(&res.passed, r.path)
}

// corpusPath finds shared/testdata/lighttpd-configs: $GOLIGHTY_SHARED, else
// ../../../shared from this package (the repository sits next to shared/).
func corpusPath(t *testing.T) string {
	t.Helper()
	cands := []string{filepath.Join("..", "..", "..", "shared", "testdata", "lighttpd-configs")}
	if s := os.Getenv("GOLIGHTY_SHARED"); s != "" {
		cands = append([]string{filepath.Join(s, "testdata", "lighttpd-configs")}, cands...)
	}
	for _, c := range cands {
		if _, err := os.Stat(filepath.Join(c, "MANIFEST.tsv")); err == nil {
			abs, err := filepath.Abs(c)
			if err != nil {
				t.Fatal(err)
			}
			return abs
		}
	}
	t.Skipf("corpus not found (tried %v); set GOLIGHTY_SHARED", cands)
	return ""
}

// corpusRow is one MANIFEST.tsv line: the file, how lighttpd -tt fared in
// its layout, and that layout's description.
type corpusRow struct {
	path, context, lighttpdTT string
	lighttpdOK                bool
	env                       map[string]string
}

func corpusRows(t *testing.T, corpus string) []corpusRow {
	t.Helper()
	f, err := os.Open(filepath.Join(corpus, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []corpusRow
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for first := true; sc.Scan(); first = false {
		c := strings.Split(sc.Text(), "\t")
		if first || len(c) < 10 {
			continue
		}
		r := corpusRow{path: c[0], context: c[7], lighttpdTT: c[6], env: map[string]string{}}
		if r.context == "" { // no layout of its own: the file is run as it is
			r.lighttpdTT = c[2]
		}
		r.lighttpdOK = strings.HasPrefix(r.lighttpdTT, "ok")
		for _, kv := range strings.Fields(c[9]) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				r.env[k] = v
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// corpusCtx is how to run one config: the main file as lighttpd saw it,
// the working directory, the layout directories and the environment.
type corpusCtx struct {
	main, cwd string
	dirs      map[string]string
	env       map[string]string
}

// sourceEnv are the env.* values of some sources (validate.py's SOURCE_ENV).
var sourceEnv = map[string]map[string]string{
	"docker-jitesoft": {"PORT": "80", "SERVER_NAME": "localhost", "SERVER_ROOT": "/var/www/html/", "MAX_FDS": "1024",
		"CGI_HOST": "fpm", "CGI_PORT": "9000", "CHECK_LOCAL": "enable", "CGI_FILE_EXT": ".php"},
	"docker-sicz": {"LIGHTTPD_USER": "lighttpd", "LIGHTTPD_GROUP": "lighttpd", "CA_CRT_FILE": "/etc/ssl/certs/ca.crt",
		"SERVER_CRT_FILE": "/etc/ssl/private/server.pem"},
	"lighttpd-tests-1.4.69": {"SRCDIR": "/tmp/lighttpd-tests", "PORT": "2048", "EPHEMERAL_PORT": "2049", "PERL": "/usr/bin/perl",
		"PHP": "/usr/bin/php-cgi", "condition_include_file": "var-include-sub.conf", "env_test": "good_env"},
	"lighttpd-tests-1.4.35": {"SRCDIR": "/tmp/lighttpd-tests", "PORT": "2048", "PHP": "/usr/bin/php-cgi", "env_test": "good_env"},
}

// corpusContext rebuilds the layout MANIFEST's context column names, or
// says why it cannot.
func corpusContext(t *testing.T, corpus, shellCache string, r corpusRow) (corpusCtx, string) {
	file := filepath.Join(corpus, r.path)
	env := map[string]string{"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
	for k, v := range sourceEnv[strings.SplitN(r.path, "/", 2)[0]] {
		env[k] = v
	}
	for k, v := range r.env {
		env[k] = v
	}
	etc := func(dir, main string) corpusCtx {
		return corpusCtx{main: "/etc/lighttpd/" + main, cwd: "/etc/lighttpd", dirs: map[string]string{"/etc/lighttpd": dir}, env: env}
	}
	// include_shell helpers (Debian's include-conf-enabled.pl) read
	// /etc/lighttpd themselves: run them through a shell that maps it.
	mapped := func(dir, main string) corpusCtx {
		c := etc(dir, main)
		env["SHELL"] = corpusMapShell(t, "/etc/lighttpd", dir, shellCache)
		return c
	}
	ctx := r.context
	switch {
	case ctx == "":
		return corpusCtx{}, "no layout in MANIFEST"
	case strings.HasPrefix(ctx, "as standalone"):
		return corpusCtx{main: file, cwd: filepath.Dir(file), env: env}, ""
	case strings.HasPrefix(ctx, "debian-1.4.69 lighttpd.conf + conf-enabled/"):
		d := t.TempDir()
		corpusCopyTree(t, filepath.Join(corpus, "debian-1.4.69/etc/lighttpd"), d)
		corpusCopy(t, file, filepath.Join(d, "conf-enabled", filepath.Base(file)))
		return mapped(d, "lighttpd.conf"), ""
	case ctx == "lighttpd-doc-1.4.69 installed as /etc/lighttpd":
		return etc(filepath.Join(corpus, "lighttpd-doc-1.4.69"), "lighttpd.conf"), ""
	case strings.HasPrefix(ctx, "lighttpd-doc-1.4.69 lighttpd.conf + include "):
		doc := filepath.Join(corpus, "lighttpd-doc-1.4.69")
		d := t.TempDir()
		corpusCopyTree(t, doc, d)
		rel, _ := filepath.Rel(doc, file)
		corpusWrite(t, filepath.Join(d, "ctx-wrapper.conf"), "include \"/etc/lighttpd/lighttpd.conf\"\ninclude \"/etc/lighttpd/"+rel+"\"\n")
		return etc(d, "ctx-wrapper.conf"), ""
	case strings.HasPrefix(ctx, "PLD installed layout"):
		return etc(corpusPLD(t, corpus, r.path), "lighttpd.conf"), ""
	case strings.HasPrefix(ctx, "Pi-hole install"):
		d := t.TempDir()
		corpusCopyTree(t, filepath.Join(corpus, "debian-1.4.69/etc/lighttpd"), d)
		corpusCopy(t, file, filepath.Join(d, "lighttpd.conf"))
		corpusWrite(t, filepath.Join(d, "external.conf"), "")
		os.MkdirAll(filepath.Join(d, "conf.d"), 0o755)
		os.MkdirAll(filepath.Join(d, "conf-enabled"), 0o755)
		admin := filepath.Join(filepath.Dir(file), "pihole-admin.conf")
		if strings.Contains(ctx, "conf-enabled/15-pihole-admin.conf") {
			corpusCopy(t, admin, filepath.Join(d, "conf-enabled/15-pihole-admin.conf"))
		} else if strings.Contains(ctx, "conf.d/pihole-admin.conf") {
			corpusCopy(t, admin, filepath.Join(d, "conf.d/pihole-admin.conf"))
		}
		return mapped(d, "lighttpd.conf"), ""
	case strings.HasPrefix(ctx, "OpenWrt layout"):
		d := t.TempDir()
		corpusCopy(t, file, filepath.Join(d, "lighttpd.conf"))
		corpusCopy(t, filepath.Join(corpus, "lighttpd-doc-1.4.69/conf.d/mime.conf"), filepath.Join(d, "mime.conf"))
		os.MkdirAll(filepath.Join(d, "conf.d"), 0o755)
		return etc(d, "lighttpd.conf"), ""
	case strings.HasPrefix(ctx, "jitesoft"):
		j := filepath.Join(corpus, "docker-jitesoft")
		d := t.TempDir()
		corpusCopy(t, filepath.Join(j, "lighttpd.conf"), filepath.Join(d, "lighttpd.conf"))
		confs, _ := filepath.Glob(filepath.Join(j, "conf.d", "*.conf"))
		if strings.Contains(ctx, "cgi image") {
			confs = append(confs, filepath.Join(j, "cgi", "000-fastcgi.conf"))
		}
		for _, f := range confs {
			corpusCopy(t, f, filepath.Join(d, "conf.d", filepath.Base(f)))
		}
		return etc(d, "lighttpd.conf"), ""
	case strings.Contains(ctx, "+ Alpine package"):
		src, files := "docker-sicz/rootfs/etc/lighttpd", []string{"mime-types.conf"}
		if strings.HasPrefix(ctx, "docker-cyberduck-php-fpm") {
			src, files = "docker-cyberduck-php-fpm", []string{"mime-types.conf", "mod_fastcgi_fpm.conf"}
		}
		d := t.TempDir()
		corpusCopyTree(t, filepath.Join(corpus, src), d)
		for _, f := range files {
			corpusCopy(t, filepath.Join(corpus, "docker-spujadas/etc/lighttpd", f), filepath.Join(d, f))
		}
		return etc(d, "lighttpd.conf"), ""
	case strings.HasSuffix(ctx, "(includes this file)"):
		main := filepath.Join(corpus, strings.TrimSuffix(ctx, " (includes this file)"))
		return corpusCtx{main: main, cwd: filepath.Dir(main), env: env}, ""
	case strings.HasSuffix(ctx, "(as its comment suggests)"):
		// "<folder>/lighttpd.conf + include <file> (as its comment suggests)"
		folder := filepath.Dir(filepath.Join(corpus, strings.SplitN(ctx, " ", 2)[0]))
		d := t.TempDir()
		corpusCopyTree(t, folder, d)
		corpusWrite(t, filepath.Join(d, "ctx-wrapper.conf"), "include \"lighttpd.conf\"\ninclude \""+filepath.Base(file)+"\"\n")
		return corpusCtx{main: filepath.Join(d, "ctx-wrapper.conf"), cwd: d, env: env}, ""
	}
	return corpusCtx{}, "no layout known for " + ctx
}

// corpusPLD lays out PLD's /etc/lighttpd: lighttpd.conf, conf.d with the
// base fragments (plus path when it is one), and a stand-in for the
// mime.types.conf PLD generates at build time.
func corpusPLD(t *testing.T, corpus, path string) string {
	pld := filepath.Join(corpus, "pld-linux")
	d := t.TempDir()
	corpusCopy(t, filepath.Join(pld, "lighttpd.conf"), filepath.Join(d, "lighttpd.conf"))
	for _, sub := range []string{"conf.d", "webapps.d", "vhosts.d"} {
		os.MkdirAll(filepath.Join(d, sub), 0o755)
	}
	corpusWrite(t, filepath.Join(d, "mime.types.conf"), "mimetype.assign = (\".html\" => \"text/html\", \".css\" => \"text/css\")\n")
	m, err := os.ReadFile(filepath.Join(corpus, "_tools/pld-install-map.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(m), "\n") {
		src, dst, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		base := false
		for _, p := range []string{"mod_indexfile", "mod_staticfile", "mod_access.", "mod_dirlisting"} {
			base = base || strings.HasPrefix(src, p)
		}
		if base || "pld-linux/"+src == path {
			corpusCopy(t, filepath.Join(pld, src), filepath.Join(d, "conf.d", dst))
		}
	}
	return d
}

// corpusMapShell writes a $SHELL stand-in that rewrites from to to in the
// include_shell command line before running it with /bin/sh. Commands that
// do not name from (Debian's create-mime.conf.pl and use-ipv6.pl, the same
// for every layout) run once per test: their output is kept in cache.
func corpusMapShell(t *testing.T, from, to, cache string) string {
	shell := filepath.Join(t.TempDir(), "mapsh")
	script := `#!/bin/sh
shift
cmd=$(printf '%s' "$1" | sed 's#` + from + `#` + to + `#g')
case "$1" in *` + from + `*) exec /bin/sh -c "$cmd" ;; esac
f=` + cache + `/$(printf '%s' "$cmd" | md5sum | cut -c1-32)
if [ ! -f "$f" ]; then
	/bin/sh -c "$cmd" > "$f.$$" || { rc=$?; rm -f "$f.$$"; exit $rc; }
	mv "$f.$$" "$f"
fi
exec cat "$f"
`
	// Parallel subtests fork include_shell helpers all the time: a child
	// forked while this file is open for writing would keep it so until it
	// execs, and running the script meanwhile fails with "text file busy".
	// Forks wait for ForkLock, so none can happen while it is held.
	syscall.ForkLock.RLock()
	err := os.WriteFile(shell, []byte(script), 0o755)
	syscall.ForkLock.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	return shell
}

func corpusCopyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if strings.HasSuffix(p, ".lighttpd-p.txt") {
			return nil
		}
		corpusCopy(t, p, filepath.Join(dst, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func corpusCopy(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	corpusWrite(t, dst, string(b))
}

func corpusWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
