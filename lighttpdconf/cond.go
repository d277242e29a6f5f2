package lighttpdconf

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/golighty/golighty/lighttpdconf/regex"
	"github.com/golighty/golighty/lighttpdconf/subst"
)

// field kinds of 1.4.69 (configparser_comp_key_id)
type compKind uint8

const (
	compUnset compKind = iota
	compURL
	compHost
	compHeader
	compRemoteIP
	compQuery
	compMethod
	compScheme
	compSocket
)

var httpFields = map[string]compKind{
	"url": compURL, "host": compHost, "referer": compHeader, "useragent": compHeader,
	"user-agent": compHeader, "language": compHeader, "cookie": compHeader,
	"remoteip": compRemoteIP, "remote-ip": compRemoteIP, "querystring": compQuery,
	"query-string": compQuery, "request-method": compMethod, "scheme": compScheme,
}

func compKeyID(name, field string) compKind {
	switch name {
	case "REQUEST_HEADER":
		return compHeader
	case "SERVER":
		if field == "socket" {
			return compSocket
		}
	case "HTTP":
		return httpFields[field]
	}
	return compUnset
}

// simplifyRegex rewrites an anchored pattern without metacharacters into a
// cheaper operator, as configparser_simplify_regex does (spec §9.3).
func simplifyRegex(b string) (Op, string) {
	n := len(b)
	if n == 0 {
		return OpMatch, b
	}
	op := OpMatch
	off := 0
	switch {
	case b[n-1] == '$':
		op = OpSuffix
		if n > 1 && b[0] == '\\' && b[1] == '.' {
			off = 2
		} else if b[0] == '^' {
			off = 1
			op = OpEq
		}
		n--
	case b[0] == '^':
		off = 1
		op = OpPrefix
	default:
		return OpMatch, b
	}
	if off > n || strings.ContainsAny(b[off:n], `\^$.|?*+()[]{}`) {
		return OpMatch, b
	}
	if off > 0 {
		// only the first byte goes: "\.ext$" keeps the '.'
		return op, b[1:n]
	}
	return op, b[:n]
}

func (e *evaluator) chain(c *astChain) error {
	prev, err := e.condBlock(c.Head)
	if err != nil {
		return err
	}
	for _, el := range c.Elses {
		p := toPos(el.Pos)
		var blk *Block
		if el.Cond != nil {
			if blk, err = e.condBlock(el.Cond); err != nil {
				return err
			}
		} else {
			if len(el.Junk) > 0 {
				e.warn(p, "lighttpd 1.4.69 has no `else %s`: the tokens after `else` up to `{` are ignored and this block is a plain else (catch-all)", el.Junk[0].Tok)
			}
			blk = &Block{Index: len(e.cfg.Blocks), Parent: e.cur, key: e.cur.key + " / else_tmp_token", Pos: p}
			e.newBlock(blk)
			if err := e.push(blk, p); err != nil {
				return err
			}
			if err := e.block(el.Body); err != nil {
				return err
			}
			e.pop()
		}
		if prev.Index >= blk.Index {
			return errorf(p, "unreachable else condition")
		}
		if prev.IsElse() {
			return errorf(p, "unreachable condition following else catch-all")
		}
		if el.Cond == nil {
			delete(e.all, blk.key)
			blk.key = negateKey(prev)
			if _, dup := e.all[blk.key]; dup {
				return errorf(p, "unreachable else condition")
			}
			e.all[blk.key] = blk
		}
		blk.Prev = prev
		prev.next = blk
		prev = blk
	}
	return nil
}

func (e *evaluator) newBlock(b *Block) {
	e.cfg.Blocks = append(e.cfg.Blocks, b)
	e.all[b.key] = b
	b.Parent.Children = append(b.Parent.Children, b)
}

