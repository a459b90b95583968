package actors

import (
	"sync"

	"github.com/actorhub/actorhub/events"
)

// subLine is one client subscription's delivery state, its gapFill and the
// client's sink, shared by the ConnActor that owns the subscription and its
// job's feed on this node. A batch of events that follows the subscription's
// last seq with nothing missing, buffered or held (gapFill.takeNext, accept's
// common case) the feed writes to the sink itself, under mu: no message to the
// conn and no turn of its mailbox per event per client. Everything else (a
// gap, a replay from the store, a subscription not confirmed yet, or ended)
// goes to the conn as a jobEvents message, as it always did, and the conn
// holds mu for every use of gap: whichever of the two writes a client's
// events, they reach its sink in seq order, none missing and none twice.
type subLine struct {
	mu   sync.Mutex
	gap  gapFill
	sink Sink
	gone bool // the subscription ended or was replaced: events go through the conn
}

func newSubLine(sink Sink, from int64) *subLine {
	return &subLine{sink: sink, gap: gapFill{have: from, want: from, held: true}}
}

// direct writes evs (in seq order, at least one) to the sink when they are
// the subscription's next events and nothing waits before them. handled
// reports whether it did; sent, whether the sink took them (a full queue
// makes the sink close the connection; its client resumes from its last seq).
// A single event is written on this goroutine (Sink.SendNow).
func (l *subLine) direct(evs []events.Event) (handled, sent bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gone || !l.gap.takeNext(evs) {
		return false, false
	}
	if len(evs) == 1 {
		return true, l.sink.SendNow(evs[0].Raw)
	}
	return true, sendEvents(l.sink, evs)
}

// end makes the feed send this subscription's events through the conn, which
// finds it gone (or replaced) and drops them (or hands them to its successor).
func (l *subLine) end() {
	l.mu.Lock()
	l.gone = true
	l.mu.Unlock()
}

// ended reports whether end was called.
func (l *subLine) ended() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gone
}

// sendEvents queues the events' wire objects on sink, in order.
func sendEvents(sink Sink, evs []events.Event) bool {
	if len(evs) == 1 {
		return sink.Send(evs[0].Raw)
	}
	objs := make([][]byte, len(evs))
	for i := range evs {
		objs[i] = evs[i].Raw
	}
	return sink.SendAll(objs)
}
