package actors

import "github.com/actorhub/actorhub/events"

// eventRing is a feed's last n events, for conns that (re)subscribe from a
// recent seq; older ones come from the store. It keeps exactly n once full,
// overwriting the oldest in place: a slice that grew to 2n and was then cut
// back to n by a copy held 1.5n on average, and with one job per client the
// rings were the largest part of a node's live heap (docs/BENCHMARKS.md C9).
//
// It keeps of each event what a conn uses of it, its seq and its wire object
// (gapFill and the sink read nothing else): 32 bytes a slot where a whole
// events.Event took 96, 2 KB of each job's feed at the default 32
// (docs/BENCHMARKS.md C22).
type eventRing struct {
	evs   []ringEvent // oldest at start once full; grows by append until n
	start int
}

// ringEvent is what the ring keeps of an event.
type ringEvent struct {
	seq int64
	raw []byte
}

// push adds evs, which follow what the ring holds in seq order.
func (r *eventRing) push(n int, evs []events.Event) {
	if len(evs) > n {
		evs = evs[len(evs)-n:]
	}
	for _, ev := range evs {
		if len(r.evs) < n {
			if len(r.evs) == cap(r.evs) { // grow to n at most (append overshoots it)
				grown := make([]ringEvent, len(r.evs), min(n, max(4, 2*cap(r.evs))))
				copy(grown, r.evs)
				r.evs = grown
			}
			r.evs = append(r.evs, ringEvent{ev.Seq, ev.Raw})
			continue
		}
		r.evs[r.start] = ringEvent{ev.Seq, ev.Raw}
		if r.start++; r.start == len(r.evs) {
			r.start = 0
		}
	}
}

// after returns the events of job jobID with a seq above seq, in order (nil
// if none), as new events that hold their job id, seq and wire object: the
// caller may keep them while the ring moves on.
func (r *eventRing) after(jobID string, seq int64) []events.Event {
	n := len(r.evs)
	for i := 0; i < n; i++ {
		if r.evs[(r.start+i)%n].seq <= seq {
			continue
		}
		out := make([]events.Event, n-i)
		for k := range out {
			e := r.evs[(r.start+i+k)%n]
			out[k] = events.Event{JobID: jobID, Seq: e.seq, Raw: e.raw}
		}
		return out
	}
	return nil
}
