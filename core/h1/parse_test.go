package h1

import (
	"strings"
	"testing"
)

// parseStatus maps each wire case to what the parser alone must return:
// handler-produced statuses (404, 405, 501 for known methods) parse as
// valid; connection-level checks (first byte, oversize) are tested in
// TestHeadScanning.
var parseStatus = map[string]int{
	"method_trace": 0, "connect_ip": 0, "put_static": 0, "delete_static": 0,
	"not_found": 0, "post_static_with_body": 0, "post_chunked_static": 0, "post_expect100_static": 0,
}

func parseOne(raw string, o *ParseOptions) (*Request, int) {
	buf := []byte(raw)
	hl, _ := FindHead(buf)
	if hl == 0 {
		return nil, -1
	}
	var r Request
	st := ParseRequest(buf[:hl], &r, o)
	return &r, st
}

func TestParseWireCases(t *testing.T) {
	o := testConfig().Parse
	o.MaxRequestSize = 1024
	for _, tc := range wireCases {
		if tc.name == "leading_crlf" || tc.name == "head_8193" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			want, ok := parseStatus[tc.name]
			if !ok {
				want = tc.status
				if want < 400 {
					want = 0
				}
			}
			r, st := parseOne(tc.raw, &o)
			if st != want {
				t.Fatalf("status %d (%s), want %d", st, r.Reason, want)
			}
			if st != 0 && (r.KeepAlive || r.Reason == "") {
				t.Errorf("error result must carry a reason and no keep-alive: %+v", r)
			}
		})
	}
}

