package core

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/golighty/golighty/lighttpdconf"
)

// Scope says where a key may be set (config-keys.md legend).
type Scope uint8

const (
	// ScopeAny keys may be set in any conditional and are resolved per request.
	ScopeAny Scope = iota
	// ScopeGlobal keys are read from the global block only; inside a
	// conditional lighttpd warns "DEPRECATED: do not set server options in
	// conditionals" and ignores the value.
	ScopeGlobal
	// ScopeSocket keys belong to the global block or a $SERVER["socket"] == block.
	ScopeSocket
)

// Key declares one config key of a module whose per-request settings are a T.
// Bind converts a checked value into a patch applied to T for requests whose
// block is active; it runs once per load, so the patch should capture
// precomputed data (a compiled regex, a lookup table), not recompute it.
type Key[T any] struct {
	Name  string
	Type  Type
	Scope Scope
	Bind  func(v Value) (func(*T), error)
}

// Table holds a module's settings: the defaults plus, for every config block
// that sets one of its keys, the patches to apply when that block is true.
// Resolve never merges maps or looks at the AST at request time, and in the
// steady state it does not even patch: the result for each combination of
// true blocks is computed once and kept (requests fall into few combinations).
type Table[T any] struct {
	def     T
	patches []blockPatch[T]
	mu      sync.Mutex                    // serializes cache growth
	cache   atomic.Pointer[map[string]*T] // bitset of true patch blocks -> result
}

type blockPatch[T any] struct {
	block int
	apply []func(*T)
}

// Cache bounds: how many distinct block combinations a Table remembers, and
// how many conditional blocks its bitset key can describe. Past either,
// results are computed per request (correct, just not free).
const (
	maxResolveCache = 256
	maxKeyBlocks    = 256
)

// Defaults returns the settings of a request that matches no conditional.
func (t *Table[T]) Defaults() T { return t.def }

// Resolve returns the settings for rc: the defaults with the patches of every
// true block applied in block order (the last true block wins, as lighttpd).
func (t *Table[T]) Resolve(rc *Request) T {
	if len(t.patches) == 0 {
		return t.def
	}
	if len(t.patches) > maxKeyBlocks {
		return t.compute(rc, nil)
	}
	var bits [maxKeyBlocks / 8]byte
	n := (len(t.patches) + 7) / 8
	for i := range t.patches {
		if rc.blockTrue(t.patches[i].block) {
			bits[i/8] |= 1 << uint(i%8)
		}
	}
	if m := t.cache.Load(); m != nil {
		if v, ok := (*m)[string(bits[:n])]; ok { // no allocation: map lookup by []byte
			return *v
		}
	}
	v := t.compute(rc, bits[:n])
	t.remember(string(bits[:n]), v)
	return v
}

// remember adds a result to the copy-on-write cache.
func (t *Table[T]) remember(key string, v T) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.cache.Load()
	if old != nil && (len(*old) >= maxResolveCache || (*old)[key] != nil) {
		return
	}
	m := make(map[string]*T, 1+lenOf(old))
	if old != nil {
		for k, p := range *old {
			m[k] = p
		}
	}
	m[key] = &v
	t.cache.Store(&m)
}

func lenOf[T any](m *map[string]*T) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// compute applies the patches of true blocks; with bits set it reads the
// truth values from them instead of evaluating again.
func (t *Table[T]) compute(rc *Request, bits []byte) T {
	v := t.def
	for i := range t.patches {
		p := &t.patches[i]
		if bits != nil {
			if bits[i/8]&(1<<uint(i%8)) == 0 {
				continue
			}
		} else if !rc.blockTrue(p.block) {
			continue
		}
		for _, f := range p.apply {
			f(&v)
		}
	}
	return v
}

// Conditional reports whether any conditional block sets one of the keys.
func (t *Table[T]) Conditional() bool {
	for _, p := range t.patches {
		if p.block != 0 {
			return true
		}
	}
	return false
}

// Bind declares keys for a module and builds its Table from the config: it
// type-checks every occurrence in every block (lighttpd's messages), enforces
// scopes, and marks the keys as consumed so they are not reported unknown.
func Bind[T any](sc *SetupContext, def T, keys []Key[T]) (*Table[T], error) {
	t := &Table[T]{def: def}
	byName := make(map[string]*Key[T], len(keys))
	for i := range keys {
		byName[strings.ToLower(keys[i].Name)] = &keys[i]
		sc.consume(keys[i].Name)
	}
	for _, b := range sc.conf.Blocks {
		var apply []func(*T)
		for i := range b.Entries {
			e := &b.Entries[i]
			k, ok := byName[strings.ToLower(e.Key)]
			if !ok {
				continue
			}
			if b.Index != 0 && !sc.scopeAllows(k.Name, k.Scope, b) {
				continue
			}
			v, err := checkValue(e.Key, e.Value, k.Type)
			if err != nil {
				return nil, &ConfigError{Pos: e.Pos, Err: err}
			}
			v.Block = b.Index
			f, err := k.Bind(v)
			if err != nil {
				return nil, &ConfigError{Pos: e.Pos, Err: err}
			}
			if f != nil {
				apply = append(apply, f)
			}
		}
		if len(apply) == 0 {
			continue
		}
		if b.Index == 0 {
			for _, f := range apply {
				f(&t.def)
			}
			continue
		}
		t.patches = append(t.patches, blockPatch[T]{block: b.Index, apply: apply})
	}
	sort.SliceStable(t.patches, func(i, j int) bool { return t.patches[i].block < t.patches[j].block })
	return t, nil
}

// ConfigError is a fatal problem with a config value, located in its file.
type ConfigError struct {
	Pos lighttpdconf.Pos
	Err error
}

func (e *ConfigError) Error() string {
	if e.Pos.File == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("%s: %v", e.Pos, e.Err)
}
func (e *ConfigError) Unwrap() error { return e.Err }
