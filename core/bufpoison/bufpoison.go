// Package bufpoison is a test mode for the view rule (core.Request): request
// strings are views of buffers that are reused once their request ends, so a
// view kept too long does not fail where it is kept but changes, much later
// and only sometimes, under whoever holds it. With the mode on, the owners of
// reused buffers (the HTTP/1.x engine's read buffers, the request's path and
// header scratch space) overwrite them the moment their request ends, so an
// escaped view reads as garbage at once and the test that kept it fails.
//
// The mode is off in production. GOLIGHTY_POISON_BUFFERS=1 turns it on for a
// process (CI sets it for every test binary and the servers tests start);
// Enable turns it on from a test.
package bufpoison

import (
	"os"
	"sync/atomic"
)

// Byte is the pattern written over released buffers: not a token character,
// not ASCII, so a poisoned header name or path can never pass for a real one.
const Byte = 0xA5

var on atomic.Bool

func init() {
	if os.Getenv("GOLIGHTY_POISON_BUFFERS") == "1" {
		on.Store(true)
	}
}

// Enable turns the mode on for the rest of the process (tests only; it is
// never turned off, so concurrent tests only get stricter).
func Enable() { on.Store(true) }

// Enabled reports whether released buffers are poisoned.
func Enabled() bool { return on.Load() }

// Fill overwrites b with the poison pattern when the mode is on.
func Fill(b []byte) {
	if !on.Load() {
		return
	}
	for i := range b {
		b[i] = Byte
	}
}
