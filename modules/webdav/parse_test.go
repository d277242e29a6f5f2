package webdav

import (
	"strings"
	"testing"

	"github.com/golighty/golighty/core"
)

func TestParseIf(t *testing.T) {
	tests := []struct {
		name    string
		h       string
		want    []ifCond
		tooMany bool
	}{
		{"empty", "", nil, false},
		{"one token", "(<urn:uuid:a>)", []ifCond{{kind: ifToken, value: "urn:uuid:a"}}, false},
		{"tagged list", "</dav/x> (<urn:uuid:a>)", []ifCond{{kind: ifToken, value: "urn:uuid:a"}}, false},
		{"two lists", "(<a>) (<b>)", []ifCond{{kind: ifToken, value: "a"}, {kind: ifToken, value: "b"}}, false},
		{"not applies to rest of list", "(Not <DAV:no-lock> <a>) (<b>)", []ifCond{{kind: ifNoLock, not: true}, {kind: ifToken, not: true, value: "a"}, {kind: ifToken, value: "b"}}, false},
		{"lower-case not", "(not <DAV:no-lock>)", []ifCond{{kind: ifNoLock, not: true}}, false},
		{"etag", `(["123"])`, []ifCond{{kind: ifETag, value: `"123"`}}, false},
		{"empty etag skipped", `([] <a>)`, []ifCond{{kind: ifToken, value: "a"}}, false},
		{"unterminated etag ends parse", `(["123" <a>)`, nil, false},
		{"junk ends parse", "(<a> junk <b>)", []ifCond{{kind: ifToken, value: "a"}}, false},
		{"unterminated token dropped", "(<a> <b", []ifCond{{kind: ifToken, value: "a"}}, false},
		{"no parentheses", "<a>", nil, false},
		{"NUL ends header", "(<a>)\x00(<b>)", []ifCond{{kind: ifToken, value: "a"}}, false},
		{"tabs", "(\t<a>\t<b>)", []ifCond{{kind: ifToken, value: "a"}, {kind: ifToken, value: "b"}}, false},
		{"empty token", "(<>)", []ifCond{{kind: ifToken}}, false},
		{"sixteen tokens", "(" + strings.Repeat("<t>", 16) + ")", repeatCond(ifCond{kind: ifToken, value: "t"}, 16), false},
		{"seventeen tokens", "(" + strings.Repeat("<t>", 17) + ")", repeatCond(ifCond{kind: ifToken, value: "t"}, 16), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, tooMany := parseIf(tt.h)
			if tooMany != tt.tooMany || len(got) != len(tt.want) {
				t.Fatalf("parseIf(%q) = %+v, %v; want %+v, %v", tt.h, got, tooMany, tt.want, tt.tooMany)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("parseIf(%q)[%d] = %+v, want %+v", tt.h, i, got[i], tt.want[i])
				}
			}
		})
	}
}

func repeatCond(c ifCond, n int) []ifCond {
	out := make([]ifCond, n)
	for i := range out {
		out[i] = c
	}
	return out
}

func TestLockTimeout(t *testing.T) {
	tests := []struct {
		h    string
		want int64
	}{
		{"Second-100", 100},
		{"second-100", 100},
		{"Second-1", 5},
		{"Second-0", 600},
		{"Second-600", 600},
		{"Second-1000", 600},
		{"Second-4100000000", 1<<31 - 1},
		{"Infinite", 600},
		{"Infinite, Second-30", 30}, // lighttpd 1.4.69 loops forever on the comma
		{"Infinite,Second-30", 30},
		{"Second-abc", 600},
		{"Second--5", 600},
		{"", 600},
	}
	for _, tt := range tests {
		t.Run(tt.h, func(t *testing.T) {
			if got := lockTimeout(tt.h); got != tt.want {
				t.Fatalf("lockTimeout(%q) = %d, want %d", tt.h, got, tt.want)
			}
		})
	}
}