func TestParseFields(t *testing.T) {
	o := DefaultParseOptions()
	tests := []struct {
		name      string
		raw       string
		method    string
		target    string
		proto     Proto
		host      string
		cl        int64
		chunked   bool
		keepAlive bool
		expect100 bool
		headers   []string // "Name: value" in order
	}{
		{"browser", "GET /index.html?x=1 HTTP/1.1\r\nHost: Example.COM:80\r\nUser-Agent: ua\r\nAccept: */*\r\n\r\n",
			"GET", "/index.html?x=1", HTTP11, "example.com", 0, false, true, false,
			[]string{"Host: example.com", "User-Agent: ua", "Accept: */*"}},
		{"join_repeats", "GET / HTTP/1.1\r\nHost: a\r\nX-A: v1\r\nx-a: v2\r\nCookie: a=1\r\nCookie: b=2\r\nIf-None-Match: \"1\"\r\nIf-None-Match: \"2\"\r\n\r\n",
			"GET", "/", HTTP11, "a", 0, false, true, false,
			[]string{"Host: a", "X-A: v1, v2", "Cookie: a=1; b=2", "If-None-Match: \"1\""}},
		{"empty_value_dropped", "GET / HTTP/1.0\r\nX-Empty: \r\nX-B:  b \t\r\n\r\n",
			"GET", "/", HTTP10, "", 0, false, false, false, []string{"X-B: b"}},
		{"folding", "GET / HTTP/1.0\r\nX-F: a\r\n\tb\r\n c\r\n\r\n",
			"GET", "/", HTTP10, "", 0, false, false, false, []string{"X-F: a  \tb   c"}},
		{"http10_keepalive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
			"GET", "/", HTTP10, "", 0, false, true, false, []string{"Connection: Keep-Alive"}},
		{"close_wins", "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n",
			"GET", "/", HTTP11, "a", 0, false, false, false, []string{"Host: a", "Connection: keep-alive, close"}},
		{"chunked_post", "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\nExpect: 100-continue\r\n\r\n",
			"POST", "/u", HTTP11, "a", -1, true, true, true, []string{"Host: a", "Expect: 100-continue"}},
		{"expect_http10_ignored", "POST /u HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
			"POST", "/u", HTTP10, "", 3, false, false, false, []string{"Content-Length: 3", "Expect: 100-continue"}},
		{"absolute_form", "GET HTTPS://WWW.Example.com/p HTTP/1.1\r\nHost: www.example.com\r\n\r\n",
			"GET", "/p", HTTP11, "www.example.com", 0, false, true, false, []string{"Host: www.example.com"}},
		{"space_in_target", "GET /a b.txt HTTP/1.0\r\n\r\n", "GET", "/a b.txt", HTTP10, "", 0, false, false, false, nil},
		{"options_star", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS", "*", HTTP11, "a", 0, false, true, false, []string{"Host: a"}},
		{"connect", "CONNECT 1.2.3.4:443 HTTP/1.0\r\n\r\n", "CONNECT", "1.2.3.4:443", HTTP10, "", 0, false, false, false, nil},
		{"cl_zero_post", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", "POST", "/", HTTP11, "a", 0, false, true, false,
			[]string{"Host: a", "Content-Length: 0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, st := parseOne(tc.raw, &o)
			if st != 0 {
				t.Fatalf("status %d: %s", st, r.Reason)
			}
			if r.Method != tc.method || string(r.Target) != tc.target || r.Proto != tc.proto {
				t.Errorf("line = %q %q %v", r.Method, r.Target, r.Proto)
			}
			if string(r.Host) != tc.host {
				t.Errorf("host %q, want %q", r.Host, tc.host)
			}
			if r.ContentLength != tc.cl || r.Chunked != tc.chunked || r.KeepAlive != tc.keepAlive || r.Expect100 != tc.expect100 {
				t.Errorf("cl=%d chunked=%v ka=%v expect100=%v", r.ContentLength, r.Chunked, r.KeepAlive, r.Expect100)
			}
			var got []string
			for _, h := range r.Headers {
				got = append(got, string(h.Name)+": "+string(h.Value))
			}
			if strings.Join(got, "|") != strings.Join(tc.headers, "|") {
				t.Errorf("headers\n got %q\nwant %q", got, tc.headers)
			}
		})
	}
}

func TestHostPolicy(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" = invalid
		opts func(*ParseOptions)
	}{
		{in: "example.com", want: "example.com"},
		{in: "example.com.", want: "example.com"},
		{in: "example.com.:8080", want: "example.com:8080"},
		{in: "example.com:80", want: "example.com"},
		{in: "example.com:", want: "example.com"},
		{in: "a:8x"},
		{in: "a:0x50"},
		{in: "a:0"},
		{in: "a:080"},
		{in: "a:010", want: "a:8"}, // C strtol base 0: octal
		{in: "a:65536"},
		{in: "a_b.com"},
		{in: "-a.com"},
		{in: "a.-b.com"},
		{in: "a-.com", want: "a-.com"},
		{in: "a..b"},
		{in: "."},
		{in: "1.2.3"},
		{in: "1.2.3.4", want: "1.2.3.4"},
		{in: "1.2.3.4.5"},
		{in: "3com.com", want: "3com.com"},
		{in: "a.1"},
		{in: "1"},
		{in: "[::1]", want: "[::1]"},
		{in: "[::1]:80", want: "[::1]"},
		{in: "[0:0:0:0:0:0:0:1]:8080", want: "[::1]:8080"},
		{in: "[]"},
		{in: "[::1"},
		{in: "[fe80::1%eth0]"},
		{in: "[1:2:3:4:5:6:7:8:9]"},
		{in: "a b"},
		{in: "example.com:443", want: "example.com", opts: func(o *ParseOptions) { o.SchemePort = 443 }},
		{in: "a_b.com", want: "a_b.com", opts: func(o *ParseOptions) { o.HostStrict = false }},
		{in: "a_b.com:80", want: "a_b.com", opts: func(o *ParseOptions) { o.HostStrict, o.HostNormalize = false, true }},
		{in: "a_b.com:80", want: "a_b.com:80", opts: func(o *ParseOptions) { o.HostStrict = false }},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			o := DefaultParseOptions()
			if tc.opts != nil {
				tc.opts(&o)
			}
			var scratch []byte
			got, ok := hostPolicy([]byte(tc.in), &o, &scratch)
			if tc.want == "" {
				if ok {
					t.Errorf("accepted as %q, want invalid", got)
				}
				return
			}
			if !ok || string(got) != tc.want {
				t.Errorf("got %q ok=%v, want %q", got, ok, tc.want)
			}
		})
	}
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		opts func(*ParseOptions)
		want int
	}{
		{"lenient_lf", "GET / HTTP/1.0\nX: y\n\n", func(o *ParseOptions) { o.HeaderStrict = false }, 0},
		{"lenient_ws_before_colon", "GET / HTTP/1.0\r\nX : y\r\n\r\n", func(o *ParseOptions) { o.HeaderStrict = false }, 0},
		{"lenient_te_cl", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", func(o *ParseOptions) { o.HeaderStrict = false }, 0},
		{"lenient_relative_target", "GET a.txt HTTP/1.0\r\n\r\n", func(o *ParseOptions) { o.HeaderStrict = false }, 0},
		{"get_body_allowed", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", func(o *ParseOptions) { o.MethodGetBody = true }, 0},
		{"loose_version_strict", "GET / HTTP/1.1x\r\n\r\n", nil, 400},
		{"loose_version_lenient", "GET / HTTP/1.1 x\r\nHost: a\r\n\r\n", func(o *ParseOptions) { o.HeaderStrict = false }, 0},
		{"pri_is_unknown", "PRI * HTTP/2.0\r\n\r\n", nil, 505},
		{"pri_http11", "PRI * HTTP/1.1\r\nHost: a\r\n\r\n", nil, 501},
		{"upgrade_http11_ok", "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n", nil, 0},
		{"http2_settings_http10", "GET / HTTP/1.0\r\nHTTP2-Settings: x\r\n\r\n", nil, 400},
		{"dup_content_type_diff", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Type: a\r\nContent-Type: b\r\n\r\n", nil, 400},
		{"dup_content_type_same", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Type: a\r\nContent-Type: A\r\n\r\n", nil, 0},
		{"cl_overflow", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", nil, 400},
		{"empty_header_name", "GET / HTTP/1.0\r\n: x\r\n\r\n", nil, 400},
		{"name_with_digit_ok", "GET / HTTP/1.0\r\nX-1: x\r\n\r\n", nil, 0},
		{"name_high_byte", "GET / HTTP/1.0\r\nX\xff: x\r\n\r\n", nil, 400},
		{"value_high_byte_ok", "GET / HTTP/1.0\r\nX: \xff\r\n\r\n", nil, 0},
		{"value_del", "GET / HTTP/1.0\r\nX: a\x7f\r\n\r\n", nil, 400},
		{"http11_downgraded", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", func(o *ParseOptions) { o.ProtocolHTTP11 = false }, 0},
		{"absolute_authority_too_long", "GET http://" + strings.Repeat("a", 1024) + "/ HTTP/1.0\r\n\r\n", nil, 400},
		{"host_too_long", "GET / HTTP/1.0\r\nHost: " + strings.Repeat("a", 1024) + "\r\n\r\n", nil, 400},
		{"no_uri", "GET  HTTP/1.1\r\nHost: a\r\n\r\n", nil, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultParseOptions()
			if tc.opts != nil {
				tc.opts(&o)
			}
			r, st := parseOne(tc.raw, &o)
			if st != tc.want {
				t.Fatalf("status %d (%s), want %d", st, r.Reason, tc.want)
			}
			if tc.name == "http11_downgraded" && (r.Proto != HTTP10 || r.KeepAlive) {
				t.Errorf("proto %v keepalive %v, want HTTP/1.0 without keep-alive", r.Proto, r.KeepAlive)
			}
		})
	}
}

func TestFindHead(t *testing.T) {
	tests := []struct {
		in        string
		hl, lines int
	}{
		{"GET / HTTP/1.0\r\n\r\n", 18, 1},
		{"GET / HTTP/1.0\n\n", 16, 1},
		{"GET / HTTP/1.0\r\nA: b\r\n", 0, 2},
		{"\r\nGET", 2, 0},
		{"GET / HTTP/1.0\r\nA: b\r\n\r\nGET", 24, 2},
	}
	for _, tc := range tests {
		hl, lines := FindHead([]byte(tc.in))
		if hl != tc.hl || lines != tc.lines {
			t.Errorf("FindHead(%q) = %d,%d want %d,%d", tc.in, hl, lines, tc.hl, tc.lines)
		}
	}
}

func TestValueOK(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 11; pos++ {
			v := []byte("abcdefghijk")
			v[pos] = byte(c)
			want := !((c < 32 && c != '\t') || c == 127)
			if got := valueOK(v); got != want {
				t.Fatalf("byte %#x at %d: got %v want %v", c, pos, got, want)
			}
		}
	}
}

// TestParseNoAlloc guards the zero-allocation promise for a typical
// browser request once the Request's slices have warmed up.
func TestParseNoAlloc(t *testing.T) {
	buf := []byte(browserRequest)
	o := DefaultParseOptions()
	var r Request
	ParseRequest(buf, &r, &o)
	if n := testing.AllocsPerRun(100, func() { ParseRequest(buf, &r, &o) }); n != 0 {
		t.Errorf("%v allocations per parse, want 0", n)
	}
	if r.Status != 0 || len(r.Headers) != 16 || string(r.Header("cookie")) != "session=abc123; theme=dark" {
		t.Errorf("unexpected parse: status %d, %d headers", r.Status, len(r.Headers))
	}
}

// TestHasToken: lighttpd's http_header_str_contains_token, on strings and
// bytes alike: items split by ',' (SP and HT before one skipped), a match
// ended by the end, SP, HT, ',' or ';', ASCII case ignored, and no
// allocation.
func TestHasToken(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want bool
	}{
		{"upgrade", true},
		{"keep-alive, Upgrade", true},
		{"UPGRADE", true},
		{"Upgrade;q=1", true},
		{"foo upgrade", false}, // one item, "foo upgrade"
		{"\tupgrade\t", true},
		{",,upgrade,", true},
		{"", false},
		{"upgrades", false},
		{"x-upgrade", false},
		{"keep-alive", false},
		{"upgrad", false},
	} {
		if got := HasToken(tc.v, "upgrade"); got != tc.want {
			t.Errorf("HasToken(%q) = %v, want %v", tc.v, got, tc.want)
		}
		if got := HasToken([]byte(tc.v), "upgrade"); got != tc.want {
			t.Errorf("HasToken([]byte(%q)) = %v, want %v", tc.v, got, tc.want)
		}
	}
	v := "keep-alive, Upgrade"
	if n := testing.AllocsPerRun(100, func() { HasToken(v, "websocket") }); n != 0 {
		t.Errorf("%v allocations per call, want 0", n)
	}
}

// TestHostCache: a connection's host cache answers as the policy does,
// whatever came before: the same bytes under other options, a host that was
// normalized, an invalid one after a valid one.
func TestHostCache(t *testing.T) {
	strict := DefaultParseOptions()
	lax := strict
	lax.HostStrict = false
	tls := strict
	tls.SchemePort = 443
	var hc HostCache
	for i, tc := range []struct {
		in   string
		o    *ParseOptions
		want string // "" = invalid
		kept bool   // the cache holds in afterwards
	}{
		{"example.com", &strict, "example.com", true},
		{"example.com", &strict, "example.com", true},
		{"a_b.com", &lax, "a_b.com", true},
		{"a_b.com", &strict, "", false}, // passed before, but not host-strict
		{"example.com:443", &strict, "example.com:443", true},
		{"example.com:443", &tls, "example.com", false}, // normalized: not kept
		{"example.com.", &strict, "example.com", false},
		{"example.com", &strict, "example.com", true},
		{"exam ple.com", &strict, "", false},
		{"[::1]", &strict, "[::1]", false}, // rewritten into scratch
	} {
		var scratch []byte
		got, ok := hc.Policy([]byte(tc.in), tc.o, &scratch)
		var scratch2 []byte
		want, wantOK := hostPolicy([]byte(tc.in), tc.o, &scratch2)
		if ok != wantOK || string(got) != string(want) || ok != (tc.want != "") || ok && string(got) != tc.want {
			t.Errorf("%d %q: got %q %v, the policy %q %v, want %q", i, tc.in, got, ok, want, wantOK, tc.want)
		}
		if kept := string(hc.host) == tc.in && hc.opts == hostOpts(tc.o); kept != tc.kept {
			t.Errorf("%d %q: cache holds %q (%d), kept %v, want %v", i, tc.in, hc.host, hc.opts, kept, tc.kept)
		}
	}
}

// TestHostCacheAcrossRequests: a connection's parsed requests share the
// cache (it survives the Request's reset) and a cached host still goes
// through the request's other checks.
func TestHostCacheAcrossRequests(t *testing.T) {
	o := DefaultParseOptions()
	var r Request
	for i, tc := range []struct {
		head   string
		status int
	}{
		{"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", 0},
		{"GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n", 0},
		{"GET / HTTP/1.1\r\nHost: example.com:80\r\n\r\n", 0},
		{"GET / HTTP/1.1\r\nHost: exa mple.com\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nHost: example.com\r\nHost: example.org\r\n\r\n", 400},
	} {
		ParseRequest([]byte(tc.head), &r, &o)
		if r.Status != tc.status || tc.status == 0 && string(r.Host) != "example.com" {
			t.Errorf("%d: status %d host %q, want %d", i, r.Status, r.Host, tc.status)
		}
		if i == 0 && string(r.hosts.host) != "example.com" {
			t.Fatalf("cache holds %q after the first request", r.hosts.host)
		}
	}
}
