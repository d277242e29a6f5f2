package status

import (
	"strings"
	"testing"
	"time"

	"github.com/golighty/golighty/core/coretest"
	_ "github.com/golighty/golighty/modules/ssl"
	"github.com/golighty/golighty/modules/ssl/ssltest"
	_ "github.com/golighty/golighty/modules/staticfile"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestMultiplier(t *testing.T) {
	cases := []struct {
		v    float64
		base float64
		want string
	}{
		{0, 1000, "0  "}, {999, 1000, "999  "}, {1000, 1000, "1000  "}, {1500, 1000, "1 k"},
		{2.5e9, 1000, "2 G"}, {0.4, 1000, "0  "}, {1023, 1024, "1023.00  "}, {2048, 1024, "2.00 k"},
		{3 << 30, 1024, "3.00 G"}, {1e30, 1000, "1000000 Y"},
	}
	for _, c := range cases {
		if got := multiplier(c.v, c.base); got != c.want {
			t.Errorf("multiplier(%v, %v) = %q, want %q", c.v, c.base, got, c.want)
		}
	}
}

func TestUptimeText(t *testing.T) {
	for sec, want := range map[int64]string{0: "0 s", 59: "59 s", 61: "1 min 1 s", 3600: "1 hours 0 s", 90061: "1 days 1 hours 1 min 1 s"} {
		if got := uptimeText(sec); got != want {
			t.Errorf("uptimeText(%d) = %q, want %q", sec, got, want)
		}
	}
}

func TestAppendHTML(t *testing.T) {
	got := string(appendHTML(nil, "a<b>&\"'`\x01\x7f\xc3\xa9 z"))
	want := "a&#x3C;b&#x3E;&#x26;&#x22;&#x27;&#x60;&#x01;&#x7F;&#xC3;&#xA9; z"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestJSONPName(t *testing.T) {
	for name, ok := range map[string]bool{"cb": true, "cb_1": true, "A9": true, "": false, "1cb": false, "_cb": false, "c-b": false, "c b": false, "cb()": false} {
		if validJSONPName(name) != ok {
			t.Errorf("validJSONPName(%q) = %v", name, !ok)
		}
	}
}

const testConf = `server.document-root = "@DIR@"
server.tag = "tagged"
server.modules = ("mod_status")
status.status-url = "/st"
status.config-url = "/cfg"
status.statistics-url = "/stats"
status.prometheus-url = "/metrics"
$HTTP["url"] == "/off" { status.status-url = "" }
`

func TestPages(t *testing.T) {
	h := coretest.New(t, testConf)
	h.WriteFile("a.txt", "hello")
	for i := 0; i < 3; i++ {
		h.Get("/a.txt")
	}
	h.Get("/missing")
	resp, body := h.Get("/st?auto")
	if resp.Header.Get("Content-Type") != "text/plain" || !strings.HasPrefix(body, "Total Accesses: 4\nTotal kBytes: 0\nUptime: ") {
		t.Fatalf("auto: %q", body)
	}
	// The harness serves single connections, which no listener counts:
	// BusyServers is 0 here (testconf checks it on real sockets).
	if !strings.Contains(body, "\nBusyServers: 0\nIdleServers: 1365\nScoreboard: ____") || len(body) != strings.Index(body, "Scoreboard: ")+len("Scoreboard: ")+1365+1 {
		t.Errorf("auto: %.200q", body)
	}
	_, body = h.Get("/st?jsonp=cb")
	if !strings.HasPrefix(body, "cb({\n\t\"RequestsTotal\": 5,") || !strings.HasSuffix(body, "\n});") {
		t.Errorf("jsonp: %q", body)
	}
	_, body = h.Get("/st?refresh=999999999")
	if !strings.Contains(body, `<meta http-equiv="refresh" content="604800">`) || !strings.Contains(body, "<h1>Server-Status (tagged)</h1>") ||
		!strings.Contains(body, "<script") || !strings.Contains(body, "<td>Requests</td><td class=\"string\">6  req</td>") {
		t.Errorf("html: %q", body)
	}
	resp, body = h.Get("/stats")
	if resp.StatusCode != 204 || body != "" {
		t.Errorf("statistics without reporters: %d %q", resp.StatusCode, body)
	}
	resp, body = h.Do("POST /cfg HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
	if resp.StatusCode != 200 || !strings.Contains(body, "<td><b>Loaded Modules</b></td><td>status<br />staticfile</td>") {
		t.Errorf("config: %d %q", resp.StatusCode, body)
	}
	if resp, _ := h.Get("/off"); resp.StatusCode != 404 {
		t.Errorf("a blank status-url in a block: %d", resp.StatusCode)
	}
}

func TestPrometheusPage(t *testing.T) {
	h := coretest.New(t, testConf)
	h.WriteFile("a.txt", "hello")
	h.Get("/a.txt")
	h.Do("HEAD /a.txt HTTP/1.0\r\n\r\n")
	h.Do("DELETE /a.txt HTTP/1.0\r\n\r\n")
	resp, body := h.Get("/metrics")
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("%v in\n%s", err, body)
	}
	got := map[string]float64{}
	for _, m := range mfs["golighty_http_requests_total"].Metric {
		key := ""
		for _, l := range m.Label {
			key += l.GetValue() + " "
		}
		got[strings.TrimSpace(key)] = m.Counter.GetValue()
	}
	want := map[string]float64{"200 GET": 1, "200 HEAD": 1, "501 DELETE": 1}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("requests %s = %v (all: %v)", k, got[k], got)
		}
	}
	if h := mfs["golighty_http_request_duration_seconds"].Metric[0].Histogram; h.GetSampleCount() != 3 || len(h.Bucket) < 14 {
		t.Errorf("histogram of %d requests, %d buckets", h.GetSampleCount(), len(h.Bucket))
	}
	for _, name := range []string{"golighty_http_response_bytes_total", "golighty_start_time_seconds", "golighty_config_reloads_total", "process_open_fds"} {
		if mfs[name] == nil {
			t.Errorf("%s missing", name)
		}
	}
}

// TestCertificateExpiry: the served certificates' expiry, from the TLS
// module, one sample per ssl.pemfile.
func TestCertificateExpiry(t *testing.T) {
	dir := t.TempDir()
	ca := ssltest.NewCA(t, "test CA")
	until := time.Now().Add(40 * 24 * time.Hour).Truncate(time.Second)
	pem := ca.Issue(t, ssltest.Options{NotAfter: until}).WritePEM(t, dir, "server.pem")
	h := coretest.New(t, `server.document-root = "@DIR@"
server.modules = ("mod_openssl", "mod_status")
status.prometheus-url = "/metrics"
$SERVER["socket"] == "127.0.0.1:18443" {
	ssl.engine = "enable"
	ssl.pemfile = "`+pem+`"
}
`)
	_, body := h.Get("/metrics")
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	mf := mfs["golighty_tls_certificate_expiry_timestamp_seconds"]
	if mf == nil || len(mf.Metric) != 1 || mf.Metric[0].Gauge.GetValue() != float64(until.Unix()) ||
		mf.Metric[0].Label[0].GetValue() != pem {
		t.Fatalf("certificate metric: %v", mf)
	}
}
