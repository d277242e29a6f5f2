package extforward

// X-Forwarded-For and the other list headers (X-Real-IP, any name set in
// extforward.headers but Forwarded) are read as lighttpd reads them: an
// address is a run of hex digits, ':' and '.' that does not start with '.';
// every other byte separates (so "[::1]:80" yields "::1:80", and a port
// glued to an IPv4 address makes it invalid). The client is the right-most
// address that is not a trusted proxy.

func isAddrByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == ':' || c == '.'
}

// lastUntrusted scans v from the end and returns the first address that f
// does not trust; ok is false when every address is trusted (or there is
// none). The result is a view of v.
func lastUntrusted(v string, f *forwarder) (addr string, ok bool) {
	end := len(v)
	for end > 0 {
		for end > 0 && !isAddrByte(v[end-1]) {
			end--
		}
		start := end
		for start > 0 && isAddrByte(v[start-1]) {
			start--
		}
		tok := v[start:end]
		for len(tok) > 0 && tok[0] == '.' {
			tok = tok[1:]
		}
		if tok != "" && !f.trusted(tok) {
			return tok, true
		}
		end = start
	}
	return "", false
}
