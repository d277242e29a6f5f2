package lighttpdconf

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// corpusDir finds shared/testdata/lighttpd-configs: $GOLIGHTY_SHARED, else
// ../../shared relative to this package (the repo is cloned next to shared/).
func corpusDir(t testing.TB) string {
	t.Helper()
	var cands []string
	if s := os.Getenv("GOLIGHTY_SHARED"); s != "" {
		cands = append(cands, filepath.Join(s, "testdata", "lighttpd-configs"))
	}
	cands = append(cands, filepath.Join("..", "..", "shared", "testdata", "lighttpd-configs"))
	for _, c := range cands {
		if st, err := os.Stat(filepath.Join(c, "MANIFEST.tsv")); err == nil && !st.IsDir() {
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

type manifestRow struct {
	path, ref string
	env       map[string]string
}

func readManifest(t *testing.T, dir string) map[string]manifestRow {
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[string]manifestRow{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for first := true; sc.Scan(); first = false {
		if first {
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 10 {
			continue
		}
		env := map[string]string{}
		for _, kv := range strings.Fields(c[9]) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
		rows[c[0]] = manifestRow{path: c[0], ref: c[8], env: env}
	}
	return rows
}

// corpusCase is how one reference was produced: which main file lighttpd
// was given (as lighttpd saw it), in which cwd, with which /etc/lighttpd.
type corpusCase struct {
	main    string            // path given to -f
	cwd     string            // var.CWD
	dirs    map[string]string // layout directories (see Options.MapDirs)
	env     map[string]string
	skipWhy string
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if strings.HasSuffix(p, ".lighttpd-p.txt") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// mimeAssignFromRef extracts the printed mimetype.assign of a reference, to
// stand in for PLD's build-time generated mime.types.conf.
func mimeAssignFromRef(t *testing.T, ref []byte) string {
	s := string(ref)
	i := strings.Index(s, "\n    mimetype.assign")
	if i < 0 {
		t.Fatal("no mimetype.assign in PLD reference")
	}
	s = s[i+1:]
	j := strings.Index(s, "\n    )\n")
	body := s[:j+7]
	body = strings.TrimSpace(body[strings.Index(body, "=")+1:])
	return "var.mimetype_textcharsetheader = \"\"\nmimetype.assign = " + body + "\n"
}

// contextCase rebuilds the layouts of _tools/validate.py (bind mounts there,
// Options.MapDirs here) for the references marked "context" in MANIFEST.tsv.
func contextCase(t *testing.T, corpus, rel string, row manifestRow) corpusCase {
	tmp := t.TempDir()
	etc := corpusCase{main: "/etc/lighttpd/lighttpd.conf", cwd: "/etc/lighttpd",
		dirs: map[string]string{"/etc/lighttpd": tmp}, env: row.env}
	alpine := filepath.Join(corpus, "docker-spujadas/etc/lighttpd")
	switch {
	case rel == "docker-cyberduck-php-fpm/lighttpd.conf":
		copyTree(t, filepath.Join(corpus, "docker-cyberduck-php-fpm"), tmp)
		copyFile(t, filepath.Join(alpine, "mime-types.conf"), filepath.Join(tmp, "mime-types.conf"))
		copyFile(t, filepath.Join(alpine, "mod_fastcgi_fpm.conf"), filepath.Join(tmp, "mod_fastcgi_fpm.conf"))
	case rel == "docker-sicz/rootfs/etc/lighttpd/lighttpd.conf":
		copyTree(t, filepath.Join(corpus, "docker-sicz/rootfs/etc/lighttpd"), tmp)
		copyFile(t, filepath.Join(alpine, "mime-types.conf"), filepath.Join(tmp, "mime-types.conf"))
	case rel == "lighttpd-doc-1.4.69/lighttpd.conf":
		etc.dirs["/etc/lighttpd"] = filepath.Join(corpus, "lighttpd-doc-1.4.69")
	case rel == "openwrt-packages/net/lighttpd/files/lighttpd.conf":
		copyFile(t, filepath.Join(corpus, rel), filepath.Join(tmp, "lighttpd.conf"))
		copyFile(t, filepath.Join(corpus, "lighttpd-doc-1.4.69/conf.d/mime.conf"), filepath.Join(tmp, "mime.conf"))
		if err := os.MkdirAll(filepath.Join(tmp, "conf.d"), 0o755); err != nil {
			t.Fatal(err)
		}
	case strings.HasPrefix(rel, "pihole-"):
		copyTree(t, filepath.Join(corpus, "debian-1.4.69/etc/lighttpd"), tmp)
		copyFile(t, filepath.Join(corpus, rel), filepath.Join(tmp, "lighttpd.conf"))
		for _, d := range []string{"conf-enabled", "conf.d"} {
			if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(tmp, "external.conf"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		admin := filepath.Join(corpus, filepath.Dir(rel), "pihole-admin.conf")
		if _, err := os.Stat(admin); err == nil {
			if strings.HasSuffix(rel, ".debian") {
				copyFile(t, admin, filepath.Join(tmp, "conf-enabled/15-pihole-admin.conf"))
			} else {
				copyFile(t, admin, filepath.Join(tmp, "conf.d/pihole-admin.conf"))
			}
		}
		// include_shell commands name /etc/lighttpd themselves (find
		// /etc/lighttpd/conf-enabled): run them through a shell that maps it.
		etc.env = map[string]string{"SHELL": mapShell(t, "/etc/lighttpd", tmp)}
		for k, v := range row.env {
			etc.env[k] = v
		}
	case rel == "pld-linux/lighttpd.conf":
		pld := filepath.Join(corpus, "pld-linux")
		copyFile(t, filepath.Join(pld, "lighttpd.conf"), filepath.Join(tmp, "lighttpd.conf"))
		for _, d := range []string{"conf.d", "webapps.d", "vhosts.d"} {
			if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		m, err := os.ReadFile(filepath.Join(corpus, "_tools/pld-install-map.txt"))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(m), "\n") {
			src, dst, ok := strings.Cut(line, "\t")
			if !ok {
				continue
			}
			for _, base := range []string{"mod_indexfile", "mod_staticfile", "mod_access.", "mod_dirlisting"} {
				if strings.HasPrefix(src, base) {
					copyFile(t, filepath.Join(pld, src), filepath.Join(tmp, "conf.d", dst))
				}
			}
		}
		// PLD generates mime.types.conf at build time with a script that is
		// not in the corpus; rebuild it from the reference's mimetype.assign.
		ref, err := os.ReadFile(filepath.Join(corpus, rel+".lighttpd-p.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, "mime.types.conf"), []byte(mimeAssignFromRef(t, ref)), 0o644); err != nil {
			t.Fatal(err)
		}
	default:
		return corpusCase{skipWhy: "no context layout known for " + rel}
	}
	return etc
}

// mapShell writes a $SHELL stand-in that rewrites from to to in the
// include_shell command line before running it with /bin/sh.
func mapShell(t *testing.T, from, to string) string {
	shell := filepath.Join(t.TempDir(), "mapsh")
	script := "#!/bin/sh\nshift\nexec /bin/sh -c \"$(printf '%s' \"$1\" | sed 's#" + from + "#" + to + "#g')\"\n"
	if err := os.WriteFile(shell, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return shell
}

var refPID = regexp.MustCompile(`(?m)^    var\.PID *= (\d+)$`)

// TestCorpusGolden prints every corpus config that has a stored
// `lighttpd -p` reference and compares byte for byte (var.CWD via the
// @CORPUS@ placeholder, var.PID taken from the reference so values built
// from it match). include_shell helpers run from the installed Debian
// package (/usr/share/lighttpd, the same scripts as in the corpus) against
// this machine's /etc/mime.types and /etc/lighttpd/conf-enabled, as the
// references were made.
func TestCorpusGolden(t *testing.T) {
	corpus := corpusDir(t)
	rows := readManifest(t, corpus)
	var refs []string
	err := filepath.Walk(corpus, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".lighttpd-p.txt") {
			rel, _ := filepath.Rel(corpus, strings.TrimSuffix(p, ".lighttpd-p.txt"))
			refs = append(refs, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(refs)
	if len(refs) < 150 {
		t.Fatalf("only %d references found", len(refs))
	}
	// Without Debian's package (or with GOLIGHTY_CORPUS_HELPERS=corpus), run
	// the corpus copies of its helper scripts.
	var helperShell string
	if _, err := os.Stat("/usr/share/lighttpd/create-mime.conf.pl"); err != nil || os.Getenv("GOLIGHTY_CORPUS_HELPERS") == "corpus" {
		helperShell = mapShell(t, "/usr/share/lighttpd", filepath.Join(corpus, "debian-1.4.69/usr/share/lighttpd"))
		t.Logf("include_shell helpers run from the corpus copies")
	}
	var failed []string
	pass := 0
	for _, rel := range refs {
		ok := t.Run(strings.ReplaceAll(rel, "/", "_"), func(t *testing.T) {
			row, found := rows[rel]
			if !found {
				t.Fatalf("%s not in MANIFEST.tsv", rel)
			}
			c := corpusCase{main: filepath.Join(corpus, rel), cwd: filepath.Dir(filepath.Join(corpus, rel)), env: row.env}
			if row.ref == "context" {
				c = contextCase(t, corpus, rel, row)
			}
			if c.skipWhy != "" {
				t.Skip(c.skipWhy)
			}
			wantRaw, err := os.ReadFile(filepath.Join(corpus, rel+".lighttpd-p.txt"))
			if err != nil {
				t.Fatal(err)
			}
			want := bytes.ReplaceAll(wantRaw, []byte("@CORPUS@"), []byte(corpus))
			m := refPID.FindSubmatch(want)
			if m == nil {
				t.Fatal("reference has no var.PID line")
			}
			pid, _ := strconv.Atoi(string(m[1]))
			env := map[string]string{"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
			if helperShell != "" {
				env["SHELL"] = helperShell
			}
			for k, v := range c.env {
				env[k] = v
			}
			var stderr bytes.Buffer
			cfg, err := ParseFile(c.main, &Options{
				Getenv:  func(k string) (string, bool) { v, ok := env[k]; return v, ok },
				Getwd:   c.cwd,
				PID:     pid,
				Stderr:  &stderr,
				MapDirs: c.dirs,
			})
			if err != nil {
				t.Fatalf("parse: %v\nstderr: %s", err, stderr.String())
			}
			var got bytes.Buffer
			if err := cfg.Print(&got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("differs from lighttpd -p:\n%s", firstDiff(want, got.Bytes()))
				if d := os.Getenv("GOLIGHTY_CORPUS_DUMP"); d != "" {
					_ = os.WriteFile(filepath.Join(d, strings.ReplaceAll(rel, "/", "_")), got.Bytes(), 0o644)
				}
			}
		})
		if ok {
			pass++
		} else {
			failed = append(failed, rel)
		}
	}
	t.Logf("corpus: %d references, %d pass, %d differ", len(refs), pass, len(failed))
	if len(failed) > 0 {
		t.Errorf("files that differ from their reference:\n  %s", strings.Join(failed, "\n  "))
	}
}

// firstDiff shows the first differing line with a little context.
func firstDiff(want, got []byte) string {
	wl := strings.Split(string(want), "\n")
	gl := strings.Split(string(got), "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + strconv.Quote(w) + "\n  got:  " + strconv.Quote(g)
		}
	}
	return "(identical lines; trailing bytes differ)"
}
