package core

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/golighty/golighty/lighttpdconf"
	"github.com/golighty/golighty/lighttpdconf/regex"
)

// condField is the request value a condition compares.
type condField uint8

const (
	fieldNone condField = iota
	fieldHost
	fieldURL
	fieldQuery
	fieldRemoteIP
	fieldScheme
	fieldMethod
	fieldHeader // User-Agent, Referer, Cookie, Accept-Language, $REQUEST_HEADER[...]
	fieldSocket
)

// block is the compiled form of one config block: its place in the tree and
// its condition, ready to be evaluated against a request.
type block struct {
	index  int
	parent int // -1 for the global block
	prev   int // previous block of an else-chain, -1 if none
	cond   *condition
}

type condition struct {
	field  condField
	header string // canonical header name for fieldHeader
	op     lighttpdconf.Op
	value  string
	re     *regex.Regexp
	prefix netip.Prefix // remoteip ==/!= compares as a network
	isNet  bool
	text   string
	// capture keeps the match of a regex without groups too (%0), for a
	// block whose url.rewrite/url.redirect targets use %N (CaptureCondition).
	capture bool
}

// condition states, cached per request (lighttpd's cond_cache).
const (
	condUnset uint8 = iota
	condTrue
	condFalse
	condSkip // parent not true, or an earlier branch of the else-chain applied
)

func compileConditions(conf *lighttpdconf.Config) ([]block, error) {
	out := make([]block, len(conf.Blocks))
	for i, b := range conf.Blocks {
		cb := block{index: b.Index, parent: -1, prev: -1}
		if b.Parent != nil {
			cb.parent = b.Parent.Index
		}
		if b.Prev != nil {
			cb.prev = b.Prev.Index
		}
		if b.Cond != nil {
			c, err := compileCondition(b)
			if err != nil {
				return nil, err
			}
			cb.cond = c
		}
		out[i] = cb
	}
	return out, nil
}

func compileCondition(b *lighttpdconf.Block) (*condition, error) {
	lc := b.Cond
	c := &condition{op: lc.Op, value: lc.Value, re: lc.Regex, text: b.Text()}
	field := strings.ToLower(lc.Field)
	switch lc.Var {
	case "HTTP":
		switch field {
		case "host":
			c.field = fieldHost
		case "url":
			c.field = fieldURL
		case "querystring", "query-string":
			c.field = fieldQuery
		case "remoteip", "remote-ip":
			c.field = fieldRemoteIP
		case "scheme":
			c.field = fieldScheme
		case "request-method":
			c.field = fieldMethod
		case "useragent", "user-agent":
			c.field, c.header = fieldHeader, "User-Agent"
		case "referer":
			c.field, c.header = fieldHeader, "Referer"
		case "cookie":
			c.field, c.header = fieldHeader, "Cookie"
		case "language":
			c.field, c.header = fieldHeader, "Accept-Language"
		}
	case "REQUEST_HEADER":
		c.field, c.header = fieldHeader, lc.Field
	case "SERVER":
		if field == "socket" {
			c.field = fieldSocket
		}
	}
	if c.field == fieldNone {
		return nil, &ConfigError{Pos: lc.Pos, Err: fmt.Errorf("unsupported condition %s", c.text)}
	}
	if (c.op == lighttpdconf.OpMatch || c.op == lighttpdconf.OpNoMatch) && c.re == nil {
		re, err := regex.Compile(c.value)
		if err != nil {
			return nil, &ConfigError{Pos: lc.Pos, Err: err}
		}
		c.re = re
	}
	if c.field == fieldRemoteIP && (c.op == lighttpdconf.OpEq || c.op == lighttpdconf.OpNe) {
		p, err := parseIPOrNet(c.value)
		if err != nil {
			return nil, &ConfigError{Pos: lc.Pos, Err: fmt.Errorf("invalid IP addr: %s", c.value)}
		}
		c.prefix, c.isNet = p, true
	}
	return c, nil
}

