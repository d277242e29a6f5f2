package fcgi

import (
	"encoding/binary"
	"slices"
	"strconv"
	"sync"
)

// Params is an append-only list of FastCGI name-value pairs, kept in wire
// encoding so Do copies it into records without re-encoding. The zero value
// is ready to use; NewParams hands out a pooled one whose buffer survives
// Release, so steady-state request building does not allocate.
type Params struct {
	buf []byte
}

var paramsPool = sync.Pool{New: func() any { return &Params{buf: make([]byte, 0, 4096)} }}

// maxPooledParams keeps one pathological request from pinning a huge buffer
// in the pool.
const maxPooledParams = 256 << 10

// NewParams returns an empty Params from a pool. Call Release when the
// request it was used for has been sent (after Do returned).
func NewParams() *Params {
	return paramsPool.Get().(*Params)
}

// Release empties p and returns it to the pool; p must not be used after.
func (p *Params) Release() {
	if cap(p.buf) > maxPooledParams {
		return
	}
	p.buf = p.buf[:0]
	paramsPool.Put(p)
}

// Reset empties p, keeping its buffer.
func (p *Params) Reset() { p.buf = p.buf[:0] }

// Len is the encoded size in bytes. lighttpd sends all params in a single
// record and answers 400 when they exceed MaxRecordContent; a caller that
// wants that behaviour checks Len. Do itself splits larger sets over several
// PARAMS records.
func (p *Params) Len() int { return len(p.buf) }

// Add appends one pair. Lengths below 128 take one byte, longer ones four
// bytes with the top bit set (FastCGI 1.0 §3.4).
func (p *Params) Add(name, value string) { addPair(p, name, value) }

// AddInt appends a pair whose value is n in decimal, formatted in place
// (no string made for it; core.IntSink).
func (p *Params) AddInt(name string, n int64) {
	var b [20]byte
	addPair(p, name, strconv.AppendInt(b[:0], n, 10))
}

// AddBytes is Add for byte-slice values (header values read from a request
// buffer), avoiding a string conversion.
func (p *Params) AddBytes(name string, value []byte) { addPair(p, name, value) }

// addPair makes room for the pair once and copies it in: a request adds
// thirty or so, and four appends each (a capacity check and a call apiece)
// were most of the CGI environment's own time.
func addPair[V string | []byte](p *Params, name string, value V) {
	if len(name) >= 128 || len(value) >= 128 {
		p.buf = appendLen(p.buf, len(name))
		p.buf = appendLen(p.buf, len(value))
		p.buf = append(p.buf, name...)
		p.buf = append(p.buf, value...)
		return
	}
	n := len(p.buf)
	end := n + 2 + len(name) + len(value)
	if end > cap(p.buf) {
		p.buf = slices.Grow(p.buf, end-n)
	}
	b := p.buf[n:end]
	b[0], b[1] = byte(len(name)), byte(len(value))
	copy(b[2+copy(b[2:], name):], value)
	p.buf = p.buf[:end]
}

func appendLen(b []byte, n int) []byte {
	if n < 128 {
		return append(b, byte(n))
	}
	return binary.BigEndian.AppendUint32(b, uint32(n)|1<<31)
}

// Each calls fn for every pair in order until fn returns false (for debug
// logging and tests). The slices alias p's buffer.
func (p *Params) Each(fn func(name, value []byte) bool) {
	b := p.buf
	for len(b) > 0 {
		nl, n1 := readLen(b)
		vl, n2 := readLen(b[n1:])
		b = b[n1+n2:]
		if !fn(b[:nl], b[nl:nl+vl]) {
			return
		}
		b = b[nl+vl:]
	}
}

// readLen decodes a length written by appendLen and its encoded size.
func readLen(b []byte) (int, int) {
	if b[0] < 128 {
		return int(b[0]), 1
	}
	return int(binary.BigEndian.Uint32(b) &^ (1 << 31)), 4
}
