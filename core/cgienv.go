package core

import (
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/puzpuzpuz/xsync/v4"
)

// EnvSink receives CGI/1.1 variables in order (a FastCGI params buffer, a
// CGI child's environment, SCGI headers).
type EnvSink interface {
	Add(name, value string)
}

// IntSink is an EnvSink that formats a number into its own buffer
// (mod_fastcgi's parameters): REMOTE_PORT's string was one of the two
// allocations left per PHP request.
type IntSink interface {
	AddInt(name string, n int64)
}

// addInt adds n in decimal, through the sink's AddInt where it has one.
func addInt(env EnvSink, name string, n int64) {
	if s, ok := env.(IntSink); ok {
		s.AddInt(name, n)
		return
	}
	env.Add(name, strconv.FormatInt(n, 10))
}

// CGIOptions are the per-backend choices that shape the variables.
type CGIOptions struct {
	// DocRoot is the backend's "docroot" option ("" = unset).
	DocRoot string
	// StripRequestURI is removed from the front of REQUEST_URI.
	StripRequestURI string
	// BrokenScriptFilename appends PATH_INFO to SCRIPT_FILENAME (PHP's old
	// cgi.fix_pathinfo expectations).
	BrokenScriptFilename bool
	// Authorizer leaves out CONTENT_LENGTH, SCRIPT_NAME, PATH_INFO and
	// PATH_TRANSLATED.
	Authorizer bool
	// XSendfile advertises the handoff with X_SEND_RESPONSE_BODY_SUPPORTED=1,
	// the variable the 2005 patch's users set for their scripts.
	XSendfile bool
}

// CGIEnv emits the CGI/1.1 variables of rc in lighttpd's order and spelling
// (behaviors.md §7.3, src/http_cgi.c).
func (rc *Request) CGIEnv(env EnvSink, o *CGIOptions) {
	if !o.Authorizer {
		n := rc.BodyLength
		if n < 0 {
			n = rc.BodyRead
		}
		addInt(env, "CONTENT_LENGTH", n)
	}
	env.Add("QUERY_STRING", rc.URI.Query)
	uri := rc.Target
	if s := o.StripRequestURI; s != "" && len(uri) > len(s) && strings.HasPrefix(uri, s) && uri[len(s)] == '/' {
		uri = uri[len(s):]
	}
	env.Add("REQUEST_URI", uri)
	if rc.URI.Target != rc.Target {
		env.Add("REDIRECT_URI", rc.URI.Target)
	}
	if rc.ErrorStatus == 0 {
		env.Add("REDIRECT_STATUS", "200")
	}
	if !o.Authorizer {
		env.Add("SCRIPT_NAME", rc.URI.Path)
		if rc.PathInfo != "" {
			env.Add("PATH_INFO", rc.PathInfo)
			base := o.DocRoot
			if base == "" {
				base = rc.Phys.BasePath
			}
			env.Add("PATH_TRANSLATED", joinPath2(base, rc.PathInfo))
		}
	}
	if o.DocRoot != "" {
		env.Add("SCRIPT_FILENAME", joinPath2(o.DocRoot, rc.URI.Path))
		env.Add("DOCUMENT_ROOT", o.DocRoot)
	} else {
		if o.BrokenScriptFilename {
			env.Add("SCRIPT_FILENAME", joinPath2(rc.Phys.Path, rc.PathInfo))
		} else {
			env.Add("SCRIPT_FILENAME", rc.Phys.Path)
		}
		env.Add("DOCUMENT_ROOT", rc.Phys.BasePath)
	}
	env.Add("REQUEST_METHOD", rc.Method)
	switch rc.Proto {
	case 20:
		env.Add("SERVER_PROTOCOL", "HTTP/2.0") // as lighttpd tells backends
	case 11:
		env.Add("SERVER_PROTOCOL", "HTTP/1.1")
	default:
		env.Add("SERVER_PROTOCOL", "HTTP/1.0")
	}
	env.Add("SERVER_SOFTWARE", rc.Conf.ServerTag)
	env.Add("GATEWAY_INTERFACE", "CGI/1.1")
	env.Add("REQUEST_SCHEME", rc.URI.Scheme)
	if rc.URI.Scheme == "https" {
		env.Add("HTTPS", "on")
	}
	env.Add("SERVER_PORT", serverPort(rc.Conn.Socket))
	env.Add("SERVER_ADDR", rc.Conn.LocalIP)
	// server.name, else the host (a vhost module may have set either);
	// lighttpd leaves it empty when neither is there.
	name := rc.Conf.ServerName
	if name == "" {
		name = rc.URI.Authority
	}
	env.Add("SERVER_NAME", stripPort(name))
	env.Add("REMOTE_ADDR", rc.Conn.RemoteIP)
	addInt(env, "REMOTE_PORT", int64(rc.Conn.RemotePort))
	for i := 0; i < rc.Header.Len(); i++ {
		h := rc.Header.At(i)
		// Proxy: httpoxy. Expect, Transfer-Encoding: consumed by the
		// request parser, never passed on (lighttpd removes them).
		if h.Value == "" || strings.EqualFold(h.Name, "Proxy") || strings.EqualFold(h.Name, "Expect") || strings.EqualFold(h.Name, "Transfer-Encoding") {
			continue
		}
		if strings.EqualFold(h.Name, "Content-Type") {
			env.Add("CONTENT_TYPE", h.Value)
			continue
		}
		env.Add(cgiVarName(h.Name, true), h.Value)
	}
	if rc.RemoteUser != "" {
		env.Add("REMOTE_USER", rc.RemoteUser)
	}
	if rc.AuthType != "" {
		env.Add("AUTH_TYPE", rc.AuthType)
	}
	if rc.ErrorStatus != 0 {
		addInt(env, "REDIRECT_STATUS", int64(rc.ErrorStatus))
	}
	rc.RequestEnv()
	for i := 0; i < rc.Env.Len(); i++ {
		e := rc.Env.At(i)
		env.Add(cgiVarName(e.Name, false), e.Value)
	}
	if o.XSendfile {
		env.Add("X_SEND_RESPONSE_BODY_SUPPORTED", "1")
	}
}

