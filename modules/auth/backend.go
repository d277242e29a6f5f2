package auth

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"hash"

	"github.com/golighty/golighty/core"
)

// Backend checks credentials against a user store: lighttpd's
// http_auth_backend_t. A backend is shared by every request of a snapshot and
// must be safe for concurrent use. It never keeps the strings it is handed
// (they may be views of the request's buffer).
type Backend interface {
	// Basic reports whether pw is user's password and user satisfies req's
	// rules. As in lighttpd, the backend applies the rules itself: only it
	// knows whether group= can mean anything.
	Basic(rc *core.Request, req *Require, user, pw string) bool
}

// DigestBackend is a Backend that can answer HTTP Digest: it knows H(A1),
// the hash of "user:realm:password", for a user.
type DigestBackend interface {
	Backend
	// Digest fills ai.HA1 for ai.User in ai.Realm with ai.Algo's hash and
	// reports whether the user is known. With ai.UserHash, ai.User is the
	// client's userhash and the backend replaces it with the user's name.
	Digest(rc *core.Request, ai *DigestInfo) bool
}

// BackendProvider is implemented by authn modules (mod_authn_file,
// mod_authn_ldap): mod_auth asks every loaded module for the backends it
// offers, by the names auth.backend uses.
type BackendProvider interface {
	AuthBackends() map[string]Backend
}

// Algo is a set of digest algorithms, lighttpd's http_auth_digest_type bits.
type Algo uint8

const (
	AlgoSess       Algo = 1 << iota // the "-sess" variant
	AlgoMD5                         // MD5
	AlgoSHA256                      // SHA-256
	AlgoSHA512_256                  // SHA-512-256
)

// Size is the length in bytes of the algorithm's digest (lighttpd's
// http_auth_digest_len: the longest one when several are set).
func (a Algo) Size() int {
	switch {
	case a&(AlgoSHA256|AlgoSHA512_256) != 0:
		return 32
	case a&AlgoMD5 != 0:
		return 16
	}
	return 0
}

// New returns the hash of the algorithm, SHA-256 first, MD5 by default, in
// lighttpd's order of preference when several bits are set.
func (a Algo) New() hash.Hash {
	switch {
	case a&AlgoSHA256 != 0:
		return sha256.New()
	case a&AlgoSHA512_256 != 0:
		return sha512.New512_256()
	}
	return md5.New()
}

// DigestInfo is what a Digest backend is asked for and answers.
type DigestInfo struct {
	Algo     Algo   // the hash to use (and the -sess bit, which backends ignore)
	User     string // the user name, or the userhash when UserHash
	Realm    string
	UserHash bool
	HA1      [32]byte // filled by the backend: H(user:realm:password)
}

// HA1Of computes H(user:realm:password) with the hash of algo into dst; the
// plain backend and htdigest's Basic check use it.
func HA1Of(dst *[32]byte, algo Algo, user, realm, pw string) {
	h := algo.New()
	h.Write([]byte(user))
	h.Write([]byte{':'})
	h.Write([]byte(realm))
	h.Write([]byte{':'})
	h.Write([]byte(pw))
	h.Sum(dst[:0])
}
