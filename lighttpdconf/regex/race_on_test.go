//go:build race

package regex

// raceEnabled: the race detector makes sync.Pool (used by regexp) drop
// items, so allocation counts are meaningless.
const raceEnabled = true
