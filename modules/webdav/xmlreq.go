package webdav

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// node is one node of a request body's XML tree, shaped like the libxml2
// tree lighttpd's mod_webdav walks: elements carry their local name and
// namespace URI, text nodes their decoded text, other nodes (comments,
// processing instructions) only their kind.
type node struct {
	kind     nodeKind
	name     string // element: local name, or "prefix:local" for an undeclared prefix
	ns       string // element: namespace URI ("" for none)
	hasNS    bool   // element: bound to a namespace (xmlns="" or a declared prefix)
	text     string // text: the characters
	children []*node
}

type nodeKind uint8

const (
	elementNode nodeKind = iota
	textNode
	otherNode
)

// xmlDoc is a parsed request body.
type xmlDoc struct {
	root *node
	// encoding is set when the XML declaration names one; libxml2 then
	// keeps non-ASCII characters as they are when it serialises text.
	encoding bool
}

// maxXMLDepth is libxml2's default element nesting limit.
const maxXMLDepth = 256

var errXML = errors.New("webdav: malformed XML request body")

// parseXML parses a request body. It accepts what libxml2 accepts as well
// formed (namespace errors such as an undeclared prefix or xmlns:p=""
// are not fatal there either) and refuses everything else; entities other
// than the predefined ones and character references are refused, so no
// external entity is ever resolved.
func parseXML(body []byte) (*xmlDoc, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	d.CharsetReader = charsetReader
	doc := &xmlDoc{}
	type scope struct {
		n    *node
		name xml.Name
		ns   map[string]string // prefix declarations of this element
	}
	var stack []scope
	lookup := func(prefix string) (string, bool) {
		for i := len(stack) - 1; i >= 0; i-- {
			if v, ok := stack[i].ns[prefix]; ok {
				return v, true
			}
		}
		return "", false
	}
	first := true
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errXML, err)
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			if t.Target == "xml" {
				if !first {
					return nil, errXML
				}
				doc.encoding = procInstParam(string(t.Inst), "encoding") != ""
			}
			if len(stack) > 0 {
				stack[len(stack)-1].n.children = append(stack[len(stack)-1].n.children, &node{kind: otherNode})
			}
		case xml.Directive:
			if len(stack) > 0 || doc.root != nil {
				return nil, errXML
			}
		case xml.Comment:
			if len(stack) > 0 {
				stack[len(stack)-1].n.children = append(stack[len(stack)-1].n.children, &node{kind: otherNode})
			}
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.Trim(t, " \t\r\n")) != 0 {
					return nil, errXML
				}
				break
			}
			p := stack[len(stack)-1].n
			if k := len(p.children); k > 0 && p.children[k-1].kind == textNode {
				p.children[k-1].text += string(t)
			} else {
				p.children = append(p.children, &node{kind: textNode, text: string(t)})
			}
		case xml.StartElement:
			if len(stack) == 0 && doc.root != nil {
				return nil, errXML // a second root element
			}
			if len(stack) >= maxXMLDepth {
				return nil, errXML
			}
			sc := scope{name: t.Name}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "xmlns" && a.Value != "":
					// libxml2 refuses xmlns:p="" (a namespace error, not
					// fatal) and leaves p undeclared.
					if sc.ns == nil {
						sc.ns = map[string]string{}
					}
					sc.ns[a.Name.Local] = a.Value
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					if sc.ns == nil {
						sc.ns = map[string]string{}
					}
					sc.ns[""] = a.Value
				}
			}
			stack = append(stack, sc)
			n := &node{kind: elementNode, name: t.Name.Local}
			if uri, ok := lookup(t.Name.Space); ok {
				n.ns, n.hasNS = uri, true
			} else if t.Name.Space != "" {
				n.name = t.Name.Space + ":" + t.Name.Local
			}
			stack[len(stack)-1].n = n
			if len(stack) == 1 {
				doc.root = n
			} else {
				p := stack[len(stack)-2].n
				p.children = append(p.children, n)
			}
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1].name != t.Name {
				return nil, errXML
			}
			stack = stack[:len(stack)-1]
		}
		first = false
	}
	if len(stack) != 0 || doc.root == nil {
		return nil, errXML
	}
	return doc, nil
}

// procInstParam returns the value of param in an XML declaration.
func procInstParam(s, param string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return ""
		}
		name := strings.TrimSpace(s[:eq])
		s = strings.TrimLeft(s[eq+1:], " \t\r\n")
		if s == "" || (s[0] != '"' && s[0] != '\'') {
			return ""
		}
		end := strings.IndexByte(s[1:], s[0])
		if end < 0 {
			return ""
		}
		if name == param {
			return s[1 : 1+end]
		}
		s = s[end+2:]
	}
}

// charsetReader accepts the single-byte encodings libxml2 knows without
// iconv; UTF-8 needs no reader.
func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii":
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		var out []byte
		for _, c := range b {
			out = utf8.AppendRune(out, rune(c))
		}
		return bytes.NewReader(out), nil
	}
	return nil, fmt.Errorf("unsupported encoding %q", charset)
}

// isBlank reports a whitespace-only text node (libxml2's xmlIsBlankNode).
func (n *node) isBlank() bool {
	return n.kind == textNode && strings.Trim(n.text, " \t\r\n") == ""
}

// libxml2 names non-element nodes by kind; mod_webdav compares those names
// with element names it expects, which never match them.
func (n *node) is(local string) bool { return n.kind == elementNode && n.name == local }

// textValue is libxml2's xmlNodeListGetString(doc, n.children, 0): the
// direct text children, entity-encoded (& < > and CR; characters beyond
// ASCII too unless the document declared its encoding). Element children
// contribute nothing. lighttpd stores dead property values and lock owners
// in this form and writes them back as they are.
func (d *xmlDoc) textValue(n *node) (string, bool) {
	var b strings.Builder
	any := false
	for _, c := range n.children {
		if c.kind != textNode {
			continue
		}
		any = true
		for _, r := range c.text {
			switch {
			case r == '<':
				b.WriteString("&lt;")
			case r == '>':
				b.WriteString("&gt;")
			case r == '&':
				b.WriteString("&amp;")
			case r >= 0x20 && r < 0x80, r == '\n', r == '\t':
				b.WriteRune(r)
			case r >= 0x80 && d.encoding:
				b.WriteRune(r)
			case r >= 0x80:
				b.WriteString("&#x")
				b.WriteString(strings.ToUpper(strconv.FormatInt(int64(r), 16)))
				b.WriteByte(';')
			default:
				b.WriteString("&#")
				b.WriteString(strconv.Itoa(int(r)))
				b.WriteByte(';')
			}
		}
	}
	return b.String(), any
}
