package core

// Slot is per-request storage for one module's state, lighttpd's
// handler_ctx: set while a request runs (across internal restarts such as
// rewrites and error handlers), cleared by the core when it ends.
type Slot[T any] struct{ idx int }

// NewSlot reserves a slot for the module being set up.
func NewSlot[T any](sc *SetupContext) Slot[T] {
	s := Slot[T]{idx: sc.snap.slots}
	sc.snap.slots++
	return s
}

// Get returns the module's state for rc, or nil when none was set.
func (s Slot[T]) Get(rc *Request) *T {
	if s.idx >= len(rc.slots) {
		return nil
	}
	v, _ := rc.slots[s.idx].(*T)
	return v
}

// Set stores the module's state for the rest of the request.
func (s Slot[T]) Set(rc *Request, v *T) {
	for len(rc.slots) <= s.idx {
		rc.slots = append(rc.slots, nil)
	}
	rc.slots[s.idx] = v
}