func TestParseXML(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		ok     bool
		check  func(*xmlDoc) string // "" when fine
		encDec bool
	}{
		{"minimal", `<a/>`, true, nil, false},
		{"declaration", `<?xml version="1.0" encoding="utf-8"?><a/>`, true, nil, true},
		{"declaration without encoding", `<?xml version="1.0"?><a/>`, true, nil, false},
		{"empty", ``, false, nil, false},
		{"whitespace only", " \n ", false, nil, false},
		{"unclosed", `<a><b></a>`, false, nil, false},
		{"two roots", `<a/><b/>`, false, nil, false},
		{"text after root", `<a/>x`, false, nil, false},
		{"comment after root", `<a/><!-- c -->`, true, nil, false},
		{"undefined entity", `<a>&nope;</a>`, false, nil, false},
		{"doctype entity", `<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>`, false, nil, false},
		{"unknown encoding", `<?xml version="1.0" encoding="x-unknown"?><a/>`, false, nil, false},
		{"latin1", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>\xe9</a>", true, func(d *xmlDoc) string {
			if v, _ := d.textValue(d.root); v != "é" {
				return "latin1 text = " + v
			}
			return ""
		}, true},
		{"default namespace", `<propfind xmlns="DAV:"><prop/></propfind>`, true, func(d *xmlDoc) string {
			if !d.root.is("propfind") || d.root.ns != "DAV:" || d.root.children[0].ns != "DAV:" {
				return "namespace not resolved"
			}
			return ""
		}, false},
		{"prefix", `<D:a xmlns:D="DAV:"><D:b/><c/></D:a>`, true, func(d *xmlDoc) string {
			if d.root.ns != "DAV:" || d.root.children[1].hasNS {
				return "prefix resolution"
			}
			return ""
		}, false},
		{"undeclared prefix keeps qname", `<x:a/>`, true, func(d *xmlDoc) string {
			if d.root.name != "x:a" || d.root.hasNS {
				return "qname " + d.root.name
			}
			return ""
		}, false},
		{"empty prefix declaration ignored", `<a xmlns:x=""><x:b/></a>`, true, func(d *xmlDoc) string {
			if d.root.children[0].name != "x:b" {
				return "name " + d.root.children[0].name
			}
			return ""
		}, false},
		{"null default namespace", `<a xmlns="DAV:"><b xmlns=""/></a>`, true, func(d *xmlDoc) string {
			if c := d.root.children[0]; !c.hasNS || c.ns != "" {
				return "xmlns=\"\" must bind to the empty namespace"
			}
			return ""
		}, false},
		{"too deep", strings.Repeat("<a>", maxXMLDepth+1) + strings.Repeat("</a>", maxXMLDepth+1), false, nil, false},
		{"deep enough", strings.Repeat("<a>", maxXMLDepth) + strings.Repeat("</a>", maxXMLDepth), true, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := parseXML([]byte(tt.body))
			if (err == nil) != tt.ok {
				t.Fatalf("parseXML(%q) error = %v, want ok=%v", tt.body, err, tt.ok)
			}
			if err != nil {
				return
			}
			if d.encoding != tt.encDec {
				t.Errorf("encoding declared = %v, want %v", d.encoding, tt.encDec)
			}
			if tt.check != nil {
				if msg := tt.check(d); msg != "" {
					t.Fatal(msg)
				}
			}
		})
	}
}

