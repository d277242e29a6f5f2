// Package secdownload implements the request verification of lighttpd's
// mod_secdownload exactly as lighttpd 1.4.67 had it (the module was removed
// upstream in 1.4.68), plus a generator for signed URLs.
//
// A signed URL path has the layout
//
//	<uri-prefix> <mac> "/" <timestamp-hex> <rel-path>
//
// where the MAC, depending on secdownload.algorithm, is
//
//	md5:         lower- or upper-case hex of MD5(secret + rel-path + timestamp-hex)
//	hmac-sha1:   base64url, unpadded, of HMAC-SHA1(secret, "/" + timestamp-hex + rel-path)
//	hmac-sha256: base64url, unpadded, of HMAC-SHA256(secret, "/" + timestamp-hex + rel-path)
//
// secdownload.path-segments limits the rel-path covered by the MAC to its first
// N segments and secdownload.hash-querystr appends "?" + query to the MAC
// input; the file served is always the full rel-path below
// secdownload.document-root.
package secdownload

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Algorithm is the value of secdownload.algorithm.
type Algorithm uint8

const (
	// AlgorithmUnset is the zero value: secdownload.algorithm was not set in
	// the request's config context. lighttpd 1.4.67 has no default algorithm
	// and answers every request under the prefix with 500 in that case.
	AlgorithmUnset Algorithm = iota
	// MD5 is "md5": 32 hex digits of MD5(secret + rel-path + timestamp-hex).
	MD5
	// HMACSHA1 is "hmac-sha1": 27 base64url characters.
	HMACSHA1
	// HMACSHA256 is "hmac-sha256": 43 base64url characters.
	HMACSHA256
)

// DefaultTimeout is secdownload.timeout when the key is not set (seconds).
const DefaultTimeout = 60

// ParseAlgorithm maps a secdownload.algorithm value to an Algorithm. Names are
// case-sensitive, as in lighttpd; an empty or unknown name is the fatal
// start-up error lighttpd reports.
func ParseAlgorithm(name string) (Algorithm, error) {
	switch name {
	case "md5":
		return MD5, nil
	case "hmac-sha1":
		return HMACSHA1, nil
	case "hmac-sha256":
		return HMACSHA256, nil
	}
	return AlgorithmUnset, fmt.Errorf("invalid secdownload.algorithm: %s", name)
}

// String returns the configuration name of a.
func (a Algorithm) String() string {
	switch a {
	case MD5:
		return "md5"
	case HMACSHA1:
		return "hmac-sha1"
	case HMACSHA256:
		return "hmac-sha256"
	}
	return "invalid"
}

// MACLen is the number of characters of the MAC in a URL, 0 for an unset or
// unknown algorithm.
func (a Algorithm) MACLen() int {
	switch a {
	case MD5:
		return 32
	case HMACSHA1:
		return 27
	case HMACSHA256:
		return 43
	}
	return 0
}

// Config holds the secdownload.* options of one request's config context.
// Strings follow lighttpd: an empty string means the key is unset.
type Config struct {
	// Secret is secdownload.secret.
	Secret []byte
	// DocumentRoot is secdownload.document-root. Verify only checks that it
	// is set (lighttpd answers 500 otherwise); the caller joins it with the
	// returned rel-path.
	DocumentRoot string
	// URIPrefix is secdownload.uri-prefix; empty disables the module.
	URIPrefix string
	// Timeout is secdownload.timeout in seconds (DefaultTimeout when unset).
	// lighttpd stores it as an unsigned 32-bit integer, so Verify uses
	// uint32(Timeout): a negative value wraps to a huge window, as there.
	Timeout int64
	// Algorithm is secdownload.algorithm.
	Algorithm Algorithm
	// PathSegments is secdownload.path-segments. lighttpd stores it as an
	// unsigned short, so Verify uses uint16(PathSegments).
	PathSegments int
	// HashQueryString is secdownload.hash-querystr.
	HashQueryString bool
}

// Reasons returned by Verify. They are constants so that a check allocates
// nothing; the caller adds the URL path when it logs one.
const (
	ReasonNoSecret       = "secdownload.secret has to be set"
	ReasonNoDocumentRoot = "secdownload.document-root has to be set"
	ReasonNoAlgorithm    = "secdownload.algorithm has to be set"
	ReasonPrefixMismatch = "uri-prefix does not match"
	ReasonMalformed      = "no <mac>/<timestamp>/<rel-path> after uri-prefix"
	ReasonUnsafePath     = "rel-path contains a NUL byte or a .. segment"
	ReasonExpired        = "timestamp outside secdownload.timeout"
	ReasonMACInvalid     = "mac invalid"
)

