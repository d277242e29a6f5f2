package magnet

import (
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/golighty/golighty/core"
	lua "github.com/yuin/gopher-lua"
)

// newLighty builds the lighty table of a state: lighty.r (the request),
// lighty.c (helpers), lighty.server, the older lighty.request / env /
// req_env / status aliases, lighty.stat and lighty.RESTART_REQUEST. The
// table itself is read-only; other keys (header, content) land in the
// result table the old API reads after the script.
func (st *state) newLighty() *lua.LTable {
	L := st.L
	lt := L.NewTable()
	r := st.newRequestTable(func() *core.Request { return st.rc })
	lt.RawSetString("r", r)
	lt.RawSetString("server", st.newServerTable())
	lt.RawSetString("request", r.RawGetString("req_header"))
	lt.RawSetString("env", r.RawGetString("req_attr"))
	lt.RawSetString("req_env", r.RawGetString("req_env"))
	lt.RawSetString("status", lt.RawGetString("server").(*lua.LTable).RawGetString("plugin_stats"))
	lt.RawSetString("RESTART_REQUEST", lua.LNumber(restartRequest))
	c := st.newCTable()
	lt.RawSetString("stat", c.RawGetString("stat"))
	lt.RawSetString("c", c)
	meta := L.NewTable()
	meta.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		k := L.Get(2)
		v := st.result.RawGet(k)
		if v == lua.LNil {
			if ks, ok := k.(lua.LString); ok && (ks == "header" || ks == "content") {
				t := L.NewTable()
				st.result.RawSet(k, t)
				v = t
			}
		}
		L.Push(v)
		return 1
	}))
	meta.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		st.result.RawSet(L.Get(2), L.Get(3))
		return 0
	}))
	meta.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(lt, meta)
	return lt
}

// object is a table whose reads, writes and pairs() go to Go functions (the
// userdata objects of lighttpd's API).
func (st *state) object(index, newindex, pairs lua.LGFunction) *lua.LTable {
	L := st.L
	t := L.NewTable()
	meta := L.NewTable()
	if index != nil {
		meta.RawSetString("__index", L.NewFunction(index))
	}
	if newindex == nil {
		newindex = readOnly
	}
	meta.RawSetString("__newindex", L.NewFunction(newindex))
	if pairs != nil {
		meta.RawSetString("__pairs", L.NewFunction(pairs))
	}
	meta.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(t, meta)
	return t
}

func readOnly(L *lua.LState) int {
	L.RaiseError("lua table is read-only")
	return 0
}

// pairsOf returns a pairs() iterator over a snapshot of key/value pairs.
func pairsOf(L *lua.LState, kv []string) int {
	i := 0
	L.Push(L.NewFunction(func(L *lua.LState) int {
		if i+1 >= len(kv) {
			return 0
		}
		L.Push(lua.LString(kv[i]))
		L.Push(lua.LString(kv[i+1]))
		i += 2
		return 2
	}))
	return 1
}

// optString is lighttpd's magnet_checkconstbuffer: nil or none is "", a
// string or number its text, anything else an argument error.
func optString(L *lua.LState, n int) (string, bool) {
	switch v := L.Get(n).(type) {
	case *lua.LNilType:
		return "", false
	case lua.LString:
		return string(v), true
	case lua.LNumber:
		return v.String(), true
	}
	L.ArgError(n, "string expected, got "+L.Get(n).Type().String())
	return "", false
}

