// Package regex compiles lighttpd's PCRE2 patterns (UTF mode, no UCP) for
// Go.
//
// Most patterns in real configs mean exactly the same in Go's RE2-based
// regexp, which runs in linear time; those are compiled with it. The rest
// (look-around, back-references, possessive quantifiers, atomic groups,
// \Z, \h, ...) are compiled with github.com/dlclark/regexp2, a backtracking
// engine, under a match time limit, so that every pattern lighttpd accepts
// loads and no request can pin a CPU.
//
// # The RE2 rule
//
// The pattern is read once with PCRE2's syntax rules. It goes to RE2 only if
// every construct is on this list, whose meaning is the same in both engines
// for any subject that is valid UTF-8 (invalid subjects never reach an
// engine: PCRE2 in UTF mode refuses them, see ErrInvalidUTF8):
//
//   - literals; with (?i) only ASCII literals (PCRE2 folds with Unicode case
//     sets, Go with simple-folding orbits)
//   - . ^ $ | ( ) (?: (?P<n> (?<n> and option groups using i m s U, and x
//     and n, which the scanner applies itself (whitespace and comments
//     dropped, plain groups made non-capturing)
//   - greedy and lazy * + ? {n} {n,} {n,m} (no possessive; counts within
//     Go's limit of 1000)
//   - \d \D \w \W \b \B \A \z, \s \S (rewritten: Go's \s lacks VT), \t \n \r
//     \f \a \e \xHH \x{H...} \ddd octal \cX \Q...\E and escaped punctuation
//   - bracket expressions built from the above and POSIX classes; under
//     (?i) neither \w \W nor POSIX classes (Go case-folds them, PCRE does not)
//
// `$` (and `^` under (?m)) differ on subjects that contain a newline: PCRE's
// `$` also matches before a final "\n", and its multiline `^` does not match
// after a newline that ends the subject. Such patterns are compiled with
// both engines and subjects containing '\n' go to regexp2; all others use
// RE2.
//
// Everything else (\p, \h, \v, \R, \X, \Z, \G, back-references,
// look-around, atomic groups, conditionals, possessive quantifiers) goes to
// regexp2. For it, the pattern is rewritten into .NET syntax
// with PCRE's ASCII meaning of \d \w \s \b and POSIX classes and with (?U)
// expanded, and compiled with capture groups numbered in pattern order.
// Constructs regexp2 cannot express (recursion, subroutine calls, branch
// reset, callouts, backtracking verbs, \K) are refused with an explicit
// error.
package regex

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
)

// MatchTimeout bounds one regexp2 match. lighttpd relies on PCRE2's match
// limit (10 million backtracking steps, tens of milliseconds); 100 ms is of
// the same order, generous for any sane URL pattern and small enough that a
// pathological pattern and a hostile request cannot hold a CPU for long.
// regexp2 reads a clock that ticks every 100 ms, so a runaway match stops
// after 100-200 ms.
const MatchTimeout = 100 * time.Millisecond

// ErrInvalidUTF8 is returned for a subject that is not valid UTF-8:
// lighttpd compiles with PCRE2_UTF and without PCRE2_MATCH_INVALID_UTF, so
// pcre2_match fails on it (a condition is then false, a rewrite or redirect
// rule yields an error).
var ErrInvalidUTF8 = errors.New("regex: subject is not valid UTF-8")

// ErrMatchLimit is wrapped by the error returned when regexp2 gives up on a
// match (time limit or backtracking stack limit), like PCRE2's match limit.
var ErrMatchLimit = errors.New("regex: match limit exceeded")

// Regexp is a compiled lighttpd regular expression. It is safe for
// concurrent use.
type Regexp struct {
	pattern string
	re2     *regexp.Regexp
	// pcre is set when the pattern is not RE2-safe, and also for RE2-safe
	// patterns that are newline-sensitive (used for subjects with '\n').
	pcre        *regexp2.Regexp
	nlSensitive bool
	nsub        int
}

// Compile compiles a PCRE2 pattern. The error text follows lighttpd's
// "pcre2_compile: MESSAGE at offset N, regex: PATTERN".
func Compile(pattern string) (*Regexp, error) {
	// A reload compiles the same patterns again, and large configs repeat
	// them per virtual host: compiled patterns are immutable and safe for
	// concurrent use, so they are shared.
	if re, ok := compiled.Load(pattern); ok {
		return re.(*Regexp), nil
	}
	re, err := compile(pattern)
	if err == nil && compiledCount.Load() < maxCompiled {
		if _, loaded := compiled.LoadOrStore(pattern, re); !loaded {
			compiledCount.Add(1)
		}
	}
	return re, err
}

// The compile cache is bounded so that a process that reloads ever-new
// patterns does not grow without limit.
const maxCompiled = 4096

var (
	compiled      sync.Map // pattern -> *Regexp
	compiledCount atomic.Int32
)

