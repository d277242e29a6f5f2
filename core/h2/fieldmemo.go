package h2

import "golang.org/x/net/http2/hpack"

// fieldMemo remembers the bytes the HPACK encoder wrote for a field it
// found whole in its tables (an indexed representation, RFC 7541 §6.1):
// while the tables stay as they were, the same field is the same bytes,
// and the encoder's search (up to four map lookups, each hashing the name
// and the value) is skipped. With 1 KiB responses over 16 × 8 streams the
// search was 8% of the server's user time: every response sends :status,
// content-type, accept-ranges, date and server through the encoder.
//
// The tables change when the encoder inserts a field (a literal with
// incremental indexing, first byte 01xxxxxx) or writes a table size update
// (001xxxxx), and when the peer's SETTINGS_HEADER_TABLE_SIZE arrives: each
// starts a new generation, and memos of an older one are not used. The
// encoder keeps no other state that an indexed field would change.
type fieldMemo struct {
	gen uint64
	m   map[string]*memoSlot // by field name: the last value written
}

// memoSlot is a name's last value and the bytes that encoded it.
type memoSlot struct {
	value string
	gen   uint64
	n     uint8
	b     [4]byte
}

// memoMax bounds the names remembered (the encoder sees only the names in
// indexed and the few the writer adds); past it the memo starts over.
const memoMax = 64

// writeField writes one field through the encoder (or its memo) into
// c.encBuf. Every field that goes through the encoder must come here, so
// that a change of its tables is seen. Its name and value are kept: both
// must be immutable.
func (c *conn) writeField(name, value string) {
	e := c.memo.m[name]
	if e != nil && e.gen == c.memo.gen && e.value == value {
		c.encBuf.Write(e.b[:e.n])
		return
	}
	start := c.encBuf.Len()
	c.enc.WriteField(hpack.HeaderField{Name: name, Value: value})
	out := c.encBuf.Bytes()[start:]
	if len(out) == 0 || out[0]&0x80 == 0 || len(out) > len(memoSlot{}.b) {
		// A literal (perhaps inserted) or a size update first: the
		// tables may have changed, every index may have moved.
		c.memo.gen++
		return
	}
	if e == nil {
		if c.memo.m == nil || len(c.memo.m) >= memoMax {
			c.memo.m = make(map[string]*memoSlot)
		}
		e = new(memoSlot)
		c.memo.m[name] = e
	}
	e.value, e.gen, e.n = value, c.memo.gen, uint8(len(out))
	copy(e.b[:], out)
}

// setPeerTableSize applies the peer's SETTINGS_HEADER_TABLE_SIZE to the
// encoder (which then opens its next block with a size update).
func (c *conn) setPeerTableSize(v uint32) {
	c.enc.SetMaxDynamicTableSizeLimit(min(v, headerTableMax))
	c.memo.gen++
}
