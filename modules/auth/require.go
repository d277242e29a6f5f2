package auth

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/lighttpdconf"
)

// Require is one auth.require entry: a URL-path prefix and what it takes to
// pass it (lighttpd's http_auth_require_t).
type Require struct {
	Prefix      string
	Method      string // "basic", "digest" or "extern"
	Realm       string
	NonceSecret string
	HasSecret   bool
	Algo        Algo // always has AlgoSess, as lighttpd's parser starts from it
	UserHash    bool
	ValidUser   bool
	Users       []string
	Groups      []string
	Hosts       []string // parsed, never matched (lighttpd: "not implemented")

	id uint64 // identity for the credential cache
}

var requireIDs atomic.Uint64

// MatchUser is lighttpd's http_auth_match_rules(require, user, NULL, NULL):
// valid-user or a user= entry. Group and host rules need a backend that
// knows groups.
func (r *Require) MatchUser(user string) bool {
	if r.ValidUser {
		return true
	}
	for _, u := range r.Users {
		if u == user {
			return true
		}
	}
	return false
}

const requireUsage = `(expecting "valid-user" or "user=a|user=b|group=g|host=h")`

// parseRequires reads an auth.require value (already checked to be a list
// of key => list) with lighttpd's checks and messages.
func parseRequires(sc *core.SetupContext, v core.Value) ([]*Require, error) {
	var out []*Require
	for _, e := range v.Elements() {
		r, err := parseRequire(e.Key, e.Value, func(msg string) { sc.Warn(v.Pos, "%s", msg) })
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func parseRequire(prefix string, v lighttpdconf.Value, warn func(string)) (*Require, error) {
	for _, f := range v.Arr {
		if !f.HasKey || f.Value.Kind != lighttpdconf.KindString {
			return nil, errors.New(`unexpected value for auth.require; expected auth.require = ( "urlpath" => ( "option" => "value" ) )`)
		}
	}
	r := &Require{Prefix: prefix, Algo: AlgoSess, id: requireIDs.Add(1)}
	var method, require, algos string
	var hasMethod, hasRealm, hasRequire bool
	for _, f := range v.Arr {
		s := f.Value.Str
		switch f.Key {
		case "method":
			method, hasMethod = s, true
		case "realm":
			r.Realm, hasRealm = s, true
		case "require":
			require, hasRequire = s, true
		case "algorithm":
			algos = s
		case "nonce_secret", "nonce-secret":
			r.NonceSecret, r.HasSecret = s, true
		case "userhash":
			r.UserHash, _ = core.ParseBool(f.Value)
		default:
			return nil, fmt.Errorf(`the field is unknown in: auth.require = ( "..." => ( ..., -> "%s" <- => "..." ) )`, f.Key)
		}
	}
	if !hasMethod || method == "" {
		return nil, errors.New(`the method field is missing or blank in: auth.require = ( "..." => ( ..., "method" => "..." ) )`)
	}
	switch method {
	case "basic", "digest", "extern":
		r.Method = method
	default:
		return nil, fmt.Errorf(`unknown method %s (e.g. "basic", "digest" or "extern") in auth.require = ( "..." => ( ..., "method" => "...") )`, method)
	}
	if !hasRealm {
		return nil, errors.New(`the realm field is missing in: auth.require = ( "..." => ( ..., "realm" => "..." ) )`)
	}
	if !hasRequire || require == "" {
		return nil, errors.New(`the require field is missing or blank in: auth.require = ( "..." => ( ..., "require" => "..." ) )`)
	}
	if algos == "" {
		r.Algo |= AlgoMD5
	} else {
		for _, a := range strings.Split(algos, "|") {
			bits, ok := parseAlgorithm(a)
			if !ok {
				return nil, errors.New(`invalid algorithm in: auth.require = ( "..." => ( ..., "algorithm" => "..." ) )`)
			}
			r.Algo |= bits
		}
	}
	if err := parseRules(r, require, warn); err != nil {
		return nil, err
	}
	return r, nil
}

// parseAlgorithm reads one algorithm name as lighttpd 1.4.69 does: "" is
// MD5, a "-sess" suffix is case-insensitive, "MD5" and the "SHA-" prefix
// too, the digits of SHA-256 and SHA-512-256 are not.
func parseAlgorithm(s string) (Algo, bool) {
	if s == "" {
		return AlgoMD5, true
	}
	var a Algo
	if n := len(s); n > 5 && s[n-5] == '-' && foldEq(s[n-4:], "sess") {
		a = AlgoSess
		s = s[:n-5]
	}
	switch {
	case len(s) == 3 && foldEq(s[:2], "md") && s[2] == '5':
		return a | AlgoMD5, true
	case len(s) >= 7 && foldEq(s[:3], "sha") && s[3] == '-':
		switch s[4:] {
		case "256":
			return a | AlgoSHA256, true
		case "512-256":
			return a | AlgoSHA512_256, true
		}
	}
	return 0, false
}

// parseRules reads the "require" field: "valid-user", or a |-list of
// user=, group= and host= entries.
func parseRules(r *Require, b string, warn func(string)) error {
	if b == "valid-user" {
		r.ValidUser = true
		return nil
	}
	str := b
	for {
		seg, rest, more := strings.Cut(str, "|")
		eq := strings.IndexByte(seg, '=')
		if eq < 0 {
			return fmt.Errorf("error parsing auth.require 'require' field: missing '=' %s. error value: %s error near: %s", requireUsage, b, str)
		}
		if eq+1 == len(seg) {
			return fmt.Errorf("error parsing auth.require 'require' field: missing token after '=' %s. error value: %s error near: %s", requireUsage, b, str)
		}
		val := seg[eq+1:]
		switch seg[:eq] {
		case "user":
			r.Users = append(r.Users, val)
		case "host":
			r.Hosts = append(r.Hosts, val)
			warn("warning parsing auth.require 'require' field: 'host' not implemented; field value: " + b)
		case "group":
			r.Groups = append(r.Groups, val)
		case "valid-user":
			return fmt.Errorf("error parsing auth.require 'require' field: valid user can not be combined with other require rules %s. error value: %s", requireUsage, b)
		default:
			return fmt.Errorf("error parsing auth.require 'require' field: invalid/unsupported token %s. error value: %s error near: %s", requireUsage, b, str)
		}
		if !more || rest == "" {
			return nil
		}
		str = rest
	}
}

// foldEq compares s with the lower-case ASCII word lc, ignoring ASCII case
// only (strings.EqualFold would also fold Unicode look-alikes).
func foldEq(s, lc string) bool {
	if len(s) != len(lc) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lc[i] {
			return false
		}
	}
	return true
}
