package h2

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// TestFieldMemo encodes thousands of header blocks through writeField,
// most of them a response's usual fields (so they come from the memo) with
// others drawn at random from a small set, some too large for a small table, with the peer's table size changing
// now and then, and decodes each block with a decoder that follows the
// same table sizes: every block must decode to exactly its fields.
func TestFieldMemo(t *testing.T) {
	names := []string{":status", "content-type", "server", "date", "accept-ranges", "vary"}
	slot := func(name string) int8 {
		switch name {
		case ":status":
			return slotStatus
		case "date":
			return slotDate
		}
		return respNames[name].slot
	}
	values := []string{"200", "404", "text/plain", "text/html", "lighttpd/1.4.69", "bytes", "none",
		"Mon, 07 Dec 2026 01:51:39 GMT", "Mon, 07 Dec 2026 01:51:40 GMT", string(make([]byte, 300))}
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		c := &conn{intern: map[string]string{}}
		c.enc = hpack.NewEncoder(&c.encBuf)
		var got []hpack.HeaderField
		dec := hpack.NewDecoder(headerTableMax, func(f hpack.HeaderField) { got = append(got, f) })
		memoHits := 0
		for block := 0; block < 500; block++ {
			if rng.IntN(40) == 0 {
				size := []uint32{0, 64, 256, 4096, 1 << 20}[rng.IntN(5)]
				c.setPeerTableSize(size)
				dec.SetAllowedMaxDynamicTableSize(min(size, headerTableMax))
			}
			c.encBuf.Reset()
			var fields []hpack.HeaderField
			if rng.IntN(5) > 0 { // mostly a response's usual fields
				fields = []hpack.HeaderField{{Name: ":status", Value: "200"}, {Name: "content-type", Value: "text/plain"},
					{Name: "accept-ranges", Value: "bytes"}, {Name: "date", Value: values[7+rng.IntN(2)]}, {Name: "server", Value: "lighttpd/1.4.69"}}
			}
			for n := rng.IntN(4); n > 0; n-- {
				fields = append(fields, hpack.HeaderField{Name: names[rng.IntN(len(names))], Value: values[rng.IntN(len(values))]})
			}
			var want []hpack.HeaderField
			for _, f := range fields {
				if e := c.memo.slot; e != nil && e[slot(f.Name)].n != 0 && e[slot(f.Name)].gen == c.memo.gen && e[slot(f.Name)].value == f.Value {
					memoHits++
				}
				c.writeField(slot(f.Name), f.Name, f.Value)
				want = append(want, f)
			}
			got = got[:0]
			if _, err := dec.Write(c.encBuf.Bytes()); err != nil {
				t.Fatalf("seed %d block %d: %v", seed, block, err)
			}
			if err := dec.Close(); err != nil {
				t.Fatalf("seed %d block %d: %v", seed, block, err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("seed %d block %d: decoded %v, want %v", seed, block, got, want)
			}
		}
		if memoHits == 0 {
			t.Fatalf("seed %d: no field came from the memo", seed)
		}
	}
}
