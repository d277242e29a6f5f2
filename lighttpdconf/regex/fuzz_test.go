package regex

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dlclark/regexp2/v2"
)

// A fine timeout clock (default 100 ms ticks) lets the fuzzer use a short
// match limit; it must be set before any regexp with a timeout runs.
func init() { regexp2.SetTimeoutCheckPeriod(time.Millisecond) }

// fuzzTimeout keeps catastrophic inputs from starving the fuzzer.
const fuzzTimeout = 5 * time.Millisecond

// FuzzCompileMatch: no pattern or subject may panic; results must be well
// formed; and for patterns routed to RE2 the regexp2 translation must agree
// on whether the subject matches (both dialect translations describe the same
// PCRE pattern, so a disagreement is a translation bug).
func FuzzCompileMatch(f *testing.F) {
	seeds := [][2]string{
		{`^/foo$`, "/foo\n"}, {`(?i)[[:^alpha:]x]+`, "xK1"}, {`^(\w+)\.(?=ex)`, "www.example"},
		{`\Qa.b\E+|[\d\s-z]`, "a.bb"}, {`(?x) a # c`, "a"}, {`(?U)a+?b{2,}`, "aabbb"},
		{`(a)\1\101`, "aaA"}, {`[^\D\S]`, "1 "}, {`(?m)^$`, "a\n\n"}, {`\x{1F600}.`, "\U0001F600x"},
		{`a{,3}`, "a{,3}"}, {`(?s).\b`, "\nx"}, {`[]a-]`, "-"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, subject string) {
		re, err := Compile(pattern)
		if err != nil {
			return
		}
		if re.pcre != nil {
			re.pcre.MatchTimeout = fuzzTimeout
		}
		ok, merr := re.MatchStringErr(subject)
		m, ferr := re.FindStringSubmatchIndexErr(nil, subject)
		if timedOut(merr) || timedOut(ferr) {
			// The time limit depends on the machine: under load one
			// call can hit it where the other did not (CI, with the
			// race detector, saw that on a 17-byte subject).
			return
		}
		if (merr == nil) != (ferr == nil) {
			t.Fatalf("MatchStringErr err=%v, FindStringSubmatchIndexErr err=%v", merr, ferr)
		}
		if merr != nil {
			if !errors.Is(merr, ErrInvalidUTF8) && !errors.Is(merr, ErrMatchLimit) {
				t.Fatalf("unexpected error %v", merr)
			}
			return
		}
		if ok != (m != nil) {
			t.Fatalf("MatchString=%v but FindStringSubmatchIndex=%v", ok, m)
		}
		if m != nil {
			if len(m) != 2*(re.NumSubexp()+1) {
				t.Fatalf("%d indexes for %d groups", len(m), re.NumSubexp())
			}
			for i := 0; i < len(m); i += 2 {
				if m[i] == -1 && m[i+1] == -1 {
					continue
				}
				if m[i] < 0 || m[i] > m[i+1] || m[i+1] > len(subject) {
					t.Fatalf("bad span %v in %v", m[i:i+2], m)
				}
			}
		}
		if re.Engine() != "re2" {
			return
		}
		tr, _ := translate(pattern)
		alt, err := regexp2.Compile(tr.netPat.String(), regexp2.OptionMaintainCaptureOrder())
		if err != nil {
			t.Fatalf("RE2 pattern %q has no regexp2 form: %v", tr.goPat.String(), err)
		}
		alt.MatchTimeout = fuzzTimeout
		altOK, err := alt.MatchString(subject)
		if err != nil {
			return
		}
		if altOK != ok {
			t.Fatalf("engines disagree: re2 %q=%v, regexp2 %q=%v", tr.goPat.String(), ok, tr.netPat.String(), altOK)
		}
	})
}

// timedOut reports a match that hit the time limit (not the backtracking
// stack limit, which does not depend on the machine).
func timedOut(err error) bool {
	return errors.Is(err, ErrMatchLimit) && strings.Contains(err.Error(), "(time limit)")
}