// newRequestTable builds lighty.r for the request get returns (the
// current one, or one lighty.server.irequests() walks).
func (st *state) newRequestTable(get func() *core.Request) *lua.LTable {
	L := st.L
	r := L.NewTable()
	r.RawSetString("req_header", st.object(
		func(L *lua.LState) int {
			L.Push(optLStr(requestHeader(get(), L.CheckString(2))))
			return 1
		},
		func(L *lua.LState) int {
			k := L.CheckString(2)
			v, _ := optString(L, 3)
			st.setRequestHeader(get(), k, v)
			return 0
		},
		func(L *lua.LState) int {
			rc := get()
			var kv []string
			for i := 0; i < rc.Header.Len(); i++ {
				if h := rc.Header.At(i); h.Value != "" {
					kv = append(kv, strings.Clone(h.Name), strings.Clone(h.Value))
				}
			}
			return pairsOf(L, kv)
		}))
	r.RawSetString("req_attr", st.object(
		func(L *lua.LState) int {
			L.Push(attrGet(get(), L.CheckString(2)))
			return 1
		},
		func(L *lua.LState) int {
			attrSet(L, get(), L.CheckString(2))
			return 0
		},
		func(L *lua.LState) int {
			rc := get()
			i := 0
			L.Push(L.NewFunction(func(L *lua.LState) int {
				if i >= len(attrNames) {
					return 0
				}
				name := attrNames[i]
				i++
				L.Push(lua.LString(name))
				L.Push(attrGet(rc, name))
				return 2
			}))
			return 1
		}))
	r.RawSetString("req_item", st.object(
		func(L *lua.LState) int { return itemGet(L, get(), L.CheckString(2)) },
		func(L *lua.LState) int {
			k := L.CheckString(2)
			v := L.CheckInt(3)
			if k != "keep_alive" {
				L.RaiseError("r.req_item['%s'] invalid or read-only", k)
			}
			if v == 0 || v == -1 {
				get().KeepAlive = false
			}
			return 0
		}, nil))
	r.RawSetString("req_env", st.object(
		func(L *lua.LState) int {
			rc := get()
			L.Push(optLStr(envGet(rc, L.CheckString(2))))
			return 1
		},
		func(L *lua.LState) int {
			rc := get()
			k, _ := optString(L, 2)
			if L.Get(3) == lua.LNil {
				rc.Env.Del(k)
				return 0
			}
			v, _ := optString(L, 3)
			rc.Env.Set(k, v)
			return 0
		},
		func(L *lua.LState) int {
			rc := get()
			var kv []string
			rc.Env.Each(func(n, v string) { kv = append(kv, strings.Clone(n), strings.Clone(v)) })
			return pairsOf(L, kv)
		}))
	r.RawSetString("resp_header", st.object(
		func(L *lua.LState) int {
			rc := get()
			L.Push(optLStr(responseHeader(rc, L.CheckString(2))))
			return 1
		},
		func(L *lua.LState) int {
			k, _ := optString(L, 2)
			v, _ := optString(L, 3)
			setResponseHeader(get(), k, v)
			return 0
		},
		func(L *lua.LState) int {
			rc := get()
			var kv []string
			rc.Resp.Header.Each(func(n, v string) { kv = append(kv, strings.Clone(n), strings.Clone(v)) })
			return pairsOf(L, kv)
		}))
	r.RawSetString("resp_body", st.object(func(L *lua.LState) int { return st.respBody(L, get()) }, nil, nil))
	r.RawSetString("req_body", st.object(func(L *lua.LState) int { return st.reqBody(L, get()) }, nil, nil))
	meta := L.NewTable()
	meta.RawSetString("__newindex", L.NewFunction(readOnly))
	meta.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(r, meta)
	return r
}

// optLStr pushes a copy of s, or nil when absent.
func optLStr(s string, ok bool) lua.LValue {
	if !ok {
		return lua.LNil
	}
	return lstr(s)
}

// requestHeader returns a request header as lighttpd stores it: repeated
// fields joined with ", " ("; " for Cookie).
func requestHeader(rc *core.Request, name string) (string, bool) {
	var out string
	found := false
	sep := ", "
	if strings.EqualFold(name, "Cookie") {
		sep = "; "
	}
	for i := 0; i < rc.Header.Len(); i++ {
		h := rc.Header.At(i)
		if h.Value == "" || !strings.EqualFold(h.Name, name) {
			continue
		}
		if found {
			out += sep + h.Value
		} else {
			out, found = h.Value, true
		}
	}
	return out, found
}

