package magnet

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"hash"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/httpfile"
	lua "github.com/yuin/gopher-lua"
)

// newCTable builds lighty.c, the helpers lighttpd 1.4.69 provides.
func (st *state) newCTable() *lua.LTable {
	L := st.L
	c := L.NewTable()
	reg := func(name string, f lua.LGFunction) { c.RawSetString(name, L.NewFunction(f)) }
	// String helpers: nil or none gives "", "" gives "" back; a failed
	// decode gives nothing (pushNil: nil).
	strHelper := func(name string, f func(string) (string, bool), pushNil bool) {
		reg(name, func(L *lua.LState) int {
			if L.Get(-1) == lua.LNil || L.GetTop() == 0 {
				L.Push(lua.LString(""))
				return 1
			}
			s, _ := optString(L, L.GetTop())
			if s == "" {
				L.Push(lua.LString(""))
				return 1
			}
			out, ok := f(s)
			switch {
			case ok:
				L.Push(lua.LString(out))
			case pushNil:
				L.Push(lua.LNil)
			default:
				return 0
			}
			return 1
		})
	}
	str1 := func(name string, f func(string) (string, bool)) { strHelper(name, f, false) }
	always := func(f func(string) string) func(string) (string, bool) {
		return func(s string) (string, bool) { return f(s), true }
	}
	reg("stat", func(L *lua.LState) int { return st.stat(L) })
	reg("time", func(L *lua.LState) int {
		L.Push(lua.LNumber(time.Now().Unix()))
		return 1
	})
	reg("hrtime", func(L *lua.LState) int {
		t := time.Now()
		L.Push(lua.LNumber(t.Unix()))
		L.Push(lua.LNumber(t.Nanosecond()))
		return 2
	})
	reg("rand", func(L *lua.LState) int {
		L.Push(lua.LNumber(rand.Int32()))
		return 1
	})
	reg("md", func(L *lua.LState) int {
		if L.GetTop() != 2 {
			L.RaiseError("lighty.c.md(algo, data): incorrect number of arguments")
		}
		algo, _ := optString(L, 1)
		data, _ := optString(L, 2)
		h := newHash(algo)
		if h == nil {
			L.Push(lua.LNil)
			return 1
		}
		h.Write([]byte(data))
		L.Push(lua.LString(hexEncode(string(h.Sum(nil)))))
		return 1
	})
	reg("hmac", func(L *lua.LState) int {
		if L.GetTop() != 3 {
			L.RaiseError("lighty.c.hmac(algo, secret, data): incorrect number of arguments")
		}
		algo, _ := optString(L, 1)
		secret, _ := optString(L, 2)
		data, _ := optString(L, 3)
		L.Push(lua.LString(hexEncode(keyedHash(algo, secret, data))))
		if algo != "md5" && newHash(algo) == nil {
			L.Pop(1)
			L.Push(lua.LNil)
		}
		return 1
	})
	reg("digest_eq", func(L *lua.LState) int {
		if L.GetTop() != 2 {
			L.RaiseError("lighty.c.digest_eq(d1, d2): incorrect number of arguments")
		}
		a, _ := optString(L, 1)
		b, _ := optString(L, 2)
		L.Push(lua.LBool(digestEqual(a, b)))
		return 1
	})
	reg("secret_eq", func(L *lua.LState) int {
		if L.GetTop() != 2 {
			L.RaiseError("lighty.c.secret_eq(d1, d2): incorrect number of arguments")
		}
		a, _ := optString(L, 1)
		b, _ := optString(L, 2)
		L.Push(lua.LBool(subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1))
		return 1
	})
	strHelper("b64urldec", func(s string) (string, bool) { return b64Decode(s, true) }, true)
	str1("b64urlenc", always(func(s string) string { return b64Encode(s, true) }))
	strHelper("b64dec", func(s string) (string, bool) { return b64Decode(s, false) }, true)
	str1("b64enc", always(func(s string) string { return b64Encode(s, false) }))
	str1("hexdec", hexDecode)
	str1("hexenc", always(hexEncode))
	str1("xmlenc", always(xmlEncode))
	str1("urldec", always(urlDecode))
	str1("urlenc", always(urlEncode))
	str1("urlenc_normalize", always(urlNormalize))
	str1("fspath_simplify", always(pathSimplify))
	str1("quotedenc", always(quotedEncode))
	str1("bsdec", always(bsDecode))
	// lighttpd 1.4.69 has these two swapped: bsenc escapes for JSON,
	// bsenc_json with \xHH.
	str1("bsenc", always(func(s string) string { return bsEncode(s, true) }))
	str1("bsenc_json", always(func(s string) string { return bsEncode(s, false) }))
	reg("quoteddec", func(L *lua.LState) int {
		if L.Get(-1) == lua.LNil || L.GetTop() == 0 {
			L.Push(lua.LString(""))
			return 1
		}
		s, _ := optString(L, L.GetTop())
		out, ok := quotedDecode(s)
		if !ok {
			return 0
		}
		L.Push(lua.LString(out))
		return 1
	})
	reg("urldec_query", func(L *lua.LState) int {
		t := L.NewTable()
		if s, _ := optString(L, 1); s != "" {
			for _, kv := range queryDecode(s) {
				t.RawSetString(kv[0], lua.LString(kv[1]))
			}
		}
		L.Push(t)
		return 1
	})
	reg("urlenc_query", func(L *lua.LState) int {
		t, ok := L.Get(1).(*lua.LTable)
		if !ok {
			L.Push(lua.LString(""))
			return 1
		}
		var b strings.Builder
		t.ForEach(func(k, v lua.LValue) {
			if !isString(k) {
				return
			}
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			queryEncodePart(&b, lua.LVAsString(k), true)
			if v != lua.LNil {
				if !isString(v) {
					L.ArgError(1, "string expected, got "+v.Type().String())
				}
				b.WriteByte('=')
				queryEncodePart(&b, lua.LVAsString(v), false)
			}
		})
		L.Push(lua.LString(b.String()))
		return 1
	})
	reg("cookie_tokens", func(L *lua.LState) int {
		t := L.NewTable()
		if L.Get(1) != lua.LNil {
			for _, kv := range cookieTokens(L.CheckString(1)) {
				t.RawSetString(kv[0], lua.LString(kv[1]))
			}
		}
		L.Push(t)
		return 1
	})
	reg("header_tokens", func(L *lua.LState) int {
		t := L.NewTable()
		if L.Get(1) != lua.LNil {
			for _, tok := range headerTokens(L.CheckString(1)) {
				t.Append(lua.LString(tok))
			}
		}
		L.Push(t)
		return 1
	})
	reg("readdir", func(L *lua.LState) int {
		f, err := os.Open(L.CheckString(1))
		if err != nil {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(L.NewFunction(func(L *lua.LState) int {
			if f == nil {
				return 0
			}
			names, err := f.Readdirnames(1)
			if err != nil || len(names) == 0 {
				f.Close()
				f = nil
				return 0
			}
			L.Push(lua.LString(names[0]))
			return 1
		}))
		return 1
	})
	meta := L.NewTable()
	meta.RawSetString("__newindex", L.NewFunction(readOnly))
	meta.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(c, meta)
	return c
}

func newHash(algo string) hash.Hash {
	switch algo {
	case "md5":
		return md5.New()
	case "sha1":
		return sha1.New()
	case "sha256":
		return sha256.New()
	case "sha512":
		return sha512.New()
	}
	return nil
}

// keyedHash is lighttpd's li_hmac_*: HMAC for the SHA family, but for
// "md5" plainly MD5(secret || data), as mod_secdownload's md5 links use it.
func keyedHash(algo, secret, data string) string {
	if algo == "md5" {
		h := md5.Sum([]byte(secret + data))
		return string(h[:])
	}
	if newHash(algo) == nil {
		return ""
	}
	m := hmac.New(func() hash.Hash { return newHash(algo) }, []byte(secret))
	m.Write([]byte(data))
	return string(m.Sum(nil))
}

// digestEqual compares two hex digests of equal length in constant time,
// case-insensitively; invalid hex or more than 128 digits never match.
func digestEqual(a, b string) bool {
	if len(a) != len(b) || len(a) > 128 {
		return false
	}
	da, ok1 := hexDecode(a)
	db, ok2 := hexDecode(b)
	return ok1 && ok2 && subtle.ConstantTimeCompare([]byte(da), []byte(db)) == 1
}

// stat is lighty.c.stat: a read-only object with the file's stat fields,
// or nil.
func (st *state) stat(L *lua.LState) int {
	path, _ := optString(L, 1)
	if path == "" || st.rc == nil {
		L.Push(lua.LNil)
		return 1
	}
	rc := st.rc
	e, err := rc.Stat(path)
	if err != nil {
		L.Push(lua.LNil)
		return 1
	}
	path = e.Path
	var sys syscall.Stat_t
	full := false
	fullStat := func() *syscall.Stat_t {
		if !full {
			syscall.Stat(path, &sys)
			full = true
		}
		return &sys
	}
	ud := L.NewUserData()
	meta := L.NewTable()
	meta.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		k := L.CheckString(2)
		m := e.Mode
		pair := func(a, b int64) {
			L.Push(L.NewFunction(func(L *lua.LState) int {
				L.Push(lua.LNumber(a))
				L.Push(lua.LNumber(b))
				return 2
			}))
		}
		switch k {
		case "is_file":
			L.Push(lua.LBool(m.IsRegular()))
		case "is_dir":
			L.Push(lua.LBool(m.IsDir()))
		case "is_char":
			L.Push(lua.LBool(m&os.ModeCharDevice != 0))
		case "is_block":
			L.Push(lua.LBool(m&os.ModeDevice != 0 && m&os.ModeCharDevice == 0))
		case "is_socket":
			L.Push(lua.LBool(m&os.ModeSocket != 0))
		case "is_link":
			L.Push(lua.LBool(m&os.ModeSymlink != 0))
		case "is_fifo":
			L.Push(lua.LBool(m&os.ModeNamedPipe != 0))
		case "st_mtime":
			L.Push(lua.LNumber(e.MtimeSec))
		case "st_mtim":
			pair(e.MtimeSec, e.MtimeNsec)
		case "st_ctime":
			L.Push(lua.LNumber(fullStat().Ctim.Sec))
		case "st_ctim":
			s := fullStat()
			pair(s.Ctim.Sec, s.Ctim.Nsec)
		case "st_atime":
			L.Push(lua.LNumber(fullStat().Atim.Sec))
		case "st_atim":
			s := fullStat()
			pair(s.Atim.Sec, s.Atim.Nsec)
		case "st_uid":
			L.Push(lua.LNumber(fullStat().Uid))
		case "st_gid":
			L.Push(lua.LNumber(fullStat().Gid))
		case "st_size":
			L.Push(lua.LNumber(e.Size))
		case "st_ino":
			L.Push(lua.LNumber(e.Ino))
		case "st_mode":
			L.Push(lua.LNumber(fullStat().Mode))
		case "content-type":
			ct, ok := rc.Conf.Mime.Lookup(path)
			if !ok {
				L.Push(lua.LNil)
			} else {
				L.Push(lua.LString(ct))
			}
		case "etag":
			cf := &rc.Conf
			flags := httpfile.ETagFlagsFromConfig(true, cf.ETagInode, cf.ETagMtime, cf.ETagSize)
			if tag := e.ETag(flags); tag != "" {
				L.Push(lua.LString(tag))
			} else {
				L.Push(lua.LNil)
			}
		case "http-response-send-file":
			rc.Resp.ClearBody()
			rc.Resp.Status = 0
			rc.SendFile(path)
			L.Push(lua.LNumber(rc.Resp.Status))
		default:
			L.RaiseError("stat[\"field\"] invalid: %s", k)
		}
		return 1
	}))
	meta.RawSetString("__newindex", L.NewFunction(readOnly))
	meta.RawSetString("__pairs", L.NewFunction(func(L *lua.LState) int {
		rc.Logf("(lua) pairs() not implemented on lighty.stat object; returning empty iter")
		L.Push(L.NewFunction(func(*lua.LState) int { return 0 }))
		return 1
	}))
	meta.RawSetString("__metatable", lua.LFalse)
	ud.Metatable = meta
	L.Push(ud)
	return 1
}

