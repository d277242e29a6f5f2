package core

import (
	"errors"

	"github.com/golighty/golighty/core/urinorm"
)

// errBadTarget is a target lighttpd answers with 400.
var errBadTarget = errors.New("invalid request target")

// setTarget normalizes a request-target (behaviors.md §2) and fills URI.
func (rc *Request) setTarget(target string) error {
	rc.URI.Target, rc.URI.PathRaw, rc.URI.Path, rc.URI.Query = "", "", "", ""
	if target == "*" || (rc.Method == "CONNECT" && (target == "" || target[0] != '/')) {
		rc.URI.Target, rc.URI.PathRaw, rc.URI.Path = target, target, target
		return nil
	}
	opts := rc.Snap.urlOpts()
	norm, err := urinorm.NormalizeTarget(nil, []byte(target), opts)
	if err != nil {
		return err
	}
	path, query := urinorm.SplitQuery(norm)
	decoded := urinorm.SimplifyPath(nil, urinorm.DecodePath(nil, path))
	if len(decoded) == 0 || decoded[0] != '/' {
		return errBadTarget
	}
	rc.URI.Target = string(norm)
	rc.URI.PathRaw = string(path)
	rc.URI.Query = string(query)
	rc.URI.Path = string(decoded)
	return nil
}
