// Package rewrite is lighttpd's mod_rewrite: url.rewrite* rules change the
// request target internally, and the request runs again from the start with
// the new target (conditions evaluated anew, REQUEST_URI unchanged,
// REDIRECT_URI showing the new target to backends).
//
// As in lighttpd 1.4.69 (mod_rewrite.c):
//   - url.rewrite and url.rewrite-final are old names of url.rewrite-once. In
//     one block the lists join in the order once, final, rewrite, repeat (not
//     the written order); url.rewrite-if-not-file and
//     url.rewrite-repeat-if-not-file form a second list the same way.
//   - A block that sets any of the first four keys replaces the whole first
//     list of the blocks before it (repeat rules too); likewise for the
//     if-not-file pair.
//   - The first list runs at uri_raw on every pass; the if-not-file list runs
//     at the physical stage, unless a handler was already chosen or the path
//     is an existing regular file (directories are rewritten).
//   - After a once-rule matched, neither list rewrites again for the request.
//   - Every pass after the first rewrite counts (once per list consulted);
//     past 100 the request is dropped: no response, the connection closes.
//     A result not starting with '/' or a failed match drops it too.
//   - A rewritten target that the request parser refuses (a control
//     character, a path that does not start with '/') is a 400 and the
//     connection closes.
//
// One deliberate difference: a rewrite result longer than MaxTarget is
// dropped like an invalid one (lighttpd lets a growing repeat rule allocate
// until its loop limit).
package rewrite

import (
	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/lighttpdconf"
	"github.com/golighty/golighty/modules/internal/urlrules"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_rewrite", New: func() core.Module { return &Module{} }})
}

// MaxTarget bounds a rewritten target: 64 KiB, the largest request head
// lighttpd accepts (server.max-request-field-size is at most 65535).
const MaxTarget = 64 << 10

// maxPasses is lighttpd's loop limit: the passes counted after the first
// rewrite (hctx & 0x1FF > 100 in mod_rewrite.c).
const maxPasses = 100

type conf struct {
	rewrite   *urlrules.List // url.rewrite-once, -final, url.rewrite, url.rewrite-repeat
	rewriteNF *urlrules.List // url.rewrite-if-not-file, url.rewrite-repeat-if-not-file
}

// state is a request's rewrite history (lighttpd's handler_ctx): set by the
// first rewrite, kept across the passes of the request.
type state struct {
	passes   int  // passes through the rules since the first rewrite
	finished bool // a once-rule matched: rewrite no more
}

// Module is one loaded mod_rewrite.
type Module struct {
	table *core.Table[conf]
	state core.Slot[state]
}

var (
	_ core.URIRawHook   = (*Module)(nil)
	_ core.PhysicalHook = (*Module)(nil)
)

// The keys in the order lighttpd joins them within a block.
const (
	kOnce = iota
	kFinal
	kRewrite
	kRepeat
	kNF
	kRepeatNF
	nKeys
)

var keyNames = [nKeys]string{
	kOnce:     "url.rewrite-once",
	kFinal:    "url.rewrite-final",
	kRewrite:  "url.rewrite",
	kRepeat:   "url.rewrite-repeat",
	kNF:       "url.rewrite-if-not-file",
	kRepeatNF: "url.rewrite-repeat-if-not-file",
}

// blockKeys collects what one config block sets; once every key was seen,
// the block's two lists are built in lighttpd's order.
type blockKeys struct {
	kvs      [nKeys][]core.KV
	set      [nKeys]bool
	pos      [nKeys]lighttpdconf.Pos
	main, nf *urlrules.List
}

// Setup binds the six keys and compiles every block's lists.
func (m *Module) Setup(sc *core.SetupContext) error {
	m.state = core.NewSlot[state](sc)
	blocks := map[int]*blockKeys{}
	var order []*blockKeys
	bind := func(k int) func(core.Value) (func(*conf), error) {
		return func(v core.Value) (func(*conf), error) {
			b := blocks[v.Block]
			if b == nil {
				cond := blockText(sc, v.Block)
				b = &blockKeys{main: urlrules.NewList(v.Block, cond), nf: urlrules.NewList(v.Block, cond)}
				blocks[v.Block] = b
				order = append(order, b)
			}
			b.kvs[k], b.set[k], b.pos[k] = v.KVs(), true, v.Pos
			if k >= kNF {
				nf := b.nf
				return func(c *conf) { c.rewriteNF = nf }, nil
			}
			main := b.main
			return func(c *conf) { c.rewrite = main }, nil
		}
	}
	keys := make([]core.Key[conf], nKeys)
	for k := range keys {
		keys[k] = core.Key[conf]{Name: keyNames[k], Type: core.TypeKV, Bind: bind(k)}
	}
	var err error
	if m.table, err = core.Bind(sc, conf{}, keys); err != nil {
		return err
	}
	normalize := sc.Core().Server.ParseOpts.URLNormalize
	for _, b := range order {
		if err := b.build(sc, b.main, []int{kOnce, kFinal, kRewrite}, kRepeat, normalize); err != nil {
			return err
		}
		if err := b.build(sc, b.nf, []int{kNF}, kRepeatNF, normalize); err != nil {
			return err
		}
	}
	return nil
}