func compile(pattern string) (*Regexp, error) {
	t, err := translate(pattern)
	if err != nil {
		return nil, compileErr(pattern, err)
	}
	re := &Regexp{pattern: pattern, nsub: t.ncap, nlSensitive: t.nlSensitive}
	if t.goOK {
		// A Go error here (e.g. a count over 1000) just means RE2 cannot
		// take the pattern; regexp2 can.
		if g, gerr := regexp.Compile(t.goPat.String()); gerr == nil && g.NumSubexp() == t.ncap {
			re.re2 = g
			if !t.nlSensitive {
				return re, nil
			}
		}
	}
	p, perr := regexp2.Compile(t.netPat.String(), regexp2.OptionMaintainCaptureOrder())
	if perr != nil {
		if re.re2 != nil {
			// Only the newline fallback failed; RE2 still serves every
			// subject (differing only at a trailing newline).
			re.nlSensitive = false
			return re, nil
		}
		return nil, compileErr(pattern, &compileError{msg: regexp2Msg(perr), offset: len(pattern)})
	}
	p.MatchTimeout = MatchTimeout
	re.pcre = p
	return re, nil
}

// MustCompile is Compile for patterns known to be valid (tests, built-in
// tables); it panics on error.
func MustCompile(pattern string) *Regexp {
	re, err := Compile(pattern)
	if err != nil {
		panic(err)
	}
	return re
}

func compileErr(pattern string, err error) error {
	var ce *compileError
	if errors.As(err, &ce) {
		return fmt.Errorf("pcre2_compile: %s at offset %d, regex: %s", ce.msg, ce.offset, pattern)
	}
	return fmt.Errorf("pcre2_compile: %v, regex: %s", err, pattern)
}

// regexp2Msg strips regexp2's own prefix and quoted pattern.
func regexp2Msg(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "error parsing regexp: ")
	if i := strings.Index(msg, " in `"); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

// String returns the pattern as written.
func (re *Regexp) String() string { return re.pattern }

// NumSubexp returns the number of capture groups.
func (re *Regexp) NumSubexp() int { return re.nsub }

// Engine reports which engine serves ordinary subjects: "re2" or "pcre".
func (re *Regexp) Engine() string {
	if re.re2 != nil {
		return "re2"
	}
	return "pcre"
}

// usePCRE chooses the engine for one subject.
func (re *Regexp) usePCRE(s string) bool {
	return re.re2 == nil || (re.nlSensitive && strings.IndexByte(s, '\n') >= 0)
}

// MatchString reports whether s matches. Errors (invalid UTF-8, match limit)
// count as no match, as in lighttpd's conditions; use MatchStringErr to see
// them.
func (re *Regexp) MatchString(s string) bool {
	ok, _ := re.MatchStringErr(s)
	return ok
}

// MatchStringErr is MatchString that also reports why a match could not be
// decided: ErrInvalidUTF8, or an error wrapping ErrMatchLimit.
func (re *Regexp) MatchStringErr(s string) (bool, error) {
	if !utf8.ValidString(s) {
		return false, ErrInvalidUTF8
	}
	if !re.usePCRE(s) {
		return re.re2.MatchString(s), nil
	}
	ok, err := re.pcre.MatchString(s)
	if err != nil {
		return false, re.limitErr(err)
	}
	return ok, nil
}

// limitErr names the limit and the pattern; regexp2's own message would
// quote the whole (client-supplied) subject.
func (re *Regexp) limitErr(err error) error {
	kind := "time limit"
	if errors.Is(err, regexp2.ErrBacktrackingStackLimit) {
		kind = "backtracking stack limit"
	}
	return fmt.Errorf("%w (%s), regex: %s", ErrMatchLimit, kind, re.pattern)
}

// FindStringSubmatchIndex appends the byte offsets of the match and of each
// group (-1, -1 for a group that did not take part) to dst[:0], like
// regexp.FindStringSubmatchIndex. It returns nil when there is no match or
// the match failed (see FindStringSubmatchIndexErr).
func (re *Regexp) FindStringSubmatchIndex(dst []int, s string) []int {
	m, _ := re.FindStringSubmatchIndexErr(dst, s)
	return m
}

// FindStringSubmatchIndexErr is FindStringSubmatchIndex that reports
// ErrInvalidUTF8 and match-limit errors. lighttpd answers a failed rewrite or
// redirect match with an error, unlike a plain non-match.
//
// On the RE2 path a non-matching subject allocates nothing; a match costs
// the one small slice Go's regexp returns (it has no append-style API).
func (re *Regexp) FindStringSubmatchIndexErr(dst []int, s string) ([]int, error) {
	if !utf8.ValidString(s) {
		return nil, ErrInvalidUTF8
	}
	if !re.usePCRE(s) {
		m := re.re2.FindStringSubmatchIndex(s)
		if m == nil {
			return nil, nil
		}
		return append(dst[:0], m...), nil
	}
	m, err := re.pcre.FindStringMatch(s)
	if err != nil {
		return nil, re.limitErr(err)
	}
	if m == nil {
		return nil, nil
	}
	dst = dst[:0]
	for i := 0; i <= re.nsub; i++ {
		g := m.GroupByNumber(i)
		if g == nil || len(g.Captures) == 0 {
			dst = append(dst, -1, -1)
			continue
		}
		start, length := g.ByteRange()
		dst = append(dst, start, start+length)
	}
	return dst, nil
}