// pluginStats are lighty.status / lighty.server.plugin_stats: counters
// scripts keep across requests (process-wide, as lighttpd's).
var pluginStats = struct {
	sync.Mutex
	m map[string]int64
}{m: map[string]int64{}}

// newServerTable builds lighty.server.
func (st *state) newServerTable() *lua.LTable {
	L := st.L
	srv := L.NewTable()
	srv.RawSetString("plugin_stats", st.object(
		func(L *lua.LState) int {
			k, _ := optString(L, 2)
			pluginStats.Lock()
			v := pluginStats.m[k]
			pluginStats.Unlock()
			L.Push(lua.LNumber(v))
			return 1
		},
		func(L *lua.LState) int {
			k, _ := optString(L, 2)
			v := L.CheckInt64(3)
			pluginStats.Lock()
			pluginStats.m[strings.Clone(k)] = v
			pluginStats.Unlock()
			return 0
		},
		func(L *lua.LState) int {
			pluginStats.Lock()
			keys := make([]string, 0, len(pluginStats.m))
			for k := range pluginStats.m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			vals := make([]int64, len(keys))
			for i, k := range keys {
				vals[i] = pluginStats.m[k]
			}
			pluginStats.Unlock()
			i := 0
			L.Push(L.NewFunction(func(L *lua.LState) int {
				if i >= len(keys) {
					return 0
				}
				L.Push(lua.LString(keys[i]))
				L.Push(lua.LNumber(vals[i]))
				i++
				return 2
			}))
			return 1
		}))
	srv.RawSetString("stats", st.object(func(L *lua.LState) int {
		k := L.CheckString(2)
		switch k {
		case "uptime":
			L.Push(lua.LNumber(int64(time.Since(processStart).Seconds())))
		case "version":
			L.Push(lua.LString(core.ServerTag))
		case "clients_open":
			L.Push(lua.LNumber(st.rc.OpenConnections()))
		default:
			L.RaiseError("server.stats['%s'] invalid", k)
		}
		return 1
	}, nil, nil))
	srv.RawSetString("irequests", L.NewFunction(func(L *lua.LState) int { return st.irequests(L) }))
	meta := L.NewTable()
	meta.RawSetString("__newindex", L.NewFunction(readOnly))
	meta.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(srv, meta)
	return srv
}

