package status

import (
	"bytes"
	"strconv"
	"sync"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
)

// The Prometheus form of the status figures. Nothing here runs on the
// request path of other requests: a scrape reads the core's atomic
// counters and the gateway modules' backend counters and turns them into
// constant metrics.
var (
	descRequests = prometheus.NewDesc("golighty_http_requests_total",
		"HTTP requests answered, by method and status code (code 0: outside 0-599).", []string{"method", "code"}, nil)
	descDuration = prometheus.NewDesc("golighty_http_request_duration_seconds",
		"Time from the parsed request head to the response handed to the connection.", nil, nil)
	descInFlight = prometheus.NewDesc("golighty_http_requests_in_flight",
		"Requests being served now.", nil, nil)
	descBytesIn = prometheus.NewDesc("golighty_http_request_bytes_total",
		"Request bytes read (heads and bodies).", nil, nil)
	descBytesOut = prometheus.NewDesc("golighty_http_response_bytes_total",
		"Response bytes written (heads and bodies, before chunked framing).", nil, nil)
	descConns = prometheus.NewDesc("golighty_connections_open",
		"Client connections open now.", nil, nil)
	descMaxConns = prometheus.NewDesc("golighty_connections_max",
		"server.max-connections.", nil, nil)
	descListenerConns = prometheus.NewDesc("golighty_listener_connections_open",
		"Client connections open now, per listening socket.", []string{"socket"}, nil)
	descListenerReqs = prometheus.NewDesc("golighty_listener_requests_total",
		"Requests read, per listening socket.", []string{"socket"}, nil)
	descStart = prometheus.NewDesc("golighty_start_time_seconds",
		"When the server started (Unix time).", nil, nil)
	descPanics = prometheus.NewDesc("golighty_panics_total",
		"Requests whose serving panicked (answered 500 or cut).", nil, nil)
	descReloads = prometheus.NewDesc("golighty_config_reloads_total",
		"Configuration reloads, by result.", []string{"result"}, nil)
	descLastReload = prometheus.NewDesc("golighty_config_last_reload_success_timestamp_seconds",
		"When the configuration was last reloaded successfully (Unix time; 0: never).", nil, nil)
	descCert = prometheus.NewDesc("golighty_tls_certificate_expiry_timestamp_seconds",
		"When a served certificate expires (Unix time), by its ssl.pemfile.", []string{"file"}, nil)
	backendLabels   = []string{"module", "ext", "host", "proc", "addr"}
	descBackendLoad = prometheus.NewDesc("golighty_backend_load",
		"Requests running on a backend now.", backendLabels, nil)
	descBackendConnected = prometheus.NewDesc("golighty_backend_connections_total",
		"Connections made to a backend.", backendLabels, nil)
	descBackendErrors = prometheus.NewDesc("golighty_backend_connect_errors_total",
		"Failed connects to a backend, by kind (died: refused, missing or timed out; overloaded: EAGAIN).",
		append(append([]string{}, backendLabels...), "kind"), nil)
	descBackendDisabled = prometheus.NewDesc("golighty_backend_disabled",
		"1 while a backend is out of balancing after a failure.", backendLabels, nil)
	descPluginStat = prometheus.NewDesc("golighty_plugin_statistic",
		"lighttpd's plugin statistics (status.statistics-url), by key.", []string{"key"}, nil)
)

// processRegistry holds the Go runtime and process collectors, built once.
var processRegistry = sync.OnceValue(func() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
})

// collector turns one request's view of the counters into metrics.
type collector struct{ rc *core.Request }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, descDuration, descInFlight, descBytesIn, descBytesOut,
		descConns, descMaxConns, descListenerConns, descListenerReqs, descStart, descPanics, descReloads,
		descLastReload, descCert, descBackendLoad, descBackendConnected, descBackendErrors, descBackendDisabled,
		descPluginStat} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.rc.Stats()
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	st.EachRequestCount(func(method string, code int, n uint64) {
		counter(descRequests, float64(n), method, strconv.Itoa(code))
	})
	cum, count, sum := st.Durations()
	buckets := make(map[float64]uint64, len(cum))
	for i, ub := range core.DurationBuckets {
		buckets[ub] = cum[i]
	}
	ch <- prometheus.MustNewConstHistogram(descDuration, count, sum, buckets)
	gauge(descInFlight, float64(st.InFlight()))
	counter(descBytesIn, float64(st.BytesIn()))
	counter(descBytesOut, float64(st.BytesOut()))
	gauge(descConns, float64(st.OpenConns()))
	gauge(descMaxConns, float64(c.rc.Snap.Core.Server.MaxConnections))
	st.Listeners(func(l core.ListenerStat) {
		gauge(descListenerConns, float64(l.Conns), l.Socket)
		counter(descListenerReqs, float64(l.Requests), l.Socket)
	})
	gauge(descStart, float64(st.Started().UnixNano())/1e9)
	counter(descPanics, float64(st.Panics.Load()))
	ok, failed, last := st.Reloads()
	counter(descReloads, float64(ok), "success")
	counter(descReloads, float64(failed), "failure")
	lastSec := 0.0
	if !last.IsZero() {
		lastSec = float64(last.Unix())
	}
	gauge(descLastReload, lastSec)
	snap := c.rc.Snap
	certs := map[string]bool{}
	for _, name := range snap.Modules() {
		m, _ := snap.Module(name)
		if r, ok := m.(core.CertificateReporter); ok {
			r.Certificates(func(file string, notAfter time.Time) {
				if !certs[file] {
					certs[file] = true
					gauge(descCert, float64(notAfter.Unix()), file)
				}
			})
		}
	}
	for _, name := range snap.Modules() {
		m, _ := snap.Module(name)
		r, ok := m.(core.BackendReporter)
		if !ok {
			continue
		}
		r.Backends(func(b core.BackendStat) {
			l := []string{b.Module, b.Ext, b.Host, strconv.Itoa(b.Proc), b.Addr}
			gauge(descBackendLoad, float64(b.Load), l...)
			counter(descBackendConnected, float64(b.Connected), l...)
			counter(descBackendErrors, float64(b.Died), append(l, "died")...)
			counter(descBackendErrors, float64(b.Overload), append(l, "overloaded")...)
			disabled := 0.0
			if b.Disabled {
				disabled = 1
			}
			gauge(descBackendDisabled, disabled, l...)
		})
	}
	for k, v := range pluginStats(snap) {
		gauge(descPluginStat, float64(v), k)
	}
}

// prometheusPage answers status.prometheus-url with the text exposition
// format (version 0.0.4), which every Prometheus-compatible scraper reads.
func prometheusPage(rc *core.Request) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{rc})
	mfs, err := prometheus.Gatherers{reg, processRegistry()}.Gather()
	if err != nil {
		rc.Logf("status.prometheus-url: %v", err)
	}
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			rc.Logf("status.prometheus-url: %v", err)
			break
		}
	}
	rc.Resp.Header.Set("Content-Type", string(format))
	rc.Resp.Status = 200
	rc.Resp.SetBody(buf.Bytes())
}