// negateKey is the identity key lighttpd gives a plain else: the previous
// block's key with its operator flipped (== -> !=, =~ -> !~, =^ -> !^ ...).
func negateKey(prev *Block) string {
	k := []byte(prev.key)
	pos := len(k) - len(prev.Cond.Value) - 5
	if pos >= 0 && pos < len(k) {
		switch prev.Cond.Op {
		case OpNe, OpNoMatch:
			k[pos] = '='
		default:
			k[pos] = '!'
		}
	}
	return string(k)
}

// condBlock evaluates `$NAME[FIELD] OP VALUE { ... }` and returns its block.
func (e *evaluator) condBlock(c *astCond) (*Block, error) {
	p := toPos(c.Pos)
	if j := c.Head.Junk; len(j) > 0 {
		e.warn(toPos(j[0].Pos), "%s before `{` is ignored (lighttpd drops it; a `+` on a new line does not continue the condition value)", j[0].Tok)
	}
	field, err := e.stringop(c.Head.Field)
	if err != nil {
		return nil, err
	}
	rv, err := e.expr(c.Head.Value)
	if err != nil {
		return nil, err
	}
	if rv.Kind != KindString {
		return nil, errorf(toPos(c.Head.Value.Pos), "rvalue must be string")
	}
	comp := compKeyID(c.Head.Name, field)
	op := parseOp(c.Head.Op)
	value := rv.Str
	if op == OpMatch && comp != compSocket {
		op, value = simplifyRegex(value)
	}
	text := "$" + c.Head.Name + `["` + field + `"] ` + op.String() + ` "` + value + `"`
	key := e.cur.key + " / " + text
	blk, ok := e.all[key]
	if !ok {
		if comp == compUnset {
			return nil, errorf(p, "error comp_key %s (1.4.69 supports $HTTP[\"host\", \"url\", \"querystring\", \"remoteip\", \"scheme\", \"request-method\", \"useragent\", \"referer\", \"cookie\", \"language\"], $REQUEST_HEADER[\"...\"] and $SERVER[\"socket\"])", text)
		}
		norm, err := normalizeCond(comp, op, value)
		if err != nil {
			return nil, errorf(toPos(c.Head.Value.Pos), "%s", err.Error())
		}
		cond := &Cond{Var: c.Head.Name, Field: field, Op: op, Value: norm, Pos: p, text: text}
		blk = &Block{Index: len(e.cfg.Blocks), Parent: e.cur, Cond: cond, key: key, Pos: p}
		e.newBlock(blk)
	}
	if err := e.push(blk, p); err != nil {
		return nil, err
	}
	if err := e.block(c.Body); err != nil {
		return nil, err
	}
	e.pop()
	return blk, nil
}

type condErr string

func (c condErr) Error() string { return string(c) }

