package status

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golighty/golighty/core"
)

// figures are the numbers every form of the status page shows.
type figures struct {
	requests  uint64
	bytesOut  uint64
	uptime    int64 // seconds
	busy      int64 // open connections (lighttpd: max_conns - lim_conns)
	idle      int64 // connection slots left
	inFlight  int64
	avgReqs   float64 // 5 s sliding averages
	avgTraffc float64
}

func gather(rc *core.Request) figures {
	st := rc.Stats()
	f := figures{
		requests: st.Requests(),
		bytesOut: st.BytesOut(),
		uptime:   int64(time.Since(st.Started()) / time.Second),
		busy:     st.OpenConns(),
		inFlight: st.InFlight(),
	}
	f.idle = max(int64(rc.Snap.Core.Server.MaxConnections)-f.busy, 0)
	f.avgReqs, f.avgTraffc = st.Recent()
	return f
}

// scoreboard is one character per open connection: 'h' for a request
// being handled, 'k' for a connection waiting in keep-alive (golighty does
// not track the finer states lighttpd's event loop has).
func (f *figures) scoreboard() (handling, keepalive int64) {
	handling = min(f.inFlight, f.busy)
	return handling, f.busy - handling
}

// statusText is the ?auto form, line for line as lighttpd writes it.
func statusText(rc *core.Request) []byte {
	f := gather(rc)
	b := make([]byte, 0, 160+f.busy+f.idle)
	b = append(b, "Total Accesses: "...)
	b = strconv.AppendUint(b, f.requests, 10)
	b = append(b, "\nTotal kBytes: "...)
	b = strconv.AppendUint(b, f.bytesOut/1024, 10)
	b = append(b, "\nUptime: "...)
	b = strconv.AppendInt(b, f.uptime, 10)
	b = append(b, "\nBusyServers: "...)
	b = strconv.AppendInt(b, f.busy, 10)
	b = append(b, "\nIdleServers: "...)
	b = strconv.AppendInt(b, f.idle, 10)
	b = append(b, "\nScoreboard: "...)
	h, k := f.scoreboard()
	b = appendRepeat(b, 'h', h)
	b = appendRepeat(b, 'k', k)
	b = appendRepeat(b, '_', f.idle)
	return append(b, '\n')
}

func appendRepeat(b []byte, c byte, n int64) []byte {
	for ; n > 0; n-- {
		b = append(b, c)
	}
	return b
}

// statusJSON is the ?json form; ?jsonp=NAME wraps it in a call of NAME
// when NAME is a letter followed by letters, digits or '_'.
func statusJSON(rc *core.Request) []byte {
	f := gather(rc)
	var b []byte
	fn, jsonp := strings.CutPrefix(rc.URI.Query, "jsonp=")
	jsonp = jsonp && validJSONPName(fn)
	if jsonp {
		b = append(append(b, fn...), '(')
	}
	b = fmt.Appendf(b, "{\n\t\"RequestsTotal\": %d,\n\t\"TrafficTotal\": %d,\n\t\"Uptime\": %d,\n\t\"BusyServers\": %d,\n\t\"IdleServers\": %d,\n",
		f.requests, f.bytesOut/1024, f.uptime, f.busy, f.idle)
	b = fmt.Appendf(b, "\t\"RequestAverage5s\":%d,\n\t\"TrafficAverage5s\":%d\n}", int64(f.avgReqs), int64(f.avgTraffc)/1024)
	if jsonp {
		b = append(b, ");"...)
	}
	return b
}

func validJSONPName(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !('0' <= c && c <= '9') && c != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// serverStatistics is status.statistics-url: "key: value" lines of every
// module's plugin statistics, sorted as lighttpd sorts its array (shorter
// keys first, then bytewise); 204 without any.
func serverStatistics(rc *core.Request) {
	rc.Resp.Header.Set("Content-Type", "text/plain")
	stats := pluginStats(rc.Snap)
	if len(stats) == 0 {
		rc.Resp.Status = 204
		rc.Resp.SetBody(nil)
		return
	}
	keys := make([]string, 0, len(stats))
	for k := range stats {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) < len(keys[j])
		}
		return keys[i] < keys[j]
	})
	var b []byte
	for _, k := range keys {
		b = append(b, k...)
		b = append(b, ": "...)
		b = strconv.AppendInt(b, stats[k], 10)
		b = append(b, '\n')
	}
	rc.Resp.Status = 200
	rc.Resp.SetBody(b)
}

// pluginStats collects the statistics of every module of the snapshot;
// keys several modules share (gw.active-requests) add up.
func pluginStats(snap *core.Snapshot) map[string]int64 {
	out := map[string]int64{}
	for _, name := range snap.Modules() {
		m, _ := snap.Module(name)
		if r, ok := m.(core.PluginStatsReporter); ok {
			r.PluginStats(func(k string, v int64) { out[k] += v })
		}
	}
	return out
}

