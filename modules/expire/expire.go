// Package expire is lighttpd's mod_expire: Cache-Control: max-age (HTTP/1.1
// and later) or Expires (HTTP/1.0) for responses whose URL path or
// Content-Type matches a configured prefix.
package expire

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golighty/golighty/core"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_expire", New: func() core.Module { return &Module{} }})
}

// Base says what an expiry counts from.
type Base uint8

const (
	Access       Base = iota // the time of the request ("access", "now")
	Modification             // the mtime of the physical path
)

// Rule is one parsed "<base> [plus] {<num> <unit>}+" value.
type Rule struct {
	Base   Base
	Offset int64 // seconds
}

type entry struct {
	prefix string
	rule   Rule
}

type conf struct {
	urls      []entry
	mimetypes []entry
}

// Module is one loaded mod_expire.
type Module struct{ table *core.Table[conf] }

var _ core.ResponseStartHook = (*Module)(nil)

// Setup binds expire.url and expire.mimetypes; every value is parsed here,
// and a bad one is a fatal config error as in lighttpd.
func (m *Module) Setup(sc *core.SetupContext) error {
	var err error
	m.table, err = core.Bind(sc, conf{}, []core.Key[conf]{
		{Name: "expire.url", Type: core.TypeKV, Bind: func(v core.Value) (func(*conf), error) {
			es, err := parseEntries(v.Key, v.KVs())
			if err != nil {
				return nil, err
			}
			return func(c *conf) { c.urls = es }, nil
		}},
		{Name: "expire.mimetypes", Type: core.TypeKV, Bind: func(v core.Value) (func(*conf), error) {
			es, err := parseEntries(v.Key, MimetypeKeys(v.KVs()))
			if err != nil {
				return nil, err
			}
			return func(c *conf) { c.mimetypes = es }, nil
		}},
	})
	return err
}

func parseEntries(key string, kvs []core.KV) ([]entry, error) {
	es := make([]entry, len(kvs))
	for i, kv := range kvs {
		r, err := ParseRule(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("%w\nparsing %s failed: %s", err, strings.ToLower(key), kv.Value)
		}
		es[i] = entry{prefix: kv.Key, rule: r}
	}
	return es, nil
}

// MimetypeKeys applies lighttpd's load-time changes to expire.mimetypes: a
// trailing "*" is cut from each key (the match is a prefix match anyway),
// and "application/javascript" is renamed "text/javascript" (the type
// lighttpd 1.4.69 serves .js as) unless "text/javascript" or "text/" is
// present. The renamed entry moves to the end and the last entry takes its
// place, as lighttpd's array removal and insertion do.
func MimetypeKeys(in []core.KV) []core.KV {
	out := make([]core.KV, len(in))
	copy(out, in)
	for i := range out {
		out[i].Key = strings.TrimSuffix(out[i].Key, "*")
	}
	js := -1
	for i, kv := range out {
		switch {
		case strings.EqualFold(kv.Key, "text/javascript"), strings.EqualFold(kv.Key, "text/"):
			return out
		case js < 0 && strings.EqualFold(kv.Key, "application/javascript"):
			js = i
		}
	}
	if js < 0 {
		return out
	}
	e := out[js]
	last := len(out) - 1
	out[js] = out[last]
	out[last] = core.KV{Key: "text/javascript", Value: e.Value}
	return out
}

// ParseRule parses "(access|now|modification) [plus] {<num> <unit>}+" the
// way lighttpd does, including its quirks: units may be plural, a month is
// 30 days and a year 360, numbers are C ints (a product that overflows
// wraps), and the error texts are lighttpd's.
func ParseRule(s string) (Rule, error) {
	var r Rule
	if s == "" {
		return r, fmt.Errorf("mod_expire empty string")
	}
	ts := s
	switch {
	case strings.HasPrefix(ts, "access "):
		ts = ts[7:]
	case strings.HasPrefix(ts, "now "):
		ts = ts[4:]
	case strings.HasPrefix(ts, "modification "):
		r.Base = Modification
		ts = ts[13:]
	default:
		return r, fmt.Errorf("invalid <base>: %s", ts)
	}
	ts = strings.TrimPrefix(ts, "plus ")
	for {
		sp := strings.IndexByte(ts, ' ')
		if sp < 0 {
			return r, fmt.Errorf("missing space after <num>: %s", ts)
		}
		num, rest := strtol(ts)
		if rest == "" || rest[0] != ' ' {
			return r, fmt.Errorf("missing <type> after <num>: %s", ts)
		}
		ts = ts[sp+1:]
		end := strings.IndexByte(ts, ' ')
		if end < 0 {
			end = len(ts)
		}
		unit := ts[:end]
		unit = strings.TrimSuffix(unit, "s")
		var mul int32
		switch unit {
		case "year":
			mul = 60 * 60 * 24 * 30 * 12
		case "month":
			mul = 60 * 60 * 24 * 30
		case "week":
			mul = 60 * 60 * 24 * 7
		case "day":
			mul = 60 * 60 * 24
		case "hour":
			mul = 60 * 60
		case "minute":
			mul = 60
		case "second":
			mul = 1
		default:
			return r, fmt.Errorf("unknown type: %s", ts)
		}
		r.Offset += int64(num * mul)
		if end == len(ts) {
			return r, nil
		}
		ts = ts[end+1:]
		if ts == "" {
			return r, nil
		}
	}
}

