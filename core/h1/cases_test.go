package h1

import "strings"

// wireCase is one raw request with lighttpd 1.4.69's observed answer
// (behaviors.md §1.5, §1.2–1.4). status is the response status; closes
// tells whether lighttpd closes the connection afterwards.
type wireCase struct {
	name   string
	raw    string
	status int
	closes bool
}

// bigHead builds a GET head of exactly n bytes (request line + one padding
// header + final CRLF).
func bigHead(n int) string {
	base := "GET /f.txt HTTP/1.1\r\nHost: a\r\nX: \r\n\r\n"
	return strings.Replace(base, "X: ", "X: "+strings.Repeat("a", n-len(base)), 1)
}

var wireCases = []wireCase{
	{"ok_http11", "GET /f.txt HTTP/1.1\r\nHost: example.com\r\n\r\n", 200, false},
	{"ok_http10", "GET /f.txt HTTP/1.0\r\n\r\n", 200, true},
	{"ok_http10_keepalive", "GET /f.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200, false},
	{"http11_connection_close", "GET /f.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 200, true},
	{"missing_host_http11", "GET / HTTP/1.1\r\n\r\n", 400, true},
	{"two_different_hosts", "GET /f.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, true},
	{"same_host_twice_case", "GET /f.txt HTTP/1.1\r\nHost: a\r\nHost: A\r\n\r\n", 200, false},
	{"host_space", "GET /f.txt HTTP/1.1\r\nHost: a b\r\n\r\n", 400, true},
	{"host_underscore", "GET /f.txt HTTP/1.1\r\nHost: a_b.com\r\n\r\n", 400, true},
	{"host_leading_dash", "GET /f.txt HTTP/1.1\r\nHost: -a.com\r\n\r\n", 400, true},
	{"host_three_numbers", "GET /f.txt HTTP/1.1\r\nHost: 1.2.3\r\n\r\n", 400, true},
	{"host_bad_port", "GET /f.txt HTTP/1.1\r\nHost: a:8x\r\n\r\n", 400, true},
	{"host_hex_port", "GET /f.txt HTTP/1.1\r\nHost: a:0x50\r\n\r\n", 400, true},
	{"host_trailing_dot", "GET /f.txt HTTP/1.1\r\nHost: example.com.\r\n\r\n", 200, false},
	{"host_3com", "GET /f.txt HTTP/1.1\r\nHost: 3com.com\r\n\r\n", 200, false},
	{"host_ipv6", "GET /f.txt HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 200, false},
	{"host_empty_http11", "GET /f.txt HTTP/1.1\r\nHost: \r\n\r\n", 400, true},
	{"method_unknown", "FOO / HTTP/1.1\r\nHost: a\r\n\r\n", 501, true},
	{"method_lowercase", "get / HTTP/1.1\r\nHost: a\r\n\r\n", 501, true},
	{"method_trace", "TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", 501, false},
	{"method_brew", "BREW / HTTP/1.1\r\nHost: a\r\n\r\n", 501, true},
	{"version_2_0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, true},
	{"version_1_2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, true},
	{"http09", "GET /\r\n\r\n", 400, true},
	{"proto_foo", "GET / FOO/1.0\r\n\r\n", 400, true},
	{"lf_only", "GET /f.txt HTTP/1.0\n\n", 400, true},
	{"lf_only_header", "GET /f.txt HTTP/1.1\r\nHost: a\n\r\n", 400, true},
	{"leading_crlf", "\r\nGET /f.txt HTTP/1.0\r\n\r\n", 400, true},
	{"relative_target", "GET a.txt HTTP/1.0\r\n\r\n", 400, true},
	{"absolute_no_path", "GET http://foo.example HTTP/1.1\r\n\r\n", 400, true},
	{"absolute_ok", "GET http://Foo.Example/f.txt HTTP/1.1\r\n\r\n", 200, false},
	{"absolute_host_mismatch", "GET http://foo.example/f.txt HTTP/1.1\r\nHost: bar\r\n\r\n", 400, true},
	{"space_in_target", "GET /a b.txt HTTP/1.0\r\n\r\n", 200, true},
	{"raw_ctrl_in_target", "GET /a\x01b HTTP/1.0\r\n\r\n", 400, true},
	{"pct00_in_target", "GET /a%00b HTTP/1.0\r\n\r\n", 400, true},
	{"pct1f_in_target", "GET /a%1Fb HTTP/1.0\r\n\r\n", 400, true},
	{"pct7f_in_target", "GET /a%7Fb HTTP/1.0\r\n\r\n", 400, true},
	{"invalid_utf8_lead", "GET /%C0%AF HTTP/1.0\r\n\r\n", 400, true},
	{"space_before_colon", "GET /f.txt HTTP/1.1\r\nHost: a\r\nFoo : bar\r\n\r\n", 400, true},
	{"header_no_colon", "GET /f.txt HTTP/1.1\r\nHost: a\r\nFoo\r\n\r\n", 400, true},
	{"header_bad_name_char", "GET /f.txt HTTP/1.1\r\nHost: a\r\nFo(o: bar\r\n\r\n", 400, true},
	{"ctrl_in_header_value", "GET /f.txt HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400, true},
	{"tab_in_header_value", "GET /f.txt HTTP/1.1\r\nHost: a\r\nX: a\tb\r\n\r\n", 200, false},
	{"folded_header", "GET /f.txt HTTP/1.1\r\nHost: a\r\nX: a\r\n  b\r\n\r\n", 200, false},
	{"head_8192", bigHead(8192), 200, false},
	{"head_8193", bigHead(8193), 431, true},
	{"get_with_body", "GET /f.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", 400, true},
	{"get_with_cl0", "GET /f.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 200, false},
	{"post_no_length", "POST /f.txt HTTP/1.1\r\nHost: a\r\n\r\n", 411, true},
	{"post_static_with_body", "POST /f.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", 200, true},
	{"post_chunked_static", "POST /f.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 200, true},
	{"post_expect100_static", "POST /f.txt HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", 200, true},
	{"host_absolute_and_header_same", "GET http://a/f.txt HTTP/1.1\r\nHost: A\r\n\r\n", 200, false},
	{"connection_token_list", "GET /f.txt HTTP/1.1\r\nHost: a\r\nConnection: TE, Close\r\n\r\n", 200, true},
	{"cl_5x", "POST /f.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 5x\r\n\r\n", 400, true},
	{"cl_negative", "POST /f.txt HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n", 400, true},
	{"cl_plus", "POST /f.txt HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n", 400, true},
	{"cl_duplicate_same", "POST /f.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400, true},
	{"te_chunked_http10", "POST /f.txt HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, true},
	{"te_gzip", "POST /f.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501, true},
	{"te_and_cl", "POST /f.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400, true},
	{"upgrade_http10", "GET /f.txt HTTP/1.0\r\nUpgrade: websocket\r\n\r\n", 400, true},
	{"body_too_large", "POST /f.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 2048\r\n\r\n", 413, true},
	{"connect_ip", "CONNECT 1.2.3.4:443 HTTP/1.0\r\n\r\n", 405, true},
	{"connect_name", "CONNECT a:443 HTTP/1.0\r\n\r\n", 400, true},
	{"put_static", "PUT /f.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 501, false},
	{"delete_static", "DELETE /f.txt HTTP/1.1\r\nHost: a\r\n\r\n", 501, false},
	{"options_star", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 200, false},
	{"options_existing", "OPTIONS /f.txt HTTP/1.1\r\nHost: a\r\n\r\n", 200, false},
	{"not_found", "GET /missing HTTP/1.1\r\nHost: a\r\n\r\n", 404, false},
}
