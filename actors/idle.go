package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// idleTimeout is an actor's receive timeout, in place of protoactor's
// (SetReceiveTimeout). protoactor runs its timeout on the timer's goroutine,
// which cancels the timeout (writing the actor context's timeout and timer
// fields) while the actor may be processing a message that reads them: a
// data race that -race reported in this package's tests about one run in
// eight, and one that can leave a message to stop a timer the handler has
// just cleared. It also stopped and reset a runtime timer for every message.
// Here the timer only sends the actor an idleTick, the actor's own turn
// decides (expired), and a message costs a clock read.
//
// As protoactor's, the timeout fires once after d without a message and is
// then off until set again; every message but the tick counts (saw).
type idleTimeout struct {
	d     time.Duration // off when 0
	last  time.Time     // when the last message came
	timer *time.Timer   // nil when no tick of gen is to come
	due   time.Time     // when timer fires
	gen   uint64        // the armed timer's: a tick of an earlier one is stale
}

// idleTick is what an idleTimeout's timer sends its actor.
type idleTick struct{ gen uint64 }

// set arms the timeout for d from now (d <= 0: off). A timer still armed
// from before (pause) stays when it fires no later than d from now: its tick
// finds a message came since and arms again for the rest (expired). A
// worker's connection, whose timeout is on while an emit waits for its ack
// and off in between, so makes no timer per emit.
func (t *idleTimeout) set(h *Hub, self *actor.PID, d time.Duration) {
	if d <= 0 {
		t.stop()
		return
	}
	now := time.Now()
	if t.timer != nil && t.due.After(now.Add(d)) {
		t.stop()
	}
	t.d, t.last = d, now
	if t.timer == nil {
		t.arm(h, self, d)
	}
}

func (t *idleTimeout) arm(h *Hub, self *actor.PID, d time.Duration) {
	t.gen++
	t.due = time.Now().Add(d)
	tick := &idleTick{gen: t.gen}
	t.timer = time.AfterFunc(d, func() { h.system.Root.Send(self, tick) })
}

// stop turns the timeout off, and its timer.
func (t *idleTimeout) stop() {
	t.d = 0
	t.gen++
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
}

// pause turns the timeout off and leaves its timer, whose tick then does
// nothing, for the next set to take over. An actor that stops calls stop.
func (t *idleTimeout) pause() { t.d = 0 }

// saw records a message: any but the timeout's own tick puts the timeout off
// by d from now.
func (t *idleTimeout) saw(msg any) {
	if t.d > 0 {
		if _, tick := msg.(*idleTick); !tick {
			t.last = time.Now()
		}
	}
}

// expired takes the actor's tick: true when no message came for d (the
// timeout is then off), false for a stale tick, a paused timeout, or when a
// message came since (the timer is armed again for the rest).
func (t *idleTimeout) expired(h *Hub, self *actor.PID, m *idleTick) bool {
	if m.gen != t.gen {
		return false
	}
	t.timer = nil
	if t.d == 0 {
		return false
	}
	if idle := time.Since(t.last); idle < t.d {
		t.arm(h, self, t.d-idle)
		return false
	}
	t.d = 0
	return true
}