// serverPort is the port part of a listener token ("0" for unix sockets).
func serverPort(token string) string {
	if strings.HasPrefix(token, "/") {
		return "0"
	}
	if i := strings.LastIndexByte(token, ':'); i >= 0 && i+1 < len(token) {
		return token[i+1:]
	}
	return "0"
}

// stripPort removes ":port" from a host ("[::1]:80" keeps its brackets).
func stripPort(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.Index(h, "]:"); i >= 0 {
			return h[:i+1]
		}
		return h
	}
	if i := strings.IndexByte(h, ':'); i >= 0 {
		return h[:i]
	}
	return h
}

func joinPath2(dir, rest string) string {
	if rest == "" {
		return dir
	}
	if strings.HasSuffix(dir, "/") && strings.HasPrefix(rest, "/") {
		return dir + rest[1:]
	}
	return dir + rest
}

// cgiVarNames caches header-name -> variable-name translations: the same
// few dozen header names arrive on every request, so after warm-up building
// the variables allocates nothing. The cache is bounded against clients
// that invent names.
var cgiVarNames = [2]varNameCache{ // [0] environment names, [1] header names
	{m: xsync.NewMap[string, string]()},
	{m: xsync.NewMap[string, string]()},
}

// varNameCache is one of cgiVarNames: xsync's typed map, whose lookup of a
// string key is a third of sync.Map's (no interface compare, no trie).
type varNameCache struct {
	m *xsync.Map[string, string]
	n atomic.Int32
}

const maxCachedVarNames = 4096

// cgiVarName upper-cases name and turns every byte that is not a letter or
// digit into '_' ("X-Dot.ted" -> "HTTP_X_DOT_TED").
func cgiVarName(name string, header bool) string {
	cache := &cgiVarNames[0]
	if header {
		cache = &cgiVarNames[1]
	}
	if v, ok := cache.m.Load(name); ok {
		return v
	}
	var b strings.Builder
	if header {
		b.WriteString("HTTP_")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
	v := b.String()
	if cache.n.Load() < maxCachedVarNames {
		// name views the request's read buffer: the key must be a copy, or
		// its bytes change under the map when the buffer is reused.
		if _, loaded := cache.m.LoadOrStore(strings.Clone(name), v); !loaded {
			cache.n.Add(1)
		}
	}
	return v
}

// RequestEnv runs the RequestEnv hooks once (lighttpd's request_env), for
// a module that reads rc.Env without building a CGI environment (mod_ajp13's
// SSL attributes).
func (rc *Request) RequestEnv() {
	if !rc.envHooksRun && rc.Snap != nil {
		rc.envHooksRun = true
		for _, h := range rc.Snap.hooks.requestEnv {
			h.RequestEnv(rc)
		}
	}
}
