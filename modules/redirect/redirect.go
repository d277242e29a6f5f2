// Package redirect is lighttpd's mod_redirect: the first url.redirect rule
// whose regex matches the request target (normalized, with its query, after
// mod_rewrite) answers with url.redirect-code (301 by default) and a
// Location built from the rule's target; the body is empty.
//
// As in lighttpd 1.4.69 (mod_redirect.c): the rules run at uri_clean; a
// block's url.redirect replaces the lists of the blocks before it; a rule
// with an empty target stops the list without redirecting; a code outside
// 100-999 becomes 301, any other (200, 404, ...) is used as given; a match
// that cannot be decided drops the request (no response).
//
// One deliberate difference: control characters in the expanded Location
// (a ${decb64u:N} of hostile input can produce CR, LF or NUL, which lighttpd
// writes into the header as they are) are percent-encoded, so a capture can
// never split the response.
package redirect

import (
	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/modules/internal/urlrules"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_redirect", New: func() core.Module { return &Module{} }})
}

type conf struct {
	rules *urlrules.List
	code  int
}

// Module is one loaded mod_redirect.
type Module struct{ table *core.Table[conf] }

var _ core.URICleanHook = (*Module)(nil)

// Setup binds url.redirect and url.redirect-code.
func (m *Module) Setup(sc *core.SetupContext) error {
	normalize := sc.Core().Server.ParseOpts.URLNormalize
	var err error
	m.table, err = core.Bind(sc, conf{code: 301}, []core.Key[conf]{
		{Name: "url.redirect", Type: core.TypeKV, Bind: func(v core.Value) (func(*conf), error) {
			l := urlrules.NewList(v.Block, "")
			if err := l.Add(sc, v.KVs(), normalize); err != nil {
				return nil, err
			}
			return func(c *conf) { c.rules = l }, nil
		}},
		{Name: "url.redirect-code", Type: core.TypeShort, Bind: func(v core.Value) (func(*conf), error) {
			code := int(v.Int())
			if code < 100 || code >= 1000 {
				code = 301
			}
			return func(c *conf) { c.code = code }, nil
		}},
	})
	return err
}

// URIClean answers with the redirect of the first matching rule.
func (m *Module) URIClean(rc *core.Request) core.Result {
	c := m.table.Resolve(rc)
	if c.rules == nil || len(c.rules.Rules) == 0 {
		return core.GoOn
	}
	var buf [256]byte
	_, outcome, loc, err := c.rules.Apply(rc, buf[:0])
	switch outcome {
	case urlrules.Failed:
		rc.Logf("pcre_exec() error while processing uri: %s (%v)", rc.URI.Target, err)
		return core.Drop
	case urlrules.Expanded:
	default:
		return core.GoOn
	}
	rc.Resp.Status = c.code
	rc.Resp.Header.Set("Location", SafeLocation(loc))
	if c.code < 400 {
		// An error status gets the error document (or handler) instead,
		// and with it loses the Location, as in lighttpd.
		rc.Resp.SetBody(nil)
	}
	rc.SetHandler("", nil)
	return core.Finished
}

// SafeLocation returns loc as a header value: bytes below 0x20 and DEL are
// percent-encoded (a Location holds a URL, where they are never literal).
func SafeLocation(loc []byte) string {
	n := 0
	for _, c := range loc {
		if c < 0x20 || c == 0x7f {
			n++
		}
	}
	if n == 0 {
		return string(loc)
	}
	const hex = "0123456789ABCDEF"
	out := make([]byte, 0, len(loc)+2*n)
	for _, c := range loc {
		if c < 0x20 || c == 0x7f {
			out = append(out, '%', hex[c>>4], hex[c&15])
		} else {
			out = append(out, c)
		}
	}
	return string(out)
}

// InlineHooks marks the module for HTTP/2 requests on the reader
// (core.InlineHooks): its hook only matches and rewrites.
func (*Module) InlineHooks() {}