func parseIPOrNet(s string) (netip.Prefix, error) {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if i := strings.IndexByte(s, '/'); i >= 0 {
		addr := strings.TrimSuffix(strings.TrimPrefix(s[:i], "["), "]")
		return netip.ParsePrefix(addr + s[i:])
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// blockTrue evaluates block i for rc, using and filling the per-request cache.
func (rc *Request) blockTrue(i int) bool {
	return rc.blockState(i) == condTrue
}

func (rc *Request) blockState(i int) uint8 {
	if st := rc.condCache[i]; st != condUnset {
		return st
	}
	b := &rc.Snap.blocks[i]
	var st uint8
	switch {
	case b.parent >= 0 && !rc.blockTrue(b.parent):
		st = condSkip
	case b.prev >= 0 && rc.blockState(b.prev) != condFalse:
		st = condSkip
	case b.cond == nil: // global block, or a plain else reached after a false branch
		st = condTrue
	case rc.condValid != 0 && rc.condValid&(1<<b.cond.field) == 0:
		st = condSkip // not known before the first request (lighttpd: undecided)
	case rc.evalCond(i, b.cond):
		st = condTrue
	default:
		st = condFalse
	}
	rc.condCache[i] = st
	return st
}

func (rc *Request) condSubject(c *condition) string {
	switch c.field {
	case fieldHost:
		return rc.URI.Authority
	case fieldURL:
		return rc.URI.Path
	case fieldQuery:
		return rc.URI.Query
	case fieldRemoteIP:
		return rc.Conn.RemoteIP
	case fieldScheme:
		return rc.URI.Scheme
	case fieldMethod:
		return rc.Method
	case fieldHeader:
		return rc.Header.Get(c.header)
	case fieldSocket:
		return rc.Conn.Socket
	}
	return ""
}

func (rc *Request) evalCond(idx int, c *condition) bool {
	subj := rc.condSubject(c)
	switch c.op {
	case lighttpdconf.OpEq, lighttpdconf.OpNe:
		eq := false
		switch {
		case c.isNet:
			if a, err := netip.ParseAddr(subj); err == nil {
				eq = c.prefix.Contains(a.Unmap())
			}
		case c.field == fieldHost:
			eq = hostEqual(subj, c.value)
		default:
			eq = subj == c.value
		}
		return eq == (c.op == lighttpdconf.OpEq)
	case lighttpdconf.OpPrefix:
		return strings.HasPrefix(subj, c.value)
	case lighttpdconf.OpSuffix:
		return strings.HasSuffix(subj, c.value)
	case lighttpdconf.OpMatch, lighttpdconf.OpNoMatch:
		m := rc.matchRegex(idx, c, subj)
		return m == (c.op == lighttpdconf.OpMatch)
	}
	return false
}

// matchRegex matches and, when the regex has groups, keeps the captures for
// %N references of modules configured in this block.
func (rc *Request) matchRegex(idx int, c *condition, subj string) bool {
	// Matching first costs no allocation; the capture offsets (which the
	// regexp package allocates) are only computed for a match.
	ok, err := c.re.MatchStringErr(subj)
	if err != nil {
		rc.Logf("regex %s: %v", c.re, err)
	}
	if !ok || c.op == lighttpdconf.OpNoMatch || (c.re.NumSubexp() == 0 && !c.capture) {
		return ok
	}
	start := len(rc.capIdx)
	idxs := c.re.FindStringSubmatchIndex(rc.capIdx[start:], subj)
	if idxs == nil {
		return false
	}
	rc.capIdx = append(rc.capIdx[:start], idxs...)
	rc.caps = append(rc.caps, capRef{block: idx, subject: subj, start: start, n: len(idxs)})
	return true
}

// hostEqual implements lighttpd's $HTTP["host"] == rule: equal, or equal up to
// a ":port" on the longer side.
func hostEqual(req, conf string) bool {
	if len(req) == len(conf) {
		return req == conf
	}
	if strings.HasPrefix(conf, "/") {
		return false
	}
	short, long := req, conf
	if len(short) > len(long) {
		short, long = long, short
	}
	return strings.HasPrefix(long, short) && long[len(short)] == ':'
}

type capRef struct {
	block    int
	subject  string
	start, n int
}

// CondCaptures appends to dst[:0] the %0..%9 captures of the regex condition
// of block idx, for url.rewrite/redirect. As in lighttpd, only the block's
// own condition counts (not its ancestors'): a block whose condition is not
// a regex, did not match (!~) or was not evaluated yields none.
func (rc *Request) CondCaptures(idx int, dst []string) []string {
	dst = dst[:0]
	if idx <= 0 {
		return dst
	}
	for i := len(rc.caps) - 1; i >= 0; i-- {
		c := rc.caps[i]
		if c.block != idx {
			continue
		}
		ix := rc.capIdx[c.start : c.start+c.n]
		for j := 0; j+1 < len(ix); j += 2 {
			if ix[j] < 0 {
				dst = append(dst, "")
			} else {
				dst = append(dst, c.subject[ix[j]:ix[j+1]])
			}
		}
		return dst
	}
	return dst
}

// resetConditionsOn forgets the cached results of conditions on field, of
// the blocks nested in them and of the else-branches after them (lighttpd's
// config_cond_cache_reset_item), and their captures. A block's parent and
// else-predecessor come before it, so one pass in block order finds them.
func (rc *Request) resetConditionsOn(field condField) {
	const dirty = 0xff
	found := false
	for i := range rc.condCache {
		b := &rc.Snap.blocks[i]
		if (b.cond != nil && b.cond.field == field) ||
			(b.parent >= 0 && rc.condCache[b.parent] == dirty) ||
			(b.prev >= 0 && rc.condCache[b.prev] == dirty) {
			rc.condCache[i] = dirty
			found = true
		}
	}
	if !found {
		return
	}
	caps := rc.caps[:0]
	for _, c := range rc.caps {
		if rc.condCache[c.block] != dirty {
			caps = append(caps, c)
		}
	}
	rc.caps = caps
	for i, st := range rc.condCache {
		if st == dirty {
			rc.condCache[i] = condUnset
		}
	}
}

// CaptureCondition makes block idx keep its regex match for CondCaptures
// even when the regex has no groups (%0 is the whole match), as lighttpd's
// config_capture does for blocks whose rules use %N.
func (sc *SetupContext) CaptureCondition(idx int) {
	if idx > 0 && idx < len(sc.snap.blocks) {
		if c := sc.snap.blocks[idx].cond; c != nil {
			c.capture = true
		}
	}
}

// resetConditions forgets cached results (after a rewrite or an internal
// restart, lighttpd re-evaluates every condition).
func (rc *Request) resetConditions() {
	n := len(rc.Snap.blocks)
	if cap(rc.condCache) < n {
		rc.condCache = make([]uint8, n)
	}
	rc.condCache = rc.condCache[:n]
	clear(rc.condCache)
	rc.caps = rc.caps[:0]
	rc.capIdx = rc.capIdx[:0]
}