// Verify checks a request the way lighttpd 1.4.67's mod_secdownload does.
// urlPath is the decoded, simplified URL path (r->uri.path) and query the
// normalized query string without "?".
//
// Results:
//   - handled == false: the module leaves the request alone (no uri-prefix
//     configured, path outside the prefix, or no well-formed
//     mac/timestamp/rel-path after it; lighttpd then usually answers 404).
//   - handled, status == 0: the MAC is valid; rel is the path (starting with
//     "/", a substring of urlPath) to serve below DocumentRoot.
//   - handled, status != 0: answer with status: 500 for a missing secret,
//     document root or algorithm, 410 when the timestamp is more than Timeout
//     seconds in the past or the future, 403 for a MAC that does not match.
//
// reason is a constant description for the error log.
func (c *Config) Verify(urlPath, query string, now time.Time) (rel string, status int, handled bool, reason string) {
	// Same order as lighttpd: configuration errors are reported for every
	// request of the context, before the prefix is compared.
	if c.URIPrefix == "" {
		return "", 0, false, ReasonPrefixMismatch
	}
	if len(c.Secret) == 0 {
		return "", 500, true, ReasonNoSecret
	}
	if c.DocumentRoot == "" {
		return "", 500, true, ReasonNoDocumentRoot
	}
	macLen := c.Algorithm.MACLen()
	if macLen == 0 {
		return "", 500, true, ReasonNoAlgorithm
	}
	if !strings.HasPrefix(urlPath, c.URIPrefix) {
		return "", 0, false, ReasonPrefixMismatch
	}
	rest := urlPath[len(c.URIPrefix):]
	// The MAC field is checked against the base64url alphabet for every
	// algorithm; a non-hex md5 MAC of the right length is a 403, not a
	// fall-through.
	if len(rest) <= macLen || rest[macLen] != '/' || !isMACChars(rest[:macLen]) {
		return "", 0, false, ReasonMalformed
	}
	mac := rest[:macLen]
	protected := rest[macLen:] // "/" timestamp-hex rel-path
	relStart, ts, ok := parseTimestamp(protected)
	if !ok {
		return "", 0, false, ReasonMalformed
	}
	rel = protected[relStart:]
	// The core hands over a simplified path without NUL, so this cannot
	// trigger for real requests; it keeps Verify safe when called with a raw
	// path, where a signed ".." would otherwise leave the document root.
	if escapesRoot(rel) {
		return "", 403, true, ReasonUnsafePath
	}
	cur := uint64(now.Unix())
	diff := cur - ts
	if ts > cur {
		diff = ts - cur
	}
	if diff > uint64(uint32(c.Timeout)) {
		// lighttpd: 410 Gone, the URL will never become valid again.
		return "", 410, true, ReasonExpired
	}
	signed := cutSegments(protected, relStart, uint16(c.PathSegments))
	if !c.HashQueryString {
		query = ""
	}
	if !c.checkMAC(mac, signed, relStart, query) {
		return "", 403, true, ReasonMACInvalid
	}
	return rel, 0, true, ""
}

// Sign returns the URL path (in decoded form, as Verify takes it) that a
// generator produces for rel at time now: URIPrefix + MAC + "/" + timestamp
// as at least 8 lower-case hex digits + rel. rel may carry "?query"; the
// query is covered by the MAC only when HashQueryString is set, and is
// copied to the result either way. A rel without a leading "/" gets one.
// Sign returns "" when Secret or Algorithm is unset, since no URL can verify.
func (c *Config) Sign(rel string, now time.Time) string {
	if len(c.Secret) == 0 || c.Algorithm.MACLen() == 0 {
		return ""
	}
	if !strings.HasPrefix(rel, "/") {
		rel = "/" + rel
	}
	relPath, query, _ := strings.Cut(rel, "?")
	if !c.HashQueryString {
		query = ""
	}
	tsHex := strconv.FormatUint(uint64(now.Unix()), 16)
	if len(tsHex) < 8 {
		// The documented generators use sprintf("%08x", time).
		tsHex = strings.Repeat("0", 8-len(tsHex)) + tsHex
	}
	protected := "/" + tsHex + relPath
	relStart := 1 + len(tsHex)
	signed := cutSegments(protected, relStart, uint16(c.PathSegments))

	s := getScratch()
	defer putScratch(s)
	digest := c.digest(s, signed, relStart, query)
	var mac string
	if c.Algorithm == MD5 {
		mac = hex.EncodeToString(digest)
	} else {
		mac = base64.RawURLEncoding.EncodeToString(digest)
	}
	return c.URIPrefix + mac + "/" + tsHex + rel
}

// isMACChars reports whether s consists of [A-Za-z0-9_-] only.
func isMACChars(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}

// parseTimestamp reads "/" followed by 1 to 16 hex digits (either case) and
// requires the next byte to be "/". It returns the index of that "/" (the
// start of rel-path) and the value.
func parseTimestamp(protected string) (relStart int, ts uint64, ok bool) {
	i := 1
	for ; i <= 16 && i < len(protected); i++ {
		v, isHex := hexVal(protected[i])
		if !isHex {
			break
		}
		ts = ts<<4 | uint64(v)
	}
	if i == 1 || i >= len(protected) || protected[i] != '/' {
		return 0, 0, false
	}
	return i, ts, true
}

