package testpeer

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// Heavy skips the test unless WSSPROXY_HEAVY=1 (scripts/test.sh runs the
// heavy tests without -race in their own step).
func Heavy(t testing.TB) {
	t.Helper()
	if os.Getenv("WSSPROXY_HEAVY") != "1" {
		t.Skip("heavy test: set WSSPROXY_HEAVY=1")
	}
}

// PeakHeap samples the heap in use every 20 ms until stop is closed, then
// sends the largest sample.
func PeakHeap(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}
