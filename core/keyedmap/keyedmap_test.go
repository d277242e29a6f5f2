package keyedmap

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

type item struct {
	key string
	n   int
}

func itemKey(it *item) string { return it.key }

// TestAgainstBuiltinMap applies random stores, replacements and deletions
// (plain and conditional) to a Map and to a built-in map, and compares
// every lookup, the length and a Range after each step: tables grow and
// shrink, and tombstones pile up along probe paths.
func TestAgainstBuiltinMap(t *testing.T) {
	for _, keys := range []int{3, 40, 3000} {
		t.Run(fmt.Sprint(keys), func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(keys)))
			m := New(itemKey)
			want := map[string]*item{}
			for step := range 20 * keys {
				k := fmt.Sprintf("/www/f%d", r.IntN(keys))
				switch op := r.IntN(10); {
				case op < 5:
					v := &item{key: k, n: step}
					prev, loaded := m.Swap(v)
					if w, ok := want[k]; loaded != ok || prev != w {
						t.Fatalf("step %d: Swap(%s) = %v, %v; want %v, %v", step, k, prev, loaded, w, ok)
					}
					want[k] = v
				case op < 8:
					v, ok := m.Delete(k)
					if w, wok := want[k]; ok != wok || v != w {
						t.Fatalf("step %d: Delete(%s) = %v, %v; want %v, %v", step, k, v, ok, w, wok)
					}
					delete(want, k)
				default:
					other := &item{key: k}
					if m.DeleteIf(k, other) {
						t.Fatalf("step %d: DeleteIf(%s) removed a value it was not given", step, k)
					}
					if w, ok := want[k]; ok && r.IntN(2) == 0 {
						if !m.DeleteIf(k, w) {
							t.Fatalf("step %d: DeleteIf(%s) kept its value", step, k)
						}
						delete(want, k)
					}
				}
				if keys < 50 || step%(keys/10) == 0 {
					check(t, m, want, keys)
				}
			}
			check(t, m, want, keys)
		})
	}
}

func check(t *testing.T, m *Map[item], want map[string]*item, keys int) {
	t.Helper()
	if m.Len() != len(want) {
		t.Fatalf("Len %d, want %d", m.Len(), len(want))
	}
	for i := range keys {
		k := fmt.Sprintf("/www/f%d", i)
		v, ok := m.Load(k)
		if w, wok := want[k]; ok != wok || v != w {
			t.Fatalf("Load(%s) = %v, %v; want %v, %v", k, v, ok, w, wok)
		}
	}
	seen := 0
	m.Range(func(v *item) bool {
		if want[v.key] != v {
			t.Fatalf("Range gave %v, not stored", v)
		}
		seen++
		return true
	})
	if seen != len(want) {
		t.Fatalf("Range saw %d values, want %d", seen, len(want))
	}
}

// TestTableSize: the table grows to at most twice what is live, keeps a
// quarter of its slots empty (a lookup's probe ends at one), and gives
// slots back when most of what it held is deleted.
func TestTableSize(t *testing.T) {
	m := New(itemKey)
	const n = 10000
	for i := range n {
		m.Swap(&item{key: fmt.Sprint(i)})
		tab := m.tab.Load()
		if tab.used*4 > len(tab.slots)*3 {
			t.Fatalf("%d stored: %d of %d slots used", i+1, tab.used, len(tab.slots))
		}
	}
	if got := len(m.tab.Load().slots); got > 4*n {
		t.Errorf("%d slots for %d values", got, n)
	}
	for i := range n - 10 {
		m.Delete(fmt.Sprint(i))
	}
	if got := len(m.tab.Load().slots); got > 64 {
		t.Errorf("%d slots left for 10 values", got)
	}
	if m.Len() != 10 {
		t.Errorf("Len %d, want 10", m.Len())
	}
}

// TestConcurrent: readers look up while writers store, replace and delete
// (the table is rebuilt under them); a reader never sees a value under
// another key, nor one whose key was never stored. Run with -race.
func TestConcurrent(t *testing.T) {
	m := New(itemKey)
	const keys = 512
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; i < 20000; i++ {
				k := fmt.Sprint(r.IntN(keys))
				if r.IntN(3) == 0 {
					m.Delete(k)
				} else {
					m.Swap(&item{key: k, n: i})
				}
			}
		}()
	}
	var readers sync.WaitGroup
	var found atomic.Int64
	for range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for i := 0; !stop.Load(); i++ {
				k := fmt.Sprint(i % (2 * keys))
				if v, ok := m.Load(k); ok {
					if v.key != k || i%(2*keys) >= keys {
						t.Errorf("Load(%s) gave %q", k, v.key)
						return
					}
					found.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	readers.Wait()
	if found.Load() == 0 {
		t.Error("the readers never found a value")
	}
	n := 0
	m.Range(func(*item) bool { n++; return true })
	if n != m.Len() {
		t.Errorf("Range saw %d, Len %d", n, m.Len())
	}
}

func BenchmarkLoadMany(b *testing.B) {
	m := New(itemKey)
	const n = 10000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("/srv/www/many/f%d.txt", i)
		m.Swap(&item{key: keys[i]})
	}
	r := rand.New(rand.NewPCG(1, 2))
	order := make([]int, 1<<16)
	for i := range order {
		order[i] = r.IntN(n)
	}
	i := 0
	for b.Loop() {
		if _, ok := m.Load(keys[order[i&(len(order)-1)]]); !ok {
			b.Fatal("missing")
		}
		i++
	}
}