func hexVal(b byte) (byte, bool) {
	switch {
	case '0' <= b && b <= '9':
		return b - '0', true
	case 'a' <= b && b <= 'f':
		return b - 'a' + 10, true
	case 'A' <= b && b <= 'F':
		return b - 'A' + 10, true
	}
	return 0, false
}

// escapesRoot reports whether rel contains a NUL byte or a ".." segment.
func escapesRoot(rel string) bool {
	if strings.IndexByte(rel, 0) >= 0 {
		return true
	}
	for i := 0; ; {
		j := strings.Index(rel[i:], "/..")
		if j < 0 {
			return false
		}
		end := i + j + 3
		if end == len(rel) || rel[end] == '/' {
			return true
		}
		i = end
	}
}

// cutSegments implements secdownload.path-segments: the protected path is
// cut just before the n-th "/" after the one that starts rel-path; when
// rel-path has fewer slashes it is left whole.
func cutSegments(protected string, relStart int, n uint16) string {
	if n == 0 {
		return protected
	}
	end := relStart
	for ; n > 0; n-- {
		j := strings.IndexByte(protected[end+1:], '/')
		if j < 0 {
			return protected
		}
		end += 1 + j
	}
	return protected[:end]
}

// checkMAC compares the presented MAC with the one computed over signed
// (plus "?" + query when query is not empty) in constant time.
func (c *Config) checkMAC(mac, signed string, relStart int, query string) bool {
	s := getScratch()
	defer putScratch(s)
	if c.Algorithm == MD5 {
		// lighttpd decodes the hex first (either case) and compares the
		// binary digests; a non-hex digit fails without hashing.
		if !decodeHex(s.presented[:md5.Size], mac) {
			return false
		}
		digest := c.digest(s, signed, relStart, query)
		return subtle.ConstantTimeCompare(s.presented[:md5.Size], digest) == 1
	}
	digest := c.digest(s, signed, relStart, query)
	n := len(mac) // MACLen is exactly the unpadded base64url length of the digest
	base64.RawURLEncoding.Encode(s.encoded[:n], digest)
	copy(s.presented[:n], mac)
	return subtle.ConstantTimeCompare(s.presented[:n], s.encoded[:n]) == 1
}

// digest computes the raw MAC into s.sum. For md5 the message is
// secret + rel' + timestamp-hex, for the HMACs the protected path, where
// rel' and the protected path include "?" + query when query is not empty.
func (c *Config) digest(s *scratch, signed string, relStart int, query string) []byte {
	msg := s.msg[:0]
	if c.Algorithm == MD5 {
		msg = append(msg, c.Secret...)
		msg = append(msg, signed[relStart:]...)
		msg = appendQuery(msg, query)
		msg = append(msg, signed[1:relStart]...)
		s.msg = msg
		s.sum = md5.Sum(msg)
		return s.sum[:md5.Size]
	}
	msg = append(msg, signed...)
	msg = appendQuery(msg, query)
	s.msg = msg
	h := s.hmacFor(c.Algorithm, c.Secret)
	h.Write(msg)
	return h.Sum(s.sumBuf[:0])
}

func appendQuery(msg []byte, query string) []byte {
	if query == "" {
		return msg
	}
	return append(append(msg, '?'), query...)
}

// decodeHex decodes len(dst)*2 hex digits of either case from src.
func decodeHex(dst []byte, src string) bool {
	if len(src) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := hexVal(src[2*i])
		lo, ok2 := hexVal(src[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

// scratch holds the per-check buffers and a keyed HMAC so that a check does
// not allocate. Objects are pooled; the HMAC is rebuilt only when a pooled
// object meets a different algorithm or secret (normally one per server).
type scratch struct {
	msg       []byte
	sum       [md5.Size]byte
	sumBuf    [sha256.Size]byte
	encoded   [64]byte
	presented [64]byte

	hmacAlg Algorithm
	hmacKey []byte
	hmac    hash.Hash
}

// maxPooledMsg bounds the message buffer kept in the pool so that one huge
// URL does not pin memory.
const maxPooledMsg = 64 << 10

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(s *scratch) {
	if cap(s.msg) > maxPooledMsg {
		s.msg = nil
	}
	scratchPool.Put(s)
}

// hmacFor returns a reset HMAC keyed with secret.
func (s *scratch) hmacFor(alg Algorithm, secret []byte) hash.Hash {
	if s.hmac != nil && s.hmacAlg == alg && bytes.Equal(s.hmacKey, secret) {
		s.hmac.Reset()
		return s.hmac
	}
	newHash := sha256.New
	if alg == HMACSHA1 {
		newHash = sha1.New
	}
	s.hmac = hmac.New(newHash, secret)
	s.hmacAlg = alg
	s.hmacKey = append(s.hmacKey[:0], secret...)
	return s.hmac
}
