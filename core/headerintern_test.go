package core

import (
	"strings"
	"testing"
	"unsafe"
)

// TestInternHeader: common names and their repeated values come without
// allocating; every result is a copy the caller's buffer cannot change.
func TestInternHeader(t *testing.T) {
	buf := []byte("X-Powered-ByPHP/8.2.29")
	name, value := buf[:12], buf[12:]
	n1, in := internName(name)
	v1 := internValue(in, value)
	if n1 != "X-Powered-By" || v1 != "PHP/8.2.29" {
		t.Fatalf("got %q: %q", n1, v1)
	}
	if allocs := testing.AllocsPerRun(100, func() {
		n, in := internName(name)
		v := internValue(in, value)
		if unsafe.StringData(n) != unsafe.StringData(n1) || unsafe.StringData(v) != unsafe.StringData(v1) {
			t.Fatal("a repeated name or value was copied")
		}
	}); allocs != 0 {
		t.Errorf("repeated common header: %v allocations", allocs)
	}
	copy(buf[12:], "PHP/7.4.33")
	if v1 != "PHP/8.2.29" {
		t.Fatalf("the kept value changed with the buffer: %q", v1)
	}
	if v := internValue(in, value); v != "PHP/7.4.33" {
		t.Fatalf("a new value gave %q", v)
	}

	for _, tc := range []struct{ name, value string }{
		{"X-Custom", "a"},        // not a common name
		{"Location", "/next"},    // common name, value not kept
		{"content-type", "text"}, // the table is case-sensitive: spelling is kept
	} {
		b := []byte(tc.name + tc.value)
		n, in := internName(b[:len(tc.name)])
		v := internValue(in, b[len(tc.name):])
		for i := range b {
			b[i] = '#'
		}
		if n != tc.name || v != tc.value {
			t.Errorf("%s: %s gave %q: %q", tc.name, tc.value, n, v)
		}
	}
}

// TestClassifyField: every spelling of the headers BackendHeaders treats
// apart maps to its field, through the table or without it, and names of
// the same lengths do not.
func TestClassifyField(t *testing.T) {
	want := map[string]backendField{
		"Status": fieldStatus, "Upgrade": fieldUpgrade, "Connection": fieldConnection,
		"Content-Type": fieldContentType, "Content-Length": fieldContentLength,
		"Transfer-Encoding": fieldTransferEncoding, "HTTP2-Settings": fieldHTTP2Settings,
		"X-Sendfile": fieldXSendfile, "X-send-response-body": fieldXSendResponseBody,
		"X-LIGHTTPD-send-file": fieldXLighttpdSendFile, "X-Sendfile2": fieldXSendfile2,
	}
	for name, f := range want {
		for _, n := range []string{name, strings.ToLower(name), strings.ToUpper(name)} {
			if got := fieldOf(internName([]byte(n))); got != f {
				t.Errorf("%q: field %d, want %d", n, got, f)
			}
		}
		// Same length, one byte off: not the field.
		other := name[:len(name)-1] + "_"
		if got := fieldOf(internName([]byte(other))); got != fieldOther {
			t.Errorf("%q: field %d, want none", other, got)
		}
	}
	for n, in := range internedNames {
		f := fieldOther
		for name, wf := range want {
			if strings.EqualFold(n, name) {
				f = wf
			}
		}
		if in.field != f {
			t.Errorf("table entry %q: field %d, want %d", n, in.field, f)
		}
	}
}
