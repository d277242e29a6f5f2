package core

import (
	"github.com/golighty/golighty/core/urinorm"
)

// setTarget normalizes a request-target (behaviors.md §2, core/urinorm) and
// fills URI. An error means 400.
func (rc *Request) setTarget(target string) error {
	if target == "*" || (rc.Method == "CONNECT" && (target == "" || target[0] != '/')) {
		rc.URI.Target, rc.URI.PathRaw, rc.URI.Path, rc.URI.Query = target, target, target, ""
		return nil
	}
	t, err := urinorm.Parse(target, &rc.Snap.Core.Server.ParseOpts)
	if err != nil {
		// lighttpd logs (%U) the target as far as it normalized it before
		// rejecting: encoded, not raw.
		lax := rc.Snap.Core.Server.ParseOpts
		lax.CtrlsReject, lax.InvalidUTF8Reject, lax.Path2FReject, lax.PathDotsegReject = false, false, false, false
		if out, qs, lerr := urinorm.NormalizeTarget(nil, []byte(target), &lax); lerr == nil {
			path, _ := urinorm.SplitQuery(out, qs)
			rc.URI.Target, rc.URI.PathRaw = string(out), string(path)
		}
		return err
	}
	rc.URI.Target = t.Normalized
	rc.URI.PathRaw = t.Normalized[:len(t.Normalized)-len(t.Query)-boolInt(t.HasQuery)]
	rc.URI.Path = t.Path
	rc.URI.Query = t.Query
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// decodePath and simplifyPath are urinorm's path steps on strings, for
// paths that do not come from a request line (X-Sendfile).
func decodePath(p string) string {
	return string(urinorm.DecodePath(nil, []byte(p)))
}

func simplifyPath(p string) string {
	return string(urinorm.SimplifyPath(nil, []byte(p)))
}
