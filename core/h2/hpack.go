package h2

import "golang.org/x/net/http2/hpack"

// Response fields are encoded two ways. Those that repeat from response to
// response with the same value (server, content-type, accept-ranges, ...)
// go through hpack.Encoder, whose dynamic table turns them into one byte
// after the first time. Those whose values vary (content-length, etag,
// last-modified, date, ...) are written here as literals without indexing
// (RFC 7541 §6.2.2) naming the static table entry: searching and filling the
// dynamic table for values that never repeat costs more CPU than it saves
// bytes. Literals without indexing leave the dynamic table alone, so both
// kinds mix freely in one block.

// staticName is the RFC 7541 static-table index of response field names
// that are sent as literals.
var staticName = map[string]uint64{
	"age": 21, "content-disposition": 25, "content-length": 28, "content-location": 29,
	"content-range": 30, "date": 33, "etag": 34, "expires": 36, "last-modified": 44,
	"link": 45, "location": 46, "refresh": 52, "retry-after": 53, "set-cookie": 55,
	"www-authenticate": 61,
}

// indexed names the fields worth the dynamic table.
var indexed = map[string]bool{
	"server": true, "content-type": true, "accept-ranges": true, "vary": true,
	"cache-control": true, "content-encoding": true, "x-powered-by": true,
	"strict-transport-security": true, "x-content-type-options": true,
	"x-frame-options": true, "allow": true, "content-language": true,
	"access-control-allow-origin": true, "referrer-policy": true, "priority": true,
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

func appendString(b []byte, s string) []byte {
	if l := hpack.HuffmanEncodeLength(s); l < uint64(len(s)) {
		b = appendVarInt(b, 0x80, 7, l)
		return hpack.AppendHuffmanString(b, s)
	}
	b = appendVarInt(b, 0, 7, uint64(len(s)))
	return append(b, s...)
}

// appendLiteral appends "literal header field without indexing" for a
// lower-case name.
func appendLiteral(b []byte, name, value string) []byte {
	if idx, ok := staticName[name]; ok {
		b = appendVarInt(b, 0, 4, idx)
	} else {
		b = append(b, 0)
		b = appendString(b, name)
	}
	return appendString(b, value)
}
