package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
	"sync"
	"time"
)

// cache is auth.cache: credentials that passed the backend recently, so a
// keep-alive client does not pay for bcrypt (or a file read, or an LDAP
// bind) on every request. As in lighttpd, an entry lives max-age seconds
// from the login that made it (use does not extend it), and each auth.cache
// setting in the config is a cache of its own. Entries are keyed by the
// auth.require entry, the backend, the algorithm and the user name, all
// copies owned by the cache; Basic entries hold a keyed SHA-256 of the
// password, never the password.
type cache struct {
	maxAge int64 // seconds

	mu        sync.RWMutex
	scopes    map[cacheScope]map[string]*cacheEntry
	n         int
	lastSweep int64
}

type cacheScope struct {
	req     uint64      // Require.id
	backend *backendRef // auth.backend in force
	algo    Algo        // 0 for Basic
}

type cacheEntry struct {
	user    string   // REMOTE_USER (the real name when the key was a userhash)
	secret  [32]byte // Basic: pwHash; Digest: H(A1)
	created int64
}

// maxCacheEntries bounds a cache; only successful logins are stored, so it
// is reached only with that many distinct users inside max-age.
const maxCacheEntries = 10000

// sweepEvery is how often expired entries are dropped (lighttpd: 8 s).
const sweepEvery = 8

func newCache(maxAge int64) *cache {
	return &cache{maxAge: maxAge, scopes: map[cacheScope]map[string]*cacheEntry{}}
}

var epoch = time.Now()

// monoSecs is a monotonic clock in seconds.
func monoSecs() int64 { return int64(time.Since(epoch) / time.Second) }

// lookup finds a live entry; user is a []byte so that a Basic lookup
// (whose name was just decoded) does not allocate.
func (c *cache) lookup(s cacheScope, user []byte, now int64) *cacheEntry {
	c.mu.RLock()
	e := c.scopes[s][string(user)]
	c.mu.RUnlock()
	return c.live(e, now)
}

func (c *cache) lookupString(s cacheScope, user string, now int64) *cacheEntry {
	c.mu.RLock()
	e := c.scopes[s][user]
	c.mu.RUnlock()
	return c.live(e, now)
}

func (c *cache) live(e *cacheEntry, now int64) *cacheEntry {
	if e == nil || now-e.created > c.maxAge {
		return nil
	}
	return e
}

func (c *cache) put(s cacheScope, key string, e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.created-c.lastSweep >= sweepEvery || c.n >= maxCacheEntries {
		c.sweep(e.created)
	}
	m := c.scopes[s]
	if m == nil {
		m = map[string]*cacheEntry{}
		c.scopes[s] = m
	}
	if _, ok := m[key]; !ok {
		if c.n >= maxCacheEntries {
			return
		}
		c.n++
	}
	m[key] = e
}

// sweep drops expired entries; the caller holds the lock.
func (c *cache) sweep(now int64) {
	c.lastSweep = now
	for s, m := range c.scopes {
		for k, e := range m {
			if now-e.created > c.maxAge {
				delete(m, k)
				c.n--
			}
		}
		if len(m) == 0 {
			delete(c.scopes, s)
		}
	}
}

// pwHash is a keyed hash of a password, compared in constant time.
func pwHash(pw []byte) [32]byte {
	var buf [32 + maxBasicLen]byte
	n := copy(buf[:], processKey)
	n += copy(buf[n:], pw)
	h := sha256.Sum256(buf[:n])
	clear(buf[:n])
	return h
}

// basic reports whether user and pw passed the backend for req within
// max-age, and returns the user name to use.
func (c *cache) basic(req *Require, b *backendRef, user, pw []byte) (string, bool) {
	e := c.lookup(cacheScope{req.id, b, 0}, user, monoSecs())
	if e == nil {
		return "", false
	}
	h := pwHash(pw)
	if subtle.ConstantTimeCompare(h[:], e.secret[:]) != 1 {
		return "", false
	}
	return e.user, true
}

func (c *cache) putBasic(req *Require, b *backendRef, user string, pw []byte) string {
	e := &cacheEntry{user: user, secret: pwHash(pw), created: monoSecs()}
	c.put(cacheScope{req.id, b, 0}, user, e)
	return user
}

// digest fills ai.HA1 (and the real user name for a userhash) from the
// cache.
func (c *cache) digest(req *Require, b *backendRef, ai *DigestInfo) bool {
	e := c.lookupString(cacheScope{req.id, b, ai.Algo}, ai.User, monoSecs())
	if e == nil {
		return false
	}
	ai.HA1 = e.secret
	ai.User = e.user
	return true
}

// putDigest stores ai's answer under key (the name or userhash the client
// sent); both strings may be views of the request and are copied.
func (c *cache) putDigest(req *Require, b *backendRef, key string, ai *DigestInfo) {
	user := strings.Clone(ai.User)
	if key == ai.User {
		key = user
	} else {
		key = strings.Clone(key)
	}
	e := &cacheEntry{user: user, secret: ai.HA1, created: monoSecs()}
	c.put(cacheScope{req.id, b, ai.Algo}, key, e)
}