// normalizeCond validates and canonicalizes the right-hand side (spec §9.3).
func normalizeCond(comp compKind, op Op, v string) (string, error) {
	plain := op == OpEq || op == OpNe || op == OpPrefix || op == OpSuffix
	switch {
	case comp == compRemoteIP && plain:
		if nv, ok := remoteIPNormalize(v); ok {
			return nv, nil
		}
		return v, condErr("invalid IP addr: " + v)
	case comp == compSocket:
		if strings.HasPrefix(v, ":") || strings.HasPrefix(v, "[]") || strings.HasPrefix(v, "/") || strings.HasPrefix(v, `\`) {
			return v, nil
		}
		if nv, ok := hostNormalize(v); ok {
			return nv, nil
		}
		return v, condErr("invalid IP addr: " + v)
	case comp == compHost && plain:
		if nv, ok := hostNormalize(v); ok {
			return nv, nil
		}
		return v, condErr("invalid IP addr: " + v)
	}
	return v, nil
}

// parsePort is strtol(s, &e, 0) restricted to 1..65535 with nothing after.
func parsePort(s string) (int, bool) {
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil && strings.HasPrefix(s, "0") && len(s) > 1 {
		// C's base 0 reads a leading 0 as octal, which ParseInt also does;
		// anything else is invalid.
		return 0, false
	}
	if err != nil || n <= 0 || n > 65535 {
		return 0, false
	}
	return int(n), true
}

// hostNormalize follows http_request_host_normalize with scheme_port 0.
func hostNormalize(b string) (string, bool) {
	port := 0
	if !strings.HasPrefix(b, "[") {
		if i := strings.IndexByte(b, ':'); i >= 0 {
			if i == 0 {
				return b, false
			}
			if i+1 < len(b) {
				pt, ok := parsePort(b[i+1:])
				if !ok {
					return b, false
				}
				port = pt
			}
			b = b[:i]
		}
		if b != "" && isDigit(b[0]) {
			if a, err := netip.ParseAddr(b); err == nil && a.Is4() {
				b = a.String()
			}
		}
	} else {
		if len(b) <= 2 {
			return b, false
		}
		end := len(b) - 1
		if b[end] != ']' {
			j := strings.IndexByte(b[1:], ']')
			if j < 0 {
				return b, false
			}
			end = j + 1
			if end == 1 || end+1 >= len(b) || b[end+1] != ':' {
				return b, false
			}
			if end+2 < len(b) {
				pt, ok := parsePort(b[end+2:])
				if !ok {
					return b, false
				}
				port = pt
			}
		}
		inner := b[1:end]
		zone := ""
		if j := strings.IndexByte(inner, '%'); j >= 0 {
			inner, zone = inner[:j], inner[j:]
		}
		a, err := netip.ParseAddr(inner)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return b, false
		}
		b = "[" + a.String() + zone + "]"
	}
	if port != 0 {
		b += ":" + strconv.Itoa(port)
	}
	return b, true
}

// remoteIPNormalize follows config_remoteip_normalize. Like 1.4.69 it lets
// a malformed CIDR suffix through unchanged (the C function returns -1, which
// the caller treats as success).
func remoteIPNormalize(b string) (string, bool) {
	if strings.HasPrefix(b, "/") {
		return b, true
	}
	colon := strings.Contains(b, ":")
	bits := 0
	if i := strings.IndexByte(b, '/'); i >= 0 {
		n, err := strconv.ParseUint(b[i+1:], 10, 64)
		max := uint64(32)
		if colon {
			max = 128
		}
		if err != nil || n == 0 || n > max {
			return b, true
		}
		bits = int(n)
		b = b[:i]
	}
	var addr string
	if !colon {
		nb, ok := hostNormalize(b)
		if !ok {
			return b, true
		}
		addr = nb
		if a, err := netip.ParseAddr(addr); err != nil || !a.Is4() {
			return b, false
		}
	} else {
		t := b
		if !strings.HasPrefix(t, "[") {
			t = "[" + t + "]"
		}
		nt, ok := hostNormalize(t)
		if !ok {
			return b, true
		}
		if len(nt) > 1 {
			addr = nt[1 : len(nt)-1]
		}
		if a, err := netip.ParseAddr(addr); err != nil || !a.Is6() {
			return b, false
		}
	}
	if bits != 0 {
		addr += "/" + strconv.Itoa(bits)
	}
	return addr, true
}

// rewriteKeys are the options whose targets may use %N captures of the
// enclosing condition (mod_rewrite, mod_redirect).
var rewriteKeys = []string{
	"url.redirect", "url.rewrite", "url.rewrite-once", "url.rewrite-repeat",
	"url.rewrite-final", "url.rewrite-if-not-file", "url.rewrite-repeat-if-not-file",
}

func usesCondCapture(v Value) bool {
	if v.Kind != KindArray {
		return false
	}
	for _, el := range v.Arr {
		if el.Value.Kind == KindString && subst.UsesCondCaptures(el.Value.Str) {
			return true
		}
	}
	return false
}

// finish applies what lighttpd does between parsing and `-p`/startup:
// mimetype.assign ".js" => "application/javascript" becomes
// "text/javascript" (config_insert, visible in -p), simplified conditions
// return to regexes where %N captures are used (config_finalize), and every
// condition regex is compiled.
func (e *evaluator) finish() error {
	for _, b := range e.cfg.Blocks {
		if i, ok := b.lookup("mimetype.assign"); ok {
			b.Entries[i].Value = fixJSMimetype(b.Entries[i].Value)
		}
	}
	for _, b := range e.cfg.Blocks[1:] {
		c := b.Cond
		if c == nil || (c.Op != OpEq && c.Op != OpPrefix && c.Op != OpSuffix) {
			continue
		}
		captured := false
		for _, k := range rewriteKeys {
			if en, ok := b.Get(k); ok && usesCondCapture(en.Value) {
				captured = true
				break
			}
		}
		if !captured {
			continue
		}
		s := c.Value
		if c.Op != OpSuffix || strings.HasPrefix(s, ".") {
			if c.Op == OpSuffix {
				s = `\` + s
			} else {
				s = "^" + s
			}
		}
		if c.Op != OpPrefix {
			s += "$"
		}
		c.Op, c.Value = OpMatch, s
	}
	for _, b := range e.cfg.Blocks[1:] {
		c := b.Cond
		if c == nil || (c.Op != OpMatch && c.Op != OpNoMatch) {
			continue
		}
		re, err := regex.Compile(c.Value)
		if err != nil {
			return errorf(c.Pos, "%v", err)
		}
		if re.NumSubexp() > 9 {
			return errorf(c.Pos, "Too many captures in regex, use (?:...) instead of (...): %s", c.Value)
		}
		c.Regex = re
	}
	return nil
}

// globBrace expands {a,b} alternatives left to right and globs each in turn,
// like glob(3) with GLOB_BRACE: results are sorted per alternative, and
// wildcards do not match a leading '.'.
func globBrace(pattern string) ([]string, error) {
	var out []string
	for _, p := range expandBraces(pattern) {
		if !strings.ContainsAny(p, "*?[") {
			if _, err := os.Lstat(p); err == nil {
				out = append(out, p)
			}
			continue
		}
		m, err := filepath.Glob(p)
		if err != nil {
			return nil, err
		}
		for _, f := range m {
			if !hiddenMatch(p, f) {
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// hiddenMatch reports whether match has a dot-file component matched by a
// wildcard component of pattern (glob(3) never does that).
func hiddenMatch(pattern, match string) bool {
	pc := strings.Split(pattern, "/")
	mc := strings.Split(match, "/")
	if len(pc) != len(mc) {
		return false
	}
	for i := range pc {
		if strings.HasPrefix(mc[i], ".") && !strings.HasPrefix(pc[i], ".") {
			return true
		}
	}
	return false
}

func expandBraces(p string) []string {
	depth, start := 0, -1
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '{':
			if depth == 0 {
				start = i
			}
			depth++
		case '}':
			if depth == 0 {
				continue
			}
			depth--
			if depth != 0 {
				continue
			}
			// split p[start+1:i] on top-level commas
			inner := p[start+1 : i]
			var alts []string
			d, last := 0, 0
			for j := 0; j < len(inner); j++ {
				switch inner[j] {
				case '{':
					d++
				case '}':
					d--
				case ',':
					if d == 0 {
						alts = append(alts, inner[last:j])
						last = j + 1
					}
				}
			}
			alts = append(alts, inner[last:])
			var out []string
			for _, a := range alts {
				out = append(out, expandBraces(p[:start]+a+p[i+1:])...)
			}
			return out
		}
	}
	return []string{p}
}

func fixJSMimetype(v Value) Value {
	if v.Kind != KindArray {
		return v
	}
	for i, el := range v.Arr {
		if !el.HasKey || !strings.EqualFold(el.Key, ".js") {
			continue
		}
		if el.Value.Kind == KindString && el.Value.Str == "application/javascript" {
			arr := append([]Element(nil), v.Arr...)
			arr[i].Value.Str = "text/javascript"
			v.Arr = arr
		}
		break
	}
	return v
}
