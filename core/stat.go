package core

import (
	"github.com/golighty/golighty/core/statcache"
)

// Stat returns the (briefly cached) metadata of path, as lighttpd's stat
// cache does; errors are the underlying *fs.PathError (ENOENT, ENOTDIR, ...).
func (rc *Request) Stat(path string) (*statcache.Entry, error) {
	e, err := rc.Snap.stat.Stat(path)
	if err == nil {
		rc.lastStat = e
	}
	return e, err
}

// statCacheFor returns the process-wide stat cache for the configured
// engine; it outlives reloads through the shared pool.
func statCacheFor(p *SharedPool, engine string) (*statcache.Cache, string, error) {
	e, err := statcache.ParseEngine(engine)
	if err != nil {
		return nil, "", err
	}
	key := "statcache:" + engine
	c, err := Acquire(p, key, func() (*statcache.Cache, func(), error) {
		c := statcache.New(statcache.Config{Engine: e, ContentBudget: p.contentBudget})
		return c, c.Close, nil
	})
	return c, key, err
}
