package actors

import (
	"runtime"
	"sync"
	"time"

	"github.com/actorhub/actorhub/events"
	"github.com/asynkron/protoactor-go/actor"
)

// A feed's fan-out writes an event to each of its clients' sockets itself
// (Sink.SendNow, through the client's subLine). A wide one must neither hold
// up the node's other work until its last write nor leave the node's other
// cores idle meanwhile, so past nowCheckEvery clients it:
//   - yields the P every nowCheckEvery clients (runtime.Gosched): what became
//     runnable meanwhile (another job's append done, a worker's acks) runs
//     between its slices, not after all of them (docs/BENCHMARKS.md C25);
//   - every netYieldEvery, waits until the scheduler has polled the network
//     instead (netGate): a P polls only when nothing is runnable, so a
//     worker's emits and Redis's replies that arrived meanwhile would
//     otherwise wait for sysmon's poll, 10ms on (C26);
//   - past helpAfter, on a node with helpMinProcs Ps or more, shares the
//     clients left with helper goroutines (Hub.lendHelpers: a P always left
//     for the rest of the node), each writing its share the same way, and
//     waits for them, so that each client still gets the feed's events in
//     order; the node's other cores then share a wide fan-out (C27).
//
// It used to hand the clients left past its budget to their writer
// goroutines, one each: thousands made runnable at once kept every P busy,
// and the network unpolled, until they were done (other streams' p99 beside a
// broadcast ~20ms on two Ps and on four, C26 and C27). On two Ps helpers lost
// to one goroutine writing every client (C27): the one other core also runs
// everything else.
const (
	nowCheckEvery = 16
	netYieldEvery = time.Millisecond
	helpAfter     = 250 * time.Microsecond
	helpMinProcs  = 3
	// helpMinShare: a helper is worth its wake-up for this many clients
	helpMinShare = 2 * nowCheckEvery
)

// fanShare is the part of a fan-out one goroutine writes, and what came of
// it.
type fanShare struct {
	sent  int          // clients whose sink took the events
	later []*actor.PID // conns that get the events as a message instead
}

// one writes evs to c through its line when they are its next events;
// otherwise (a gap, a replay, a subscription not confirmed yet) the conn is
// left for a message, which it sorts out.
func (s *fanShare) one(evs []events.Event, c feedConn) {
	if c.line != nil {
		if handled, ok := c.line.direct(evs); handled {
			if ok {
				s.sent++
			}
			return
		}
	}
	s.later = append(s.later, c.pid)
}

// write writes evs to conns, pausing every nowCheckEvery clients (Hub.pause);
// netAt is when it next lets the network in. Past until (zero: no bound) it
// stops at a pause instead, before pausing, and returns how many it wrote
// and netAt.
func (s *fanShare) write(h *Hub, evs []events.Event, conns []feedConn, netAt, until time.Time) (int, time.Time) {
	for i, c := range conns {
		if i > 0 && i%nowCheckEvery == 0 {
			now := time.Now()
			if !until.IsZero() && now.After(until) {
				return i, netAt
			}
			netAt = h.pause(now, netAt)
		}
		s.one(evs, c)
	}
	return len(conns), netAt
}

// pause gives way in a wide fan-out: it waits for the network once now is
// past netAt, and yields the P otherwise. It returns when to let the network
// in next.
func (h *Hub) pause(now, netAt time.Time) time.Time {
	if now.After(netAt) {
		h.gate.yield()
		return time.Now().Add(netYieldEvery)
	}
	runtime.Gosched()
	return netAt
}

// procs is the node's number of Ps (GOMAXPROCS, which the runtime may change
// while the node runs), or what a test set.
func (h *Hub) procs() int {
	if h.helpProcs > 0 {
		return h.helpProcs
	}
	return runtime.GOMAXPROCS(0)
}

// lendHelpers reserves up to want helper goroutines for a fan-out and returns
// how many: fewer when other fan-outs hold the rest, none on a node of fewer
// than helpMinProcs Ps. The node lends two fewer than its Ps, so that a
// fan-out, its own goroutine included, leaves a P for the rest of the node;
// each helper gives its own back when done.
func (h *Hub) lendHelpers(want int) int {
	procs := h.procs()
	limit := int32(procs - 2)
	if want <= 0 || procs < helpMinProcs {
		return 0
	}
	for {
		busy := h.helping.Load()
		n := min(int32(want), limit-busy)
		if n <= 0 {
			return 0
		}
		if h.helping.CompareAndSwap(busy, busy+n) {
			return int(n)
		}
	}
}

// share writes evs to rest with n lent helpers: the feed's goroutine takes
// the first of n+1 shares into own, each helper one of the others, and it
// waits for them (a client's next events must not overtake these).
func (f *JobFeed) share(evs []events.Event, rest []feedConn, n int, own *fanShare, netAt time.Time) {
	f.h.metrics.FanOutHelpers.Add(float64(n))
	size := (len(rest) + n) / (n + 1)
	shares := make([]fanShare, n)
	var wg sync.WaitGroup
	wg.Add(n)
	for j := range shares {
		lo := min(len(rest), (j+1)*size)
		go func(s *fanShare, conns []feedConn) {
			defer wg.Done()
			defer f.h.helping.Add(-1)
			s.write(f.h, evs, conns, time.Now().Add(netYieldEvery), time.Time{})
		}(&shares[j], rest[lo:min(len(rest), lo+size)])
	}
	own.write(f.h, evs, rest[:min(len(rest), size)], netAt, time.Time{})
	wg.Wait()
	for j := range shares {
		own.sent += shares[j].sent
		own.later = append(own.later, shares[j].later...)
	}
}
