package actors

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

// TestPoolTurnBehindABlockedOne: a turn queued behind one that blocks still
// runs, on another worker, whether the two were queued together (one worker
// is woken for both: it must wake the next when it takes the first) or one
// after the other.
func TestPoolTurnBehindABlockedOne(t *testing.T) {
	t.Parallel()
	for _, together := range []bool{true, false} {
		p := newPool(2, 300)
		for { // both workers wait, so that the one woken is the one that decides
			p.mu.Lock()
			idle := p.idle
			p.mu.Unlock()
			if idle == 2 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		release, blocked, ran := make(chan struct{}), make(chan struct{}), make(chan struct{})
		block := func() { close(blocked); <-release }
		second := func() { close(ran) }
		if together { // two Schedules before the woken worker looks at the queue
			p.mu.Lock()
			p.queue = append(p.queue, block, second)
			p.wakeLocked()
		} else {
			p.Schedule(block)
			<-blocked
			p.Schedule(second)
		}
		select {
		case <-ran:
		case <-time.After(time.Minute):
			t.Fatalf("together %v: the turn behind the blocked one did not run in a minute", together)
		}
		close(release)
		p.stop()
	}
}