// build fills l with the once-keys' rules, then the repeat key's.
func (b *blockKeys) build(sc *core.SetupContext, l *urlrules.List, once []int, repeat int, normalize bool) error {
	add := func(k int) error {
		if !b.set[k] {
			return nil
		}
		if err := l.Add(sc, b.kvs[k], normalize); err != nil {
			return &core.ConfigError{Pos: b.pos[k], Err: err}
		}
		return nil
	}
	for _, k := range once {
		if err := add(k); err != nil {
			return err
		}
	}
	l.OnceRules = len(l.Rules)
	return add(repeat)
}

// blockText is the condition of block idx as lighttpd prints it.
func blockText(sc *core.SetupContext, idx int) string {
	if idx == 0 {
		return ""
	}
	for _, b := range sc.Config().Blocks {
		if b.Index == idx {
			return b.Text()
		}
	}
	return ""
}

// URIRaw applies the first list to the target of every pass.
func (m *Module) URIRaw(rc *core.Request) core.Result {
	c := m.table.Resolve(rc)
	if c.rewrite == nil || len(c.rewrite.Rules) == 0 {
		return core.GoOn
	}
	return m.process(rc, c.rewrite)
}

// Physical applies the if-not-file list when no handler was chosen yet and
// the path is not an existing regular file.
func (m *Module) Physical(rc *core.Request) core.Result {
	if rc.Handler != nil {
		return core.GoOn
	}
	c := m.table.Resolve(rc)
	if c.rewriteNF == nil || len(c.rewriteNF.Rules) == 0 {
		return core.GoOn
	}
	if fi, err := rc.Stat(rc.Phys.Path); err == nil && fi.IsRegular() {
		return core.GoOn
	}
	return m.process(rc, c.rewriteNF)
}

// process runs one list (lighttpd's process_rewrite_rules).
func (m *Module) process(rc *core.Request, l *urlrules.List) core.Result {
	st := m.state.Get(rc)
	if st != nil {
		st.passes++
		if st.passes > maxPasses {
			if l.Cond != "" {
				rc.Logf("ENDLESS LOOP IN rewrite-rule DETECTED ... aborting request, perhaps you want to use url.rewrite-once instead of url.rewrite-repeat (%s)", l.Cond)
			} else {
				rc.Logf("ENDLESS LOOP IN rewrite-rule DETECTED ... aborting request")
			}
			return core.Drop
		}
		if st.finished {
			return core.GoOn
		}
	}
	var buf [256]byte
	i, outcome, out, err := l.Apply(rc, buf[:0])
	switch outcome {
	case urlrules.Failed:
		rc.Logf("pcre_exec() error while processing uri: %s (%v)", rc.URI.Target, err)
		return core.Drop
	case urlrules.Expanded:
	default:
		return core.GoOn
	}
	if len(out) == 0 || out[0] != '/' {
		rc.Logf("mod_rewrite invalid result (not beginning with '/') while processing uri: %s", rc.URI.Target)
		return core.Drop
	}
	if len(out) > MaxTarget {
		rc.Logf("mod_rewrite result longer than %d bytes while processing uri: %s", MaxTarget, rc.URI.Target)
		return core.Drop
	}
	if st == nil {
		st = &state{}
		m.state.Set(rc, st)
	}
	if i < l.OnceRules {
		st.finished = true
	}
	res, err := rc.Rewrite(string(out))
	if err != nil {
		// lighttpd re-parses the new target and answers what the request
		// parser would: 400, and the connection closes.
		rc.KeepAlive = false
		return rc.Status(400)
	}
	return res
}

// InlineHooks marks the module for HTTP/2 requests on the reader
// (core.InlineHooks): its hooks only match and rewrite.
func (*Module) InlineHooks() {}
