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
	gen  uint64
	slot []memoSlot // by respName.slot: the last value written
}

// memoSlot is a name's last value and the bytes that encoded it (n == 0:
// none yet).
type memoSlot struct {
	value string
	gen   uint64
	n     uint8
	b     [4]byte
}

// writeField writes one field through the encoder (or its memo) into
// c.encBuf; slot is the name's memo slot. Every field that goes through
// the encoder must come here, so that a change of its tables is seen. The
// encoder keeps what it indexes, so value is interned before it is
// encoded; on a memo hit it is only compared.
func (c *conn) writeField(slot int8, name, value string) {
	if c.memo.slot == nil {
		c.memo.slot = make([]memoSlot, memoSlots)
	}
	e := &c.memo.slot[slot]
	if e.n != 0 && e.gen == c.memo.gen && e.value == value {
		c.encBuf.Write(e.b[:e.n])
		return
	}
	value = c.internValue(value)
	start := c.encBuf.Len()
	c.enc.WriteField(hpack.HeaderField{Name: name, Value: value})
	out := c.encBuf.Bytes()[start:]
	if len(out) == 0 || out[0]&0x80 == 0 || len(out) > len(e.b) {
		// A literal (perhaps inserted) or a size update first: the
		// tables may have changed, every index may have moved.
		c.memo.gen++
		e.n = 0
		return
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
