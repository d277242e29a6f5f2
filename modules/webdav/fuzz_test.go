package webdav

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/golighty/golighty/core"
)

// FuzzXMLBody feeds request bodies to the XML parser and to what PROPFIND,
// PROPPATCH and LOCK read from them: nothing may panic, a parsed document
// is well nested, and stored values stay valid XML text.
func FuzzXMLBody(f *testing.F) {
	for _, s := range []string{
		`<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`,
		`<D:propfind xmlns:D="DAV:" xmlns:Z="z"><D:prop><D:getetag/><Z:a/><D:lockdiscovery/></D:prop></D:propfind>`,
		`<D:propertyupdate xmlns:D="DAV:" xmlns:Z="z"><D:set><D:prop><Z:a>1 &amp; <![CDATA[<2>]]></Z:a></D:prop></D:set><D:remove><D:prop><Z:b/></D:prop></D:remove></D:propertyupdate>`,
		`<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>o</D:owner></D:lockinfo>`,
		`<a xmlns:x=""><x:b/></a>`,
		`<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>`,
		"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>\xe9</a>",
		`<a>&#x10000;&#13;</a>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		doc, err := parseXML(body)
		if err != nil {
			return
		}
		if doc.root == nil || doc.root.kind != elementNode {
			t.Fatal("parsed document without a root element")
		}
		var walk func(n *node, depth int)
		walk = func(n *node, depth int) {
			if depth > maxXMLDepth {
				t.Fatal("nesting beyond the limit")
			}
			if n.kind == elementNode {
				v, _ := doc.textValue(n)
				if !utf8.ValidString(v) || strings.ContainsAny(v, "<>") {
					t.Fatalf("stored value %q is not XML text", v)
				}
			}
			for _, c := range n.children {
				walk(c, depth+1)
			}
		}
		walk(doc.root, 1)
		pf := &propfind{r: &req{rc: &core.Request{}}}
		if st := pf.parseRequest(doc); st == 0 && len(pf.props) > maxPropfindProps {
			t.Fatalf("%d properties accepted", len(pf.props))
		}
		propertyUpdate(doc)
		scope, typ, _ := lockInfo(doc)
		if scope != "" && scope != "exclusive" && scope != "shared" || typ != "" && typ != "write" {
			t.Fatalf("lock scope %q type %q", scope, typ)
		}
	})
}

// FuzzIfHeader checks the If header parser: no panic, every token and
// entity tag is a piece of the header, at most 16 tokens.
func FuzzIfHeader(f *testing.F) {
	for _, s := range []string{
		"(<urn:uuid:a>)",
		"</dav/x> (<a>) (Not <DAV:no-lock> [\"1\"])",
		"(<a> [W/\"2\"]) (<b",
		"((((",
		"(" + strings.Repeat("<t>", 17) + ")",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		conds, tooMany := parseIf(h)
		tokens := 0
		for _, c := range conds {
			switch c.kind {
			case ifToken:
				tokens++
				if !strings.Contains(h, "<"+c.value+">") {
					t.Fatalf("token %q not in %q", c.value, h)
				}
			case ifETag:
				if c.value == "" || !strings.Contains(h, "["+c.value+"]") {
					t.Fatalf("etag %q not in %q", c.value, h)
				}
			case ifNoLock:
				if !strings.Contains(h, "<DAV:no-lock>") {
					t.Fatalf("no-lock not in %q", h)
				}
			default:
				t.Fatalf("condition of kind %d", c.kind)
			}
		}
		if tokens > maxIfTokens || (tooMany && tokens != maxIfTokens) {
			t.Fatalf("%d tokens, tooMany %v", tokens, tooMany)
		}
	})
}
