package actors

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestPoolRunsEverythingOnce: every scheduled turn runs exactly once, from
// many schedulers at once, also while the queue is compacted, and stop waits
// for the queued turns.
func TestPoolRunsEverythingOnce(t *testing.T) {
	t.Parallel()
	p := newPool(3, 300)
	const n = 50000
	var ran atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range n / 4 {
				p.Schedule(func() { ran.Add(1) })
			}
		})
	}
	wg.Wait()
	p.stop()
	if got := ran.Load(); got != n {
		t.Fatalf("%d turns ran, want %d", got, n)
	}
	done := make(chan struct{})
	p.Schedule(func() { close(done) }) // after stop: still runs
	<-done
}
