package deflate

import (
	"bytes"
	"math"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

// loadavg is the one-minute load average, read at most every 30 seconds as
// lighttpd refreshes srv->loadavg (deflate.max-loadavg compares with it).
var loadavg struct {
	val  atomic.Uint64 // math.Float64bits
	read atomic.Int64  // Unix second of the last read
}

// loadavgPath is read for the load average (tests point it elsewhere).
var loadavgPath = "/proc/loadavg"

func currentLoad() float64 {
	now := time.Now().Unix()
	if last := loadavg.read.Load(); now-last >= 30 && loadavg.read.CompareAndSwap(last, now) {
		if b, err := os.ReadFile(loadavgPath); err == nil {
			if f := bytes.Fields(b); len(f) > 0 {
				if v, err := strconv.ParseFloat(string(f[0]), 64); err == nil {
					loadavg.val.Store(math.Float64bits(v))
				}
			}
		}
	}
	return math.Float64frombits(loadavg.val.Load())
}
