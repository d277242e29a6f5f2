// Package setenv is lighttpd's mod_setenv: it adds or sets request headers,
// response headers and backend environment variables.
//
// As in lighttpd, the settings of a request are captured once, the first
// time the uri_clean hook runs for it; an internal restart (url.rewrite,
// error handlers) neither applies the request headers twice nor changes the
// response headers chosen for the original request. A request that ends
// before uri_clean (a 400 from the parser, a 403 from a module listed before
// mod_setenv) gets no setenv response headers.
package setenv

import (
	"strings"

	"github.com/golighty/golighty/core"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_setenv", New: func() core.Module { return &Module{} }})
}

type conf struct {
	addReq, setReq   []core.KV
	addResp, setResp []core.KV
	addEnv, setEnv   []core.KV
}

// Module is one loaded mod_setenv.
type Module struct {
	table *core.Table[conf]
	// captured holds the settings captured at a request's first uri_clean
	// (lighttpd's handler_ctx), so restarts neither apply them twice nor
	// switch to the new URL's settings.
	captured core.Slot[conf]
}

var (
	_ core.URICleanHook      = (*Module)(nil)
	_ core.ResponseStartHook = (*Module)(nil)
)

// Setup binds the six setenv.* keys.
func (m *Module) Setup(sc *core.SetupContext) error {
	m.captured = core.NewSlot[conf](sc)
	header := func(set func(*conf, []core.KV)) func(core.Value) (func(*conf), error) {
		return func(v core.Value) (func(*conf), error) {
			kv := make([]core.KV, len(v.KVs()))
			for i, p := range v.KVs() {
				kv[i] = core.KV{Key: p.Key, Value: PrepareHeaderValue(p.Value)}
				if strings.ContainsAny(kv[i].Value, "\r\n") {
					sc.Warn(v.Pos, "WARNING: setenv.*-header contains CR and/or NL (invalid): %s: %s", kv[i].Key, kv[i].Value)
					sc.Warn(v.Pos, "Use mod_magnet for finer control of request, response headers.")
				}
			}
			return func(c *conf) { set(c, kv) }, nil
		}
	}
	env := func(set func(*conf, []core.KV)) func(core.Value) (func(*conf), error) {
		return func(v core.Value) (func(*conf), error) {
			kv := v.KVs()
			return func(c *conf) { set(c, kv) }, nil
		}
	}
	var err error
	m.table, err = core.Bind(sc, conf{}, []core.Key[conf]{
		{Name: "setenv.add-request-header", Type: core.TypeKV, Bind: header(func(c *conf, kv []core.KV) { c.addReq = kv })},
		{Name: "setenv.add-response-header", Type: core.TypeKV, Bind: header(func(c *conf, kv []core.KV) { c.addResp = kv })},
		{Name: "setenv.add-environment", Type: core.TypeKV, Bind: env(func(c *conf, kv []core.KV) { c.addEnv = kv })},
		{Name: "setenv.set-request-header", Type: core.TypeKV, Bind: header(func(c *conf, kv []core.KV) { c.setReq = kv })},
		{Name: "setenv.set-response-header", Type: core.TypeKV, Bind: header(func(c *conf, kv []core.KV) { c.setResp = kv })},
		{Name: "setenv.set-environment", Type: core.TypeKV, Bind: env(func(c *conf, kv []core.KV) { c.setEnv = kv })},
	})
	return err
}

// PrepareHeaderValue applies lighttpd's load-time clean-up of a header
// value: a CR or LF right after a comma becomes a space (a list written over
// several lines), then leading and trailing whitespace is cut.
func PrepareHeaderValue(v string) string {
	if strings.IndexByte(v, ',') >= 0 {
		b := []byte(v)
		for i := 0; i < len(b); i++ {
			if b[i] != ',' {
				continue
			}
			if i+1 < len(b) && b[i+1] == '\r' {
				i++
				b[i] = ' '
			}
			if i+1 < len(b) && b[i+1] == '\n' {
				i++
				b[i] = ' '
			}
		}
		v = string(b)
	}
	return strings.Trim(v, " \t\r\n")
}