// setRequestHeader is lighttpd's magnet_reqhdr_set: Host cannot be unset
// and is lower-cased; Content-Length, Connection, Transfer-Encoding and
// Set-Cookie are not changed; an empty value removes the header.
func (st *state) setRequestHeader(rc *core.Request, k, v string) {
	switch strings.ToLower(k) {
	case "host":
		if v == "" {
			return
		}
		v = strings.ToLower(v)
		rc.Header.Del("Host")
		rc.Header.Set("Host", v)
		st.host = v
		return
	case "content-length", "connection", "transfer-encoding", "set-cookie":
		return
	}
	rc.Header.Del(k)
	if v != "" {
		rc.Header.Set(k, v)
	}
	rc.ResetConditions()
}

func responseHeader(rc *core.Request, name string) (string, bool) {
	v := rc.Resp.Header.Get(name)
	return v, v != ""
}

// setResponseHeader is lighttpd's magnet_resphdr_set_kv: Content-Length,
// Connection and Transfer-Encoding belong to the server; an empty value
// removes the header.
func setResponseHeader(rc *core.Request, k, v string) {
	switch strings.ToLower(k) {
	case "content-length", "connection", "transfer-encoding":
		return
	}
	if v == "" {
		rc.Resp.Header.Del(k)
		return
	}
	rc.Resp.Header.Del(k)
	rc.Resp.Header.Set(k, v)
}

func envGet(rc *core.Request, name string) (string, bool) {
	for i := 0; i < rc.Env.Len(); i++ {
		if h := rc.Env.At(i); h.Value != "" && h.Name == name {
			return h.Value, true
		}
	}
	return "", false
}

// attrNames are the keys of lighty.r.req_attr (lighty.env), in lighttpd's
// order.
var attrNames = []string{
	"physical.path", "physical.rel-path", "physical.doc-root", "physical.basedir",
	"uri.path", "uri.path-raw", "uri.scheme", "uri.authority", "uri.query",
	"request.method", "request.uri", "request.orig-uri", "request.path-info",
	"request.remote-ip", "request.remote-addr", "request.remote-port",
	"request.server-addr", "request.server-port", "request.protocol",
	"request.server-name", "request.stage",
}

// attrGet reads a request attribute; nil for an unknown key and for
// attributes not set (yet).
func attrGet(rc *core.Request, k string) lua.LValue {
	opt := func(s string) lua.LValue {
		if s == "" {
			return lua.LNil
		}
		return lstr(s)
	}
	switch k {
	case "physical.path":
		return opt(rc.Phys.Path)
	case "physical.rel-path":
		return opt(rc.Phys.RelPath)
	case "physical.doc-root":
		return opt(rc.Phys.DocRoot)
	case "physical.basedir":
		return opt(rc.Phys.BasePath)
	case "uri.path":
		return lstr(rc.URI.Path)
	case "uri.path-raw":
		return lstr(rc.URI.PathRaw)
	case "uri.scheme":
		return lstr(rc.URI.Scheme)
	case "uri.authority":
		return lstr(rc.URI.Authority)
	case "uri.query":
		if rc.URI.Query == "" && !strings.Contains(rc.URI.Target, "?") {
			return lua.LNil
		}
		return lstr(rc.URI.Query)
	case "request.method":
		return lstr(rc.Method)
	case "request.uri":
		return lstr(rc.URI.Target)
	case "request.orig-uri":
		return lstr(rc.Target)
	case "request.path-info":
		return opt(rc.PathInfo)
	case "request.remote-ip", "request.remote-addr":
		return lstr(rc.Conn.RemoteIP)
	case "request.remote-port":
		return lua.LString(strconv.Itoa(rc.Conn.RemotePort))
	case "request.server-addr":
		return lstr(rc.Conn.LocalIP)
	case "request.server-port":
		return lua.LString(strconv.Itoa(rc.Conn.LocalPort))
	case "request.protocol":
		if rc.Proto == 11 {
			return lua.LString("HTTP/1.1")
		}
		return lua.LString("HTTP/1.0")
	case "request.server-name":
		if rc.Conf.ServerName != "" {
			return lstr(rc.Conf.ServerName)
		}
		return lstr(rc.URI.Authority)
	case "request.stage":
		return lua.LString("handle-req")
	}
	return lua.LNil
}

