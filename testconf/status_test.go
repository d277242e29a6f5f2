package testconf

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

const statusConf = `
server.document-root = "@ROOT@/www"
server.bind = "127.0.0.1"
server.port = @PORT@
server.tag = "side-by-side"
server.modules = ("mod_status", "mod_fastcgi")
mimetype.assign = (".html" => "text/html", ".txt" => "text/plain")
status.status-url = "/server-status"
status.config-url = "/server-config"
status.statistics-url = "/server-statistics"
status.prometheus-url = "/metrics"
$HTTP["url"] =^ "/nosort" { status.status-url = "/nosort" status.enable-sort = "disable" }
fastcgi.server = ( ".php" => ( "php" => (
	"bin-path" => "@PHP@",
	"socket" => "@ROOT@/@NAME@.sock",
	"max-procs" => 1,
	"bin-environment" => ( "PHP_FCGI_CHILDREN" => "2", "GOLIGHTY_TEST_MARK" => "@ROOT@/@NAME@" ),
)), "/unlabeled/" => (( "socket" => "@ROOT@/@NAME@-none.sock", "check-local" => "disable" )))
`

func statusStart(t *testing.T, conf string) (g, l *server, root string) {
	lighttpd := requirePeer(t, "lighttpd")
	php := requirePeer(t, "php-cgi")
	root = t.TempDir()
	writeTree(t, root, map[string]string{
		"www/a.txt":  strings.Repeat("a", 3000),
		"www/hi.php": `<?php echo "hi\n";`,
	})
	mk := func(name string) string {
		return strings.NewReplacer("@ROOT@", root, "@PHP@", php, "@NAME@", name).Replace(conf)
	}
	g = startServer(t, "golighty", golightyBin, root, mk("golighty"))
	t.Cleanup(func() { stopWithChildren(t, g, root+"/golighty") })
	l = startServer(t, "lighttpd", lighttpd, root, mk("lighttpd"))
	return g, l, root
}

// statusTraffic is the known traffic sent to a server before its status
// is read: the exchanges, and the bytes the client sent and received.
type statusTraffic struct {
	requests  int
	byStatus  map[string]int // "GET 200" -> count
	sent, got int
}

func statusSend(t *testing.T, s *server) statusTraffic {
	t.Helper()
	tr := statusTraffic{byStatus: map[string]int{}}
	reqs := []string{}
	for i := 0; i < 7; i++ {
		reqs = append(reqs, "GET /a.txt HTTP/1.0\r\n\r\n")
	}
	for i := 0; i < 3; i++ {
		reqs = append(reqs, "GET /hi.php HTTP/1.0\r\n\r\n")
	}
	reqs = append(reqs, "GET /missing HTTP/1.0\r\n\r\n", "GET /missing2 HTTP/1.0\r\n\r\n",
		"HEAD /a.txt HTTP/1.0\r\n\r\n", "POST /missing HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
		"GET /unlabeled/x HTTP/1.0\r\n\r\n")
	for _, req := range reqs {
		ex := s.raw(t, req, strings.HasPrefix(req, "HEAD "))
		if ex.resp == nil {
			t.Fatalf("%s: no response to %q", s.name, req)
		}
		tr.requests++
		tr.byStatus[strings.Fields(req)[0]+" "+strconv.Itoa(ex.resp.StatusCode)]++
		tr.sent += len(req)
		tr.got += len(ex.raw)
	}
	return tr
}

// statusLines splits a ?auto page into its keys and values.
func statusLines(t *testing.T, body string) ([]string, map[string]string) {
	t.Helper()
	var keys []string
	vals := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("line %q in %q", line, body)
		}
		keys = append(keys, k)
		vals[k] = v
	}
	return keys, vals
}

