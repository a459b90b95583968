package actors

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// An idleTimeout fires d after the last message it saw, once; a paused one
// does not fire; setting it again while the paused timer is armed keeps that
// timer (a worker's connection makes no timer per emit) and still fires d
// after the last message.
func TestIdleTimeoutPauseKeepsItsTimer(t *testing.T) {
	t.Parallel()
	const d = 30 * time.Millisecond
	h := &Hub{system: quietSystem()}
	var it idleTimeout
	ticks := make(chan *idleTick, 16)
	pid := h.system.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if m, ok := ctx.Message().(*idleTick); ok {
			ticks <- m
		}
	}))
	// the timeout's state belongs to the actor's turn: the test takes each
	// tick from the actor and decides in its own goroutine, one at a time
	take := func() bool { return it.expired(h, pid, <-ticks) }

	start := time.Now()
	it.set(h, pid, d)
	first := it.timer
	if !take() {
		t.Fatal("a timeout that saw no message did not expire at its first tick")
	}
	if since := time.Since(start); since < d {
		t.Fatalf("expired after %v; want ≥ %v", since, d)
	}
	if it.d != 0 || it.timer != nil {
		t.Fatalf("after expiring: d %v, timer %v; want off", it.d, it.timer)
	}

	// pause, then set again before the timer fires: the same timer
	it.set(h, pid, d)
	armed := it.timer
	if armed == first || armed == nil {
		t.Fatal("set after an expiry did not arm a new timer")
	}
	it.pause()
	it.set(h, pid, d)
	if it.timer != armed {
		t.Fatal("set after pause made a new timer; want the paused one kept")
	}
	again := time.Now()
	for !take() { // the kept timer's tick arms again for the rest
	}
	if since := time.Since(again); since < d {
		t.Fatalf("expired %v after the last set; want ≥ %v", since, d)
	}

	// paused: the tick does nothing, and the timer is spent
	it.set(h, pid, d)
	it.pause()
	if take() {
		t.Fatal("a paused timeout expired")
	}
	if it.timer != nil {
		t.Fatal("a paused timeout's tick left its timer counted as armed")
	}
	select {
	case m := <-ticks:
		t.Fatalf("a tick %+v after a paused timer's", m)
	case <-time.After(3 * d):
	}
	it.set(h, pid, d)
	if it.timer == nil {
		t.Fatal("set after the paused timer's tick armed no timer")
	}
	it.stop()
	select {
	case m := <-ticks:
		t.Fatalf("a stopped timer ticked: %+v", m)
	case <-time.After(3 * d):
	}
}