// appendHTML escapes s as lighttpd's ENCODING_HTML does: control bytes,
// " & ' < > `, DEL and every byte above 0x7F become &#xHH;.
func appendHTML(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20, c >= 0x7f, c == '"', c == '&', c == '\'', c == '<', c == '>', c == '`':
			b = append(b, '&', '#', 'x', hex[c>>4], hex[c&15], ';')
		default:
			b = append(b, c)
		}
	}
	return b
}

// multiplier scales v by base (1000 or 1024) into k, M, G... as lighttpd
// shows its figures: the number (whole for counts, two decimals for bytes),
// a space and the unit letter or a second space.
func multiplier(v float64, base float64) string {
	const units = " kMGTPEZY"
	u := 0
	for u < len(units)-1 && v > base {
		v /= base
		u++
	}
	if base == 1000 {
		return strconv.FormatInt(int64(v), 10) + " " + units[u:u+1]
	}
	return strconv.FormatFloat(v, 'f', 2, 64) + " " + units[u:u+1]
}

// statusHTML is the human page: the same figures as lighttpd's (host,
// uptime, absolute and average requests and traffic, connections and their
// states) in golighty's own markup. The connection table lists the
// requesting connection; golighty does not keep a per-connection register
// on the request path.
func statusHTML(rc *core.Request, sortable bool) []byte {
	f := gather(rc)
	st := rc.Stats()
	var b []byte
	b = append(b, "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n         \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n"...)
	b = append(b, "<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n<head>\n<title>Status</title>\n"...)
	b = append(b, pageStyle...)
	if r, ok := strings.CutPrefix(rc.URI.Query, "refresh="); ok {
		if n := strtol(r); n > 0 {
			b = fmt.Appendf(b, "<meta http-equiv=\"refresh\" content=\"%d\">\n", min(n, 604800))
		}
	}
	if sortable {
		b = append(b, sortScript...)
	}
	b = append(b, "</head>\n<body>\n<h1>Server-Status"...)
	if tag := rc.Conf.ServerTag; tag != "" {
		b = append(b, " ("...)
		b = append(b, tag...)
		b = append(b, ')')
	}
	b = append(b, "</h1>\n<table summary=\"status\" class=\"status\">\n<tr><td>Hostname</td><td class=\"string\">"...)
	b = appendHTML(b, rc.URI.Authority)
	if n := rc.Conf.ServerName; n != "" {
		b = append(b, " ("...)
		b = appendHTML(b, n)
		b = append(b, ')')
	}
	b = append(b, "</td></tr>\n<tr><td>Uptime</td><td class=\"string\">"...)
	b = append(b, uptimeText(f.uptime)...)
	b = append(b, "</td></tr>\n<tr><td>Started at</td><td class=\"string\">"...)
	b = st.Started().Local().AppendFormat(b, "2006-01-02 15:04:05")
	up := float64(max(f.uptime, 1))
	b = fmt.Appendf(b, "</td></tr>\n<tr><th colspan=\"2\">absolute (since start)</th></tr>\n"+
		"<tr><td>Requests</td><td class=\"string\">%sreq</td></tr>\n"+
		"<tr><td>Traffic</td><td class=\"string\">%sbyte</td></tr>\n"+
		"<tr><th colspan=\"2\">average (since start)</th></tr>\n"+
		"<tr><td>Requests</td><td class=\"string\">%sreq/s</td></tr>\n"+
		"<tr><td>Traffic</td><td class=\"string\">%sbyte/s</td></tr>\n"+
		"<tr><th colspan=\"2\">average (5s sliding average)</th></tr>\n"+
		"<tr><td>Requests</td><td class=\"string\">%sreq/s</td></tr>\n"+
		"<tr><td>Traffic</td><td class=\"string\">%sbyte/s</td></tr>\n</table>\n",
		multiplier(float64(f.requests), 1000), multiplier(float64(f.bytesOut), 1024),
		multiplier(float64(f.requests)/up, 1000), multiplier(float64(f.bytesOut)/up, 1024),
		multiplier(f.avgReqs, 1000), multiplier(f.avgTraffc, 1024))
	h, k := f.scoreboard()
	b = fmt.Appendf(b, "<hr />\n<pre>\n<b>%d connections</b>\n", f.busy)
	n := 0
	for _, part := range []struct {
		c byte
		n int64
	}{{'h', h}, {'k', k}} {
		for i := int64(0); i < part.n; i++ {
			b = append(b, part.c)
			if n++; n%50 == 0 {
				b = append(b, '\n')
			}
		}
	}
	b = fmt.Appendf(b, "\n\n<table>\n<tr><td style=\"text-align:right\">%d</td><td>&nbsp;&nbsp;k = keep-alive</td></tr>\n", k)
	b = fmt.Appendf(b, "<tr><td style=\"text-align:right\">%d</td><td>&nbsp;&nbsp;h = handle-req</td></tr>\n</table>\n</pre><hr />\n", h)
	b = append(b, "<h2>Connections</h2>\n<table summary=\"status\" class=\"status\">\n<tr>"...)
	for _, col := range []string{"Client IP", "Read", "Written", "State", "Time", "Host", "URI", "File"} {
		b = fmt.Appendf(b, "<th class=\"status\">%s</th>", col)
	}
	b = append(b, "</tr>\n<tr><td class=\"string\">"...)
	b = appendHTML(b, rc.Conn.RemoteIP)
	b = fmt.Appendf(b, "</td><td class=\"int\">%d/%d</td><td class=\"int\">0/0</td><td class=\"string\">handle-req</td><td class=\"int\">%d</td><td class=\"string\">",
		rc.BodyRead, max(rc.BodyLength, 0), int64(time.Since(rc.Start)/time.Second))
	host := rc.Conf.ServerName
	if host == "" {
		host = rc.URI.Authority
	}
	b = appendHTML(b, host)
	b = append(b, "</td><td class=\"string\">"...)
	b = appendHTML(b, rc.URI.Path)
	if rc.URI.Query != "" {
		b = append(b, '?')
		b = appendHTML(b, rc.URI.Query)
	}
	b = append(b, "</td><td class=\"string\">"...)
	b = appendHTML(b, rc.Phys.Path)
	b = append(b, "</td></tr>\n</table>\n</body>\n</html>\n"...)
	return b
}

