package core

import "sync/atomic"

// Backend response headers repeat from one response to the next: PHP sends
// "X-Powered-By: PHP/8.2.x" and "Content-type: text/html; charset=UTF-8"
// with every page. Making a string of each name and value was three of a
// PHP request's allocations; common names (as spelled by the backend) come
// from a table instead, and for names whose values usually repeat the last
// value seen is kept and reused while the backend sends the same.
type internedName struct {
	name      string
	keepValue bool
	last      atomic.Pointer[string] // the last value (keepValue only)
}

var internedNames = func() map[string]*internedName {
	m := make(map[string]*internedName)
	add := func(keepValue bool, names ...string) {
		for _, n := range names {
			m[n] = &internedName{name: n, keepValue: keepValue}
		}
	}
	add(true, "Content-Type", "Content-type", "X-Powered-By", "Cache-Control", "Expires",
		"Pragma", "Vary", "Content-Encoding", "Content-Language", "Accept-Ranges", "Server",
		"X-Frame-Options", "X-Content-Type-Options", "X-XSS-Protection", "Referrer-Policy",
		"Access-Control-Allow-Origin", "Strict-Transport-Security", "Content-Security-Policy")
	add(false, "Content-Length", "Location", "Set-Cookie", "Last-Modified", "ETag", "Status",
		"Content-Disposition", "Date", "Connection", "Transfer-Encoding", "Link")
	return m
}()

// internName returns name as a string, without allocating for a common one.
func internName(name []byte) (string, *internedName) {
	if in := internedNames[string(name)]; in != nil {
		return in.name, in
	}
	return string(name), nil
}

// internValue returns value as a string for a header named by in (nil: not
// a common name), reusing the last one when it is the same.
func internValue(in *internedName, value []byte) string {
	if in == nil || !in.keepValue {
		return string(value)
	}
	if p := in.last.Load(); p != nil && *p == string(value) {
		return *p
	}
	v := string(value)
	in.last.Store(&v)
	return v
}
