package h1

// Rules of this parser that the HTTP/2 engine applies to header fields that
// arrive already split by HPACK, so both protocols judge a request alike.

// CheckFieldName returns lighttpd's status (400) and error-log reason for a
// field name it refuses, or 0.
func CheckFieldName(name []byte, strict bool) (int, string) { return checkName(name, strict) }

// ValidFieldValue reports whether v holds no control byte other than TAB
// and no DEL (lighttpd's header-strict value check).
func ValidFieldValue(v []byte) bool { return valueOK(v) }

// LookupMethod interns a method name lighttpd knows ("" if unknown; the
// match is case-sensitive).
func LookupMethod(b []byte) string { return lookupMethod(b) }

// HasToken reports whether the comma-separated list v holds tok
// (case-insensitive), as lighttpd scans Connection and Upgrade
// (http_header_str_contains_token).
func HasToken[V string | []byte](v V, tok string) bool { return hasToken(v, tok) }

// HTTPDate is the current time as an HTTP date, cached per second.
func HTTPDate() string { return httpDate() }
