package actors

import "github.com/actorhub/actorhub/events"

// eventRing is a feed's last n events, for conns that (re)subscribe from a
// recent seq; older ones come from the store. It keeps exactly n once full,
// overwriting the oldest in place: a slice that grew to 2n and was then cut
// back to n by a copy held 1.5n on average, and with one job per client the
// rings were the largest part of a node's live heap (docs/BENCHMARKS.md C9).
type eventRing struct {
	evs   []events.Event // oldest at start once full; grows by append until n
	start int
}

// push adds evs, which follow what the ring holds in seq order.
func (r *eventRing) push(n int, evs []events.Event) {
	if len(evs) > n {
		evs = evs[len(evs)-n:]
	}
	for _, ev := range evs {
		if len(r.evs) < n {
			if len(r.evs) == cap(r.evs) { // grow to n at most (append overshoots it)
				grown := make([]events.Event, len(r.evs), min(n, max(4, 2*cap(r.evs))))
				copy(grown, r.evs)
				r.evs = grown
			}
			r.evs = append(r.evs, ev)
			continue
		}
		r.evs[r.start] = ev
		if r.start++; r.start == len(r.evs) {
			r.start = 0
		}
	}
}

// after returns a copy of the events with a seq above seq, in order (nil if
// none): the caller may keep it while the ring moves on.
func (r *eventRing) after(seq int64) []events.Event {
	n := len(r.evs)
	for i := 0; i < n; i++ {
		if r.evs[(r.start+i)%n].Seq <= seq {
			continue
		}
		out := make([]events.Event, n-i)
		for k := range out {
			out[k] = r.evs[(r.start+i+k)%n]
		}
		return out
	}
	return nil
}