// irequests is lighty.server.irequests(): an iterator over the server's
// connections, each as a request object. golighty gives other requests'
// connection data only (remote and local address and port, stage): their
// headers and state belong to other goroutines. The current request is
// complete.
func (st *state) irequests(L *lua.LState) int {
	rc := st.rc
	var conns []core.ConnSummary
	rc.EachConnection(func(c core.ConnSummary) bool {
		conns = append(conns, c)
		return true
	})
	i := 0
	var cur core.ConnSummary
	obj := L.NewTable()
	attr := st.object(func(L *lua.LState) int {
		k := L.CheckString(2)
		switch k {
		case "request.remote-ip", "request.remote-addr":
			L.Push(lua.LString(cur.RemoteIP))
		case "request.remote-port":
			L.Push(lua.LNumber(cur.RemotePort))
		case "request.server-addr":
			L.Push(lua.LString(cur.LocalIP))
		case "request.server-port":
			L.Push(lua.LNumber(cur.LocalPort))
		case "request.stage":
			if cur.Idle {
				L.Push(lua.LString("keep-alive"))
			} else {
				L.Push(lua.LString("handle-req"))
			}
		default:
			L.Push(lua.LNil)
		}
		return 1
	}, nil, nil)
	obj.RawSetString("req_attr", attr)
	L.Push(L.NewFunction(func(L *lua.LState) int {
		if i >= len(conns) {
			return 0
		}
		cur = conns[i]
		i++
		L.Push(obj)
		return 1
	}))
	return 1
}