// TestStatusSideBySide sends the same known traffic to golighty and
// lighttpd with mod_status and compares what the pages say about it: the
// ?auto and ?json forms (keys, order, counts), the statistics page (the
// FastCGI backend counters, byte for byte), the config page's modules.
func TestStatusSideBySide(t *testing.T) {
	g, l, _ := statusStart(t, statusConf)
	var traffic [2]statusTraffic
	for i, s := range []*server{g, l} {
		traffic[i] = statusSend(t, s)
	}
	// lighttpd adds up its counters once a second.
	time.Sleep(1200 * time.Millisecond)

	t.Run("auto", func(t *testing.T) {
		var keys [2][]string
		var vals [2]map[string]string
		for i, s := range []*server{g, l} {
			ex := s.raw(t, "GET /server-status?auto HTTP/1.0\r\n\r\n", false)
			if ex.resp == nil || ex.resp.StatusCode != 200 || ex.resp.Header.Get("Content-Type") != "text/plain" {
				t.Fatalf("%s: %q", s.name, deflateShort(ex.raw))
			}
			keys[i], vals[i] = statusLines(t, string(ex.body))
		}
		if strings.Join(keys[0], ",") != strings.Join(keys[1], ",") {
			t.Fatalf("keys: golighty %q, lighttpd %q", keys[0], keys[1])
		}
		for _, k := range []string{"Total Accesses", "BusyServers", "IdleServers"} {
			if vals[0][k] != vals[1][k] {
				t.Errorf("%s: golighty %s, lighttpd %s", k, vals[0][k], vals[1][k])
			}
		}
		if want := strconv.Itoa(traffic[0].requests); vals[0]["Total Accesses"] != want {
			t.Errorf("Total Accesses %s, sent %s", vals[0]["Total Accesses"], want)
		}
		// golighty counts exactly what went out (lighttpd counts bytes of a
		// second more than once).
		if want := strconv.Itoa(traffic[0].got / 1024); vals[0]["Total kBytes"] != want {
			t.Errorf("Total kBytes %s, the client received %d bytes", vals[0]["Total kBytes"], traffic[0].got)
		}
		if len(vals[0]["Scoreboard"]) != len(vals[1]["Scoreboard"]) || !strings.HasPrefix(vals[0]["Scoreboard"], "h_") {
			t.Errorf("Scoreboard: golighty %q..., lighttpd %q...", vals[0]["Scoreboard"][:8], vals[1]["Scoreboard"][:8])
		}
		if up, err := strconv.Atoi(vals[0]["Uptime"]); err != nil || up < 1 {
			t.Errorf("Uptime %q", vals[0]["Uptime"])
		}
	})

	time.Sleep(1200 * time.Millisecond)
	t.Run("json", func(t *testing.T) {
		var forms [2]map[string]int
		var order [2][]string
		keyRe := regexp.MustCompile(`"(\w+)":`)
		for i, s := range []*server{g, l} {
			ex := s.raw(t, "GET /server-status?json HTTP/1.0\r\n\r\n", false)
			if ex.resp == nil || ex.resp.Header.Get("Content-Type") != "application/javascript" {
				t.Fatalf("%s: %q", s.name, deflateShort(ex.raw))
			}
			if err := json.Unmarshal(ex.body, &forms[i]); err != nil {
				t.Fatalf("%s: %v in %q", s.name, err, ex.body)
			}
			for _, m := range keyRe.FindAllStringSubmatch(string(ex.body), -1) {
				order[i] = append(order[i], m[1])
			}
		}
		if strings.Join(order[0], ",") != strings.Join(order[1], ",") {
			t.Fatalf("keys: golighty %q, lighttpd %q", order[0], order[1])
		}
		for _, k := range []string{"RequestsTotal", "BusyServers", "IdleServers"} {
			if forms[0][k] != forms[1][k] {
				t.Errorf("%s: golighty %d, lighttpd %d", k, forms[0][k], forms[1][k])
			}
		}
		if forms[0]["RequestsTotal"] != traffic[0].requests+1 {
			t.Errorf("RequestsTotal %d after %d requests and the ?auto one", forms[0]["RequestsTotal"], traffic[0].requests)
		}
	})

	t.Run("forms", func(t *testing.T) {
		reqs := []string{
			"GET /server-status?jsonp=cb_1 HTTP/1.0\r\n\r\n",
			"GET /server-status?jsonp=1cb HTTP/1.0\r\n\r\n",
			"GET /server-status?jsonp=c-b HTTP/1.0\r\n\r\n",
			"GET /server-status?jsonx HTTP/1.0\r\n\r\n",
			"GET /server-status?autox HTTP/1.0\r\n\r\n",
			"GET /server-status?refresh=5 HTTP/1.0\r\n\r\n",
			"GET /nosort HTTP/1.0\r\n\r\n",
			"POST /server-status?auto HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
			"HEAD /server-status HTTP/1.0\r\n\r\n",
			"OPTIONS /server-statistics HTTP/1.0\r\n\r\n",
			"GET /server-status/ HTTP/1.0\r\n\r\n",
		}
		for _, req := range reqs {
			ge, le := g.raw(t, req, strings.HasPrefix(req, "HEAD")), l.raw(t, req, strings.HasPrefix(req, "HEAD"))
			if ge.resp == nil || le.resp == nil || ge.resp.StatusCode != le.resp.StatusCode ||
				ge.resp.Header.Get("Content-Type") != le.resp.Header.Get("Content-Type") {
				t.Errorf("%q:\ngolighty %q\nlighttpd %q", req, deflateShort(ge.raw), deflateShort(le.raw))
				continue
			}
			gp, lp := strings.HasPrefix(string(ge.body), "cb_1("), strings.HasPrefix(string(le.body), "cb_1(")
			if gp != lp || strings.HasSuffix(string(ge.body), ");") != strings.HasSuffix(string(le.body), ");") {
				t.Errorf("%q: JSONP wrapper differs:\ngolighty %q\nlighttpd %q", req, ge.body, le.body)
			}
			for _, mark := range []string{"<meta http-equiv=\"refresh\" content=\"5\">", "<script", "Server-Status (side-by-side)", "Total Accesses"} {
				if strings.Contains(string(ge.body), mark) != strings.Contains(string(le.body), mark) {
					t.Errorf("%q: %q in golighty %v, lighttpd %v", req, mark, strings.Contains(string(ge.body), mark), strings.Contains(string(le.body), mark))
				}
			}
		}
	})

	t.Run("statistics", func(t *testing.T) {
		ge := g.raw(t, "GET /server-statistics HTTP/1.0\r\n\r\n", false)
		le := l.raw(t, "GET /server-statistics HTTP/1.0\r\n\r\n", false)
		if ge.resp == nil || le.resp == nil {
			t.Fatal("no answer")
		}
		if string(ge.body) != string(le.body) || ge.resp.Header.Get("Content-Type") != le.resp.Header.Get("Content-Type") {
			t.Errorf("statistics differ:\ngolighty:\n%s\nlighttpd:\n%s", ge.body, le.body)
		}
		if !strings.Contains(string(ge.body), "fastcgi.requests: 3\n") || !strings.Contains(string(ge.body), "gw.backend.php.0.connected: 3\n") {
			t.Errorf("golighty's counters do not show the 3 PHP requests:\n%s", ge.body)
		}
	})

	t.Run("config", func(t *testing.T) {
		re := regexp.MustCompile(`Loaded Modules</b></td>\s*<td>([^<]*(?:<br />[^<]*)*)</td>`)
		var mods [2]string
		for i, s := range []*server{g, l} {
			ex := s.raw(t, "GET /server-config HTTP/1.0\r\n\r\n", false)
			m := re.FindSubmatch(ex.body)
			if ex.resp == nil || m == nil || ex.resp.Header.Get("Content-Type") != "text/html" {
				t.Fatalf("%s: %q", s.name, ex.raw)
			}
			mods[i] = string(m[1])
		}
		if mods[0] != mods[1] {
			t.Errorf("loaded modules: golighty %q, lighttpd %q", mods[0], mods[1])
		}
	})
}