// URIClean captures the settings once per request and applies the request
// headers (so later modules and backends see them) and the environment.
func (m *Module) URIClean(rc *core.Request) core.Result {
	if m.captured.Get(rc) != nil {
		return core.GoOn
	}
	c := m.table.Resolve(rc)
	m.captured.Set(rc, &c)
	for _, kv := range c.addReq {
		appendRequestHeader(&rc.Header, kv.Key, kv.Value)
	}
	for _, kv := range c.setReq {
		setField(&rc.Header, kv.Key, kv.Value)
	}
	// lighttpd applies the environment when a backend asks for it
	// (handle_request_env); the values are the ones captured here either way.
	for _, kv := range c.addEnv {
		appendEnv(&rc.Env, kv.Key, kv.Value)
	}
	for _, kv := range c.setEnv {
		rc.Env.Set(kv.Key, kv.Value)
	}
	return core.GoOn
}

// ResponseStart adds the response headers captured at uri_clean; it runs
// after the error document was generated, so errors get them too.
func (m *Module) ResponseStart(rc *core.Request) core.Result {
	st := m.captured.Get(rc)
	if st == nil {
		return core.GoOn
	}
	if rc.Resp.Status == 416 && !rc.Resp.Dynamic {
		// lighttpd evaluates Range after the response_start hooks; an
		// unsatisfiable range then replaces the response, and the headers
		// added here, with the 416 error document. The core decides 416
		// earlier, so leave the error document as lighttpd sends it.
		return core.GoOn
	}
	for _, kv := range st.addResp {
		InsertResponseHeader(&rc.Resp.Header, kv.Key, kv.Value)
	}
	for _, kv := range st.setResp {
		setField(&rc.Resp.Header, kv.Key, kv.Value)
	}
	return core.GoOn
}

// setField replaces every line of a field with one value in the field's
// first slot (lighttpd keeps repeated lines in one slot); an empty value
// removes the field.
func setField(h *core.Headers, name, value string) {
	h.Del(name)
	if value != "" {
		h.Set(name, value)
	}
}

// appendRequestHeader joins value to an existing field as a client's
// repeated header would be joined: ", " (Cookie: "; "). An empty value adds
// nothing.
func appendRequestHeader(h *core.Headers, name, value string) {
	if value == "" {
		return
	}
	old := h.Get(name)
	if old == "" {
		h.Set(name, value)
		return
	}
	sep := ", "
	if strings.EqualFold(name, "Cookie") {
		sep = "; "
	}
	h.Set(name, old+sep+value)
}

// appendEnv is lighttpd's env append: blank values are allowed, and a
// non-blank existing value gets ", " and the new one.
func appendEnv(h *core.Headers, name, value string) {
	if old := h.Get(name); old != "" {
		h.Set(name, old+", "+value)
		return
	}
	h.Set(name, value)
}

// InsertResponseHeader adds name: value as its own header line. When the
// field already has a value, lighttpd writes the new line right after the
// existing one(s) rather than at the end, so the list is rebuilt with the
// new field placed there; a deleted field's slot is reused.
func InsertResponseHeader(h *core.Headers, name, value string) {
	if value == "" {
		return
	}
	last := -1
	for i := 0; i < h.Len(); i++ {
		if f := h.At(i); f.Value != "" && strings.EqualFold(f.Name, name) {
			last = i
		}
	}
	if last < 0 {
		h.Set(name, value)
		return
	}
	if last == h.Len()-1 {
		h.Append(name, value)
		return
	}
	fields := make([]core.Header, h.Len())
	for i := range fields {
		fields[i] = h.At(i)
	}
	h.Reset()
	for i, f := range fields {
		h.Append(f.Name, f.Value)
		if i == last {
			h.Append(name, value)
		}
	}
}

// InlineHooks marks the module for HTTP/2 requests on the reader
// (core.InlineHooks): its hooks only set headers and variables.
func (*Module) InlineHooks() {}
