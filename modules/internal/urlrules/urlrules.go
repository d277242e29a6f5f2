// Package urlrules is the rule engine shared by mod_rewrite and mod_redirect,
// lighttpd 1.4.69's keyvalue.c: an ordered list of "regex" => "target"
// pairs, matched against the request target (normalized, still
// percent-encoded, with its query); the first rule that matches decides,
// and its target is expanded with the substitution language of
// lighttpdconf/subst ($N from the rule, %N from the block's condition).
package urlrules

import (
	"fmt"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/lighttpdconf/regex"
	"github.com/golighty/golighty/lighttpdconf/subst"
)

// maxRuleCaptures is lighttpd's limit on groups in a rule's regex (its
// match data holds 20 pairs: $0..$19).
const maxRuleCaptures = 19

// Rule is one compiled "regex" => "target" pair.
type Rule struct {
	re   *regex.Regexp
	tmpl *subst.Template
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

// Add compiles kvs and appends them. With normalize (server.http-parseopts
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
			sc.CaptureCondition(l.Block)
		}
		l.Rules = append(l.Rules, Rule{re: re, tmpl: tmpl, blank: val == ""})
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
	var idxBuf [2 * (maxRuleCaptures + 1)]int
	for i := range l.Rules {
		r := &l.Rules[i]
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