// TestTextValue checks the form lighttpd stores property values in
// (libxml2's xmlNodeListGetString).
func TestTextValue(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"escapes", `<?xml version="1.0" encoding="utf-8"?><a>x &amp; &lt;y&gt; "q" 'a'</a>`, `x &amp; &lt;y&gt; "q" 'a'`},
		{"cdata", `<a><![CDATA[<b>&]]></a>`, `&lt;b&gt;&amp;`},
		{"child elements dropped", `<a>1<b>2</b>3</a>`, `13`},
		{"utf-8 kept with declared encoding", `<?xml version="1.0" encoding="utf-8"?><a>é&#x10000;</a>`, "é\U00010000"},
		{"utf-8 as references without", `<a>é&#x10000;</a>`, "&#xE9;&#x10000;"},
		{"carriage return", `<a>x&#13;y</a>`, "x&#13;y"},
		{"newline normalised", "<a>x\r\ny</a>", "x\ny"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := parseXML([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := d.textValue(d.root); got != tt.want {
				t.Fatalf("textValue = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPropfindRequest(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		status   int
		props    int
		allprop  bool
		propname bool
		lockdisc bool
	}{
		{"allprop", `<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`, 0, 0, true, false, true},
		{"propname", `<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>`, 0, 0, false, true, false},
		{"named", `<D:propfind xmlns:D="DAV:" xmlns:Z="z"><D:prop><D:getetag/><Z:a/>  <D:lockdiscovery/></D:prop></D:propfind>`, 0, 2, false, false, true},
		{"include skips live", `<D:propfind xmlns:D="DAV:" xmlns:Z="z"><D:allprop/><D:include><D:getetag/><D:x/><Z:a/></D:include></D:propfind>`, 0, 1, true, false, true},
		{"only lockdiscovery", `<D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>`, 0, 0, false, false, true},
		{"other root", `<x/>`, 0, 0, false, false, false},
		{"32 props", `<D:propfind xmlns:D="DAV:"><D:prop>` + strings.Repeat("<D:x/>", 32) + `</D:prop></D:propfind>`, 0, 32, false, false, false},
		{"33 props", `<D:propfind xmlns:D="DAV:"><D:prop>` + strings.Repeat("<D:x/>", 33) + `</D:prop></D:propfind>`, 400, 32, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := parseXML([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			pf := &propfind{r: &req{rc: &core.Request{}}}
			st := pf.parseRequest(d)
			if st != tt.status || len(pf.props) != tt.props || pf.allprop != tt.allprop || pf.propname != tt.propname || pf.lockdiscovery != tt.lockdisc {
				t.Fatalf("status %d props %d allprop %v propname %v lockdiscovery %v", st, len(pf.props), pf.allprop, pf.propname, pf.lockdiscovery)
			}
		})
	}
}

func TestLockInfo(t *testing.T) {
	tests := []struct {
		name, body, scope, typ, owner string
	}{
		{"exclusive", `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>me &amp; you</D:owner></D:lockinfo>`, "exclusive", "write", "me &amp; you"},
		{"shared href owner", `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>x</D:href></D:owner></D:lockinfo>`, "shared", "write", ""},
		{"whitespace in scope", `<D:lockinfo xmlns:D="DAV:"><D:lockscope> <D:exclusive/> </D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`, "", "write", ""},
		{"unknown type", `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:read/></D:locktype></D:lockinfo>`, "exclusive", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := parseXML([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			s, ty, o := lockInfo(d)
			if s != tt.scope || ty != tt.typ || o != tt.owner {
				t.Fatalf("lockInfo = %q %q %q, want %q %q %q", s, ty, o, tt.scope, tt.typ, tt.owner)
			}
		})
	}
}

func TestPropertyUpdate(t *testing.T) {
	d, err := parseXML([]byte(`<D:propertyupdate xmlns:D="DAV:" xmlns:Z="z">` +
		`<D:set><D:prop> <Z:a>1</Z:a><Z:ignored>2</Z:ignored></D:prop></D:set>` +
		`<D:set><D:prop><Z:empty/></D:prop></D:set>` +
		`<D:remove><D:prop><Z:b/></D:prop></D:remove>` +
		`<D:set><D:prop><D:getetag>x</D:getetag></D:prop></D:set>` +
		`<D:other><D:prop><Z:c>3</Z:c></D:prop></D:other>` +
		`</D:propertyupdate>`))
	if err != nil {
		t.Fatal(err)
	}
	ps, refused := propertyUpdate(d)
	want := []patch{{set: true, name: "a", ns: "z", value: "1"}, {name: "b", ns: "z"}}
	if len(ps) != len(want) || ps[0] != want[0] || ps[1] != want[1] {
		t.Fatalf("patches = %+v, want %+v", ps, want)
	}
	if !strings.Contains(string(refused), "<DAV:getetag/>") || !strings.Contains(string(refused), "403 Forbidden") {
		t.Fatalf("refused = %q", refused)
	}
}

func TestJoinPath(t *testing.T) {
	for _, tt := range []struct{ a, b, want string }{
		{"/srv/www", "/dav/x", "/srv/www/dav/x"},
		{"/srv/www/", "/dav/x", "/srv/www/dav/x"},
		{"/srv/www", "dav", "/srv/www/dav"},
		{"", "dav", "/dav"},
		{"", "/dav", "/dav"},
	} {
		if got := joinPath(tt.a, tt.b); got != tt.want {
			t.Errorf("joinPath(%q, %q) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
}
