// Package status is lighttpd's mod_status: the server-status page (HTML,
// ?auto text, ?json), the config page, the plugin statistics page, and,
// beyond lighttpd, the same figures as a Prometheus text exposition at
// status.prometheus-url. Every page only reads counters kept by the core
// (core.Stats) and by the gateway modules.
package status

import (
	"strings"

	"github.com/golighty/golighty/core"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_status", New: func() core.Module { return &Module{} }})
}

type conf struct {
	statusURL     string
	configURL     string
	statisticsURL string
	prometheusURL string // golighty's status.prometheus-url
	sort          bool
}

// Module is one loaded mod_status.
type Module struct {
	table *core.Table[conf]
}

var _ core.URICleanHook = (*Module)(nil)

// Setup binds the status.* keys. status.prometheus-url is golighty's own;
// lighttpd warns that it does not know it and ignores it.
func (m *Module) Setup(sc *core.SetupContext) error {
	url := func(set func(*conf, string)) func(core.Value) (func(*conf), error) {
		return func(v core.Value) (func(*conf), error) {
			u := v.String()
			if strings.TrimSpace(u) == "" {
				u = ""
			}
			return func(c *conf) { set(c, u) }, nil
		}
	}
	var err error
	m.table, err = core.Bind(sc, conf{sort: true}, []core.Key[conf]{
		{Name: "status.status-url", Type: core.TypeString, Bind: url(func(c *conf, u string) { c.statusURL = u })},
		{Name: "status.config-url", Type: core.TypeString, Bind: url(func(c *conf, u string) { c.configURL = u })},
		{Name: "status.statistics-url", Type: core.TypeString, Bind: url(func(c *conf, u string) { c.statisticsURL = u })},
		{Name: "status.prometheus-url", Type: core.TypeString, Bind: url(func(c *conf, u string) { c.prometheusURL = u })},
		{Name: "status.enable-sort", Type: core.TypeBool, Bind: func(v core.Value) (func(*conf), error) {
			on := v.Bool()
			return func(c *conf) { c.sort = on }, nil
		}},
	})
	return err
}

// URIClean answers the configured URLs, for any method, before any other
// handler is chosen (lighttpd's mod_status runs at uri_clean).
func (m *Module) URIClean(rc *core.Request) core.Result {
	if rc.Handler != nil || rc.Stats() == nil {
		return core.GoOn
	}
	c := m.table.Resolve(rc)
	p := rc.URI.Path
	switch {
	case c.statusURL != "" && p == c.statusURL:
		m.serverStatus(rc, &c)
	case c.configURL != "" && p == c.configURL:
		m.serverConfig(rc)
	case c.statisticsURL != "" && p == c.statisticsURL:
		serverStatistics(rc)
	case c.prometheusURL != "" && p == c.prometheusURL:
		prometheusPage(rc)
	default:
		return core.GoOn
	}
	return core.Finished
}

// serverStatus dispatches on the query: "auto" exactly gives the text
// form, any query starting with "json" the JSON form, anything else HTML.
func (m *Module) serverStatus(rc *core.Request, c *conf) {
	q := rc.URI.Query
	var body []byte
	switch {
	case q == "auto":
		body = statusText(rc)
		rc.Resp.Header.Set("Content-Type", "text/plain")
	case strings.HasPrefix(q, "json"):
		body = statusJSON(rc)
		rc.Resp.Header.Set("Content-Type", "application/javascript")
	default:
		body = statusHTML(rc, c.sort)
		rc.Resp.Header.Set("Content-Type", "text/html")
	}
	rc.Resp.Status = 200
	rc.Resp.SetBody(body)
}

// pluginName is the name lighttpd's plugins report for themselves.
func pluginName(module string) string {
	if module == "mod_rrdtool" {
		return "rrd"
	}
	return strings.TrimPrefix(module, "mod_")
}

// InlineHooks marks the module for HTTP/2 requests on the reader
// (core.InlineHooks): its hook only matches (its handler runs off the
// reader).
func (*Module) InlineHooks() {}
