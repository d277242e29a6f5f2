package userdir

import (
	"os/user"
	"strings"
	"sync"
	"time"

	"github.com/golighty/golighty/modules/internal/vhostpath"
)

// homeTTL is how long a home directory found in the password database is
// trusted without asking again (lighttpd: 60 s).
const homeTTL = 60 * time.Second

// maxHomes bounds the cache; lighttpd keeps two entries, more only means
// fewer lookups with the same answers.
const maxHomes = 64

// homeCache remembers users whose home directory + userdir.path was a
// directory, as lighttpd's getpwnam cache: a hit is used without looking at
// the file system again until it is a minute old; failures are never kept.
type homeCache struct {
	lookup func(name string) (home string, ok bool)
	now    func() time.Time
	mu     sync.Mutex
	m      map[string]homeEntry
}

type homeEntry struct {
	home string
	at   time.Time
}

func newHomeCache(lookup func(string) (string, bool)) *homeCache {
	return &homeCache{lookup: lookup, now: time.Now, m: map[string]homeEntry{}}
}

// dir returns home(name) joined with path, or false when the user is
// unknown or that is not a directory (isDir says).
func (h *homeCache) dir(name, path string, isDir func(string) error) (string, bool) {
	now := h.now()
	h.mu.Lock()
	e, ok := h.m[name]
	h.mu.Unlock()
	if ok && now.Sub(e.at) < homeTTL {
		return vhostpath.Join(e.home, path), true
	}
	home, ok := h.lookup(name)
	if !ok {
		return "", false
	}
	dir := vhostpath.Join(home, path)
	if isDir(dir) != nil {
		return "", false
	}
	h.mu.Lock()
	if len(h.m) >= maxHomes {
		h.evictOldest()
	}
	h.m[strings.Clone(name)] = homeEntry{home: home, at: now}
	h.mu.Unlock()
	return dir, true
}

func (h *homeCache) evictOldest() {
	var oldest string
	var at time.Time
	for k, e := range h.m {
		if oldest == "" || e.at.Before(at) {
			oldest, at = k, e.at
		}
	}
	delete(h.m, oldest)
}

// lookupHome asks the password database (getpwnam; /etc/passwd alone in a
// binary built without cgo).
func lookupHome(name string) (string, bool) {
	u, err := user.Lookup(name)
	if err != nil || u.HomeDir == "" {
		return "", false
	}
	return u.HomeDir, true
}