// attrSet writes a request attribute as lighttpd's magnet_env_set: the URL
// parts take effect at once (conditions see them), request.uri on a
// restart; attributes lighttpd computes per read (method, protocol, ...)
// ignore writes; an unknown key is an error.
func attrSet(L *lua.LState, rc *core.Request, k string) {
	v, _ := optString(L, 3)
	switch k {
	case "uri.path-raw":
		q := ""
		if i := strings.IndexByte(rc.URI.Target, '?'); i >= 0 {
			q = rc.URI.Target[i:]
		}
		rc.URI.Target = v + q
	case "request.remote-ip", "request.remote-addr":
		if _, err := netip.ParseAddr(v); err != nil && !strings.HasPrefix(v, "/") {
			L.RaiseError("r.req_attr['remote-addr'] invalid addr: %s", v)
		}
		rc.Conn.RemoteIP = v
		rc.ResetConditions()
	case "request.remote-port":
		n, _ := strconv.Atoi(leadingDigits(v))
		rc.Conn.RemotePort = n & 0xffff
	case "physical.path":
		rc.Phys.Path = v
	case "physical.rel-path":
		rc.Phys.RelPath = v
	case "physical.doc-root":
		rc.Phys.DocRoot = v
	case "physical.basedir":
		rc.Phys.BasePath = v
	case "uri.path":
		rc.URI.Path = v
		rc.ResetConditions()
	case "uri.scheme":
		rc.URI.Scheme = strings.ToLower(v)
		rc.ResetConditions()
	case "uri.authority":
		rc.URI.Authority = strings.ToLower(v)
		rc.ResetConditions()
	case "uri.query":
		// As in lighttpd, request.uri keeps its query.
		rc.URI.Query = v
		rc.ResetConditions()
	case "request.uri":
		rc.URI.Target = v
	case "request.orig-uri":
		rc.Target = v
	case "request.path-info":
		rc.PathInfo = v
	case "request.method", "request.server-addr", "request.server-port", "request.protocol",
		"request.server-name", "request.stage":
		// computed when read; lighttpd drops the write too
	default:
		L.RaiseError("couldn't store '%s' in r.req_attr[]", k)
	}
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// itemGet reads lighty.r.req_item.
func itemGet(L *lua.LState, rc *core.Request, k string) int {
	switch k {
	case "bytes_in":
		L.Push(lua.LNumber(rc.HeadLen) + lua.LNumber(rc.BodyRead))
	case "bytes_out":
		L.Push(lua.LNumber(rc.Resp.Written()))
	case "stream_id":
		L.Push(lua.LNumber(0))
	case "req_count":
		L.Push(lua.LNumber(rc.Conn.Requests + 1))
	case "start_time":
		sec, nsec := rc.Start.Unix(), rc.Start.Nanosecond()
		L.Push(L.NewFunction(func(L *lua.LState) int {
			L.Push(lua.LNumber(sec))
			L.Push(lua.LNumber(nsec))
			return 2
		}))
	case "keep_alive":
		if rc.KeepAlive {
			L.Push(lua.LNumber(1))
		} else {
			L.Push(lua.LNumber(0))
		}
	case "http_status":
		L.Push(lua.LNumber(rc.Resp.Status))
	case "req_header_len":
		L.Push(lua.LNumber(rc.HeadLen))
	case "resp_header_len":
		L.Push(lua.LNumber(0))
	default:
		L.RaiseError("r.req_item['%s'] invalid", k)
	}
	return 1
}

// respBody is lighty.r.resp_body: add() and set() take a string or a table
// of strings and {filename=, offset=, length=} file ranges; get() and len
// read a complete body.
func (st *state) respBody(L *lua.LState, rc *core.Request) int {
	k := L.CheckString(2)
	switch k {
	case "add", "set":
		if k == "set" {
			rc.Resp.ClearBody()
		}
		L.Push(L.NewFunction(func(L *lua.LState) int {
			L.Push(lua.LBool(st.addBody(L, rc, L.Get(-1), false)))
			return 1
		}))
	case "get":
		b, ok, err := rc.Resp.ReadBody()
		switch {
		case err != nil:
			L.RaiseError("reading the response body: %v", err)
		case !ok:
			L.Push(lua.LNil)
		default:
			L.Push(lua.LString(b))
		}
	case "len":
		if n, ok := rc.Resp.BodyLen(); ok {
			L.Push(lua.LNumber(n))
		} else {
			L.Push(lua.LNil)
		}
	case "bytes_in":
		n, _ := rc.Resp.BodyLen()
		L.Push(lua.LNumber(n))
	case "bytes_out":
		L.Push(lua.LNumber(rc.Resp.Written()))
	default:
		L.RaiseError("r.resp_body invalid method or param")
	}
	return 1
}

// addBody appends v to the response body. legacy selects lighty.content's
// meaning of "length" (an end offset, not a length) and its errors.
func (st *state) addBody(L *lua.LState, rc *core.Request, v lua.LValue, legacy bool) bool {
	switch x := v.(type) {
	case lua.LString, lua.LNumber:
		rc.Resp.AppendBody([]byte(lua.LVAsString(x)))
		return true
	case *lua.LTable:
		n := x.Len()
		for i := 1; i <= n; i++ {
			e := x.RawGetInt(i)
			switch p := e.(type) {
			case lua.LString, lua.LNumber:
				rc.Resp.AppendBody([]byte(lua.LVAsString(p)))
				continue
			case *lua.LTable:
				if !st.addFile(rc, p, i, legacy) {
					return true
				}
				continue
			case *lua.LNilType:
				return true
			}
			if legacy {
				rc.Logf("content[%d] is neither a string nor a table", i)
			} else {
				rc.Logf("body[%d] is neither a string nor a table", i)
			}
			return true
		}
		return true
	}
	return false
}

// addFile appends {filename=, offset=, length=}; it reports whether to go
// on with the next element.
func (st *state) addFile(rc *core.Request, t *lua.LTable, i int, legacy bool) bool {
	fn, ok := t.RawGetString("filename").(lua.LString)
	if !ok {
		if legacy {
			rc.Logf("content[%d] is a table and field \"filename\" must be a string", i)
		} else {
			rc.Logf("body[%d] table field \"filename\" must be a string", i)
		}
		return false
	}
	num := func(name string, def int64) (int64, bool) {
		switch v := t.RawGetString(name).(type) {
		case *lua.LNilType:
			return def, true
		case lua.LNumber:
			return int64(v), true
		case lua.LString:
			n, err := strconv.ParseFloat(strings.TrimSpace(string(v)), 64)
			return int64(n), err == nil
		}
		return def, false
	}
	off, okOff := num("offset", 0)
	end, okLen := num("length", -1)
	path := string(fn)
	var size int64 = -1
	if e, err := rc.Stat(path); err == nil && e.IsRegular() {
		size = e.Size
	}
	if legacy {
		if !okOff {
			off = 0
			rc.Logf("content[%d] is a table and field \"offset\" must be an integer", i)
		}
		if !okLen {
			end = -1
			rc.Logf("content[%d] is a table and field \"length\" must be an integer", i)
		}
		n := end // "length" is the end offset here
		switch {
		case off < 0:
			rc.Logf("offset for '%s' is negative", path)
			return false
		case n >= off:
			n -= off
		case n != -1:
			rc.Logf("offset > length for '%s'", path)
			return false
		}
		if n == 0 {
			return true
		}
		if size < 0 {
			rc.Logf("error opening file content '%s' at offset %d", path, off)
			return false
		}
		if n == -1 || size-off < n {
			n = size - off
		}
		if n > 0 {
			if err := rc.AppendBodyFile(path, off, n); err != nil {
				rc.Logf("error opening file content '%s' at offset %d", path, off)
				return false
			}
		}
		return true
	}
	if size < 0 {
		rc.Logf("error opening file '%s'", path)
		return false
	}
	switch {
	case off > size:
		off = size
	case off < 0:
		off = max(size-off, 0) // lighttpd's arithmetic: past the end
	}
	n := end
	if n < 0 || size-off < n {
		n = size - off
	}
	if n > 0 {
		if err := rc.AppendBodyFile(path, off, n); err != nil {
			rc.Logf("error opening file '%s'", path)
			return false
		}
	}
	return true
}

// attachLegacyContent applies lighty.content (the old API) for a status.
func (st *state) attachLegacyContent() {
	c, ok := st.result.RawGetString("content").(*lua.LTable)
	if !ok {
		return
	}
	st.rc.Resp.ClearBody()
	st.addBody(st.L, st.rc, c, true)
}

// reqBody is lighty.r.req_body: the request body read into memory
// (collect), read (get) and replaced (set, add).
func (st *state) reqBody(L *lua.LState, rc *core.Request) int {
	k := L.CheckString(2)
	switch k {
	case "collect":
		if !st.hasBody {
			if err := st.collect(rc); err != nil {
				rc.Logf("unable to collect request body: %v", err)
				L.Push(lua.LNil)
				return 1
			}
		}
		L.Push(lua.LTrue)
	case "get":
		if !st.hasBody {
			L.Push(lua.LNil)
		} else {
			L.Push(lua.LString(st.body))
		}
	case "len":
		if st.hasBody {
			L.Push(lua.LNumber(len(st.body)))
		} else {
			L.Push(lua.LNumber(max(rc.BodyLength, 0)))
		}
	case "bytes_in":
		L.Push(lua.LNumber(rc.BodyRead))
	case "bytes_out":
		L.Push(lua.LNumber(0))
	case "add", "set":
		if !st.hasBody {
			L.Push(lua.LNil)
			return 1
		}
		if k == "set" {
			st.body = nil
		}
		L.Push(L.NewFunction(func(L *lua.LState) int {
			ok := true
			switch v := L.Get(-1).(type) {
			case lua.LString, lua.LNumber:
				st.body = append(st.body, lua.LVAsString(v)...)
			case *lua.LTable:
				for i := 1; i <= v.Len(); i++ {
					e := v.RawGetInt(i)
					if !isString(e) {
						if e != lua.LNil {
							rc.Logf("body[%d] table must contain strings", i)
						}
						break
					}
					st.body = append(st.body, lua.LVAsString(e)...)
				}
			default:
				ok = false
			}
			st.replaceBody(rc)
			L.Push(lua.LBool(ok))
			return 1
		}))
	default:
		L.RaiseError("r.req_body invalid method or param")
	}
	return 1
}

// collect reads the whole request body; later handlers read it from memory.
func (st *state) collect(rc *core.Request) error {
	st.hasBody = true
	if rc.Body == nil || rc.BodyLength == 0 {
		return nil
	}
	b, err := io.ReadAll(rc.Body)
	rc.BodyRead = int64(len(b))
	if err != nil {
		rc.KeepAlive = false
		return err
	}
	st.body = b
	st.replaceBody(rc)
	return nil
}

func (st *state) replaceBody(rc *core.Request) {
	b := append([]byte(nil), st.body...)
	rc.Body = strings.NewReader(string(b))
	rc.BodyLength = int64(len(b))
	rc.Header.Del("Transfer-Encoding")
	rc.Header.Set("Content-Length", strconv.Itoa(len(b)))
}

var processStart = time.Now()
