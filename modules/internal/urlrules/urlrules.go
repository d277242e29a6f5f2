// Package urlrules is the rule engine shared by mod_rewrite and mod_redirect,
// lighttpd 1.4.69's keyvalue.c: an ordered list of "regex" => "target"
// pairs, matched against the request target (normalized, still
// percent-encoded, with its query); the first rule that matches decides,
// and its target is expanded with the substitution language of
// lighttpdconf/subst ($N from the rule, %N from the block's condition).
package urlrules

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/lighttpdconf/regex"
	"github.com/golighty/golighty/lighttpdconf/subst"
)

// maxRuleCaptures is lighttpd's limit on groups in a rule's regex (its
// match data holds 20 pairs: $0..$19).
const maxRuleCaptures = 19

// Rule is one compiled "regex" => "target" pair.
type Rule struct {
	// prefix is a literal every match starts with (requiredPrefix): a
	// target without it skips the regex, which keeps requests that no rule
	// concerns nearly free.
	prefix string
	re     *regex.Regexp
	tmpl   *subst.Template
	// blank: an empty target stops the list without a result (lighttpd's
	// way to exempt paths from the rules after it).
	blank bool
}

// List is the rules a config block sets for one purpose, in order.
type List struct {
	Rules []Rule
	// Block is the config block the list was set in: %N reads its
	// condition's captures.
	Block int
	// Cond is the block's condition as lighttpd prints it ("" for the
	// global block), for error messages.
	Cond string
	// condCaptures: some target uses %N, so the condition's captures are
	// fetched before expanding.
	condCaptures bool
	// OnceRules counts the leading rules that are "once" rules (mod_rewrite:
	// url.rewrite-once, -final, url.rewrite before url.rewrite-repeat).
	OnceRules int
}

// NewList starts an empty list for the block of v (the block's condition
// keeps its match for %N when a rule uses it, see Add).
func NewList(block int, cond string) *List {
	return &List{Block: block, Cond: cond}
}

// Add compiles kvs and appends them; sc (nil in tests) learns which
// condition must keep its captures for %N. With normalize (server.http-parseopts
// url-normalize, the default) regexes and targets get the load-time
// normalization lighttpd applies (upper-case %XX, bytes >= 0x80 encoded),
// so they compare with normalized request targets.
func (l *List) Add(sc *core.SetupContext, kvs []core.KV, normalize bool) error {
	for _, kv := range kvs {
		key, val := kv.Key, kv.Value
		if normalize {
			key, val = subst.NormalizeKey(key), subst.NormalizeValue(val)
		}
		re, err := regex.Compile(key)
		if err != nil {
			return err
		}
		if re.NumSubexp() > maxRuleCaptures {
			return fmt.Errorf("Too many captures in regex, use (?:...) instead of (...): %s", key)
		}
		tmpl, _ := subst.Compile(val) // lighttpd accepts every target
		if tmpl.UsesCondCaptures() && !l.condCaptures {
			l.condCaptures = true
			if sc != nil {
				sc.CaptureCondition(l.Block)
			}
		}
		l.Rules = append(l.Rules, Rule{prefix: requiredPrefix(key), re: re, tmpl: tmpl, blank: val == ""})
	}
	return nil
}

// Outcome is what applying a list decided.
type Outcome uint8

const (
	// NoMatch: no rule matched (or the list is empty).
	NoMatch Outcome = iota
	// Stopped: a rule with an empty target matched; nothing changes and
	// the rest of the list is skipped.
	Stopped
	// Expanded: a rule matched and its target was expanded.
	Expanded
	// Failed: the match could not be decided (regex match limit); lighttpd
	// answers with HANDLER_ERROR.
	Failed
)

// Apply matches the rules in order against rc's current target and expands
// the first match into dst. It returns the index of the deciding rule (-1
// for NoMatch), the outcome, and dst with the expansion appended. A request
// that no rule matches costs no allocation.
func (l *List) Apply(rc *core.Request, dst []byte) (int, Outcome, []byte, error) {
	subject := rc.URI.Target
	if len(l.Rules) > 0 && !utf8.ValidString(subject) {
		// PCRE2 in UTF mode refuses such a subject before looking at the
		// pattern: the first rule fails (possible only with url-normalize
		// disabled, which leaves bytes >= 0x80 unencoded).
		return 0, Failed, dst, regex.ErrInvalidUTF8
	}
	var idxBuf [2 * (maxRuleCaptures + 1)]int
	for i := range l.Rules {
		r := &l.Rules[i]
		if !strings.HasPrefix(subject, r.prefix) {
			continue
		}
		m, err := r.re.FindStringSubmatchIndexErr(idxBuf[:0], subject)
		if err != nil {
			return i, Failed, dst, err
		}
		if m == nil {
			continue
		}
		if r.blank {
			return i, Stopped, dst, nil
		}
		return i, Expanded, l.expand(rc, r, m, subject, dst), nil
	}
	return -1, NoMatch, dst, nil
}

// expand fills the target of r; the captures are views of the subject, so
// nothing is copied before the expansion itself.
func (l *List) expand(rc *core.Request, r *Rule, m []int, subject string, dst []byte) []byte {
	var ruleBuf [maxRuleCaptures + 1]string
	rule := ruleBuf[:0]
	for j := 0; j+1 < len(m); j += 2 {
		if m[j] < 0 {
			rule = append(rule, "")
		} else {
			rule = append(rule, subject[m[j]:m[j+1]])
		}
	}
	var condBuf [10]string
	var cond []string
	if l.condCaptures {
		cond = rc.CondCaptures(l.Block, condBuf[:0])
	}
	u := subst.URLParts{
		Scheme:    rc.URI.Scheme,
		Authority: rc.URI.Authority,
		Port:      rc.Conn.LocalPort,
		Path:      subject,
		Query:     rc.URI.Query,
		HasQuery:  len(rc.URI.Target) > len(rc.URI.PathRaw),
	}
	return r.tmpl.Expand(dst, rule, cond, &u)
}

// requiredPrefix returns the literal text that starts every match of a
// PCRE pattern anchored with '^' ("^/app/(.*)" -> "/app/"), or "" when it
// cannot tell: no '^' first, any '|' in the pattern (a top-level
// alternative would make the prefix optional), or no literal after '^'. The
// literal ends at the first metacharacter; a character a quantifier applies
// to is left out. An escaped punctuation character is itself.
func requiredPrefix(p string) string {
	if !strings.HasPrefix(p, "^") || strings.IndexByte(p, '|') >= 0 {
		return ""
	}
	var b []byte
	before := 0 // len(b) before the last literal character
	i := 1
scan:
	for i < len(p) {
		c := p[i]
		switch {
		case c == '\\':
			if i+1 >= len(p) || !isPunct(p[i+1]) {
				break scan
			}
			before = len(b)
			b = append(b, p[i+1])
			i += 2
		case strings.IndexByte(`^$.[]()?*+{}#`, c) >= 0 || c < 0x20 || c == ' ':
			break scan
		default:
			before = len(b)
			b = append(b, c)
			i++
		}
	}
	if i < len(p) && strings.IndexByte("?*+{", p[i]) >= 0 {
		b = b[:before]
	}
	return string(b)
}

// isPunct: ASCII punctuation, which a backslash makes literal in PCRE.
func isPunct(c byte) bool {
	return c > ' ' && c < 0x7f && !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9')
}
