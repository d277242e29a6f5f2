package h2

import (
	"net/textproto"

	"golang.org/x/net/http2/hpack"
)

// Response fields are encoded two ways. Those that repeat from response to
// response with the same value (server, content-type, accept-ranges, ...)
// go through hpack.Encoder, whose dynamic table turns them into one byte
// after the first time. Those whose values vary (content-length, etag,
// last-modified, date, ...) are written here as literals without indexing
// (RFC 7541 §6.2.2) naming the static table entry: searching and filling the
// dynamic table for values that never repeat costs more CPU than it saves
// bytes. Literals without indexing leave the dynamic table alone, so both
// kinds mix freely in one block.

// respName is what the head writer knows of a response field name, found
// with one map lookup of the name as the handler spelled it.
type respName struct {
	lower string
	// slot is the name's memo slot (fieldmemo.go) when its fields go
	// through the encoder, -1 when they are literals.
	slot int8
	// static is the RFC 7541 static-table index of a literal's name (0:
	// the name is sent as a string).
	static uint64
}

// Memo slots of the fields the writer itself adds.
const (
	slotStatus = iota
	slotDate
	firstNameSlot
)

// respNames maps the known response field names, in lower case and in
// the canonical spelling handlers use, to their encoding.
var respNames, memoSlots = func() (map[string]*respName, int) {
	m := map[string]*respName{}
	add := func(lower string, rn *respName) {
		rn.lower = lower
		m[lower] = rn
		m[textproto.CanonicalMIMEHeaderKey(lower)] = rn
	}
	// Worth the dynamic table: their values repeat.
	slot := firstNameSlot
	for _, n := range []string{"server", "content-type", "accept-ranges", "vary", "cache-control",
		"content-encoding", "x-powered-by", "strict-transport-security", "x-content-type-options",
		"x-frame-options", "allow", "content-language", "access-control-allow-origin", "referrer-policy",
		"priority"} {
		add(n, &respName{slot: int8(slot)})
		slot++
	}
	// Literals naming a static-table entry.
	for n, idx := range map[string]uint64{
		"age": 21, "content-disposition": 25, "content-length": 28, "content-location": 29,
		"content-range": 30, "date": 33, "etag": 34, "expires": 36, "last-modified": 44,
		"link": 45, "location": 46, "refresh": 52, "retry-after": 53, "set-cookie": 55,
		"www-authenticate": 61,
	} {
		add(n, &respName{slot: -1, static: idx})
	}
	// Other spellings handlers and backends use (PHP's "Content-type").
	m["ETag"] = m["etag"]
	m["WWW-Authenticate"] = m["www-authenticate"]
	m["Content-type"] = m["content-type"]
	return m, slot
}()

// Memo slots of fields the writer may add itself.
var slotServer, slotPriority = respNames["server"].slot, respNames["priority"].slot

// respNamesByLen holds respNames' spellings by length: a handler's field
// name is compared with the few of its length whose first byte matches,
// where the map hashed it first (the map's lookup was 1.5% of the
// server's samples serving small files).
var respNamesByLen = func() (t [32][]respNameEntry) {
	for n, rn := range respNames {
		t[len(n)] = append(t[len(n)], respNameEntry{n, rn})
	}
	return t
}()

type respNameEntry struct {
	name string
	rn   *respName
}

// lookupRespName is respNames[name].
func lookupRespName(name string) *respName {
	if len(name) == 0 || len(name) >= len(respNamesByLen) {
		return nil
	}
	for _, e := range respNamesByLen[len(name)] {
		if e.name[0] == name[0] && e.name == name {
			return e.rn
		}
	}
	return nil
}

// appendVarInt appends the HPACK integer i with an n-bit prefix whose
// upper bits are first.
func appendVarInt(b []byte, first byte, n uint, i uint64) []byte {
	k := uint64(1)<<n - 1
	if i < k {
		return append(b, first|byte(i))
	}
	b = append(b, first|byte(k))
	for i -= k; i >= 128; i >>= 7 {
		b = append(b, byte(0x80|i&0x7f))
	}
	return append(b, byte(i))
}

// appendString appends s Huffman-coded when that is shorter. Strings
// shorter than 127 bytes (nearly all) are coded once behind a one-byte
// length, then kept or replaced by the raw bytes.
func appendString(b []byte, s string) []byte {
	if len(s) < 127 {
		at := len(b)
		b = hpack.AppendHuffmanString(append(b, 0), s)
		if n := len(b) - at - 1; n < len(s) {
			b[at] = 0x80 | byte(n)
			return b
		}
		b = append(b[:at], byte(len(s)))
		return append(b, s...)
	}
	if l := hpack.HuffmanEncodeLength(s); l < uint64(len(s)) {
		b = appendVarInt(b, 0x80, 7, l)
		return hpack.AppendHuffmanString(b, s)
	}
	b = appendVarInt(b, 0, 7, uint64(len(s)))
	return append(b, s...)
}

// appendLiteral appends "literal header field without indexing": the
// static-table index of the name when it has one, else the lower-case
// name itself.
func appendLiteral(b []byte, static uint64, name, value string) []byte {
	if static != 0 {
		b = appendVarInt(b, 0, 4, static)
	} else {
		b = append(b, 0)
		b = appendString(b, name)
	}
	return appendString(b, value)
}