// TestStatusNoStatistics: without a module keeping statistics the page is
// a 204, as in lighttpd.
func TestStatusNoStatistics(t *testing.T) {
	g, l, _ := statusStart(t, strings.Replace(statusConf, `server.modules = ("mod_status", "mod_fastcgi")`, `server.modules = ("mod_status")`, 1))
	compareSideBySide(t, g, l, []string{"GET /server-statistics HTTP/1.0\r\n\r\n"}, nil, nil)
}

// statusScrape reads golighty's metrics page into metric families.
func statusScrape(t *testing.T, s *server) map[string]*dto.MetricFamily {
	t.Helper()
	ex := s.raw(t, "GET /metrics HTTP/1.0\r\n\r\n", false)
	if ex.resp == nil || ex.resp.StatusCode != 200 {
		t.Fatalf("metrics: %q", deflateShort(ex.raw))
	}
	if ct := ex.resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("Content-Type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(string(ex.body)))
	if err != nil {
		t.Fatalf("metrics do not parse: %v\n%s", err, ex.body)
	}
	return mfs
}

// statusValue finds the sample of family name whose labels include want.
func statusValue(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.Metric {
		ok := true
		for k, v := range want {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			ok = ok && found
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestStatusPrometheus scrapes status.prometheus-url after known traffic:
// request counts by method and status, bytes both ways, the duration
// histogram, the FastCGI backend's counters, and reloads with their result.
func TestStatusPrometheus(t *testing.T) {
	g, _, root := statusStart(t, statusConf)
	tr := statusSend(t, g)
	mfs := statusScrape(t, g)
	total := 0.0
	for key, n := range tr.byStatus {
		method, code, _ := strings.Cut(key, " ")
		v, ok := statusValue(mfs, "golighty_http_requests_total", map[string]string{"method": method, "code": code})
		if !ok || v != float64(n) {
			t.Errorf("requests %s %s = %v (%v), sent %d", method, code, v, ok, n)
		}
	}
	for _, m := range mfs["golighty_http_requests_total"].Metric {
		total += m.Counter.GetValue()
	}
	if total != float64(tr.requests) {
		t.Errorf("%v requests counted, %d sent", total, tr.requests)
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"golighty_http_response_bytes_total", nil, float64(tr.got)},
		{"golighty_http_request_bytes_total", nil, float64(tr.sent)},
		{"golighty_http_request_duration_seconds", nil, float64(tr.requests)},
		{"golighty_http_requests_in_flight", nil, 1},
		{"golighty_backend_connections_total", map[string]string{"module": "mod_fastcgi", "ext": ".php", "host": "php", "proc": "0"}, 3},
		{"golighty_backend_load", map[string]string{"ext": ".php"}, 0},
		{"golighty_backend_connect_errors_total", map[string]string{"ext": "/unlabeled/", "kind": "died"}, 1},
		{"golighty_plugin_statistic", map[string]string{"key": "fastcgi.requests"}, 3},
		{"golighty_config_reloads_total", map[string]string{"result": "success"}, 0},
		{"golighty_panics_total", nil, 0},
	}
	for _, c := range checks {
		if v, ok := statusValue(mfs, c.name, c.labels); !ok || v != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	// The scrape's own connection, and maybe one still closing.
	if v, _ := statusValue(mfs, "golighty_connections_open", nil); v < 1 || v > 3 {
		t.Errorf("golighty_connections_open = %v", v)
	}
	if _, ok := statusValue(mfs, "go_goroutines", nil); !ok {
		t.Error("no Go runtime metrics")
	}

	t.Run("reloads", func(t *testing.T) {
		path := filepath.Join(root, "golighty.conf")
		good, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(path, append(append([]byte{}, good...), "\nserver.port = \"not a number\n"...), 0o644)
		g.cmd.Process.Signal(syscall.SIGUSR1)
		waitFor(t, "failed reload", func() bool { return strings.Contains(g.log.String(), "reload (SIGUSR1) failed") })
		os.WriteFile(path, good, 0o644)
		g.cmd.Process.Signal(syscall.SIGUSR1)
		waitFor(t, "reload", func() bool { return strings.Contains(g.log.String(), "config reloaded (SIGUSR1)") })
		mfs := statusScrape(t, g)
		for result, want := range map[string]float64{"success": 1, "failure": 1} {
			if v, _ := statusValue(mfs, "golighty_config_reloads_total", map[string]string{"result": result}); v != want {
				t.Errorf("reloads %s = %v, want %v", result, v, want)
			}
		}
		if v, _ := statusValue(mfs, "golighty_config_last_reload_success_timestamp_seconds", nil); v < float64(time.Now().Add(-time.Minute).Unix()) {
			t.Errorf("last reload at %v", v)
		}
	})

	t.Run("concurrent scrapes and traffic", func(t *testing.T) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; i < 50; i++ {
				c, err := net.Dial("tcp", g.addr)
				if err != nil {
					return
				}
				fmt.Fprintf(c, "GET /a.txt HTTP/1.0\r\n\r\n")
				io.Copy(io.Discard, c)
				c.Close()
			}
		}()
		for i := 0; i < 10; i++ {
			statusScrape(t, g)
		}
		<-done
	})
}
