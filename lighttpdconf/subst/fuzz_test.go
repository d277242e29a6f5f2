package subst

import (
	"bytes"
	"testing"
)

// FuzzCompileExpand: any replacement string and captures expand without
// panic; the appended prefix is preserved; expansion is deterministic; a
// template without '$' or '%' expands to itself.
func FuzzCompileExpand(f *testing.F) {
	for _, s := range []string{
		"/x/${tolower:1}|${esc:toupper:1}|%{2}", "/u/${url.path}${qsa}", "/b/${encb64u:1}|${decb64u:2}",
		"$$%%$x%x$", "/t/a${1", "${escpsnde:noescape:19}", "${url.", "plain/path",
	} {
		f.Add(s, "A b/%2f", "aGk_Pz4=")
	}
	f.Fuzz(func(t *testing.T, tmpl, c1, c2 string) {
		tp, err := Compile(tmpl)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tmpl, err)
		}
		rule := []string{c1 + c2, c1, c2}
		u := &URLParts{Scheme: "http", Authority: c2, Port: 80, Path: c1, Query: c2, HasQuery: c2 != ""}
		out := tp.Expand([]byte("prefix"), rule, rule[:2], u)
		if !bytes.HasPrefix(out, []byte("prefix")) {
			t.Fatalf("prefix lost: %q", out)
		}
		if again := tp.Expand([]byte("prefix"), rule, rule[:2], u); !bytes.Equal(again, out) {
			t.Fatalf("not deterministic: %q vs %q", out, again)
		}
		if !bytes.ContainsAny([]byte(tmpl), "$%") && string(out[len("prefix"):]) != tmpl {
			t.Fatalf("literal template %q expanded to %q", tmpl, out)
		}
		_ = tp.UsesCondCaptures()
		if k := NormalizeValue(tmpl); NormalizeValue(k) != k {
			t.Fatalf("NormalizeValue not idempotent on %q", tmpl)
		}
	})
}
