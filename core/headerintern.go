package core

import (
	"sync/atomic"

	"github.com/golighty/golighty/core/ascii"
)

// Backend response headers repeat from one response to the next: PHP sends
// "X-Powered-By: PHP/8.2.x" and "Content-type: text/html; charset=UTF-8"
// with every page. Making a string of each name and value was three of a
// PHP request's allocations; common names (as spelled by the backend) come
// from a table instead, and for names whose values usually repeat the last
// value seen is kept and reused while the backend sends the same.
type internedName struct {
	name      string
	keepValue bool
	field     backendField
	last      atomic.Pointer[string] // the last value (keepValue only)
}

// backendField names the backend response headers BackendHeaders treats
// apart from the rest: a common name carries its field from the table, any
// other spelling is matched once per header by its length first (a chain of
// eleven case-insensitive compares per header was a third of the parse).
type backendField uint8

const (
	fieldOther backendField = iota
	fieldStatus
	fieldUpgrade
	fieldConnection
	fieldContentType
	fieldContentLength
	fieldTransferEncoding
	fieldHTTP2Settings
	fieldXSendfile
	fieldXSendResponseBody
	fieldXLighttpdSendFile
	fieldXSendfile2
)

// fieldOf is the field of the header named n (in: its table entry, or nil).
func fieldOf(n string, in *internedName) backendField {
	if in != nil {
		return in.field
	}
	return classifyField(n)
}

func classifyField(n string) backendField {
	is := func(s string) bool { return ascii.EqualFold(n, s) }
	switch len(n) {
	case 6:
		if is("Status") {
			return fieldStatus
		}
	case 7:
		if is("Upgrade") {
			return fieldUpgrade
		}
	case 10:
		switch {
		case is("Connection"):
			return fieldConnection
		case is("X-Sendfile"):
			return fieldXSendfile
		}
	case 11:
		if is("X-Sendfile2") {
			return fieldXSendfile2
		}
	case 12:
		if is("Content-Type") {
			return fieldContentType
		}
	case 14:
		switch {
		case is("Content-Length"):
			return fieldContentLength
		case is("HTTP2-Settings"):
			return fieldHTTP2Settings
		}
	case 17:
		if is("Transfer-Encoding") {
			return fieldTransferEncoding
		}
	case 20:
		switch {
		case is("X-send-response-body"):
			return fieldXSendResponseBody
		case is("X-LIGHTTPD-send-file"):
			return fieldXLighttpdSendFile
		}
	}
	return fieldOther
}

var internedNames = func() map[string]*internedName {
	m := make(map[string]*internedName)
	add := func(keepValue bool, names ...string) {
		for _, n := range names {
			m[n] = &internedName{name: n, keepValue: keepValue, field: classifyField(n)}
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

// internedByLen holds the table's entries by name length: a name is
// compared with the few of its length (at most four), where the map's
// lookup hashed it first (a fifth of BenchmarkBackendHeaders).
var internedByLen = func() [32][]*internedName {
	var t [32][]*internedName
	for n, in := range internedNames {
		t[len(n)] = append(t[len(n)], in)
	}
	return t
}()

// internName returns name as a string, without allocating for a common one.
func internName(name []byte) (string, *internedName) {
	if len(name) < len(internedByLen) {
		for _, in := range internedByLen[len(name)] {
			if in.name == string(name) {
				return in.name, in
			}
		}
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

// valueArena makes the header values that are not kept (internValue) into
// strings with one allocation per response instead of one per value: a
// proxied static file's Date, ETag, Last-Modified and Content-Length were
// four. Each value's slot is appended empty and filled by flush, from one
// string of all the values gathered; flush runs before anything reads or
// empties those slots. Values past its room are made strings of their own.
type valueArena struct {
	store [1024]byte // on the caller's stack: no slice of it is kept here
	used  int32
	slot  [24]int32 // the header slots waiting for their values
	end   [24]int32 // where each value ends in store
	n     int
}

func (a *valueArena) add(h *Headers, name string, value []byte) {
	if a.n == len(a.slot) || len(value) > len(a.store)-int(a.used) {
		h.Append(name, string(value))
		return
	}
	h.Append(name, "")
	a.used += int32(copy(a.store[a.used:], value))
	a.slot[a.n], a.end[a.n] = int32(h.Len()-1), a.used
	a.n++
}

func (a *valueArena) flush(h *Headers) {
	if a.n == 0 {
		return
	}
	s := string(a.store[:a.used])
	start := int32(0)
	for i := range a.n {
		h.SetAt(int(a.slot[i]), s[start:a.end[i]])
		start = a.end[i]
	}
	a.reset()
}

// reset forgets the values gathered (the headers were reset).
func (a *valueArena) reset() { a.used, a.n = 0, 0 }