// uptimeText is "D days H hours M min S s", leaving out zero leading units.
func uptimeText(sec int64) string {
	var b strings.Builder
	d, h, m, s := sec/86400, sec%86400/3600, sec%3600/60, sec%60
	if d != 0 {
		fmt.Fprintf(&b, "%d days ", d)
	}
	if h != 0 {
		fmt.Fprintf(&b, "%d hours ", h)
	}
	if m != 0 {
		fmt.Fprintf(&b, "%d min ", m)
	}
	fmt.Fprintf(&b, "%d s", s)
	return b.String()
}

// strtol reads a leading decimal integer (0 when there is none).
func strtol(s string) int64 {
	var n int64
	for i := 0; i < len(s) && '0' <= s[i] && s[i] <= '9' && n < 1<<40; i++ {
		n = n*10 + int64(s[i]-'0')
	}
	return n
}

const pageStyle = `<style type="text/css">
table.status { border: thin solid black; }
td { white-space: nowrap; }
td.int { background-color: #eee; text-align: right; }
td.string { background-color: #eee; text-align: left; }
th.status { background-color: black; color: white; font-weight: bold; cursor: pointer; }
</style>
`

// sortScript makes the header cells of the connection table sort its
// rows (status.enable-sort): numbers numerically, text case-insensitively,
// a second click reverses.
const sortScript = `<script type="text/javascript">
// <!--
window.addEventListener("load", function () {
  document.querySelectorAll("th.status").forEach(function (th) {
    th.addEventListener("click", function () {
      var table = th.closest("table"), col = th.cellIndex;
      var rows = Array.prototype.slice.call(table.rows, 1);
      var down = th.dataset.dir !== "down";
      th.dataset.dir = down ? "down" : "up";
      rows.sort(function (a, b) {
        var x = a.cells[col], y = b.cells[col];
        var r = x.className === "int" ? parseInt(x.textContent, 10) - parseInt(y.textContent, 10)
          : x.textContent.toLowerCase().localeCompare(y.textContent.toLowerCase());
        return down ? r : -r;
      });
      rows.forEach(function (r) { r.parentNode.appendChild(r); });
    });
  });
});
// -->
</script>
`

// serverConfig is status.config-url: the server's features and the
// loaded modules, by the names lighttpd's plugins give themselves.
func (m *Module) serverConfig(rc *core.Request) {
	names := rc.Snap.Modules()
	for i, n := range names {
		names[i] = pluginName(n)
	}
	var b []byte
	b = append(b, "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n         \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n"...)
	b = append(b, "<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n<head>\n<title>Status</title>\n</head>\n<body>\n"...)
	if tag := rc.Conf.ServerTag; tag != "" {
		b = append(b, "<h1>"...)
		b = appendHTML(b, tag)
		b = append(b, "</h1>\n"...)
	}
	b = append(b, "<table summary=\"status\" border=\"1\">\n"...)
	row := func(k, v string) { b = fmt.Appendf(b, "<tr><td><b>%s</b></td><td>%s</td></tr>\n", k, v) }
	section := func(s string) { b = fmt.Appendf(b, "<tr><th colspan=\"2\">%s</th></tr>\n", s) }
	section("Server-Features")
	row("RegEx Conditionals", "enabled")
	section("Network Engine")
	row("fd-Event-Handler", "linux-sysepoll")
	section("Config-File-Settings")
	row("Loaded Modules", strings.Join(names, "<br />"))
	b = append(b, "</table>\n</body>\n</html>\n"...)
	rc.Resp.Header.Set("Content-Type", "text/html")
	rc.Resp.Status = 200
	rc.Resp.SetBody(b)
}