// strtol reads a base-10 number as C's strtol does (leading white space, a
// sign, saturation at the limits of a 64-bit long) and narrows it to a C int
// as lighttpd's assignment does. rest is what follows the number, or all of
// s when there is no digit (strtol's end pointer then stays at the start).
func strtol(s string) (n int32, rest string) {
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var v uint64
	over := false
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if !over {
			v = v*10 + uint64(s[i]-'0')
			if v > 1<<63 {
				over = true
			}
		}
		i++
	}
	if i == start {
		return 0, s
	}
	var l int64
	switch {
	case over && neg, neg && v == 1<<63:
		l = -1 << 63
	case over || v == 1<<63:
		l = 1<<63 - 1
	case neg:
		l = -int64(v)
	default:
		l = int64(v)
	}
	return int32(l), s[i:]
}

// ResponseStart sets the caching header for 200/204/206 responses to
// GET/HEAD/QUERY that have no Cache-Control yet.
func (m *Module) ResponseStart(rc *core.Request) core.Result {
	switch rc.Resp.Status {
	case 200, 204, 206:
	default:
		return core.GoOn
	}
	switch rc.Method {
	case "GET", "HEAD", "QUERY":
	default:
		return core.GoOn
	}
	if rc.Resp.Header.Has("Cache-Control") {
		return core.GoOn
	}
	c := m.table.Resolve(rc)
	r, ok := match(c.urls, rc.URI.Path)
	if !ok {
		if len(c.mimetypes) == 0 {
			return core.GoOn
		}
		if ct := rc.Resp.Header.Get("Content-Type"); ct != "" {
			r, ok = match(c.mimetypes, ct)
		}
		if !ok {
			if r, ok = lookup(c.mimetypes, ""); !ok {
				return core.GoOn
			}
		}
	}
	now := time.Now().Unix()
	expires := r.Offset
	if r.Base == Access {
		expires += now
	} else {
		e, err := rc.Stat(rc.Phys.Path)
		if err != nil {
			// No mtime, no modification-based expiry.
			return core.GoOn
		}
		expires += e.MtimeSec
	}
	if expires < now {
		expires = now
	}
	var buf [40]byte
	if rc.Proto > 10 {
		v := strconv.AppendInt(append(buf[:0], "max-age="...), expires-now, 10)
		rc.Resp.Header.Set("Cache-Control", string(v))
	} else {
		rc.Resp.Header.Set("Expires", string(time.Unix(expires, 0).UTC().AppendFormat(buf[:0], httpDate)))
	}
	return core.GoOn
}

// httpDate is the IMF-fixdate layout of RFC 9110.
const httpDate = "Mon, 02 Jan 2006 15:04:05 GMT"

// match returns the rule of the first entry (config order) whose key is a
// byte prefix of s.
func match(es []entry, s string) (Rule, bool) {
	for _, e := range es {
		if strings.HasPrefix(s, e.prefix) {
			return e.rule, true
		}
	}
	return Rule{}, false
}

// lookup finds the entry whose key equals k (lighttpd's keys are caseless).
func lookup(es []entry, k string) (Rule, bool) {
	for _, e := range es {
		if strings.EqualFold(e.prefix, k) {
			return e.rule, true
		}
	}
	return Rule{}, false
}

// InlineHooks marks the module for HTTP/2 requests on the reader
// (core.InlineHooks): its hook only adds headers.
func (*Module) InlineHooks() {}
