package magnet

import (
	"strings"

	"github.com/golighty/golighty/core"
	lua "github.com/yuin/gopher-lua"
)

// state is one Lua state running one script: the compiled function, its
// environment (cleared after every run, so a script's globals do not leak
// from one request into the next), lighttpd's result table behind
// lighty.header / lighty.content, and the lighty table. The objects the
// lighty table exposes find the request being served through rc.
type state struct {
	L      *lua.LState
	fn     *lua.LFunction
	env    *lua.LTable
	result *lua.LTable
	lighty *lua.LTable
	gen    uint64
	budget budget

	// The request being served (nil between runs).
	rc      *core.Request
	stage   int
	host    string // a Host header the script set (the restarted request's authority)
	body    []byte // request body collected by r.req_body
	hasBody bool
	keys    []lua.LValue // scratch for clearTable
}

func newState(proto *lua.FunctionProto, gen uint64) *state {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:    true,
		CallStackSize:   callStackSize,
		RegistrySize:    registrySize,
		RegistryMaxSize: registryMaxSize,
	})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable}, {lua.IoLibName, lua.OpenIo},
		{lua.OsLibName, lua.OpenOs}, {lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath}, {lua.DebugLibName, lua.OpenDebug},
		{lua.CoroutineLibName, lua.OpenCoroutine},
	} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	st := &state{L: L, gen: gen}
	st.setupGlobals()
	st.result = L.NewTable()
	st.lighty = st.newLighty()
	// Globals resolve through env (what the script sets, cleared after
	// each run), then base (lighty), then the global table. lighty lives
	// in base, out of the script's reach (env's metatable is locked), so
	// a run neither sets it anew nor leaves a key in env to clear: an
	// empty env is cleared without touching its hash part.
	base := L.NewTable()
	base.RawSetString("lighty", st.lighty)
	L.SetMetatable(base, indexOnly(L, L.G.Global))
	st.env = L.NewTable()
	L.SetMetatable(st.env, indexOnly(L, base))
	st.fn = L.NewFunctionFromProto(proto)
	st.fn.Env = st.env
	st.budget.reset()
	L.SetContext(&st.budget)
	return st
}

// indexOnly is a locked metatable that reads missing keys from t.
func indexOnly(L *lua.LState, t *lua.LTable) *lua.LTable {
	meta := L.NewTable()
	meta.RawSetString("__index", t)
	meta.RawSetString("__metatable", lua.LFalse)
	return meta
}

// setupGlobals replaces print (to the error log), pairs (honouring
// __pairs, as lighttpd does for Lua 5.1) and string.rep (bounded).
func (st *state) setupGlobals() {
	L := st.L
	g := L.G.Global
	g.RawSetString("print", L.NewFunction(func(L *lua.LState) int {
		s := "(null)"
		if v := L.Get(1); v != lua.LNil {
			s = L.CheckString(1)
		}
		if st.rc != nil {
			st.rc.Logf("(lua-print) %s", s)
		}
		return 0
	}))
	orig := g.RawGetString("pairs")
	g.RawSetString("pairs", L.NewFunction(func(L *lua.LState) int {
		L.CheckAny(1)
		if mf := L.GetMetaField(L.Get(1), "__pairs"); mf != lua.LNil {
			L.Push(mf)
			L.Push(L.Get(1))
			L.Call(1, 3)
			return 3
		}
		L.Push(orig)
		L.Push(L.Get(1))
		L.Call(1, 3)
		return 3
	}))
	if strlib, ok := g.RawGetString("string").(*lua.LTable); ok {
		rep := strlib.RawGetString("rep")
		strlib.RawSetString("rep", L.NewFunction(func(L *lua.LState) int {
			s := L.CheckString(1)
			n := L.CheckInt(2)
			if n > 0 && int64(len(s))*int64(n) > maxStringRep {
				L.RaiseError("string.rep: result larger than %d bytes (golighty's limit)", maxStringRep)
			}
			L.Push(rep)
			L.Push(L.Get(1))
			L.Push(L.Get(2))
			L.Call(2, 1)
			return 1
		}))
	}
}

// run calls the script for rc and returns its first result.
func (st *state) run(rc *core.Request, stage int) (lua.LValue, error) {
	st.rc, st.stage = rc, stage
	st.budget.reset()
	L := st.L
	L.Push(st.fn)
	if err := L.PCall(0, 1, nil); err != nil {
		return lua.LNil, err
	}
	ret := L.Get(-1)
	L.Pop(1)
	return ret, nil
}

// reset ends a run: the script's globals and the legacy result table are
// cleared and the request forgotten, so nothing of it stays in a pooled
// state.
func (st *state) reset() {
	st.clearTable(st.env)
	st.clearTable(st.result)
	st.rc = nil
	st.host = ""
	st.body, st.hasBody = nil, false
	st.L.SetTop(0)
}

func (st *state) clearTable(t *lua.LTable) {
	keys := st.keys[:0]
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		keys = append(keys, k)
	}
	for i, k := range keys {
		t.RawSet(k, lua.LNil)
		keys[i] = nil
	}
	st.keys = keys[:0]
}

// lstr makes a Lua string of a request string: a copy, since request
// strings are views of buffers reused after the request, and a state may
// keep what a script stored in its globals.
func lstr(s string) lua.LValue { return lua.LString(strings.Clone(s)) }

// copyLegacyHeaders applies lighty.header (the old API) to the response.
func (st *state) copyLegacyHeaders() {
	h, ok := st.result.RawGetString("header").(*lua.LTable)
	if !ok {
		return
	}
	h.ForEach(func(k, v lua.LValue) {
		if isString(k) && isString(v) {
			setResponseHeader(st.rc, lua.LVAsString(k), lua.LVAsString(v))
		}
	})
}

// isString is lua_isstring: strings and numbers.
func isString(v lua.LValue) bool {
	switch v.(type) {
	case lua.LString, lua.LNumber:
		return true
	}
	return false
}
