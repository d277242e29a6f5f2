package webdav

// ifCond is one condition of an If header (RFC 4918 10.4) as lighttpd's
// loose parser sees it.
type ifCond struct {
	kind  ifKind
	not   bool   // a "Not" came earlier in the same list
	value string // the entity tag or state token, without its brackets
}

type ifKind uint8

const (
	ifToken  ifKind = iota + 1 // <state-token>
	ifETag                     // [entity-tag]
	ifNoLock                   // <DAV:no-lock>
)

// maxIfTokens is lighttpd's limit on state tokens in one If header.
const maxIfTokens = 16

// parseIf reads an If header the way lighttpd 1.4.69 does: resource tags
// and anything outside parentheses are skipped, "Not" applies to the rest
// of its list, a condition that is neither "<...>" nor "[...]" ends the
// parse, and an unterminated token is dropped. tooMany reports more than
// maxIfTokens state tokens (400). The parse never fails otherwise: a
// mangled header yields fewer tokens, and so fails closed when a lock is
// required.
func parseIf(h string) (conds []ifCond, tooMany bool) {
	// lighttpd reads the header as a C string.
	for i := 0; i < len(h); i++ {
		if h[i] == 0 {
			h = h[:i]
			break
		}
	}
	at := func(i int) byte {
		if i < len(h) {
			return h[i]
		}
		return 0
	}
	tokens := 0
	p := 0
	for {
		for at(p) != '(' && at(p) != 0 {
			p++
		}
		not := false
	list:
		for at(p) != 0 {
			p++
			if at(p) == ')' {
				break
			}
			for at(p) == ' ' || at(p) == '\t' {
				p++
			}
			if at(p)&0xdf == 'N' && at(p+1)&0xdf == 'O' && at(p+2)&0xdf == 'T' {
				not = true
				p += 3
				for at(p) == ' ' || at(p) == '\t' {
					p++
				}
			}
			switch at(p) {
			case '[':
				start := p + 1
				for {
					p++
					if at(p) == ']' || at(p) == 0 {
						break
					}
				}
				if at(p) != ']' {
					break list
				}
				if p > start {
					conds = append(conds, ifCond{kind: ifETag, not: not, value: h[start:p]})
				}
				continue
			case '<':
			default:
				break list
			}
			if at(p+1) == 'D' && len(h)-p >= 13 && h[p:p+13] == "<DAV:no-lock>" {
				conds = append(conds, ifCond{kind: ifNoLock, not: not})
				p += 12
				continue
			}
			if tokens == maxIfTokens {
				return conds, true
			}
			start := p + 1
			for {
				p++
				if at(p) == '>' || at(p) == 0 {
					break
				}
			}
			if at(p) == 0 {
				break
			}
			conds = append(conds, ifCond{kind: ifToken, not: not, value: h[start:p]})
			tokens++
		}
		c := at(p)
		p++
		if c != ')' {
			return conds, false
		}
	}
}
