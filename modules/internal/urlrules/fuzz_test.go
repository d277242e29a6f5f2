package urlrules

import (
	"bytes"
	"strings"
	"testing"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/lighttpdconf/subst"
)

// FuzzApply: any rule and target apply without panic, deterministically,
// and the literal-prefix shortcut never changes the outcome: the same list
// without prefixes (every rule asks its regex) decides the same way.
func FuzzApply(f *testing.F) {
	for _, s := range [][3]string{
		{"^/app/([^?]*)(?:\\?(.*))?$", "/index.php?p=$1&${qsa}", "/app/a%20b?x=1"},
		{"^/a\\.b?c", "/x$0", "/a.c"},
		{"^/ab{2}", "/y", "/abb"},
		{"^/a|^/b", "/z", "/b"},
		{"^/x(?=y)", "/look", "/xy"},
		{"(a)(b)?", "${esc:tolower:2}%1${qsa}", "/ab?"},
		{"^/é", "/utf", "/%C3%A9"},
		{"^/q\\?", "", "/q?"},
		{"^/(.*)$", "/${decb64u:1}", "/YQ0KYg"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, pattern, tmpl, target string) {
		l := NewList(0, "")
		if err := l.Add(nil, []core.KV{{Key: pattern, Value: tmpl}, {Key: "^/fallback", Value: "/fb"}}, true); err != nil {
			return
		}
		plain := &List{Rules: append([]Rule(nil), l.Rules...), condCaptures: l.condCaptures}
		for i := range plain.Rules {
			plain.Rules[i].prefix = ""
		}
		rc := &core.Request{}
		path, query, hasQuery := strings.Cut(target, "?")
		rc.URI = core.URI{Scheme: "http", Target: target, PathRaw: path, Query: query}
		if !hasQuery {
			rc.URI.Query = ""
		}
		idx, out, res, err := l.Apply(rc, []byte("pre"))
		idx2, out2, res2, err2 := plain.Apply(rc, []byte("pre"))
		if idx != idx2 || out != out2 || !bytes.Equal(res, res2) || (err == nil) != (err2 == nil) {
			t.Fatalf("prefix %q changed the outcome for %q: %d %v %q %v / %d %v %q %v",
				l.Rules[0].prefix, target, idx, out, res, err, idx2, out2, res2, err2)
		}
		if !bytes.HasPrefix(res, []byte("pre")) {
			t.Fatalf("prefix of dst lost: %q", res)
		}
		if nt := subst.NormalizeValue(tmpl); out == Expanded && idx == 0 && !strings.ContainsAny(nt, "$%") && string(res[3:]) != nt {
			t.Fatalf("literal target %q expanded to %q", tmpl, res[3:])
		}
		if out == Stopped && tmpl != "" {
			t.Fatalf("non-empty target %q stopped the list", tmpl)
		}
	})
}
