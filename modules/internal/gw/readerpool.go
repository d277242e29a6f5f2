package gw

import (
	"bufio"
	"io"
	"sync"
	"sync/atomic"
)

// ReaderPool recycles a gateway's read buffers of one size and counts
// those held now (tests check that waiting requests hold none).
type ReaderPool struct {
	pool sync.Pool
	out  atomic.Int32
}

// NewReaderPool returns a pool of size-byte read buffers.
func NewReaderPool(size int) *ReaderPool {
	p := new(ReaderPool)
	p.pool.New = func() any { return bufio.NewReaderSize(nil, size) }
	return p
}

// Get returns a buffer reading from r.
func (p *ReaderPool) Get(r io.Reader) *bufio.Reader {
	p.out.Add(1)
	br := p.pool.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

// Put returns br to the pool.
func (p *ReaderPool) Put(br *bufio.Reader) {
	br.Reset(nil)
	p.pool.Put(br)
	p.out.Add(-1)
}

// Out is the number of buffers held now.
func (p *ReaderPool) Out() int32 { return p.out.Load() }
